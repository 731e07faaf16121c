//! What reconcile stops and removes (pure).

pub use crate::event::{ReconcileItem, ReconcilePlan};
use crate::state::State;

/// The allocations of `jobs` (and, with `all_jobs`, of jobs removed from
/// the workspace, which can no longer be named) to stop or remove, in
/// (job, worker) order.
pub fn plan_reconcile(state: &State, jobs: &[String], all_jobs: bool) -> Vec<ReconcileItem> {
    let mut items = Vec::new();
    for ((job, ip), d) in &state.deployed {
        let selected = jobs.contains(job) || (all_jobs && !state.catalog.jobs.contains_key(job));
        if !selected {
            continue;
        }
        let alloc = state.catalog.allocations.get(&(job.clone(), ip.clone()));
        let removed = alloc.is_none_or(|a| a.removed);
        let disabled = alloc.is_some_and(|a| a.disabled);
        if !(removed || (disabled && d.running)) {
            continue;
        }
        let has_control = state
            .catalog
            .jobs
            .get(job)
            .is_some_and(|j| j.spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "job_control")));
        items.push(ReconcileItem {
            job: job.clone(),
            ip: ip.clone(),
            removed,
            worker_gone: !state.catalog.workers.contains_key(ip),
            version: d.version.clone(),
            stop: d.running && !has_control,
        });
    }
    items
}

/// The line a dry run prints for a reconcile item.
pub fn preview_line(it: &ReconcileItem) -> String {
    let what = match (it.removed, it.stop) {
        (true, true) => "would stop, then remove its files",
        (true, false) => "would remove its files",
        (false, _) => "would stop (disabled)",
    };
    let gone =
        if it.worker_gone { " (worker left the bucket: its bucket directory is wiped after every stop)" } else { "" };
    format!("reconcile (dry run): {} on {}: {what}{gone}", it.job, it.ip)
}
