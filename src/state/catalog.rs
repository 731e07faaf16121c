//! The catalog part of state: workers, jobs and allocations as `maand build`
//! compiles them from the workspace. Filled by the build events.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A worker (SSH host) in the catalog.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Worker {
    /// Stable worker id (UUID).
    pub worker_id: String,
    /// SSH address.
    pub ip: String,
    /// Index in workers.json.
    pub position: u64,
    /// Labels, including the implicit `worker`.
    pub labels: Vec<String>,
    /// Tags (KV `maand/worker/<ip>/tags`).
    pub tags: BTreeMap<String, String>,
    /// Memory capacity in MB, if declared.
    pub memory_mb: Option<u64>,
    /// CPU capacity in MHz, if declared.
    pub cpu_mhz: Option<u64>,
}

/// A job in the catalog.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Job {
    /// Stable job id (UUID).
    pub job_id: String,
    /// Job name (directory name).
    pub name: String,
    /// Normalised semver version.
    pub version: String,
}

/// A job placed on a worker.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Stable allocation id, derived from `job|worker_ip`.
    pub alloc_id: String,
    /// Job name.
    pub job: String,
    /// Worker address.
    pub worker_ip: String,
    /// Disabled by `disabled.json`.
    pub disabled: bool,
    /// The worker no longer matches or was removed.
    pub removed: bool,
}

/// Workers, jobs and allocations, keyed for deterministic order.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Workers by address.
    pub workers: BTreeMap<String, Worker>,
    /// Jobs by name.
    pub jobs: BTreeMap<String, Job>,
    /// Allocations by (job, worker address).
    pub allocations: BTreeMap<(String, String), Allocation>,
}
