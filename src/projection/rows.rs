//! Rows of each projected table, written from state.

use crate::clock::format_ms;
use crate::error::Result;
use crate::event::PeerScope;
use crate::state::{KvVersion, PeerSet, State};
use rusqlite::{Transaction, params};

pub(super) fn write_bucket(tx: &Transaction, state: &State) -> Result<()> {
    tx.execute("DELETE FROM bucket", [])?;
    if let Some(id) = state.bucket_id() {
        tx.execute("INSERT INTO bucket (bucket_id, update_seq) VALUES (?1, ?2)", params![id, state.update_seq as i64])?;
    }
    Ok(())
}

const INSERT_KV: &str = "INSERT INTO key_value (key, value, namespace, version, ttl, created_date, deleted) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

fn insert_kv(stmt: &mut rusqlite::CachedStatement, ns: &str, key: &str, v: &KvVersion) -> Result<()> {
    let value = v.value.as_ref().map(|x| x.stored_text()).unwrap_or_default();
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

/// `key_value` holds stored keys; a stored copy of a key a peer set now
/// derives (written by builds before peer sets) is left out, the
/// `kv_derived` view shows the key instead.
pub(super) fn write_all_kv(tx: &Transaction, state: &State) -> Result<()> {
    let mut stmt = tx.prepare_cached(INSERT_KV)?;
    for (ns, key, history) in state.kv.stored_iter() {
        if state.kv.is_derived(ns, key) {
            continue;
        }
        for v in history {
            insert_kv(&mut stmt, ns, key, v)?;
        }
    }
    Ok(())
}

pub(super) fn write_kv_key(tx: &Transaction, state: &State, ns: &str, key: &str) -> Result<()> {
    tx.execute("DELETE FROM key_value WHERE namespace = ?1 AND key = ?2", params![ns, key])?;
    if state.kv.is_derived(ns, key) {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(INSERT_KV)?;
    for v in state.kv.stored_history(ns, key) {
        insert_kv(&mut stmt, ns, key, v)?;
    }
    Ok(())
}

fn scope_columns(scope: &PeerScope) -> (&'static str, &str) {
    match scope {
        PeerScope::Job(j) => ("job", j.as_str()),
        PeerScope::Label(l) => ("label", l.as_str()),
    }
}

fn insert_peer_set(tx: &Transaction, scope: &PeerScope, set: &PeerSet) -> Result<()> {
    let (kind, name) = scope_columns(scope);
    tx.execute(
        "INSERT INTO peer_set (scope_kind, scope_name, version, created_date) VALUES (?1, ?2, ?3, ?4)",
        params![kind, name, set.version as i64, format_ms(set.at)],
    )?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO peer_member (scope_kind, scope_name, position, worker_ip) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, ip) in set.members.iter().enumerate() {
        stmt.execute(params![kind, name, i as i64, ip])?;
    }
    Ok(())
}

pub(super) fn write_all_peers(tx: &Transaction, state: &State) -> Result<()> {
    for (scope, set) in state.kv.peer_sets() {
        insert_peer_set(tx, scope, set)?;
    }
    Ok(())
}

/// Rewrite one peer set, and the stored copies of the key it derives (a
/// member that joined hides its old copy; one that left shows it again).
pub(super) fn write_peer_set(tx: &Transaction, state: &State, scope: &PeerScope) -> Result<()> {
    let (kind, name) = scope_columns(scope);
    tx.execute("DELETE FROM peer_set WHERE scope_kind = ?1 AND scope_name = ?2", params![kind, name])?;
    tx.execute("DELETE FROM peer_member WHERE scope_kind = ?1 AND scope_name = ?2", params![kind, name])?;
    if let Some(set) = state.kv.peer_sets().get(scope) {
        insert_peer_set(tx, scope, set)?;
    }
    let (prefix, key) = match scope {
        PeerScope::Job(j) => (format!("maand/job/{j}/worker/"), "peer_workers".to_string()),
        PeerScope::Label(l) => ("maand/worker/".to_string(), format!("{l}_peers")),
    };
    let copies: Vec<&str> = state
        .kv
        .stored_namespaces_with_prefix(&prefix)
        .filter(|ns| ns[prefix.len()..].find('/').is_none() && !state.kv.stored_history(ns, &key).is_empty())
        .collect();
    for ns in copies {
        write_kv_key(tx, state, ns, &key)?;
    }
    Ok(())
}

pub(super) fn write_worker(tx: &Transaction, state: &State, ip: &str) -> Result<()> {
    // Rows are keyed by worker_id; find the old id through the worker row.
    let old_id: Option<String> =
        tx.query_row("SELECT worker_id FROM worker WHERE worker_ip = ?1", params![ip], |r| r.get(0)).ok();
    if let Some(id) = old_id {
        tx.execute("DELETE FROM worker_labels WHERE worker_id = ?1", params![id])?;
        tx.execute("DELETE FROM worker_tags WHERE worker_id = ?1", params![id])?;
    }
    tx.execute("DELETE FROM worker WHERE worker_ip = ?1", params![ip])?;
    let Some(w) = state.catalog.workers.get(ip) else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO worker (worker_id, worker_ip, available_memory_mb, available_cpu_mhz, position) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            w.worker_id,
            w.ip,
            w.memory_mb.map(|m| m.to_string()),
            w.cpu_mhz.map(|c| c.to_string()),
            w.position as i64
        ],
    )?;
    let mut label = tx.prepare_cached("INSERT INTO worker_labels (worker_id, label) VALUES (?1, ?2)")?;
    for l in &w.labels {
        label.execute(params![w.worker_id, l])?;
    }
    let mut tag = tx.prepare_cached("INSERT INTO worker_tags (worker_id, key, value) VALUES (?1, ?2, ?3)")?;
    for (k, v) in &w.tags {
        tag.execute(params![w.worker_id, k, v])?;
    }
    Ok(())
}

pub(super) fn write_job(tx: &Transaction, state: &State, name: &str) -> Result<()> {
    let old_id: Option<String> =
        tx.query_row("SELECT job_id FROM job WHERE name = ?1", params![name], |r| r.get(0)).ok();
    if let Some(id) = &old_id {
        for t in ["job_selectors", "job_ports", "job_certs"] {
            tx.execute(&format!("DELETE FROM {t} WHERE job_id = ?1"), params![id])?;
        }
    }
    tx.execute("DELETE FROM job_commands WHERE job = ?1", params![name])?;
    tx.execute("DELETE FROM job WHERE name = ?1", params![name])?;
    let Some(job) = state.catalog.jobs.get(name) else {
        return Ok(());
    };
    let j = &job.spec;
    tx.execute(
        "INSERT INTO job (job_id, name, version, min_memory_mb, max_memory_mb, current_memory_mb, current_memory_source, \
         min_cpu_mhz, max_cpu_mhz, current_cpu_mhz, current_cpu_source, max_concurrent_upgrades, max_concurrent_starts, \
         restart_policy, restart_globs, health_check) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            j.job_id,
            j.name,
            j.version,
            j.min_memory_mb.to_string(),
            j.max_memory_mb.to_string(),
            j.current_memory_mb.to_string(),
            j.current_memory_source,
            j.min_cpu_mhz.to_string(),
            j.max_cpu_mhz.to_string(),
            j.current_cpu_mhz.to_string(),
            j.current_cpu_source,
            j.max_concurrent_upgrades as i64,
            j.max_concurrent_starts as i64,
            j.restart_policy,
            serde_json::to_string(&j.restart_globs)?,
            j.health_check
        ],
    )?;
    let mut sel = tx.prepare_cached("INSERT INTO job_selectors (job_id, selector) VALUES (?1, ?2)")?;
    for s in &j.selectors {
        sel.execute(params![j.job_id, s])?;
    }
    let mut port = tx.prepare_cached("INSERT INTO job_ports (job_id, name, port) VALUES (?1, ?2, ?3)")?;
    for (n, p) in &j.ports {
        port.execute(params![j.job_id, n, p.port as i64])?;
    }
    let mut cert =
        tx.prepare_cached("INSERT INTO job_certs (job_id, name, pkcs8, one, subject) VALUES (?1, ?2, ?3, ?4, ?5)")?;
    for (n, c) in &j.certs {
        let subject = serde_json::json!({ "common_name": c.common_name }).to_string();
        cert.execute(params![j.job_id, n, c.pkcs8 as i64, c.one as i64, subject])?;
    }
    let mut cmd = tx.prepare_cached(
        "INSERT INTO job_commands (job_id, job, name, executed_on, demand_job, demand_command, demand_config) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (n, h) in &j.hooks {
        for ev in &h.executed_on {
            let (dj, dh, dc) = match &h.demand {
                Some(d) => (d.job.as_str(), d.hook.as_str(), d.config.as_str()),
                None => ("", "", "{}"),
            };
            cmd.execute(params![j.job_id, j.name, n, ev, dj, dh, dc])?;
        }
    }
    // deployment_seq lives on allocation rows too.
    tx.execute("UPDATE allocations SET deployment_seq = ?1 WHERE job = ?2", params![j.deployment_seq as i64, name])?;
    Ok(())
}

pub(super) fn write_job_file(tx: &Transaction, state: &State, job: &str, path: &str) -> Result<()> {
    let job_id = super::rows::job_id_for(tx, state, job);
    tx.execute("DELETE FROM job_files WHERE job_id = ?1 AND path = ?2", params![job_id, path])?;
    if let Some(f) = state.catalog.jobs.get(job).and_then(|j| j.files.get(path)) {
        tx.execute(
            "INSERT INTO job_files (job_id, path, content, isdir) VALUES (?1, ?2, ?3, 0)",
            params![job_id, path, f.content],
        )?;
    }
    Ok(())
}

/// Job id of `job`, from state, else deterministic from the name (a removed
/// job's file rows are keyed the same way).
pub(super) fn job_id_for(_tx: &Transaction, state: &State, job: &str) -> String {
    state.catalog.jobs.get(job).map(|j| j.spec.job_id.clone()).unwrap_or_else(|| crate::state::ids::job_id(job))
}

pub(super) fn write_allocation(tx: &Transaction, state: &State, job: &str, ip: &str) -> Result<()> {
    tx.execute("DELETE FROM allocations WHERE job = ?1 AND worker_ip = ?2", params![job, ip])?;
    if let Some(a) = state.catalog.allocations.get(&(job.to_string(), ip.to_string())) {
        let seq = state.catalog.jobs.get(job).map_or(0, |j| j.spec.deployment_seq);
        tx.execute(
            "INSERT INTO allocations (alloc_id, worker_ip, job, disabled, removed, deployment_seq, new_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![a.alloc_id, a.worker_ip, a.job, a.disabled as i64, a.removed as i64, seq as i64, a.new_version],
        )?;
    }
    Ok(())
}

/// `hash` rows: namespace `<job>_allocation`, key = allocation id.
pub(super) fn write_deployed(tx: &Transaction, state: &State, job: &str, ip: &str) -> Result<()> {
    let ns = format!("{job}_allocation");
    let alloc_id = state
        .catalog
        .allocations
        .get(&(job.to_string(), ip.to_string()))
        .map(|a| a.alloc_id.clone())
        .unwrap_or_else(|| crate::state::ids::alloc_id(job, ip));
    tx.execute("DELETE FROM hash WHERE namespace = ?1 AND key = ?2", params![ns, alloc_id])?;
    if let Some(h) = hash_row(state, job, ip) {
        tx.execute(
            "INSERT INTO hash (namespace, key, current_hash, previous_hash, current_files, previous_files, current_version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![ns, alloc_id, h.current_hash, h.previous_hash, h.files, h.files, h.version],
        )?;
    }
    Ok(())
}

/// One `hash` row in the original's meaning, so SQL written for it reads
/// the same: `current_hash` is what was last staged (a tree that passed
/// its gate but is not yet promoted, else the promoted one) and
/// `previous_hash` what was last promoted — equal once promoted — or the
/// original's `__maand_health_failed__` after a failed health gate.
struct HashRow {
    current_hash: String,
    previous_hash: String,
    files: String,
    version: String,
}

fn hash_row(state: &State, job: &str, ip: &str) -> Option<HashRow> {
    let key = (job.to_string(), ip.to_string());
    let d = state.deployed.get(&key);
    let ready = state.ready.get(&key);
    if d.is_none() && ready.is_none() {
        return None;
    }
    let promoted = d.map_or(String::new(), |d| d.hash.clone());
    // A failed health gate: the original's marker in previous_hash.
    let (current_hash, previous_hash) = match ready.map(|(h, _)| h.as_str()) {
        Some(h) => match crate::state::health_failed_tree(h) {
            Some(tree) => (tree.to_string(), crate::state::HEALTH_FAILED.to_string()),
            None => (h.to_string(), promoted),
        },
        None => (promoted.clone(), promoted),
    };
    Some(HashRow {
        current_hash,
        previous_hash,
        files: d.map_or(Ok("{}".to_string()), |d| serde_json::to_string(&d.files)).ok()?,
        version: d.map_or(String::new(), |d| d.version.clone()),
    })
}

pub(super) fn write_all_catalog(tx: &Transaction, state: &State) -> Result<()> {
    for ip in state.catalog.workers.keys() {
        write_worker(tx, state, ip)?;
    }
    for (name, job) in &state.catalog.jobs {
        write_job(tx, state, name)?;
        for path in job.files.keys() {
            write_job_file(tx, state, name, path)?;
        }
    }
    for (job, ip) in state.catalog.allocations.keys() {
        write_allocation(tx, state, job, ip)?;
    }
    let keys: std::collections::BTreeSet<&(String, String)> = state.deployed.keys().chain(state.ready.keys()).collect();
    for (job, ip) in keys {
        write_deployed(tx, state, job, ip)?;
    }
    Ok(())
}
