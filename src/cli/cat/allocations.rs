//! `maand cat allocations` and `maand cat deployments`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::Result;
use crate::state::rollout_status;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters, deployments: bool) -> Result<()> {
    f.check(view)?;
    let cat = &view.state.catalog;
    let cols: &[&str] = if deployments {
        &[
            "alloc_id",
            "worker_ip",
            "job",
            "disabled",
            "removed",
            "current_hash",
            "previous_hash",
            "current_version",
            "new_version",
            "rollout",
        ]
    } else {
        &["alloc_id", "worker_ip", "job", "disabled", "removed", "new_version", "zone"]
    };
    let mut t = Table::new(cols);
    for job in cat.jobs.keys().chain(cat.allocations.keys().map(|(j, _)| j).filter(|j| !cat.jobs.contains_key(*j))) {
        if !f.job(job) {
            continue;
        }
        for a in cat.allocations_of(job) {
            if !f.worker(&a.worker_ip) || (f.active && !a.active()) || (f.deleted && !a.removed) {
                continue;
            }
            let mut row =
                vec![json!(a.alloc_id), json!(a.worker_ip), json!(a.job), json!(a.disabled), json!(a.removed)];
            if deployments {
                // The original's meaning (see `projection::rows::hash_row`):
                // current = last staged, previous = last promoted.
                let key = (a.job.clone(), a.worker_ip.clone());
                let d = view.state.deployed.get(&key);
                let mut promoted = d.map_or("", |d| d.hash.as_str());
                let mut current = view.state.ready.get(&key).map_or(promoted, |(h, _)| h.as_str());
                if let Some(tree) = crate::state::health_failed_tree(current) {
                    (current, promoted) = (tree, crate::state::HEALTH_FAILED);
                }
                let version = d.map_or("", |d| d.version.as_str());
                let rollout = rollout_status(a.removed, a.disabled, current, promoted, version, &a.new_version);
                row.extend([json!(current), json!(promoted), json!(version), json!(a.new_version), json!(rollout)]);
            } else {
                let zone = cat.workers.get(&a.worker_ip).and_then(|w| w.tags.get("zone"));
                row.extend([json!(a.new_version), json!(zone)]);
            }
            t.row(row);
        }
    }
    t.print(f.json);
    Ok(())
}
