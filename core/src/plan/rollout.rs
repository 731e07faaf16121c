//! The pure rollout planner (SPEC §6): for one job, from the catalog, the
//! promoted deployments, the staged trees and the flags, decide each
//! allocation's action and the batches. Recorded with its inputs as a
//! journal event so `maand-journal replay --check` can re-derive it.

use crate::error::{Error, Result};
use crate::plan::hooks::{OrderSource, batches, rollout_order};
use crate::state::State;
use globset::{Glob, GlobSetBuilder};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

pub use crate::model::rollout::{Action, AllocPlan, JobPlan, RolloutFlags, Tree};

/// Hash of a whole tree (order-independent: paths are sorted).
pub fn tree_hash(tree: &Tree) -> String {
    let mut h = Sha256::new();
    for (path, file) in tree {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(file.as_bytes());
        h.update([b'\n']);
    }
    hex::encode(h.finalize())
}

fn changed_paths(old: &Tree, new: &Tree) -> Vec<String> {
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    paths.into_iter().filter(|p| old.get(*p) != new.get(*p)).cloned().collect()
}

/// Plan `job` given the staged tree of each of its non-removed allocations.
pub fn plan_job(state: &State, job: &str, staged: &BTreeMap<String, Tree>, flags: &RolloutFlags) -> Result<JobPlan> {
    let spec = &state.catalog.jobs.get(job).ok_or_else(|| Error::usage(format!("unknown job {job:?}")))?.spec;
    let mut globs = GlobSetBuilder::new();
    for g in &spec.restart_globs {
        globs.add(Glob::new(g).map_err(|e| Error::input(format!("restart_globs {g:?}: {e}")))?);
    }
    let globs = globs.build().map_err(|e| Error::input(e.to_string()))?;
    let allocs: Vec<_> = state.catalog.allocations_of(job).into_iter().filter(|a| !a.removed).collect();
    let active: Vec<String> = allocs.iter().filter(|a| !a.disabled).map(|a| a.worker_ip.clone()).collect();
    let (order, source) = rollout_order(&state.kv, job, &active);
    let empty = Tree::new();
    let mut plans = Vec::new();
    for a in &allocs {
        let tree = staged.get(&a.worker_ip).unwrap_or(&empty);
        let hash = tree_hash(tree);
        let promoted = state.deployed.get(&(job.to_string(), a.worker_ip.clone()));
        let current_hash = promoted.map(|d| d.hash.clone()).unwrap_or_default();
        let current_version = promoted.map_or_else(|| "0.0.0".to_string(), |d| d.version.clone());
        let changed = changed_paths(promoted.map_or(&empty, |d| &d.files), tree);
        let mut matched = Vec::new();
        let action = if a.disabled {
            Action::Disabled
        } else if promoted.is_none_or(|d| !d.running) {
            if flags.sync_only {
                return Err(Error::usage(format!(
                    "--sync-only: job {job} on {} has never been started (a first start needs a deploy without --sync-only)",
                    a.worker_ip
                )));
            }
            Action::Start
        } else if flags.force || current_hash != hash || current_version != spec.version {
            if flags.sync_only {
                Action::Sync
            } else {
                match spec.restart_policy.as_str() {
                    "reload" => {
                        matched = changed.iter().filter(|p| globs.is_match(p.as_str())).cloned().collect();
                        if matched.is_empty() { Action::Reload } else { Action::Restart }
                    }
                    "never" => Action::Sync,
                    _ => Action::Restart,
                }
            }
        } else {
            Action::Skip
        };
        let ready = state.ready.get(&(job.to_string(), a.worker_ip.clone()));
        let action = match action {
            Action::Start | Action::Restart | Action::Reload
                if !flags.force && ready == Some(&(hash.clone(), spec.version.clone())) =>
            {
                Action::Ready
            }
            other => other,
        };
        plans.push(AllocPlan {
            ip: a.worker_ip.clone(),
            alloc_id: a.alloc_id.clone(),
            action,
            tree_hash: hash,
            current_hash,
            current_version,
            new_version: spec.version.clone(),
            matched,
            changed,
        });
    }
    // Rollout order for active allocations, disabled ones after.
    plans.sort_by_key(|p| order.iter().position(|o| *o == p.ip).unwrap_or(usize::MAX));
    let pick = |want: &[Action]| -> Vec<String> {
        order.iter().filter(|ip| plans.iter().any(|p| p.ip == **ip && want.contains(&p.action))).cloned().collect()
    };
    let start_batches = batches(&pick(&[Action::Start]), spec.max_concurrent_starts);
    let update_batches =
        batches(&pick(&[Action::Restart, Action::Reload, Action::Sync]), spec.max_concurrent_upgrades.max(1));
    Ok(JobPlan {
        job: job.to_string(),
        deployment_seq: spec.deployment_seq,
        allocations: plans,
        order,
        order_source: match source {
            OrderSource::Kv => "kv".into(),
            OrderSource::Default => "default".into(),
        },
        start_batches,
        update_batches,
    })
}

#[cfg(test)]
mod tests;
