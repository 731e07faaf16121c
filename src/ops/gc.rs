//! `maand gc [--retain-days N]`: removes what is no longer needed from
//! workers and from state — never from the journal, which keeps history.
//!
//! - removed allocations: their job directory on reachable workers (an
//!   unreachable worker that left the catalog is reported as dead), their
//!   allocation KV, certificate records, hash and allocation rows;
//! - jobs no longer in the catalog: every namespace of theirs; jobs
//!   without an active allocation: their build-owned job namespaces;
//! - KV history: tombstones and non-latest versions older than N days.

use crate::bucket::Session;
use crate::error::{Error, Result};
use crate::event::{Event, Millis};
use crate::transport::{Transport, shell_quote};

/// What gc did.
#[derive(Debug, Default, Clone)]
pub struct GcReport {
    /// Allocations purged.
    pub allocations: usize,
    /// KV keys purged entirely.
    pub keys_purged: usize,
    /// KV keys whose old versions were pruned.
    pub keys_pruned: usize,
    /// Workers reported dead.
    pub dead: Vec<String>,
}

/// Run gc at recorded time `now`.
pub fn run(
    session: &mut Session<'_>,
    transport: &Transport,
    bucket_id: &str,
    retain_days: u64,
    now: Millis,
) -> Result<GcReport> {
    let mut report = GcReport::default();
    let state = session.state().clone();
    let cat = &state.catalog;
    let mut events = Vec::new();
    for ((job, ip), a) in &cat.allocations {
        if !a.removed {
            continue;
        }
        let script = format!("rm -rf /opt/worker/{}/jobs/{}", shell_quote(bucket_id), shell_quote(job));
        let log = |msg: &str| {
            crate::logs::record(&[("event", "gc"), ("job", job), ("worker", ip), ("phase", "gc"), ("msg", msg)])
        };
        match transport.run(ip, &script) {
            Ok(r) if r.ok() => {
                println!("gc: removed jobs/{job} from {ip}");
                log(&format!("removed jobs/{job}"));
            }
            Ok(r) => {
                log(&format!("removing jobs/{job} failed: {}", r.stderr.trim()));
                return Err(Error::op(format!("worker {ip}: removing jobs/{job} failed: {}", r.stderr.trim())));
            }
            Err(e) if !cat.workers.contains_key(ip) => {
                println!("gc: {ip} is unreachable and no longer a worker: treated as dead ({e})");
                log(&format!("unreachable and no longer a worker: treated as dead ({e})"));
                report.dead.push(ip.clone());
            }
            Err(e) => return Err(e),
        }
        let ns = format!("maand/job/{job}/worker/{ip}");
        for (n, k, _) in state.kv.stored_iter().filter(|(n, _, _)| *n == ns) {
            events.push(Event::KvPurged { namespace: n.to_string(), key: k.to_string() });
        }
        for (j, name, cip) in cat.certs.keys() {
            if j == job && cip == ip {
                events.push(Event::CertRetired { job: j.clone(), name: name.clone(), ip: ip.clone() });
            }
        }
        events.push(Event::AllocationPurged { job: job.clone(), ip: ip.clone() });
        report.allocations += 1;
    }
    let active = |job: &str| cat.allocations.values().any(|a| a.job == job && a.active());
    let cutoff = now - (retain_days as i64).saturating_mul(86_400_000);
    let mut purged = std::collections::BTreeSet::new();
    for (ns, key, history) in state.kv.stored_iter() {
        let job_of = ns
            .strip_prefix("maand/job/")
            .map(|r| r.split('/').next().unwrap_or(r))
            .or_else(|| ns.strip_prefix("vars/bucket/job/"))
            .or_else(|| ns.strip_prefix("vars/job/"))
            .or_else(|| ns.strip_prefix("secrets/job/"));
        let build_owned_job_ns =
            ns.starts_with("maand/job/") && !ns.contains("/worker/") || ns.starts_with("vars/bucket/job/");
        let gone = job_of.is_some_and(|j| !cat.jobs.contains_key(j));
        let idle = job_of.is_some_and(|j| build_owned_job_ns && !active(j));
        let Some(last) = history.last() else { continue };
        let old_tombstone = last.value.is_none() && last.created_at < cutoff;
        if gone || idle || old_tombstone {
            if !events.iter().any(|e| matches!(e, Event::KvPurged { namespace, key: k } if namespace == ns && k == key))
            {
                events.push(Event::KvPurged { namespace: ns.to_string(), key: key.to_string() });
                purged.insert((ns.to_string(), key.to_string()));
            }
        } else if history.len() > 1 && history[..history.len() - 1].iter().any(|v| v.created_at < cutoff) {
            events.push(Event::KvHistoryPruned { namespace: ns.to_string(), key: key.to_string(), older_than: cutoff });
            report.keys_pruned += 1;
        }
    }
    report.keys_purged = events.iter().filter(|e| matches!(e, Event::KvPurged { .. })).count();
    crate::logs::record(&[
        ("event", "gc"),
        ("phase", "gc"),
        (
            "msg",
            &format!(
                "{} allocation(s) purged, {} key(s) purged, {} key history(ies) pruned",
                report.allocations, report.keys_purged, report.keys_pruned
            ),
        ),
    ]);
    for e in events {
        session.record(e)?;
    }
    Ok(report)
}
