//! The event vocabulary: every state change maand can make.
//!
//! The journal stores these, in order, inside an [`Envelope`]. State is a
//! fold of committed events (see [`crate::state`]); nothing else changes
//! state. Every non-deterministic value (time, UUID, random bytes, key
//! material fingerprints) is made by the shell and carried inside the event,
//! so the fold never makes one.
//!
//! **These are domain types, not the on-disk form.** The journal stores the
//! frozen record types of `maand-record` (one module per format version) and
//! the shell converts; so a field added here, or a planner struct reshaped,
//! changes no stored byte. A new event kind is a new variant here, a new
//! variant appended to the newest record version, and both conversions.

use crate::model::catalog::{Allocation, CertRecord, JobFile, JobSpec, Worker};
pub use crate::model::decision::{BuildInputs, HookRunPlan, PlannedHook, ReconcileItem, ReconcilePlan, Staging};
use crate::model::rollout::{JobPlan, RolloutFlags, Tree};
pub use crate::model::{Hash32, Millis};

/// Who ran which command, where: the first event of every session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The command, e.g. `init`, `build`, `deploy`.
    pub command: String,
    /// Full argument vector as typed.
    pub command_line: Vec<String>,
    /// Login name of the operator.
    pub user: String,
    /// Host name of the control host.
    pub host: String,
    /// maand version that wrote the session.
    pub maand_version: String,
    /// Process id, to name the process in lock and abort messages.
    pub pid: u32,
    /// When the session began.
    pub started_at: Millis,
    /// Test-only switches armed in this process (fault injection); empty in
    /// production. Recorded so such a run can never pass for a real one.
    pub test_switches: Vec<String>,
}

/// The AEAD that sealed a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SealAlg {
    /// AES-256-GCM under `secrets/kv.key` (KV secrets, seed 001).
    Aes256Gcm,
    /// XChaCha20-Poly1305 under an HKDF subkey of `secrets/kv.key`
    /// (certificate private keys and other secret-bearing material).
    XChaCha20Poly1305,
}

impl SealAlg {
    /// Stable lower-case name (listings, docs).
    pub fn name(self) -> &'static str {
        match self {
            SealAlg::Aes256Gcm => "aes-256-gcm",
            SealAlg::XChaCha20Poly1305 => "xchacha20-poly1305",
        }
    }
}

/// A KV value as stored: plaintext, or ciphertext for secrets (and
/// certificate private keys). Plaintext of a sealed value never reaches
/// the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvValue {
    /// A non-secret value.
    Plain(String),
    /// A sealed secret.
    Sealed {
        /// Which AEAD sealed it.
        alg: SealAlg,
        /// The nonce (fresh per write; its size is the algorithm's).
        nonce: Vec<u8>,
        /// Ciphertext including the authentication tag.
        ciphertext: Vec<u8>,
    },
}

impl KvValue {
    /// How the value appears in the projection and in listings: plaintext
    /// values as they are; sealed ones as `enc:v1:<nonce hex>:<ciphertext
    /// hex>` (AES-256-GCM, as format 1 showed them) or `enc:x1:…`
    /// (XChaCha20-Poly1305).
    pub fn stored_text(&self) -> String {
        match self {
            KvValue::Plain(s) => s.clone(),
            KvValue::Sealed { alg, nonce, ciphertext } => {
                let tag = match alg {
                    SealAlg::Aes256Gcm => "v1",
                    SealAlg::XChaCha20Poly1305 => "x1",
                };
                format!("enc:{tag}:{}:{}", hex::encode(nonce), hex::encode(ciphertext))
            }
        }
    }

    /// Whether this is a sealed secret.
    pub fn is_sealed(&self) -> bool {
        matches!(self, KvValue::Sealed { .. })
    }
}

/// Every state change, and every session record, that the journal holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command began a session. Not state-changing.
    SessionOpened(SessionInfo),
    /// Everything this session recorded so far is durable and part of state.
    Checkpoint {
        /// What was reached, e.g. `catalog`, `job api promoted`.
        label: String,
    },
    /// The session ended successfully; implies a checkpoint.
    SessionCommitted {
        /// When it ended.
        ended_at: Millis,
    },
    /// The session ended with an error; events after its last checkpoint are
    /// kept for audit but are not part of state.
    SessionFailed {
        /// When it ended.
        ended_at: Millis,
        /// The error as the operator saw it.
        error: String,
    },
    /// Written by the next process to open the bucket for a session whose
    /// process died (crash, kill -9, power loss) without ending it. The
    /// session's uncommitted tail stays in the journal for audit only.
    SessionAborted {
        /// When the dead session was detected.
        detected_at: Millis,
        /// Why it is considered aborted.
        reason: String,
    },
    /// `maand init` created the bucket identity.
    BucketInitialized {
        /// The bucket id (UUID), also the CA common name.
        bucket_id: String,
        /// Where the id came from: `new`, `ca`, `legacy-db`.
        id_source: String,
    },
    /// `maand init` created files that were missing (informational; the
    /// files themselves live in the bucket, secrets never in the journal).
    BucketFilesCreated {
        /// Bucket-relative paths created.
        paths: Vec<String>,
    },
    /// The bucket CA was created (only its public fingerprint is recorded).
    CaCreated {
        /// SHA-256 of the certificate DER, hex.
        fingerprint: String,
        /// Expiry of the CA certificate.
        not_after: Millis,
    },
    /// The bucket's journal was upgraded from an older format by `maand init`.
    FormatUpgraded {
        /// Format before.
        from: u16,
        /// Format after.
        to: u16,
    },
    /// `update_seq` takes a new value (deploy increments it).
    UpdateSeqSet {
        /// The new value.
        update_seq: u64,
    },
    /// A KV write: a new version of `namespace`/`key`.
    KvPut {
        /// Namespace, e.g. `vars/job/api`.
        namespace: String,
        /// Key within the namespace.
        key: String,
        /// The value (sealed for secrets).
        value: KvValue,
        /// Time to live in seconds; 0 = never expires.
        ttl: u64,
        /// When it was written.
        at: Millis,
    },
    /// A KV delete: a tombstone version of `namespace`/`key`.
    KvDeleted {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// When it was deleted.
        at: Millis,
    },
    /// A key and all its versions are removed from state (gc, purges).
    KvPurged {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// A worker entered the catalog or changed (build).
    WorkerUpserted(Worker),
    /// A worker left workers.json (its allocations are marked removed separately).
    WorkerRemoved {
        /// Its address.
        ip: String,
    },
    /// A job entered the catalog or its manifest-derived spec changed.
    JobUpserted(Box<JobSpec>),
    /// A job left the workspace (its allocations are marked removed separately).
    JobRemoved {
        /// Its name.
        name: String,
    },
    /// A job file was added or changed; its content is kept in the journal.
    JobFilePut {
        /// Job name.
        job: String,
        /// Path relative to the job directory.
        path: String,
        /// Mode and content.
        file: JobFile,
    },
    /// A job file was deleted from the workspace.
    JobFileRemoved {
        /// Job name.
        job: String,
        /// Path relative to the job directory.
        path: String,
    },
    /// An allocation was placed, or its flags or target version changed.
    AllocationUpserted(Allocation),
    /// A leaf certificate was issued into an allocation's KV (the PEMs are
    /// `KvPut`s next to it; the key sealed).
    CertIssued {
        /// Job.
        job: String,
        /// Cert name.
        name: String,
        /// Worker address.
        ip: String,
        /// What was issued.
        record: CertRecord,
    },
    /// A certificate's record was dropped (cert removed from the manifest,
    /// or the allocation went away).
    CertRetired {
        /// Job.
        job: String,
        /// Cert name.
        name: String,
        /// Worker address.
        ip: String,
    },
    /// A hook process ran for one allocation (recorded when it ended).
    HookInvoked(Box<HookInvocation>),
    /// `update_seq`-numbered deploy planned one job: the planner's inputs
    /// (staged trees, flags) and its output, for audit and replay.
    JobRolloutPlanned(Box<JobRollout>),
    /// A lifecycle or hook batch began.
    BatchStarted {
        /// Job.
        job: String,
        /// `new`, `update`, ...
        phase: String,
        /// Zero-based index.
        index: u64,
        /// Number of batches.
        count: u64,
        /// Workers in the batch.
        allocations: Vec<String>,
        /// `kv` or `default`.
        order_source: String,
    },
    /// A batch ended.
    BatchEnded {
        /// Job.
        job: String,
        /// Phase.
        phase: String,
        /// Index.
        index: u64,
        /// Whether every allocation succeeded.
        ok: bool,
    },
    /// A lifecycle target ran on a worker (`make <target>` in the job directory).
    LifecycleRan {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// `start`, `stop`, `restart`, `reload`, ...
        target: String,
        /// Exit code (None: could not run).
        exit_code: Option<i32>,
        /// Wall time.
        duration_ms: u64,
    },
    /// A health gate's result.
    HealthChecked {
        /// Job.
        job: String,
        /// Workers checked.
        allocations: Vec<String>,
        /// Passed.
        ok: bool,
        /// Last failure, when it failed.
        detail: String,
    },
    /// An allocation's staged tree and version became the promoted ones.
    AllocationPromoted {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// Allocation id.
        alloc_id: String,
        /// Tree hash.
        hash: String,
        /// Per-file hashes.
        files: std::collections::BTreeMap<String, String>,
        /// Version.
        version: String,
        /// Shipped and started (false for a disabled allocation).
        running: bool,
    },
    /// A removed allocation's files were deleted from its worker.
    AllocationUndeployed {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
    },
    /// A deployed allocation was stopped (it became disabled).
    AllocationStopped {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
    },
    /// An allocation's lifecycle for this tree and version completed and
    /// passed its health gate (checkpointed at once, so a later failure in
    /// the same deploy does not make the next deploy restart it again).
    AllocationReady {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// Tree hash it runs.
        hash: String,
        /// Version it runs.
        version: String,
    },
    /// `maand gc` removed an allocation (and what deploy knew of it) from the catalog.
    AllocationPurged {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
    },
    /// `maand gc` dropped versions older than `older_than` of a key,
    /// keeping the latest.
    KvHistoryPruned {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// Versions created before this are dropped (the latest stays).
        older_than: Millis,
    },
    /// `maand run_command` ran a shell command on a worker.
    RemoteCommandRan {
        /// Worker.
        ip: String,
        /// The command.
        command: String,
        /// Exit code (None: could not connect).
        exit_code: Option<i32>,
        /// Wall time.
        duration_ms: u64,
    },
    /// The session's operator signed the chain head, right before its
    /// `SessionCommitted` (only when `signing_key` is set in `maand.conf`).
    /// The signature is an OpenSSH signature (`ssh-keygen -Y sign` format,
    /// namespace `maand-journal`) over [`signed_head_message`] of this
    /// event's session, `seq` and `head`; since `head` is the hash of
    /// event `seq`, it covers every event up to and including that one.
    SessionSigned {
        /// Sequence number of the signed head: the event just before this one.
        seq: u64,
        /// The hash of event `seq` (the chain head when the session committed).
        head: Hash32,
        /// The armored OpenSSH signature (`-----BEGIN SSH SIGNATURE-----`).
        signature: String,
    },
    /// After a deploy, maand pushed the certificate expiry gauges to the
    /// Prometheus server job (remote write), best-effort: a failed push is
    /// recorded here and never fails the deploy. Informational.
    CertMetricsPushed {
        /// The remote-write URL.
        url: String,
        /// Time series sent.
        series: u64,
        /// Attempts made (retries on network errors, 429 and 5xx).
        attempts: u32,
        /// Whether the receiver accepted them.
        ok: bool,
        /// The last failure, when it failed.
        detail: String,
    },
    /// A fleet-wide peer list changed: the members of a job (its live
    /// allocations' workers) or of a worker label, in order. Recorded once
    /// per change instead of one copy per member, so the journal grows with
    /// the change, not with the square of the fleet; each member's
    /// `peer_workers` / `<label>_peers` KV value is derived from it on read
    /// (see [`crate::state::kv`]). Empty `members` ends the set.
    PeerSetRecorded {
        /// Whose set.
        scope: PeerScope,
        /// Member worker addresses, in catalog order.
        members: Vec<String>,
        /// When the build recorded it (the derived values' creation time).
        at: Millis,
    },
    /// `maand init` imported a bucket of the original (Go) maand: the
    /// events after this one in the session carry its catalog, KV and
    /// `update_seq`; its `maand.db` was kept as `backup`.
    LegacyImported {
        /// Bucket-relative path of the original `maand.db`, kept untouched.
        backup: String,
        /// The original's `schema_version` (0 when it had none).
        schema_version: u64,
        /// Workers imported.
        workers: u64,
        /// Jobs imported.
        jobs: u64,
        /// Allocations imported.
        allocations: u64,
        /// KV versions imported (values and tombstones).
        kv_versions: u64,
    },
    /// The original maand had deployed `version` of `job` on `ip` (its own
    /// tree hash `hash`, which is not ours). Folded as a deployment (running
    /// unless its allocation is disabled) whose hash never equals a staged
    /// one, so it is an update until a deploy proves the worker's files
    /// equal the staged tree and adopts it.
    LegacyDeploymentImported {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// Allocation id (the original's).
        alloc_id: String,
        /// The original's hash of the deployed tree.
        hash: String,
        /// Deployed version ("" when the original did not record one).
        version: String,
    },
    /// A KV version imported from the original maand with its own version
    /// number (the original's `gc` prunes old versions, so its numbers may
    /// start above 1 or skip).
    KvImported {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// The original's version number.
        version: u64,
        /// The value (sealed for secrets); `None` is a tombstone.
        value: Option<KvValue>,
        /// Time to live in seconds; 0 = never expires.
        ttl: u64,
        /// When the original wrote it.
        at: Millis,
    },
    /// A deploy's health gate failed on these allocations after their
    /// lifecycle ran for (`hash`, `version`): they show `health_failed` in
    /// `cat_deployments` (the original's state) and are not ready, so the
    /// next deploy runs their lifecycle again. Checkpointed at once, so the
    /// failed deploy's end does not drop it.
    AllocationHealthFailed {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// Tree hash whose gate failed.
        hash: String,
        /// Version whose gate failed.
        version: String,
    },
    /// Deploy staged a job with this renderer (its trees follow in the
    /// job's `JobRolloutPlanned`). Informational; `replay --check`
    /// re-renders the trees when the renderer is the running one.
    JobStaged(Box<Staging>),
    /// A deploy's reconcile decision with its inputs (what it stops and
    /// removes). Informational; `replay --check` plans it again.
    ReconcilePlanned(Box<ReconcilePlan>),
    /// One hook's run planned: inputs, worker set, batches, every variable.
    /// Informational; `replay --check` plans it again.
    HookRunPlanned(Box<HookRunPlan>),
    /// A build's inputs beside the state, recorded before its plan's
    /// events. Informational; `replay --check` plans the build again.
    BuildPlanned(Box<BuildInputs>),
    /// A deploy failed one job (staging, templates, a hook, a lifecycle
    /// batch, a health gate): the job's other steps were dropped, the
    /// deploy went on with the jobs that do not demand it. Informational.
    JobDeployFailed {
        /// Job.
        job: String,
        /// Its wave (`deployment_seq`).
        wave: u64,
        /// Why, as the operator is told.
        reason: String,
    },
    /// A deploy skipped a job because it demands (transitively) a job that
    /// failed or was skipped in the same deploy. Informational.
    JobDeploySkipped {
        /// Job.
        job: String,
        /// Its wave (`deployment_seq`).
        wave: u64,
        /// Why (names the demanded job).
        reason: String,
    },
    /// The end of a lifecycle target's output on one worker (stdout and
    /// stderr, bounded), recorded beside its [`Event::LifecycleRan`].
    /// Informational.
    LifecycleOutput {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// `start`, `stop`, `restart`, `reload`.
        target: String,
        /// The last lines of output (at most [`LIFECYCLE_TAIL_BYTES`]).
        tail: String,
    },
    /// The exact bytes staged for a job's allocations, recorded just before
    /// they are promoted so `maand rollback` can ship them again (never a
    /// re-render). Content-addressed: each distinct file content appears
    /// once per event, sealed (staged files may hold rendered secrets).
    StagedRecorded {
        /// Job.
        job: String,
        /// SHA-256 (hex) of each distinct file content the journal did not
        /// hold yet → that content, sealed under `kv.key` for namespace
        /// `maand/staged`, key = the hash.
        blobs: std::collections::BTreeMap<String, KvValue>,
        /// Per worker: path → `<sha256 of the bytes>:<mode in octal>`.
        trees: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>,
        /// Per worker: the tree hash about to be promoted (matches
        /// [`Event::AllocationPromoted`]'s `hash`).
        hashes: std::collections::BTreeMap<String, String>,
    },
    /// A `maand rollback` session began: these jobs go back to what was
    /// promoted at an earlier point of history.
    RollbackStarted {
        /// Jobs rolled back.
        jobs: Vec<String>,
        /// The point as described to operators (`deploy 7 (session 23)`).
        to: String,
        /// The last event of that point.
        seq: u64,
        /// Whether the KV values the jobs' templates read were restored too.
        kv: bool,
    },
    /// A rolled-back job is pinned: `build` keeps its catalog entry and
    /// `deploy` skips it while its workspace files are the ones rolled back
    /// from (the workspace still holds the newer release).
    JobPinned {
        /// Job.
        job: String,
        /// The point it was rolled back to, as described.
        to: String,
        /// SHA-256 of the job's workspace files at the rollback (see
        /// `plan::build::pins::fingerprint`; "" when they could not be read).
        workspace: String,
    },
    /// A pinned job was released (`maand rollback --release`, or its
    /// workspace files changed).
    JobUnpinned {
        /// Job.
        job: String,
        /// Why.
        reason: String,
    },
}

/// The most bytes of a lifecycle target's output kept in the journal.
pub const LIFECYCLE_TAIL_BYTES: usize = 4096;

/// The end of a target's output as the journal keeps it: stdout, then
/// stderr (where failures are explained), cut to the last
/// [`LIFECYCLE_TAIL_BYTES`] at a line start.
pub fn output_tail(stdout: &str, stderr: &str) -> String {
    let mut all = String::new();
    for part in [stdout, stderr] {
        if !part.trim().is_empty() {
            all.push_str(part.trim_end_matches('\n'));
            all.push('\n');
        }
    }
    if all.len() <= LIFECYCLE_TAIL_BYTES {
        return all;
    }
    let mut start = all.len() - LIFECYCLE_TAIL_BYTES;
    while !all.is_char_boundary(start) {
        start += 1;
    }
    let cut = &all[start..];
    cut.find('\n').map_or(cut, |i| &cut[i + 1..]).to_string()
}

#[cfg(test)]
mod tail_tests {
    use super::*;

    #[test]
    fn the_tail_keeps_whole_last_lines_within_the_bound() {
        assert_eq!(output_tail("a\nb\n", "err\n"), "a\nb\nerr\n");
        assert_eq!(output_tail("", "  \n"), "");
        let long: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let t = output_tail(&long, "boom\n");
        assert!(t.len() <= LIFECYCLE_TAIL_BYTES && t.starts_with("line ") && t.ends_with("line 1999\nboom\n"), "{t}");
    }
}

/// Whose peer set a [`Event::PeerSetRecorded`] records.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerScope {
    /// A job: its live (not removed) allocations, disabled included; each
    /// member's `maand/job/<job>/worker/<ip>` `peer_workers` lists the others.
    Job(String),
    /// A worker label: the workers carrying it; each member's
    /// `maand/worker/<ip>` `<label>_peers` lists the others.
    Label(String),
}

/// The prefix of the hash a [`Event::LegacyDeploymentImported`] folds to:
/// no tree hash of ours starts with it, so it never matches a staged tree.
pub const LEGACY_HASH_PREFIX: &str = "legacy:";

/// The SSH signature namespace of journal signatures (`ssh-keygen -Y sign -n`).
pub const SIGNATURE_NAMESPACE: &str = "maand-journal";

/// The exact bytes a [`Event::SessionSigned`] signature covers: four lines
/// naming the format, the session, the head's sequence number and its hash
/// (lower-case hex). A verifier recomputes it from the journal alone.
pub fn signed_head_message(session: u64, seq: u64, head: &Hash32) -> String {
    format!("maand-journal signed head v1\nsession {session}\nseq {seq}\nhead {}\n", hex::encode(head))
}

/// A job's rollout plan with the inputs it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRollout {
    /// The deploy's `update_seq`.
    pub update_seq: u64,
    /// Flags.
    pub flags: RolloutFlags,
    /// Staged tree per worker.
    pub staged: std::collections::BTreeMap<String, Tree>,
    /// The plan.
    pub plan: JobPlan,
}

/// One hook process run: what ran where, in which batch, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookInvocation {
    /// Job.
    pub job: String,
    /// Hook name.
    pub hook: String,
    /// Event (`pre_deploy`, `cli`, ...).
    pub event: String,
    /// Allocation id.
    pub alloc_id: String,
    /// Worker address.
    pub ip: String,
    /// Batch index.
    pub batch_index: u64,
    /// Batch count.
    pub batch_count: u64,
    /// The batch's allocations (worker addresses, in order).
    pub batch_allocations: Vec<String>,
    /// Exit code, when the process exited.
    pub exit_code: Option<i32>,
    /// Signal, when the process was killed by one.
    pub signal: Option<i32>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl HookInvocation {
    /// Whether the process succeeded.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }
}

impl Event {
    /// Short, stable name of the variant, for listings and audits.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SessionOpened(_) => "session_opened",
            Event::Checkpoint { .. } => "checkpoint",
            Event::SessionCommitted { .. } => "session_committed",
            Event::SessionFailed { .. } => "session_failed",
            Event::SessionAborted { .. } => "session_aborted",
            Event::BucketInitialized { .. } => "bucket_initialized",
            Event::BucketFilesCreated { .. } => "bucket_files_created",
            Event::CaCreated { .. } => "ca_created",
            Event::FormatUpgraded { .. } => "format_upgraded",
            Event::UpdateSeqSet { .. } => "update_seq_set",
            Event::KvPut { .. } => "kv_put",
            Event::KvDeleted { .. } => "kv_deleted",
            Event::KvPurged { .. } => "kv_purged",
            Event::WorkerUpserted(_) => "worker_upserted",
            Event::WorkerRemoved { .. } => "worker_removed",
            Event::JobUpserted(_) => "job_upserted",
            Event::JobRemoved { .. } => "job_removed",
            Event::JobFilePut { .. } => "job_file_put",
            Event::JobFileRemoved { .. } => "job_file_removed",
            Event::AllocationUpserted(_) => "allocation_upserted",
            Event::CertIssued { .. } => "cert_issued",
            Event::CertRetired { .. } => "cert_retired",
            Event::HookInvoked(_) => "hook_invoked",
            Event::JobRolloutPlanned(_) => "job_rollout_planned",
            Event::BatchStarted { .. } => "batch_started",
            Event::BatchEnded { .. } => "batch_ended",
            Event::LifecycleRan { .. } => "lifecycle_ran",
            Event::HealthChecked { .. } => "health_checked",
            Event::AllocationPromoted { .. } => "allocation_promoted",
            Event::AllocationUndeployed { .. } => "allocation_undeployed",
            Event::AllocationStopped { .. } => "allocation_stopped",
            Event::AllocationReady { .. } => "allocation_ready",
            Event::RemoteCommandRan { .. } => "remote_command_ran",
            Event::AllocationPurged { .. } => "allocation_purged",
            Event::KvHistoryPruned { .. } => "kv_history_pruned",
            Event::SessionSigned { .. } => "session_signed",
            Event::CertMetricsPushed { .. } => "cert_metrics_pushed",
            Event::PeerSetRecorded { .. } => "peer_set_recorded",
            Event::LegacyImported { .. } => "legacy_imported",
            Event::LegacyDeploymentImported { .. } => "legacy_deployment_imported",
            Event::KvImported { .. } => "kv_imported",
            Event::AllocationHealthFailed { .. } => "allocation_health_failed",
            Event::JobStaged(_) => "job_staged",
            Event::ReconcilePlanned(_) => "reconcile_planned",
            Event::HookRunPlanned(_) => "hook_run_planned",
            Event::BuildPlanned(_) => "build_planned",
            Event::JobDeployFailed { .. } => "job_deploy_failed",
            Event::JobDeploySkipped { .. } => "job_deploy_skipped",
            Event::LifecycleOutput { .. } => "lifecycle_output",
            Event::StagedRecorded { .. } => "staged_recorded",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::JobPinned { .. } => "job_pinned",
            Event::JobUnpinned { .. } => "job_unpinned",
        }
    }

    /// Whether the event is a session record (open, checkpoint, end) rather
    /// than a change of state or a recorded fact.
    pub fn is_session_record(&self) -> bool {
        matches!(
            self,
            Event::SessionOpened(_)
                | Event::Checkpoint { .. }
                | Event::SessionCommitted { .. }
                | Event::SessionFailed { .. }
                | Event::SessionAborted { .. }
                | Event::SessionSigned { .. }
        )
    }

    /// Whether folding this event can change [`crate::state::State`].
    /// Informational records (files created, CA fingerprint) do not.
    pub fn changes_state(&self) -> bool {
        !self.is_session_record()
            && !matches!(
                self,
                Event::BucketFilesCreated { .. }
                    | Event::CaCreated { .. }
                    | Event::HookInvoked(_)
                    | Event::JobRolloutPlanned(_)
                    | Event::BatchStarted { .. }
                    | Event::BatchEnded { .. }
                    | Event::LifecycleRan { .. }
                    | Event::HealthChecked { .. }
                    | Event::RemoteCommandRan { .. }
                    | Event::CertMetricsPushed { .. }
                    | Event::LegacyImported { .. }
                    | Event::JobStaged(_)
                    | Event::ReconcilePlanned(_)
                    | Event::HookRunPlanned(_)
                    | Event::BuildPlanned(_)
                    | Event::JobDeployFailed { .. }
                    | Event::JobDeploySkipped { .. }
                    | Event::LifecycleOutput { .. }
                    | Event::RollbackStarted { .. }
            )
    }
}

/// An event as stored: its position in the journal, its session, the hash
/// chain, and when the shell recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Journal format that wrote it.
    pub format_version: u16,
    /// Position in the journal, from 1, without gaps.
    pub seq: u64,
    /// Session it belongs to.
    pub session_id: u64,
    /// Hash of the previous envelope (zeros for the first).
    pub prev_hash: Hash32,
    /// SHA-256 over this envelope's encoded body (everything above and below
    /// but the hash itself).
    pub hash: Hash32,
    /// When it was recorded.
    pub recorded_at: Millis,
    /// The event.
    pub event: Event,
}

impl Event {
    /// One-line human description (secrets shown only as their size).
    pub fn summary(&self) -> String {
        fn val(v: &KvValue) -> String {
            match v {
                KvValue::Plain(s) if s.len() > 60 => {
                    format!("{:?}…", &s[..s.floor_char_boundary(60)])
                }
                KvValue::Plain(s) => format!("{s:?}"),
                KvValue::Sealed { ciphertext, .. } => {
                    format!("<sealed, {} bytes>", ciphertext.len())
                }
            }
        }
        match self {
            Event::SessionOpened(i) => format!(
                "{} by {}@{} (pid {}, maand {}){}",
                i.command_line.join(" "),
                i.user,
                i.host,
                i.pid,
                i.maand_version,
                if i.test_switches.is_empty() {
                    String::new()
                } else {
                    format!(" [TEST SWITCHES: {}]", i.test_switches.join(" "))
                }
            ),
            Event::Checkpoint { label } => format!("checkpoint {label}"),
            Event::SessionCommitted { .. } => "committed".into(),
            Event::SessionFailed { error, .. } => format!("failed: {error}"),
            Event::SessionAborted { reason, .. } => format!("aborted: {reason}"),
            Event::BucketInitialized { bucket_id, id_source } => format!("bucket {bucket_id} (id from {id_source})"),
            Event::BucketFilesCreated { paths } => format!("created {}", paths.join(", ")),
            Event::CaCreated { fingerprint, .. } => format!("CA sha256 {fingerprint}"),
            Event::FormatUpgraded { from, to } => format!("journal format {from} -> {to}"),
            Event::UpdateSeqSet { update_seq } => format!("update_seq = {update_seq}"),
            Event::KvPut { namespace, key, value, ttl, .. } => {
                let ttl = if *ttl > 0 { format!(" ttl={ttl}s") } else { String::new() };
                format!("{namespace} {key} = {}{ttl}", val(value))
            }
            Event::KvDeleted { namespace, key, .. } => format!("{namespace} {key} deleted"),
            Event::KvImported { namespace, key, version, value, ttl, .. } => {
                let ttl = if *ttl > 0 { format!(" ttl={ttl}s") } else { String::new() };
                match value {
                    Some(v) => format!("{namespace} {key} v{version} = {}{ttl} (imported)", val(v)),
                    None => format!("{namespace} {key} v{version} deleted (imported)"),
                }
            }
            Event::KvPurged { namespace, key } => format!("{namespace} {key} purged"),
            Event::WorkerUpserted(w) => format!("worker {} labels {}", w.ip, w.labels.join(",")),
            Event::WorkerRemoved { ip } => format!("worker {ip} removed"),
            Event::JobUpserted(j) => format!("job {} version {} seq {}", j.name, j.version, j.deployment_seq),
            Event::JobRemoved { name } => format!("job {name} removed"),
            Event::JobFilePut { job, path, file } => {
                format!("{job}/{path} ({} bytes, mode {:o})", file.content.len(), file.mode)
            }
            Event::JobFileRemoved { job, path } => format!("{job}/{path} removed"),
            Event::AllocationUpserted(a) => format!(
                "{} on {} ({}{}version {})",
                a.job,
                a.worker_ip,
                if a.removed { "removed, " } else { "" },
                if a.disabled { "disabled, " } else { "" },
                a.new_version
            ),
            Event::CertIssued { job, name, ip, record } => {
                format!("cert {job}/{name} for {ip} (serial {})", record.serial)
            }
            Event::CertRetired { job, name, ip } => format!("cert {job}/{name} for {ip} retired"),
            Event::HookInvoked(h) => format!(
                "{} {} on {} ({}) batch {}/{} [{}]: {}",
                h.job,
                h.hook,
                h.ip,
                h.event,
                h.batch_index + 1,
                h.batch_count,
                h.batch_allocations.join(","),
                match (h.exit_code, h.signal) {
                    (Some(c), _) => format!("exit {c}"),
                    (None, Some(s)) => format!("killed by signal {s}"),
                    _ => "did not start".to_string(),
                }
            ),
            Event::JobRolloutPlanned(r) => {
                let acts: Vec<String> =
                    r.plan.allocations.iter().map(|a| format!("{}={}", a.ip, a.action.as_str())).collect();
                format!(
                    "{} (seq {}, order {}): {}",
                    r.plan.job,
                    r.plan.deployment_seq,
                    r.plan.order_source,
                    acts.join(" ")
                )
            }
            Event::BatchStarted { job, phase, index, count, allocations, order_source } => {
                format!("{job} {phase} batch {}/{count} [{}] order {order_source}", index + 1, allocations.join(","))
            }
            Event::BatchEnded { job, phase, index, ok } => {
                format!("{job} {phase} batch {} {}", index + 1, if *ok { "ok" } else { "failed" })
            }
            Event::LifecycleRan { job, ip, target, exit_code, duration_ms } => format!(
                "{job} on {ip}: {target} -> {} ({duration_ms} ms)",
                exit_code.map_or("not run".to_string(), |c| format!("exit {c}"))
            ),
            Event::HealthChecked { job, allocations, ok, detail } => format!(
                "{job} health [{}]: {}{}",
                allocations.join(","),
                if *ok { "ok" } else { "failed" },
                if detail.is_empty() { String::new() } else { format!(" ({detail})") }
            ),
            Event::AllocationPromoted { job, ip, hash, version, .. } => {
                format!("{job} on {ip} promoted {} version {version}", &hash[..hash.len().min(12)])
            }
            Event::AllocationUndeployed { job, ip } => format!("{job} files removed from {ip}"),
            Event::AllocationStopped { job, ip } => format!("{job} on {ip} stopped"),
            Event::AllocationPurged { job, ip } => format!("{job} on {ip} purged"),
            Event::KvHistoryPruned { namespace, key, older_than } => {
                format!("{namespace} {key}: versions before {} pruned", crate::time::format_ms(*older_than))
            }
            Event::RemoteCommandRan { ip, command, exit_code, duration_ms } => format!(
                "{ip}: {command:?} -> {} ({duration_ms} ms)",
                exit_code.map_or("not run".to_string(), |c| format!("exit {c}"))
            ),
            Event::AllocationReady { job, ip, hash, version } => {
                format!("{job} on {ip} ready with {} version {version}", &hash[..hash.len().min(12)])
            }
            Event::AllocationHealthFailed { job, ip, hash, version } => {
                format!("{job} on {ip} failed its health gate with {} version {version}", &hash[..hash.len().min(12)])
            }
            Event::SessionSigned { seq, head, .. } => {
                format!("signed head {}… (event {seq})", &hex::encode(head)[..16])
            }
            Event::CertMetricsPushed { url, series, attempts, ok, detail } => format!(
                "cert metrics: {series} series to {url}: {} after {attempts} attempt(s){}",
                if *ok { "accepted" } else { "failed" },
                if detail.is_empty() { String::new() } else { format!(" ({detail})") }
            ),
            Event::PeerSetRecorded { scope, members, .. } => {
                let whose = match scope {
                    PeerScope::Job(j) => format!("job {j}"),
                    PeerScope::Label(l) => format!("label {l}"),
                };
                format!("peers of {whose}: {} worker(s)", members.len())
            }
            Event::LegacyImported { backup, schema_version, workers, jobs, allocations, kv_versions } => format!(
                "imported the original maand's bucket (schema {schema_version}, kept as {backup}): {workers} worker(s), {jobs} job(s), {allocations} allocation(s), {kv_versions} KV version(s)"
            ),
            Event::StagedRecorded { job, blobs, trees, .. } => format!(
                "{job}: staged bytes of {} worker(s) recorded ({} distinct file(s) new)",
                trees.len(),
                blobs.len()
            ),
            Event::JobPinned { job, to, .. } => format!("{job} pinned at {to} (build and deploy skip it)"),
            Event::JobUnpinned { job, reason } => format!("{job} unpinned: {reason}"),
            Event::RollbackStarted { jobs, to, seq, kv } => format!(
                "rollback of {} to {to} (event {seq}){}",
                jobs.join(","),
                if *kv { "" } else { ", KV left as it is" }
            ),
            Event::LegacyDeploymentImported { job, ip, hash, version, .. } => format!(
                "{job} on {ip}: the original maand deployed {} version {version} (to be proven)",
                &hash[..hash.len().min(12)]
            ),
            Event::BuildPlanned(b) => format!(
                "build inputs: {} workspace file(s), {} job(s), {} job file(s)",
                b.files.len(),
                b.job_files.len(),
                b.job_files.values().map(|f| f.len()).sum::<usize>()
            ),
            Event::JobStaged(st) => format!("{} staged by {}", st.job, st.renderer),
            Event::ReconcilePlanned(r) => {
                let items: Vec<String> = r
                    .items
                    .iter()
                    .map(|i| format!("{}@{}={}", i.job, i.ip, if i.removed { "remove" } else { "stop" }))
                    .collect();
                format!("reconcile {} item(s): {}", r.items.len(), items.join(" "))
            }
            Event::HookRunPlanned(h) => format!(
                "{} {} ({}) {} batch(es) [{}]",
                h.job,
                h.hook,
                h.event,
                h.batches.len(),
                h.batches
                    .iter()
                    .map(|b| b.iter().map(|i| i.ip.as_str()).collect::<Vec<_>>().join(","))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
            Event::JobDeployFailed { job, wave, reason } => format!("wave {wave}: {job} FAILED: {reason}"),
            Event::JobDeploySkipped { job, wave, reason } => format!("wave {wave}: {job} skipped: {reason}"),
            Event::LifecycleOutput { job, ip, target, tail } => {
                format!("{job} on {ip} make {target} output ({} lines)", tail.lines().count())
            }
        }
    }
}
