//! Catalog values: what `maand build` compiles a worker, a job, an
//! allocation and an issued certificate into. Plain data; events carry them
//! and the state keeps them.

use super::Millis;
use std::collections::BTreeMap;

/// A worker (SSH host) in the catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Worker {
    /// Stable worker id (UUID v5 of the address).
    pub worker_id: String,
    /// SSH address.
    pub ip: String,
    /// Index in workers.json.
    pub position: u64,
    /// Labels, sorted, including the implicit `worker`.
    pub labels: Vec<String>,
    /// Tags (KV `maand/worker/<ip>/tags`).
    pub tags: BTreeMap<String, String>,
    /// Memory capacity in MB, if declared.
    pub memory_mb: Option<u64>,
    /// CPU capacity in MHz, if declared.
    pub cpu_mhz: Option<u64>,
    /// Host name, if declared.
    pub hostname: Option<String>,
}

/// A named port of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The number.
    pub port: u16,
    /// Fixed in the manifest (else assigned from the pool).
    pub fixed: bool,
}

/// A hook's dependency on an upstream job's hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookDemand {
    /// Upstream job.
    pub job: String,
    /// Upstream hook.
    pub hook: String,
    /// `demands.config` as canonical JSON.
    pub config: String,
}

/// A hook of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    /// Script path relative to the job directory (`_hooks/hook_x.py`).
    pub script: String,
    /// Events it runs on (`pre_deploy`, `cli`, ...), sorted.
    pub executed_on: Vec<String>,
    /// Its demand, if any.
    pub demand: Option<HookDemand>,
}

/// A certificate declared by a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertConfig {
    /// Subject CN.
    pub common_name: String,
    /// PKCS#8 key PEM (else PKCS#1).
    pub pkcs8: bool,
    /// One pair shared by every allocation.
    pub one: bool,
}

/// Everything about a job but its files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSpec {
    /// Stable job id (UUID v5 of the name).
    pub job_id: String,
    /// Name (directory under workspace/jobs).
    pub name: String,
    /// Target version, normalised (`0.0.0` when not declared).
    pub version: String,
    /// Whether the manifest declares a version.
    pub version_declared: bool,
    /// Effective selectors.
    pub selectors: Vec<String>,
    /// Batch width for updates.
    pub max_concurrent_upgrades: u64,
    /// Batch width for first starts (0 = all).
    pub max_concurrent_starts: u64,
    /// Minimum non-removed allocations.
    pub min_allocations_count: u64,
    /// `always`, `reload` or `never`.
    pub restart_policy: String,
    /// Globs forcing a restart under `reload`.
    pub restart_globs: Vec<String>,
    /// Manifest memory bounds, MB.
    pub min_memory_mb: u64,
    /// Upper memory bound, MB.
    pub max_memory_mb: u64,
    /// Reservation, MB.
    pub current_memory_mb: u64,
    /// `manifest` or the bucket.jobs file that set the reservation.
    pub current_memory_source: String,
    /// Manifest CPU bounds, MHz.
    pub min_cpu_mhz: u64,
    /// Upper CPU bound, MHz.
    pub max_cpu_mhz: u64,
    /// Reservation, MHz.
    pub current_cpu_mhz: u64,
    /// Where the CPU reservation came from.
    pub current_cpu_source: String,
    /// Ports by name.
    pub ports: BTreeMap<String, Port>,
    /// Hooks by name.
    pub hooks: BTreeMap<String, Hook>,
    /// Manifest health probes as JSON.
    pub health_check: Option<String>,
    /// Certificates by name.
    pub certs: BTreeMap<String, CertConfig>,
    /// Deploy wave (0 = no upstream demand).
    pub deployment_seq: u64,
}

/// A file of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFile {
    /// Permission bits.
    pub mode: u32,
    /// Content.
    pub content: Vec<u8>,
}

/// A job placed on a worker.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Stable id, UUID v5 of `job|worker_ip`.
    pub alloc_id: String,
    /// Job name.
    pub job: String,
    /// Worker address.
    pub worker_ip: String,
    /// Disabled by `disabled.json`.
    pub disabled: bool,
    /// The worker or job left the workspace, or the worker stopped matching.
    pub removed: bool,
    /// Target version (the job's version at build).
    pub new_version: String,
}

impl Allocation {
    /// Neither disabled nor removed.
    pub fn active(&self) -> bool {
        !self.disabled && !self.removed
    }
}

/// A leaf certificate issued into an allocation's KV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRecord {
    /// Fingerprint of the CA that signed it.
    pub ca_fingerprint: String,
    /// Hash of the cert's manifest config when issued.
    pub config_hash: String,
    /// Expiry.
    pub not_after: Millis,
    /// Serial number, hex.
    pub serial: String,
    /// IP SANs.
    pub sans: Vec<String>,
}
