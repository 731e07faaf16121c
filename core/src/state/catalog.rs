//! The catalog part of state: workers, jobs, allocations and issued
//! certificates, as `maand build` compiles them from the workspace.

pub use crate::model::catalog::*;
use std::collections::BTreeMap;

/// A job: its spec and files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Job {
    /// Everything but the files.
    pub spec: JobSpec,
    /// Files by path relative to the job directory.
    pub files: BTreeMap<String, JobFile>,
}

/// Workers, jobs, allocations and certificates, keyed for deterministic order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Workers by address.
    pub workers: BTreeMap<String, Worker>,
    /// Jobs by name.
    pub jobs: BTreeMap<String, Job>,
    /// Allocations by (job, worker address).
    pub allocations: BTreeMap<(String, String), Allocation>,
    /// Issued certificates by (job, cert name, worker address).
    pub certs: BTreeMap<(String, String, String), CertRecord>,
}

/// Ids: an entity already in the catalog keeps the id it has there (ids
/// imported from the original maand are overrides recorded this way); a new
/// one gets the id derived from its name.
impl Catalog {
    /// Id of the worker at `ip`.
    pub fn worker_id(&self, ip: &str) -> String {
        self.workers.get(ip).map_or_else(|| super::ids::worker_id(ip), |w| w.worker_id.clone())
    }

    /// Id of job `name`.
    pub fn job_id(&self, name: &str) -> String {
        self.jobs.get(name).map_or_else(|| super::ids::job_id(name), |j| j.spec.job_id.clone())
    }

    /// Id of the allocation of `job` on `ip`.
    pub fn alloc_id(&self, job: &str, ip: &str) -> String {
        self.allocations
            .get(&(job.to_string(), ip.to_string()))
            .map_or_else(|| super::ids::alloc_id(job, ip), |a| a.alloc_id.clone())
    }
    /// Workers in catalog order (workers.json position).
    pub fn workers_in_order(&self) -> Vec<&Worker> {
        let mut w: Vec<&Worker> = self.workers.values().collect();
        // Keys borrowed, not cloned per comparison (1,000s of workers per build).
        w.sort_by(|a, b| (a.position, a.ip.as_str()).cmp(&(b.position, b.ip.as_str())));
        w
    }

    /// Allocations of `job` in catalog order (worker position; removed
    /// workers last, by address).
    pub fn allocations_of(&self, job: &str) -> Vec<&Allocation> {
        // Each position looked up once, not once per comparison: this runs
        // for every job of a build, over every allocation of it.
        let mut keyed: Vec<(u64, &Allocation)> = self
            .allocations
            .range((job.to_string(), String::new())..)
            .take_while(|((j, _), _)| j == job)
            .map(|(_, a)| (self.workers.get(&a.worker_ip).map_or(u64::MAX, |w| w.position), a))
            .collect();
        keyed.sort_by(|(p, a), (q, b)| (*p, a.worker_ip.as_str()).cmp(&(*q, b.worker_ip.as_str())));
        keyed.into_iter().map(|(_, a)| a).collect()
    }
}
