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
