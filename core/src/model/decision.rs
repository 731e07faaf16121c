//! Decisions recorded with their inputs so `maand-journal replay --check`
//! can re-derive them from the journal alone: what a deploy's reconcile
//! stops and removes, and what a hook run runs where with which
//! environment. Plain data, like the rollout plan.

use std::collections::BTreeMap;

/// A deployed allocation that must no longer run: removed, or newly
/// disabled while running.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileItem {
    /// Job.
    pub job: String,
    /// Worker.
    pub ip: String,
    /// Removed (files deleted after stopping) rather than disabled.
    pub removed: bool,
    /// The worker left workers.json (its bucket directory is wiped).
    pub worker_gone: bool,
    /// Its promoted version.
    pub version: String,
    /// Run `make stop` first (it runs, and the job has no `job_control` hook).
    pub stop: bool,
}

/// A deploy's reconcile decision with its inputs: the selected jobs and
/// whether the deploy named none (then jobs gone from the workspace are
/// reconciled too). The items are executed in order: every stop first,
/// then every removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcilePlan {
    /// Selected jobs.
    pub jobs: Vec<String>,
    /// No `--jobs` was given.
    pub all_jobs: bool,
    /// What to stop and remove, in (job, worker) order.
    pub items: Vec<ReconcileItem>,
}

/// One planned hook process (its environment without the per-run API port
/// and token, which are not decisions).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlannedHook {
    /// Allocation id.
    pub alloc_id: String,
    /// Worker.
    pub ip: String,
    /// Every variable the planner set.
    pub env: BTreeMap<String, String>,
}

/// One hook of one job run for one event: the planner's inputs and its
/// batches, recorded before the first process starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HookRunPlan {
    /// Job.
    pub job: String,
    /// Hook name.
    pub hook: String,
    /// Event (`pre_deploy`, `cli`, ...).
    pub event: String,
    /// `DEPLOY_PHASE`.
    pub phase: String,
    /// Worker filter, when one was given.
    pub filter: Option<Vec<String>>,
    /// Batched by `max_concurrent_starts`.
    pub first_start: bool,
    /// `BUCKET_ROOT`.
    pub bucket_root: String,
    /// Event-specific variables.
    pub extra: BTreeMap<String, String>,
    /// The batches, in order; each in rollout order.
    pub batches: Vec<Vec<PlannedHook>>,
    /// The lifecycle batch an `after_allocation_started` run was (its
    /// batches are that one batch, not the event's own).
    pub lifecycle: Option<LifecycleBatch>,
}

/// The lifecycle batch an `after_allocation_started` run belongs to (seed
/// 001: "Workers in the current Makefile rollout batch"): the run is that
/// one batch, on exactly its workers, numbered as the lifecycle rollout
/// numbers it, with the rollout's full order. It is never split again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleBatch {
    /// Zero-based index of the batch in its rollout (`BATCH_INDEX`).
    pub index: u64,
    /// Batches in that rollout (`BATCH_COUNT`).
    pub count: u64,
    /// The batch's workers, in rollout order (`BATCH_ALLOCATIONS`).
    pub allocations: Vec<String>,
    /// The rollout's full order (`ROLLOUT_ORDER`).
    pub order: Vec<String>,
    /// Where that order came from (`ROLLOUT_ORDER_SOURCE`: `kv` or `default`).
    pub order_source: String,
}

/// The identity and version of the staging renderer (template engine and
/// maand's staging rules). Recorded with each staging decision: a staged
/// tree recorded under another renderer is not compared (a template-engine
/// upgrade must not make old history fail).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Staging {
    /// Job staged.
    pub job: String,
    /// Renderer identity, e.g. `maand-stage/1 gotmpl/0.6.1`.
    pub renderer: String,
}

/// A build's inputs beside the state: the workspace's own files (their
/// text), a digest of every job file (the contents are in the journal once
/// the build's file events are folded), and the build context. With them
/// the build planner can be run again on the state before the build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInputs {
    /// `workers.json`, `bucket.conf`, the bucket.jobs file and
    /// `disabled.json` as read (absent files absent), by name.
    pub files: BTreeMap<String, String>,
    /// The bucket.jobs file name read (`bucket.jobs.conf`, or with the
    /// `job_config_selector`).
    pub job_overrides_file: String,
    /// Per job, per file: `sha256:mode` of what was read.
    pub job_files: BTreeMap<String, BTreeMap<String, String>>,
    /// The session's time.
    pub now: crate::model::Millis,
    /// The CA certificate PEM.
    pub ca_pem: String,
    /// Its SHA-256 fingerprint.
    pub ca_fingerprint: String,
    /// Renew leaf certificates this many days before expiry.
    pub certs_renewal_buffer_days: u32,
    /// `--purge-job-kv`.
    pub purge_job_kv: bool,
    /// Each job's `_prometheus/scrape.yaml.tpl` as rendered.
    pub scrape_rendered: BTreeMap<String, String>,
}
