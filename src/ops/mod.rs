//! Day-2 operations on a deployed bucket: commands on workers, job
//! lifecycle targets, health checks.

pub mod gc;
pub mod health_check;
pub mod job;
pub mod run_command;
pub mod worker_facts;

use crate::error::{Error, Result};
use crate::state::State;

/// Workers selected by `-w ips` or `-l labels` (all labels must match), in
/// catalog order; unknown addresses are a usage error.
pub fn select_workers(state: &State, ips: &[String], labels: &[String]) -> Result<Vec<String>> {
    let cat = &state.catalog;
    let unknown: Vec<&str> = ips.iter().filter(|ip| !cat.workers.contains_key(*ip)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!("unknown worker(s): {} (see `maand cat workers`)", unknown.join(", "))));
    }
    let picked: Vec<String> = cat
        .workers_in_order()
        .into_iter()
        .filter(|w| ips.is_empty() || ips.contains(&w.ip))
        .filter(|w| labels.iter().all(|l| w.labels.contains(l)))
        .map(|w| w.ip.clone())
        .collect();
    if picked.is_empty() {
        return Err(Error::usage("no worker matches the selection"));
    }
    Ok(picked)
}
