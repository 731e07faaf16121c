//! The deploy machine's vocabulary with the shell: what a deploy is asked
//! to do, the steps it emits and the outcomes it consumes.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::model::rollout::{RolloutFlags, Tree};
use crate::workspace::manifest::{HealthCheckJson, HookEvent};
use std::collections::BTreeMap;

/// What a deploy was asked to do, fixed when it starts.
#[derive(Debug, Clone, Default)]
pub struct DeployInput {
    /// Selected jobs with their wave (`deployment_seq`).
    pub jobs: Vec<(u64, String)>,
    /// No `--jobs` was given (jobs removed from the workspace are reconciled too).
    pub all_jobs: bool,
    /// This deploy's `update_seq`.
    pub update_seq: u64,
    /// `--force` / `--sync-only`.
    pub flags: RolloutFlags,
    /// `--dry-run`: plan and print, persist nothing, touch no worker.
    pub dry_run: bool,
    /// Test-only planted bug (the simulation must catch it): promote each
    /// lifecycle batch before its health gate.
    #[cfg(feature = "plant-promote-before-gate")]
    pub plant_promote_before_gate: bool,
}

/// A hook run the machine asks for (every hook of `event` on `job`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCall {
    /// Job.
    pub job: String,
    /// Event.
    pub event: HookEvent,
    /// Only these workers (`None`: the event's default set).
    pub filter: Option<Vec<String>>,
    /// Event-specific variables (`NEW_ALLOCATIONS`, …).
    pub extra: BTreeMap<String, String>,
    /// `DEPLOY_PHASE`: the event's name, or the lifecycle's `new` / `update`
    /// (`after_allocation_started`) and `stop` (`after_allocation_stopped`).
    pub phase: String,
    /// The lifecycle batch an `after_allocation_started` run is.
    pub lifecycle: Option<crate::plan::hooks::LifecycleBatch>,
    /// Run again while it fails, within this policy's budget (the gate's
    /// `health_check` hooks); `None`: once.
    pub retry: Option<super::GatePolicy>,
}

/// One lifecycle target to run on one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRun {
    /// Worker.
    pub ip: String,
    /// `start`, `restart`, `reload`, `stop`.
    pub target: String,
    /// `CURRENT_VERSION`.
    pub current_version: String,
    /// `NEW_VERSION`.
    pub new_version: String,
}

/// How one remote command ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunResult {
    /// Worker.
    pub ip: String,
    /// Exit code; `None` when it could not run (unreachable, panicked).
    pub exit_code: Option<i32>,
    /// Wall time.
    pub duration_ms: u64,
    /// Last line of stderr, or why it could not run.
    pub detail: String,
    /// The end of its output ([`crate::event::output_tail`]), recorded as
    /// [`Event::LifecycleOutput`] and shown when it failed.
    pub output: String,
}

impl RunResult {
    /// Whether it exited 0.
    pub fn ok(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The next thing the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Record these events (applied to state at once, durable at the next
    /// flush or checkpoint). Outcome: [`Outcome::Done`].
    Record(Vec<Event>),
    /// Make the recorded events durable (not yet state). Outcome: `Done`.
    Flush,
    /// Make the recorded events state. Outcome: `Done`.
    Checkpoint(String),
    /// Tell the operator one line. Outcome: `Done`.
    Say(String),
    /// One round trip per worker before anything changes: which tools
    /// deploy needs are missing on the workers in `check`, and this
    /// deploy's `worker.json` written to those in `worker_json` (best
    /// effort). Outcome: [`Outcome::Prepared`].
    PrepareWorkers {
        /// Workers of the jobs being deployed: a missing tool or an
        /// unreachable worker here ends the deploy.
        check: Vec<String>,
        /// Every worker with an active allocation (none in a dry run).
        worker_json: Vec<String>,
    },
    /// Run hooks. Outcome: [`Outcome::Hooks`].
    Hooks(HookCall),
    /// Run `runner.py stop` for a reconciled allocation. Outcome: [`Outcome::Remote`].
    Stop {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// Its promoted version.
        version: String,
    },
    /// Delete a removed allocation's files (keeping `data/`, `logs/`), or the
    /// whole bucket directory when the worker left. Outcome: `Remote`.
    Remove {
        /// Job.
        job: String,
        /// Worker.
        ip: String,
        /// The worker left workers.json: wipe `/opt/worker/<bucket>/`.
        worker_gone: bool,
    },
    /// Stage `job` for these workers. Outcome: [`Outcome::Staged`].
    Stage {
        /// Job.
        job: String,
        /// Its non-removed allocations.
        ips: Vec<String>,
    },
    /// Compare each worker's files of `job` with its staged tree, changing
    /// nothing (allocations the original maand deployed). Outcome:
    /// [`Outcome::Compared`].
    Compare {
        /// Job.
        job: String,
        /// Workers.
        ips: Vec<String>,
        /// The staged tree of each.
        trees: BTreeMap<String, Tree>,
    },
    /// Ship the staged job to these workers. Outcome: `PerWorker`.
    Ship {
        /// Job.
        job: String,
        /// Workers.
        ips: Vec<String>,
        /// The staged tree of each (what is shipped).
        trees: BTreeMap<String, Tree>,
    },
    /// Run one lifecycle batch (all at once). Outcome: [`Outcome::Ran`].
    Lifecycle {
        /// Job.
        job: String,
        /// `new` or `update`.
        phase: String,
        /// Zero-based batch index.
        index: u64,
        /// Batch count.
        count: u64,
        /// The batch (including `sync` allocations, which run nothing).
        batch: Vec<String>,
        /// What runs where.
        runs: Vec<LifecycleRun>,
    },
    /// Probe these allocations within the gate policy. Outcome: [`Outcome::Gate`].
    Gate {
        /// Job.
        job: String,
        /// Workers.
        ips: Vec<String>,
        /// The job's probes and wait policy.
        config: HealthCheckJson,
    },
    /// The deploy is over.
    Done(std::result::Result<DeployResult, Error>),
}

/// The result of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Recorded, flushed, checkpointed, said.
    Done,
    /// Per worker of a [`Step::PrepareWorkers`] (both lists), what it found.
    Prepared(Vec<(String, std::result::Result<Prepared, String>)>),
    /// Per worker: done, or why not.
    PerWorker(Vec<(String, std::result::Result<(), Error>)>),
    /// The hooks' result.
    Hooks(Result<()>),
    /// A single remote command.
    Remote(std::result::Result<RunResult, Error>),
    /// Staged trees per worker.
    Staged(Result<BTreeMap<String, Tree>>),
    /// Per worker: the paths whose content, presence or mode differ from
    /// the staged tree (empty: equal), or why they could not be compared.
    Compared(Vec<(String, Result<Vec<String>>)>),
    /// One result per lifecycle run.
    Ran(Vec<RunResult>),
    /// Probes passed (after this many tries) or the last failure.
    Gate(std::result::Result<u64, String>),
}

/// What preparing one reachable worker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Tools deploy needs that are missing (empty when not checked).
    pub missing: Vec<String>,
    /// Why `worker.json` could not be written (`None`: written, or not asked).
    pub worker_json_error: Option<String>,
}

/// What a finished deploy did. A deploy that failed or skipped jobs still
/// ends with its result (the shell turns [`DeployResult::failure`] into the
/// command's error); only a problem outside any job (workers unusable,
/// reconcile, the journal) ends it with an error instead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployResult {
    /// Jobs promoted.
    pub promoted: Vec<String>,
    /// Jobs already up to date (or only planned, in a dry run).
    pub up_to_date: Vec<String>,
    /// Jobs that failed, in the order they failed.
    pub failed: Vec<JobIssue>,
    /// Jobs not attempted because they demand a failed or skipped job.
    pub skipped: Vec<JobIssue>,
}

/// A job a deploy failed or skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIssue {
    /// Job.
    pub job: String,
    /// Its wave (`deployment_seq`).
    pub wave: u64,
    /// Why (may span lines).
    pub reason: String,
}

impl DeployResult {
    /// The command's error when a job failed or was skipped: one summary
    /// listing every failed and skipped job with its reason (exit 1).
    pub fn failure(&self) -> Option<Error> {
        if self.failed.is_empty() && self.skipped.is_empty() {
            return None;
        }
        let mut lines = vec![format!(
            "deploy failed: {} job(s) failed, {} skipped, {} promoted (promoted jobs stay promoted)",
            self.failed.len(),
            self.skipped.len(),
            self.promoted.len()
        )];
        for (what, list) in [("failed", &self.failed), ("skipped", &self.skipped)] {
            for i in list {
                let reason = i.reason.trim_end().replace('\n', "\n      ");
                lines.push(format!("  {what} {} (wave {}): {reason}", i.job, i.wave));
            }
        }
        Some(Error::op(lines.join("\n")))
    }
}
