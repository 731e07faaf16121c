//! `maand worker_facts`: probe each worker's memory (MemTotal) and CPU
//! (logical cores × MHz) and rewrite only `memory` and `cpu` in
//! `workspace/workers.json`, keeping everything else and its order. All or
//! nothing: one failed probe writes nothing.

use crate::bucket::{BucketPaths, Session};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::transport::Transport;
use std::collections::BTreeMap;

const PROBE: &str = "m=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo); c=$(nproc); \
f=$(awk -F: '/^cpu MHz/ {print int($2); exit}' /proc/cpuinfo); \
if [ -z \"$f\" ] && [ -r /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq ]; then f=$(( $(cat /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq) / 1000 )); fi; \
echo \"$m $c ${f:-0}\"";

/// Facts of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Memory in MB.
    pub memory_mb: u64,
    /// Cores × MHz.
    pub cpu_mhz: u64,
}

/// Probe `ips`, `concurrency` at a time; every probe must succeed.
pub fn probe(
    session: &mut Session<'_>,
    transport: &Transport,
    ips: &[String],
    concurrency: usize,
) -> Result<BTreeMap<String, Facts>> {
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    let count = ips.len().div_ceil(concurrency.max(1));
    for (i, chunk) in ips.chunks(concurrency.max(1)).enumerate() {
        let cmds: Vec<(String, String)> = chunk.iter().map(|ip| (ip.clone(), PROBE.to_string())).collect();
        let step = crate::progress::step_aside(format!("worker_facts batch {}/{count} [{}]", i + 1, chunk.join(",")));
        let results = super::run_parallel(transport, &cmds);
        step.finish(if results.iter().all(|(_, r, _)| r.as_ref().is_ok_and(|r| r.ok())) { "ok" } else { "failed" });
        for (ip, r, ms) in results {
            let code = r.as_ref().ok().and_then(|r| r.code);
            session.record(Event::RemoteCommandRan {
                ip: ip.clone(),
                command: "worker_facts probe".into(),
                exit_code: code,
                duration_ms: ms,
            })?;
            let parsed = r.as_ref().ok().filter(|r| r.ok()).and_then(|r| {
                let n: Vec<u64> = r.stdout.split_whitespace().filter_map(|x| x.parse().ok()).collect();
                (n.len() == 3 && n[0] > 0 && n[1] > 0 && n[2] > 0)
                    .then(|| Facts { memory_mb: n[0] / 1024, cpu_mhz: n[1] * n[2] })
            });
            match (parsed, r) {
                (Some(f), _) => {
                    out.insert(ip, f);
                }
                (None, Err(e)) => failed.push(e.message().to_string()),
                (None, Ok(r)) => failed.push(format!(
                    "worker {ip}: unexpected probe output {:?} {}",
                    r.stdout.trim(),
                    r.stderr.trim()
                )),
            }
        }
    }
    if !failed.is_empty() {
        return Err(Error::op(format!("worker_facts: nothing written; probes failed:\n  {}", failed.join("\n  "))));
    }
    Ok(out)
}

/// Rewrite `memory`/`cpu` of probed workers in workers.json; returns the
/// changed workers (`ip: old -> new`), writing only when `write`.
pub fn apply(paths: &BucketPaths, facts: &BTreeMap<String, Facts>, write: bool) -> Result<Vec<String>> {
    let path = paths.workers_json();
    let src = std::fs::read_to_string(&path).map_err(|e| Error::input(format!("workspace/workers.json: {e}")))?;
    // Validate as maand reads it, then edit the raw JSON (key order kept).
    crate::workspace::workers::parse_workers(&src)?;
    let mut doc: serde_json::Value = serde_json::from_str(&src)?;
    let mut changes = Vec::new();
    for w in doc.as_array_mut().into_iter().flatten() {
        let Some(obj) = w.as_object_mut() else { continue };
        let Some(ip) = obj.get("host").and_then(|h| h.as_str()).map(String::from) else { continue };
        let Some(f) = facts.get(&ip) else { continue };
        let (mem, cpu) = (format!("{} mb", f.memory_mb), format!("{} mhz", f.cpu_mhz));
        let old = (obj.get("memory").cloned(), obj.get("cpu").cloned());
        if old.0.as_ref().and_then(|v| v.as_str()) != Some(mem.as_str())
            || old.1.as_ref().and_then(|v| v.as_str()) != Some(cpu.as_str())
        {
            changes.push(format!("{ip}: memory {} -> {mem}, cpu {} -> {cpu}", show(&old.0), show(&old.1)));
            obj.insert("memory".into(), mem.into());
            obj.insert("cpu".into(), cpu.into());
        }
    }
    if write && !changes.is_empty() {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&doc)? + "\n")?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(changes)
}

fn show(v: &Option<serde_json::Value>) -> String {
    v.as_ref().and_then(|v| v.as_str()).unwrap_or("unset").to_string()
}
