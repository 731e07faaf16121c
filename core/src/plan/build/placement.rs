//! Allocations by selector match; minimum counts; worker capacity.

use crate::error::{Error, Result};
use crate::state::{Allocation, JobSpec, State, ids};
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// Allocation key: (job, worker address).
pub(super) type AllocKey = (String, String);

/// Every allocation the catalog should hold: one per (job, worker) whose
/// labels include all the job's selectors, plus earlier ones now marked
/// removed.
pub(super) fn desired_allocations(
    state: &State,
    ws: &Workspace,
    specs: &BTreeMap<String, JobSpec>,
) -> Result<BTreeMap<AllocKey, Allocation>> {
    let mut out = Vec::new();
    for (job, spec) in specs {
        // This job's ids in the catalog, by worker: one range scan, not a
        // keyed lookup (and two key strings) per allocation.
        let ids: BTreeMap<&str, &str> = state
            .catalog
            .allocations
            .range((job.clone(), String::new())..)
            .take_while(|((j, _), _)| j == job)
            .map(|((_, ip), a)| (ip.as_str(), a.alloc_id.as_str()))
            .collect();
        let mut count = 0;
        for w in &ws.workers {
            if spec.selectors.iter().all(|s| w.labels.binary_search(s).is_ok()) {
                count += 1;
                let a = Allocation {
                    alloc_id: ids.get(w.host.as_str()).map_or_else(|| ids::alloc_id(job, &w.host), |id| id.to_string()),
                    job: job.clone(),
                    worker_ip: w.host.clone(),
                    disabled: ws.disabled.is_disabled(job, &w.host),
                    removed: false,
                    new_version: spec.version.clone(),
                };
                out.push(((job.clone(), w.host.clone()), a));
            }
        }
        if count < spec.min_allocations_count {
            return Err(Error::input(format!(
                "workspace/jobs/{job}/manifest.json: field `min_allocations_count`: {count} worker(s) carry the labels [{}], at least {} required",
                spec.selectors.join(", "),
                spec.min_allocations_count
            )));
        }
    }
    // Built in one go from the list (sorted once), not by an insert each.
    let mut out: BTreeMap<AllocKey, Allocation> = out.into_iter().collect();
    // Catalog allocations no longer placed: both maps are sorted, one walk.
    let mut gone = Vec::new();
    let mut placed = out.keys().peekable();
    for (key, a) in &state.catalog.allocations {
        while placed.next_if(|k| *k < key).is_some() {}
        if placed.peek() != Some(&key) {
            gone.push((key.clone(), Allocation { removed: true, ..a.clone() }));
        }
    }
    out.extend(gone);
    Ok(out)
}

/// The reservations of active allocations on each worker fit its declared
/// memory and CPU.
pub(super) fn check_capacity(
    ws: &Workspace,
    specs: &BTreeMap<String, JobSpec>,
    allocations: &BTreeMap<AllocKey, Allocation>,
) -> Result<()> {
    // Active jobs per worker in one pass (a scan per worker made the build
    // quadratic in the fleet).
    let mut on: BTreeMap<&str, Vec<&JobSpec>> = BTreeMap::new();
    for a in allocations.values().filter(|a| a.active()) {
        if let Some(spec) = specs.get(&a.job) {
            on.entry(a.worker_ip.as_str()).or_default().push(spec);
        }
    }
    for w in &ws.workers {
        let jobs: &[&JobSpec] = on.get(w.host.as_str()).map_or(&[], |v| v.as_slice());
        for (what, field, unit, have, need) in [
            (
                "memory",
                "memory",
                "MB",
                w.memory_mb,
                jobs.iter().map(|j| (j.name.as_str(), j.current_memory_mb)).collect::<Vec<_>>(),
            ),
            ("CPU", "cpu", "MHz", w.cpu_mhz, jobs.iter().map(|j| (j.name.as_str(), j.current_cpu_mhz)).collect()),
        ] {
            let total: u64 = need.iter().map(|(_, n)| n).sum();
            if total == 0 {
                continue;
            }
            let detail = need
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(j, n)| format!("{j} {n} {unit}"))
                .collect::<Vec<_>>()
                .join(", ");
            match have {
                None => {
                    return Err(Error::input(format!(
                        "workspace/workers.json: worker {}, field `{field}`: not declared, but its jobs reserve {total} {unit} of {what} ({detail})",
                        w.host
                    )));
                }
                Some(cap) if total > cap => {
                    return Err(Error::input(format!(
                        "workspace/workers.json: worker {}: available {what} is {cap} {unit}, required {what} is {total} {unit} ({detail})",
                        w.host
                    )));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}
