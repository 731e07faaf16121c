//! What an imported row may hold: the names the workspace would accept
//! (they become directories, env vars and command-line words), and sizes a
//! hook could have written. The original's database is input like any
//! other, so a hostile or damaged one is refused naming table, row and
//! field.

use super::Legacy;
use crate::workspace::names::{check_cert_name, check_host, check_job_name, check_label, check_port_name, quoted};

/// Longest id, namespace, key or tag accepted.
pub const MAX_NAME: usize = 1024;

/// Largest KV value accepted: what the runtime API lets a hook write.
pub const MAX_VALUE: usize = 1 << 20;

fn sized(what: &str, s: &str, max: usize) -> Result<(), String> {
    if s.len() > max {
        return Err(format!("{what} holds {} bytes, more than the {max} maand accepts", s.len()));
    }
    Ok(())
}

/// Check every row read; the first problem, as `table (row): field: reason`.
pub(super) fn rows(l: &Legacy) -> Result<(), String> {
    for w in &l.workers {
        let at = |e: String| format!("table worker (worker_ip {}): {e}", quoted(&w.ip));
        check_host(&w.ip).map_err(|e| at(format!("worker_ip: {e}")))?;
        sized("worker_id", &w.worker_id, MAX_NAME).map_err(at)?;
        for label in &w.labels {
            check_label(label).map_err(|e| at(format!("worker_labels: {e}")))?;
        }
        for (k, v) in &w.tags {
            sized("a worker_tags key", k, MAX_NAME).and(sized("a worker_tags value", v, MAX_NAME)).map_err(at)?;
        }
    }
    for j in &l.jobs {
        let at = |e: String| format!("table job (name {}): {e}", quoted(&j.name));
        check_job_name(&j.name).map_err(|e| at(format!("name: {e}")))?;
        sized("job_id", &j.job_id, MAX_NAME).and(sized("version", &j.version, MAX_NAME)).map_err(at)?;
        for s in &j.selectors {
            check_label(s).map_err(|e| at(format!("job_selectors: {e}")))?;
        }
        for p in j.ports.keys() {
            check_port_name(p).map_err(|e| at(format!("job_ports: {e}")))?;
        }
        for c in j.certs.keys() {
            check_cert_name(c).map_err(|e| at(format!("job_certs: {e}")))?;
        }
    }
    for a in &l.allocations {
        let at =
            |e: String| format!("table allocations (job {}, worker_ip {}): {e}", quoted(&a.job), quoted(&a.worker_ip));
        check_job_name(&a.job).map_err(|e| at(format!("job: {e}")))?;
        check_host(&a.worker_ip).map_err(|e| at(format!("worker_ip: {e}")))?;
        sized("alloc_id", &a.alloc_id, MAX_NAME).and(sized("new_version", &a.new_version, MAX_NAME)).map_err(at)?;
    }
    for r in &l.kv {
        let at = |e: String| {
            format!(
                "table key_value (namespace {}, key {}, version {}): {e}",
                quoted(&r.namespace),
                quoted(&r.key),
                r.version
            )
        };
        sized("namespace", &r.namespace, MAX_NAME).and(sized("key", &r.key, MAX_NAME)).map_err(at)?;
        if r.namespace.is_empty() || r.key.is_empty() {
            return Err(at("namespace and key must not be empty".into()));
        }
        sized("value", &r.value, MAX_VALUE).map_err(at)?;
    }
    for (job, alloc_id, hash, version) in &l.hashes {
        let at = |e: String| {
            format!("table hash (namespace {}, key {}): {e}", quoted(&format!("{job}_allocation")), quoted(alloc_id))
        };
        sized("current_hash", hash, MAX_NAME).and(sized("current_version", version, MAX_NAME)).map_err(at)?;
    }
    Ok(())
}
