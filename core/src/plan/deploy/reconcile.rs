//! What reconcile stops and removes (pure).

use crate::state::State;

/// A deployed allocation that must no longer run: removed, or newly
/// disabled while running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileItem {
    /// Job.
    pub job: String,
    /// Worker.
    pub ip: String,
    /// Removed (files deleted after stopping) rather than disabled.
    pub removed: bool,
    /// The worker left workers.json (its bucket directory is wiped).
    pub worker_gone: bool,
    /// Its promoted version.
    pub version: String,
    /// Run `make stop` first (it runs, and the job has no `job_control` hook).
    pub stop: bool,
}

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
