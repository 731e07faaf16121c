//! Rows of each projected table, written from state.

use crate::clock::format_ms;
use crate::error::Result;
use crate::state::{KvVersion, State};
use rusqlite::{Transaction, params};

pub(super) fn write_bucket(tx: &Transaction, state: &State) -> Result<()> {
    tx.execute("DELETE FROM bucket", [])?;
    if let Some(id) = state.bucket_id() {
        tx.execute(
            "INSERT INTO bucket (bucket_id, update_seq) VALUES (?1, ?2)",
            params![id, state.update_seq as i64],
        )?;
    }
    Ok(())
}

const INSERT_KV: &str = "INSERT INTO key_value (key, value, namespace, version, ttl, created_date, deleted) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

fn insert_kv(
    stmt: &mut rusqlite::CachedStatement,
    ns: &str,
    key: &str,
    v: &KvVersion,
) -> Result<()> {
    let value = v
        .value
        .as_ref()
        .map(|x| x.stored_text())
        .unwrap_or_default();
    stmt.execute(params![
        key,
        value,
        ns,
        v.version as i64,
        v.ttl.to_string(),
        format_ms(v.created_at),
        v.value.is_none() as i64
    ])?;
    Ok(())
}

pub(super) fn write_all_kv(tx: &Transaction, state: &State) -> Result<()> {
    let mut stmt = tx.prepare_cached(INSERT_KV)?;
    for (ns, key, history) in state.kv.iter() {
        for v in history {
            insert_kv(&mut stmt, ns, key, v)?;
        }
    }
    Ok(())
}

pub(super) fn write_kv_key(tx: &Transaction, state: &State, ns: &str, key: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM key_value WHERE namespace = ?1 AND key = ?2",
        params![ns, key],
    )?;
    let mut stmt = tx.prepare_cached(INSERT_KV)?;
    for v in state.kv.history(ns, key) {
        insert_kv(&mut stmt, ns, key, v)?;
    }
    Ok(())
}
