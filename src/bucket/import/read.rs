//! Reading the original maand's `maand.db` (its DDL in `data/schema.go`,
//! schema version 1) into memory: every table the import needs.

use super::{KvRow, Legacy, bad};
use crate::error::Result;
use crate::state::{Allocation, CertConfig, JobSpec, Port, Worker};
use crate::workspace::names::cut;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// Read everything the import needs; `rel` names the file in messages.
/// A damaged file, a missing table or column, a value of the wrong type or
/// a name maand could not use is bad input naming table and row.
pub(in crate::bucket) fn read(path: &Path, rel: &str) -> Result<Legacy> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(rel, format!("cannot open: {e}")))?;
    let check: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| bad(rel, format!("the file is damaged or cut short ({e}): restore it from a backup")))?;
    if check != "ok" {
        return Err(bad(rel, format!("the file is damaged or cut short ({check}): restore it from a backup")));
    }
    let q = |table: &'static str| {
        move |e: rusqlite::Error| {
            let hint = if matches!(e, rusqlite::Error::SqliteFailure(..)) {
                "; if it was written by an older original maand, run that maand's `init` once to upgrade it"
            } else {
                ""
            };
            bad(rel, format!("table {table}: {}{hint}", cut(&e.to_string(), 200)))
        }
    };
    let schema_version = conn
        .query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| r.get::<_, i64>(0))
        .map_or(0, |v| v.max(0) as u64);
    let bucket: Option<(String, Option<i64>)> =
        conn.query_row("SELECT bucket_id, update_seq FROM bucket LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).ok();
    let legacy = Legacy {
        backup: format!("data/{}", super::BACKUP_NAME),
        schema_version,
        bucket_id: bucket.as_ref().map(|b| b.0.clone()),
        update_seq: bucket.and_then(|b| b.1).unwrap_or(0).max(0) as u64,
        workers: read_workers(&conn).map_err(q("worker"))?,
        jobs: read_jobs(&conn).map_err(q("job"))?,
        allocations: read_allocations(&conn).map_err(q("allocations"))?,
        kv: read_kv(&conn).map_err(q("key_value"))?,
        hashes: read_hashes(&conn).map_err(q("hash"))?,
    };
    super::check::rows(&legacy).map_err(|e| bad(rel, e))?;
    Ok(legacy)
}

fn read_allocations(conn: &Connection) -> rusqlite::Result<Vec<Allocation>> {
    let mut st = conn.prepare(
        "SELECT alloc_id, job, worker_ip, disabled, removed, new_version FROM allocations ORDER BY job, worker_ip",
    )?;
    st.query_map([], |r| {
        Ok(Allocation {
            alloc_id: r.get(0)?,
            job: r.get(1)?,
            worker_ip: r.get(2)?,
            disabled: r.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0,
            removed: r.get::<_, Option<i64>>(4)?.unwrap_or(0) != 0,
            new_version: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        })
    })?
    .collect()
}

/// An integer the original stored as INT or TEXT (`ttl`, `created_date`).
fn loose_int(v: rusqlite::types::Value) -> i64 {
    match v {
        rusqlite::types::Value::Integer(i) => i,
        rusqlite::types::Value::Text(t) => t.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn read_kv(conn: &Connection) -> rusqlite::Result<Vec<KvRow>> {
    let mut st = conn.prepare(
        "SELECT namespace, key, value, ttl, created_date, deleted, version FROM key_value \
         ORDER BY namespace, key, version",
    )?;
    st.query_map([], |r| {
        Ok(KvRow {
            namespace: r.get(0)?,
            key: r.get(1)?,
            value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            ttl: loose_int(r.get(3)?).max(0) as u64,
            created: loose_int(r.get(4)?),
            deleted: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
            version: loose_int(r.get(6)?).max(0) as u64,
        })
    })?
    .collect()
}

/// (job, alloc id, hash, version) of every `<job>_allocation` hash row.
fn read_hashes(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String, String)>> {
    let mut st = conn.prepare(
        "SELECT namespace, key, ifnull(current_hash, ''), ifnull(current_version, '') FROM hash \
         WHERE namespace LIKE '%\\_allocation' ESCAPE '\\' ORDER BY namespace, key",
    )?;
    st.query_map([], |r| {
        let ns: String = r.get(0)?;
        let job = ns.strip_suffix("_allocation").unwrap_or(&ns).to_string();
        Ok((job, r.get(1)?, r.get(2)?, r.get(3)?))
    })?
    .collect()
}

/// A number the original stored as text ("2048", "2048.0", "" = none).
fn number(text: Option<String>) -> Option<u64> {
    text.and_then(|t| t.trim().parse::<f64>().ok()).filter(|n| *n > 0.0).map(|n| n.round() as u64)
}

fn read_workers(conn: &Connection) -> rusqlite::Result<Vec<Worker>> {
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT worker_id, label FROM worker_labels ORDER BY worker_id, label")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (id, label) = row?;
        labels.entry(id).or_default().push(label);
    }
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT worker_id, key, value FROM worker_tags")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))? {
        let (id, k, v) = row?;
        tags.entry(id).or_default().insert(k, v);
    }
    let mut st = conn.prepare(
        "SELECT worker_id, worker_ip, available_memory_mb, available_cpu_mhz, position FROM worker ORDER BY position",
    )?;
    st.query_map([], |r| {
        let id: String = r.get(0)?;
        let mut l = labels.remove(&id).unwrap_or_default();
        if !l.iter().any(|x| x == "worker") {
            l.push("worker".into());
        }
        l.sort();
        l.dedup();
        Ok(Worker {
            tags: tags.remove(&id).unwrap_or_default(),
            worker_id: id,
            ip: r.get(1)?,
            position: r.get::<_, Option<i64>>(4)?.unwrap_or(0).max(0) as u64,
            labels: l,
            memory_mb: number(r.get(2)?),
            cpu_mhz: number(r.get(3)?),
            hostname: None,
        })
    })?
    .collect()
}

fn read_jobs(conn: &Connection) -> rusqlite::Result<Vec<JobSpec>> {
    let mut ports: BTreeMap<String, BTreeMap<String, Port>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, name, port FROM job_ports")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))? {
        let (id, name, port) = row?;
        if let Ok(port) = u16::try_from(port) {
            // Pool or fixed is the manifest's to say; the next build marks it.
            ports.entry(id).or_default().insert(name, Port { port, fixed: false });
        }
    }
    let mut certs: BTreeMap<String, BTreeMap<String, CertConfig>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, name, pkcs8, one, subject FROM job_certs")?;
    for row in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
            r.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0,
            r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        ))
    })? {
        let (id, name, pkcs8, one, subject) = row?;
        // The original stores the manifest's subject as JSON.
        let subject: serde_json::Value = serde_json::from_str(&subject).unwrap_or_default();
        let common_name = subject["common_name"].as_str().unwrap_or_default().to_string();
        certs.entry(id).or_default().insert(name, CertConfig { common_name, pkcs8, one });
    }
    let mut selectors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, selector FROM job_selectors ORDER BY job_id, selector")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (id, s) = row?;
        selectors.entry(id).or_default().push(s);
    }
    let mut st = conn.prepare(
        "SELECT job_id, name, version, min_memory_mb, max_memory_mb, current_memory_mb, min_cpu_mhz, max_cpu_mhz, \
         current_cpu_mhz, max_concurrent_upgrades, max_concurrent_starts, restart_policy, restart_globs \
         FROM job ORDER BY name",
    )?;
    st.query_map([], |r| {
        let id: String = r.get(0)?;
        let version: Option<String> = r.get(2)?;
        Ok(JobSpec {
            certs: certs.remove(&id).unwrap_or_default(),
            ports: ports.remove(&id).unwrap_or_default(),
            selectors: selectors.remove(&id).unwrap_or_default(),
            job_id: id,
            name: r.get(1)?,
            version_declared: version.as_deref().is_some_and(|v| !v.is_empty()),
            version: version.filter(|v| !v.is_empty()).unwrap_or_else(|| "0.0.0".into()),
            min_memory_mb: number(r.get(3)?).unwrap_or(0),
            max_memory_mb: number(r.get(4)?).unwrap_or(0),
            current_memory_mb: number(r.get(5)?).unwrap_or(0),
            current_memory_source: "manifest".into(),
            min_cpu_mhz: number(r.get(6)?).unwrap_or(0),
            max_cpu_mhz: number(r.get(7)?).unwrap_or(0),
            current_cpu_mhz: number(r.get(8)?).unwrap_or(0),
            current_cpu_source: "manifest".into(),
            max_concurrent_upgrades: r.get::<_, i64>(9)?.max(0) as u64,
            max_concurrent_starts: r.get::<_, i64>(10)?.max(0) as u64,
            restart_policy: r.get(11)?,
            restart_globs: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
            ..JobSpec::default()
        })
    })?
    .collect()
}
