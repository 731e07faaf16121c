//! Journal format 1: the records maand 0.1.0 wrote. **Frozen.**
//!
//! These types reproduce, field for field and variant for variant, what the
//! 0.1.0 binary encoded (bincode, standard config, positional). Nothing here
//! may change: not a field's type, position or name, not a variant's place.
//! Format 2 reuses the nested types that did not change (see [`crate::v2`]).
//! `tests/golden.rs` pins the bytes of an exemplar of every variant, and the
//! 0.1.0 fixture journal (`tests/fixtures/v0.1.0/`) is replayed by the tests.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// Who ran which command, where (format 1; also the session index's form).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionInfoV1 {
    /// The command, e.g. `init`.
    pub command: String,
    /// Full argument vector.
    pub command_line: Vec<String>,
    /// Login name.
    pub user: String,
    /// Control host name.
    pub host: String,
    /// maand version that wrote the session.
    pub maand_version: String,
    /// Process id.
    pub pid: u32,
    /// When the session began.
    pub started_at: Millis,
}

/// A KV value: plaintext or AES-256-GCM ciphertext (format 1 knew one AEAD).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum KvValueV1 {
    /// Plain value.
    Plain(String),
    /// AES-256-GCM under `secrets/kv.key`.
    Sealed {
        /// 96-bit nonce.
        #[serde(with = "crate::hexser::array")]
        nonce: [u8; 12],
        /// Ciphertext with tag.
        #[serde(with = "crate::hexser::vec")]
        ciphertext: Vec<u8>,
    },
}

/// A catalog worker.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerV1 {
    /// Worker id.
    pub worker_id: String,
    /// SSH address.
    pub ip: String,
    /// Index in workers.json.
    pub position: u64,
    /// Labels.
    pub labels: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Memory, MB.
    pub memory_mb: Option<u64>,
    /// CPU, MHz.
    pub cpu_mhz: Option<u64>,
    /// Host name.
    pub hostname: Option<String>,
}

/// A job port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PortV1 {
    /// Number.
    pub port: u16,
    /// Fixed in the manifest.
    pub fixed: bool,
}

/// A hook's demand on an upstream hook.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HookDemandV1 {
    /// Upstream job.
    pub job: String,
    /// Upstream hook.
    pub hook: String,
    /// `demands.config` as canonical JSON.
    pub config: String,
}

/// A job's hook.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HookV1 {
    /// Script path.
    pub script: String,
    /// Events.
    pub executed_on: Vec<String>,
    /// Demand.
    pub demand: Option<HookDemandV1>,
}

/// A certificate declaration.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CertConfigV1 {
    /// Subject CN.
    pub common_name: String,
    /// PKCS#8 key.
    pub pkcs8: bool,
    /// One pair for all allocations.
    pub one: bool,
}

/// A job's manifest-derived spec.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSpecV1 {
    /// Job id.
    pub job_id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Whether declared.
    pub version_declared: bool,
    /// Selectors.
    pub selectors: Vec<String>,
    /// Update batch width.
    pub max_concurrent_upgrades: u64,
    /// Start batch width.
    pub max_concurrent_starts: u64,
    /// Minimum allocations.
    pub min_allocations_count: u64,
    /// Restart policy.
    pub restart_policy: String,
    /// Restart globs.
    pub restart_globs: Vec<String>,
    /// Memory lower bound.
    pub min_memory_mb: u64,
    /// Memory upper bound.
    pub max_memory_mb: u64,
    /// Memory reservation.
    pub current_memory_mb: u64,
    /// Where the memory reservation came from.
    pub current_memory_source: String,
    /// CPU lower bound.
    pub min_cpu_mhz: u64,
    /// CPU upper bound.
    pub max_cpu_mhz: u64,
    /// CPU reservation.
    pub current_cpu_mhz: u64,
    /// Where the CPU reservation came from.
    pub current_cpu_source: String,
    /// Ports.
    pub ports: BTreeMap<String, PortV1>,
    /// Hooks.
    pub hooks: BTreeMap<String, HookV1>,
    /// Health probes as JSON.
    pub health_check: Option<String>,
    /// Certificates.
    pub certs: BTreeMap<String, CertConfigV1>,
    /// Deploy wave.
    pub deployment_seq: u64,
}

/// A job file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobFileV1 {
    /// Permission bits.
    pub mode: u32,
    /// Content.
    #[serde(with = "crate::hexser::vec")]
    pub content: Vec<u8>,
}

/// An allocation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocationV1 {
    /// Id.
    pub alloc_id: String,
    /// Job.
    pub job: String,
    /// Worker.
    pub worker_ip: String,
    /// Disabled.
    pub disabled: bool,
    /// Removed.
    pub removed: bool,
    /// Target version.
    pub new_version: String,
}

/// An issued leaf certificate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CertRecordV1 {
    /// CA fingerprint.
    pub ca_fingerprint: String,
    /// Config hash.
    pub config_hash: String,
    /// Expiry.
    pub not_after: Millis,
    /// Serial, hex.
    pub serial: String,
    /// IP SANs.
    pub sans: Vec<String>,
}

/// One hook process run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HookInvocationV1 {
    /// Job.
    pub job: String,
    /// Hook.
    pub hook: String,
    /// Event.
    pub event: String,
    /// Allocation id.
    pub alloc_id: String,
    /// Worker.
    pub ip: String,
    /// Batch index.
    pub batch_index: u64,
    /// Batch count.
    pub batch_count: u64,
    /// Batch allocations.
    pub batch_allocations: Vec<String>,
    /// Exit code.
    pub exit_code: Option<i32>,
    /// Signal.
    pub signal: Option<i32>,
    /// Wall time.
    pub duration_ms: u64,
}

/// Deploy flags.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutFlagsV1 {
    /// `--force`.
    pub force: bool,
    /// `--sync-only`.
    pub sync_only: bool,
}

/// A rollout decision.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionV1 {
    /// First start.
    Start,
    /// Restart.
    Restart,
    /// Reload.
    Reload,
    /// Files only.
    Sync,
    /// Nothing.
    Skip,
    /// Disabled.
    Disabled,
    /// Lifecycle already ran.
    Ready,
}

/// One allocation's decision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AllocPlanV1 {
    /// Worker.
    pub ip: String,
    /// Allocation id.
    pub alloc_id: String,
    /// Decision.
    pub action: ActionV1,
    /// Staged tree hash.
    pub tree_hash: String,
    /// Promoted hash before.
    pub current_hash: String,
    /// Promoted version before.
    pub current_version: String,
    /// Target version.
    pub new_version: String,
    /// Paths matching restart globs.
    pub matched: Vec<String>,
    /// Changed paths.
    pub changed: Vec<String>,
}

/// A job's plan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobPlanV1 {
    /// Job.
    pub job: String,
    /// Wave.
    pub deployment_seq: u64,
    /// Decisions.
    pub allocations: Vec<AllocPlanV1>,
    /// Rollout order.
    pub order: Vec<String>,
    /// Order source.
    pub order_source: String,
    /// Start batches.
    pub start_batches: Vec<Vec<String>>,
    /// Update batches.
    pub update_batches: Vec<Vec<String>>,
}

/// A job's rollout plan with its inputs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobRolloutV1 {
    /// update_seq.
    pub update_seq: u64,
    /// Flags.
    pub flags: RolloutFlagsV1,
    /// Staged tree (path → sha256 hex) per worker.
    pub staged: BTreeMap<String, BTreeMap<String, String>>,
    /// The plan.
    pub plan: JobPlanV1,
}

/// Every event of format 1, in its original variant order.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, strum::EnumCount, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[allow(missing_docs)]
pub enum EventV1 {
    SessionOpened(SessionInfoV1),
    Checkpoint {
        label: String,
    },
    SessionCommitted {
        ended_at: Millis,
    },
    SessionFailed {
        ended_at: Millis,
        error: String,
    },
    SessionAborted {
        detected_at: Millis,
        reason: String,
    },
    BucketInitialized {
        bucket_id: String,
        id_source: String,
    },
    BucketFilesCreated {
        paths: Vec<String>,
    },
    CaCreated {
        fingerprint: String,
        not_after: Millis,
    },
    FormatUpgraded {
        from: u16,
        to: u16,
    },
    UpdateSeqSet {
        update_seq: u64,
    },
    KvPut {
        namespace: String,
        key: String,
        value: KvValueV1,
        ttl: u64,
        at: Millis,
    },
    KvDeleted {
        namespace: String,
        key: String,
        at: Millis,
    },
    KvPurged {
        namespace: String,
        key: String,
    },
    WorkerUpserted(WorkerV1),
    WorkerRemoved {
        ip: String,
    },
    JobUpserted(Box<JobSpecV1>),
    JobRemoved {
        name: String,
    },
    JobFilePut {
        job: String,
        path: String,
        file: JobFileV1,
    },
    JobFileRemoved {
        job: String,
        path: String,
    },
    AllocationUpserted(AllocationV1),
    CertIssued {
        job: String,
        name: String,
        ip: String,
        record: CertRecordV1,
    },
    CertRetired {
        job: String,
        name: String,
        ip: String,
    },
    HookInvoked(Box<HookInvocationV1>),
    JobRolloutPlanned(Box<JobRolloutV1>),
    BatchStarted {
        job: String,
        phase: String,
        index: u64,
        count: u64,
        allocations: Vec<String>,
        order_source: String,
    },
    BatchEnded {
        job: String,
        phase: String,
        index: u64,
        ok: bool,
    },
    LifecycleRan {
        job: String,
        ip: String,
        target: String,
        exit_code: Option<i32>,
        duration_ms: u64,
    },
    HealthChecked {
        job: String,
        allocations: Vec<String>,
        ok: bool,
        detail: String,
    },
    AllocationPromoted {
        job: String,
        ip: String,
        alloc_id: String,
        hash: String,
        files: BTreeMap<String, String>,
        version: String,
        running: bool,
    },
    AllocationUndeployed {
        job: String,
        ip: String,
    },
    AllocationStopped {
        job: String,
        ip: String,
    },
    AllocationReady {
        job: String,
        ip: String,
        hash: String,
        version: String,
    },
    AllocationPurged {
        job: String,
        ip: String,
    },
    KvHistoryPruned {
        namespace: String,
        key: String,
        older_than: Millis,
    },
    RemoteCommandRan {
        ip: String,
        command: String,
        exit_code: Option<i32>,
        duration_ms: u64,
    },
}

/// The stored body of a format-1 record (the hash follows it).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BodyV1 {
    /// Always 1.
    pub format_version: u16,
    /// Sequence number.
    pub seq: u64,
    /// Session id.
    pub session_id: u64,
    /// Previous record's hash.
    #[serde(with = "crate::hexser::array")]
    pub prev_hash: [u8; 32],
    /// When recorded.
    pub recorded_at: Millis,
    /// The event.
    pub event: EventV1,
}
