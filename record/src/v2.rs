//! Journal format 2 (maand 0.2.0). **Frozen once released**: existing
//! variants and fields never change; a new event kind may only be appended
//! at the end of [`EventV2`] (older bytes decode unchanged, their golden
//! files stay as they are); any other change is format 3.
//!
//! Changes from format 1:
//! - sealed values name their AEAD ([`SealAlgV2`]) and carry a nonce of that
//!   algorithm's size, so values can be re-sealed and algorithms added
//!   without a format break;
//! - a session records the test-only switches that were armed in its
//!   process ([`SessionInfoV2::test_switches`]), so a fault-injected run can
//!   never pass for a production one.
//!
//! Every nested type that did not change is format 1's (frozen there).

use crate::v1::{AllocationV1, CertRecordV1, HookInvocationV1, JobFileV1, JobRolloutV1, JobSpecV1, Millis, WorkerV1};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who ran which command, where, and which test switches were armed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionInfoV2 {
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
    /// Test-only switches armed in the process (e.g.
    /// `MAAND_FAULT_ABORT_AFTER_EVENTS=3`); empty in production.
    pub test_switches: Vec<String>,
}

/// The AEAD that sealed a value.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealAlgV2 {
    /// AES-256-GCM under `secrets/kv.key` itself (KV secrets; seed 001).
    Aes256Gcm,
    /// XChaCha20-Poly1305 under an HKDF-SHA256 subkey of `secrets/kv.key`
    /// (certificate private keys and other secret-bearing material).
    XChaCha20Poly1305,
}

/// A KV value: plaintext, or a sealed secret naming its algorithm.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum KvValueV2 {
    /// Plain value.
    Plain(String),
    /// Sealed value.
    Sealed {
        /// Algorithm.
        alg: SealAlgV2,
        /// Nonce (12 bytes for AES-256-GCM, 24 for XChaCha20-Poly1305).
        #[serde(with = "crate::hexser::vec")]
        nonce: Vec<u8>,
        /// Ciphertext with tag.
        #[serde(with = "crate::hexser::vec")]
        ciphertext: Vec<u8>,
    },
}

/// Every event of format 2. Variants 0–34 are format 1's, in order; later
/// ones are appended (35: `SessionSigned`, 36: `CertMetricsPushed`,
/// 37: `PeerSetRecorded`, 38: `LegacyImported`, 39: `LegacyDeploymentImported`,
/// 40: `KvImported`, 41: `AllocationHealthFailed`, 42: `JobStaged`,
/// 43: `ReconcilePlanned`, 44: `HookRunPlanned`, 45: `BuildPlanned`, 46: `JobDeployFailed`,
/// 47: `JobDeploySkipped`, 48: `LifecycleOutput`, 49: `StagedRecorded`,
/// 50: `RollbackStarted`, 51: `JobPinned`, 52: `JobUnpinned`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, strum::EnumCount, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[allow(missing_docs)]
pub enum EventV2 {
    SessionOpened(SessionInfoV2),
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
        value: KvValueV2,
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
    // ---- appended after the 0.2.0 release (older bytes decode unchanged) ----
    /// An OpenSSH signature over the chain head, right before the commit.
    SessionSigned {
        seq: u64,
        #[serde(with = "crate::hexser::array")]
        head: [u8; 32],
        signature: String,
    },
    /// The certificate expiry gauges pushed to Prometheus after a deploy.
    CertMetricsPushed {
        url: String,
        series: u64,
        attempts: u32,
        ok: bool,
        detail: String,
    },
    /// A job's or a label's peer list, once per change (members derive
    /// `peer_workers` / `<label>_peers` from it).
    PeerSetRecorded {
        scope: PeerScopeV2,
        members: Vec<String>,
        at: Millis,
    },
    /// `maand init` imported a bucket of the original (Go) maand.
    LegacyImported {
        backup: String,
        schema_version: u64,
        workers: u64,
        jobs: u64,
        allocations: u64,
        kv_versions: u64,
    },
    /// A deployment the original maand recorded (its hash, not ours).
    LegacyDeploymentImported {
        job: String,
        ip: String,
        alloc_id: String,
        hash: String,
        version: String,
    },
    /// A KV version imported with the original's version number.
    KvImported {
        namespace: String,
        key: String,
        version: u64,
        value: Option<KvValueV2>,
        ttl: u64,
        at: Millis,
    },
    /// A deploy's health gate failed on an allocation (issue 17).
    AllocationHealthFailed {
        job: String,
        ip: String,
        hash: String,
        version: String,
    },
    /// Deploy staged a job with this renderer (identity and version).
    JobStaged(Box<StagingV2>),
    /// A deploy's reconcile decision with its inputs.
    ReconcilePlanned(Box<ReconcilePlanV2>),
    /// One hook's run: its planner inputs and batches.
    HookRunPlanned(Box<HookRunPlanV2>),
    /// A build's inputs beside the state.
    BuildPlanned(Box<BuildInputsV2>),
    /// A deploy failed one job; the others went on.
    JobDeployFailed {
        job: String,
        wave: u64,
        reason: String,
    },
    /// A deploy skipped a job that demands a failed or skipped one.
    JobDeploySkipped {
        job: String,
        wave: u64,
        reason: String,
    },
    /// The bounded end of a lifecycle target's output on one worker.
    LifecycleOutput {
        job: String,
        ip: String,
        target: String,
        tail: String,
    },
    /// The exact staged bytes of a job's allocations about to be promoted
    /// (content-addressed, sealed).
    StagedRecorded {
        job: String,
        blobs: BTreeMap<String, KvValueV2>,
        trees: BTreeMap<String, BTreeMap<String, String>>,
        hashes: BTreeMap<String, String>,
    },
    /// A `maand rollback` session began.
    RollbackStarted {
        jobs: Vec<String>,
        to: String,
        seq: u64,
        kv: bool,
    },
    /// A rolled-back job held back from build and deploy.
    JobPinned {
        job: String,
        to: String,
        workspace: String,
    },
    /// A pinned job released.
    JobUnpinned {
        job: String,
        reason: String,
    },
}

/// Whose peer set a `PeerSetRecorded` records.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PeerScopeV2 {
    /// A job's live allocations.
    Job(String),
    /// A worker label's workers.
    Label(String),
}

/// A staging decision's renderer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StagingV2 {
    /// Job.
    pub job: String,
    /// Renderer identity and version.
    pub renderer: String,
}

/// One allocation a reconcile stops or removes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReconcileItemV2 {
    /// Job.
    pub job: String,
    /// Worker.
    pub ip: String,
    /// Removed rather than disabled.
    pub removed: bool,
    /// The worker left the bucket.
    pub worker_gone: bool,
    /// Promoted version.
    pub version: String,
    /// `make stop` runs first.
    pub stop: bool,
}

/// A reconcile decision: inputs and items.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReconcilePlanV2 {
    /// Selected jobs.
    pub jobs: Vec<String>,
    /// No `--jobs` given.
    pub all_jobs: bool,
    /// Items, in order.
    pub items: Vec<ReconcileItemV2>,
}

/// One planned hook process.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PlannedHookV2 {
    /// Allocation id.
    pub alloc_id: String,
    /// Worker.
    pub ip: String,
    /// Environment (without API port and token).
    pub env: BTreeMap<String, String>,
}

/// One hook run's planner inputs and batches.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HookRunPlanV2 {
    /// Job.
    pub job: String,
    /// Hook.
    pub hook: String,
    /// Event.
    pub event: String,
    /// `DEPLOY_PHASE`.
    pub phase: String,
    /// Worker filter.
    pub filter: Option<Vec<String>>,
    /// Batched by `max_concurrent_starts`.
    pub first_start: bool,
    /// `BUCKET_ROOT`.
    pub bucket_root: String,
    /// Event-specific variables.
    pub extra: BTreeMap<String, String>,
    /// Batches.
    pub batches: Vec<Vec<PlannedHookV2>>,
    /// The lifecycle batch an `after_allocation_started` run was.
    pub lifecycle: Option<LifecycleBatchV2>,
}

/// A lifecycle batch a hook run was planned as.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LifecycleBatchV2 {
    /// `BATCH_INDEX`.
    pub index: u64,
    /// `BATCH_COUNT`.
    pub count: u64,
    /// `BATCH_ALLOCATIONS`.
    pub allocations: Vec<String>,
    /// `ROLLOUT_ORDER`.
    pub order: Vec<String>,
    /// `ROLLOUT_ORDER_SOURCE`.
    pub order_source: String,
}

/// A build's inputs beside the state.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BuildInputsV2 {
    /// Workspace files outside job folders, by name.
    pub files: BTreeMap<String, String>,
    /// The bucket.jobs file name.
    pub job_overrides_file: String,
    /// Per job, per file: `sha256:mode`.
    pub job_files: BTreeMap<String, BTreeMap<String, String>>,
    /// The session's time.
    pub now: Millis,
    /// CA certificate PEM.
    pub ca_pem: String,
    /// CA fingerprint.
    pub ca_fingerprint: String,
    /// Renewal buffer in days.
    pub certs_renewal_buffer_days: u32,
    /// `--purge-job-kv`.
    pub purge_job_kv: bool,
    /// Rendered scrape templates per job.
    pub scrape_rendered: BTreeMap<String, String>,
}

/// The stored body of a format-2 record (the hash follows it).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BodyV2 {
    /// Always 2.
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
    pub event: EventV2,
}
