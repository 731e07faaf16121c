//! The deploy machine (SPEC §6), sans IO: one deploy planned once and
//! driven step by step. The shell asks [`DeployMachine::poll`] for the next
//! [`Step`] (record events, checkpoint, check workers, run hooks, stage,
//! ship, run a lifecycle batch, gate on health, …), performs it, and hands
//! the result back with [`DeployMachine::complete`]. Every decision — the
//! order of waves and jobs, what reconcile stops and removes, each job's
//! rollout plan ([`crate::plan::rollout`]), which batches run and when an
//! allocation is ready or promoted, what a failure stops — is made here,
//! so the real executor (SSH workers, hook processes) and the simulated
//! fleet of the tests drive the same decisions.
//!
//! The machine never sees the journal: it emits the events to record and
//! reads the state (which the shell keeps, applying what it records) when
//! it plans.

mod health;
mod reconcile;

pub use health::{GatePolicy, health_config};
pub use reconcile::{ReconcileItem, plan_reconcile};

use crate::error::{Error, Result};
use crate::event::{Event, JobRollout};
use crate::model::rollout::{Action, JobPlan, RolloutFlags, Tree};
use crate::plan::rollout::plan_job;
use crate::state::State;
use crate::workspace::manifest::{HealthCheckJson, HookEvent};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// Worker.
    pub ip: String,
    /// Exit code; `None` when it could not run (unreachable, panicked).
    pub exit_code: Option<i32>,
    /// Wall time.
    pub duration_ms: u64,
    /// Last line of stderr, or why it could not run.
    pub detail: String,
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
    /// Which tools deploy needs are missing on these workers. Outcome:
    /// [`Outcome::Checked`].
    CheckWorkers(Vec<String>),
    /// Write this deploy's `worker.json` to these workers (best effort).
    /// Outcome: [`Outcome::PerWorker`].
    WriteWorkerJson(Vec<String>),
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
    /// Per worker: the missing tools, or why it could not be checked.
    Checked(Vec<(String, std::result::Result<Vec<String>, String>)>),
    /// Per worker: done, or why not.
    PerWorker(Vec<(String, std::result::Result<(), Error>)>),
    /// The hooks' result.
    Hooks(Result<()>),
    /// A single remote command.
    Remote(std::result::Result<RunResult, Error>),
    /// Staged trees per worker.
    Staged(Result<BTreeMap<String, Tree>>),
    /// One result per lifecycle run.
    Ran(Vec<RunResult>),
    /// Probes passed (after this many tries) or the last failure.
    Gate(std::result::Result<u64, String>),
}

/// What a finished deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployResult {
    /// Jobs promoted.
    pub promoted: Vec<String>,
    /// Jobs already up to date (or only planned, in a dry run).
    pub up_to_date: Vec<String>,
}

/// Internal instructions; external ones become [`Step`]s.
#[derive(Debug, Clone)]
enum Op {
    Step(Step),
    Reconcile,
    BeginJob {
        wave: u64,
        job: String,
    },
    PlanJob,
    /// After the health gate (and its hooks) of these allocations.
    Ready(Vec<String>),
    /// Planted bug: promote these before their gate.
    #[cfg(feature = "plant-promote-before-gate")]
    PromoteEarly(Vec<String>),
    /// The job_control hook and the gate after it passed on these.
    Gated(Vec<String>),
    Promote,
    ReconcileItem(ReconcileItem),
    ReconcileRemove(ReconcileItem),
    /// Fail the current job with this error (after the steps queued before).
    FailJob(Error),
    EndJob,
    EndWave,
}

/// What the machine waits for.
#[derive(Debug, Clone)]
enum Await {
    Nothing,
    Checked,
    WorkerJson,
    /// Hooks during reconcile (a failure fails the deploy) or a job.
    Hooks {
        in_job: bool,
    },
    Stop(ReconcileItem),
    Remove(ReconcileItem),
    Staged,
    Shipped,
    Lifecycle {
        phase: String,
        index: u64,
        count: u64,
        batch: Vec<String>,
        runs: Vec<LifecycleRun>,
    },
    Gate {
        ips: Vec<String>,
    },
}

/// The job being deployed.
#[derive(Debug, Clone)]
struct JobRun {
    wave: u64,
    job: String,
    staged: BTreeMap<String, Tree>,
    plan: Option<JobPlan>,
    /// Allocations whose lifecycle ran and exited 0 in this deploy.
    ran: BTreeSet<String>,
    /// Allocations whose health gate (and health hooks) passed after it.
    gated: BTreeSet<String>,
}

/// A deploy in progress. See the module documentation.
#[derive(Debug)]
pub struct DeployMachine {
    input: DeployInput,
    ops: VecDeque<Op>,
    waiting: Option<Await>,
    job: Option<JobRun>,
    failures: Vec<String>,
    result: DeployResult,
    done: bool,
}

impl DeployMachine {
    /// A deploy of `input`. The first [`poll`](Self::poll) begins it.
    pub fn new(input: DeployInput) -> DeployMachine {
        let mut ops = VecDeque::new();
        if !input.dry_run {
            ops.push_back(Op::Step(Step::Record(vec![Event::UpdateSeqSet { update_seq: input.update_seq }])));
            ops.push_back(Op::Step(Step::Checkpoint("update_seq".into())));
        }
        // CheckWorkers is queued at the first poll (it needs the state).
        let mut waves: Vec<u64> = input.jobs.iter().map(|(w, _)| *w).collect();
        waves.dedup();
        ops.push_back(Op::Reconcile);
        for wave in waves {
            for (_, job) in input.jobs.iter().filter(|(w, _)| *w == wave) {
                ops.push_back(Op::BeginJob { wave, job: job.clone() });
            }
            ops.push_back(Op::EndWave);
        }
        DeployMachine {
            input,
            ops,
            waiting: None,
            job: None,
            failures: Vec::new(),
            result: DeployResult::default(),
            done: false,
        }
    }

    /// The next step, given the state with everything recorded so far
    /// applied. Call [`complete`](Self::complete) with its outcome before
    /// polling again; after [`Step::Done`] the machine stays done.
    pub fn poll(&mut self, state: &State) -> Step {
        debug_assert!(self.waiting.is_none(), "poll() before the previous step was completed");
        if self.done {
            return Step::Done(Err(Error::op("internal error: the deploy already ended")));
        }
        if self.waiting.is_some() {
            return self.finish(Err(Error::op("internal error: a deploy step was never completed")));
        }
        loop {
            let Some(op) = self.ops.pop_front() else {
                let result = self.result.clone();
                return self.finish(Ok(result));
            };
            match op {
                Op::Step(step) => return self.emit(step),
                Op::Reconcile => self.queue_checks_and_reconcile(state),
                Op::BeginJob { wave, job } => {
                    self.job = Some(JobRun {
                        wave,
                        job: job.clone(),
                        staged: BTreeMap::new(),
                        plan: None,
                        ran: BTreeSet::new(),
                        gated: BTreeSet::new(),
                    });
                    let ips: Vec<String> = state
                        .catalog
                        .allocations_of(&job)
                        .into_iter()
                        .filter(|a| !a.removed)
                        .map(|a| a.worker_ip.clone())
                        .collect();
                    let front = vec![
                        Op::Step(Step::Hooks(hook(&job, HookEvent::PreDeploy, None))),
                        Op::Step(self.checkpoint(format!("{job} pre_deploy"))),
                        Op::Step(Step::Stage { job: job.clone(), ips }),
                        Op::PlanJob,
                        Op::EndJob,
                    ];
                    self.push_front(front);
                }
                Op::PlanJob => {
                    if let Some(step) = self.plan_current(state) {
                        return step;
                    }
                }
                Op::Ready(ips) => self.ready(&ips),
                Op::Gated(ips) => {
                    if let Some(run) = self.job.as_mut() {
                        run.gated.extend(ips);
                    }
                }
                Op::ReconcileItem(it) => return self.reconcile_step(it),
                Op::ReconcileRemove(it) => return self.remove_step(it),
                Op::FailJob(e) => self.fail_job(e),
                #[cfg(feature = "plant-promote-before-gate")]
                Op::PromoteEarly(ips) => self.promote(Some(&ips)),
                Op::Promote => self.promote(None),
                Op::EndJob => {
                    if let Some(run) = self.job.take() {
                        let promoted = run.plan.as_ref().is_some_and(|p| p.needs_rollout()) && !self.input.dry_run;
                        if promoted {
                            self.result.promoted.push(run.job);
                        } else {
                            self.result.up_to_date.push(run.job);
                        }
                    }
                }
                Op::EndWave => {
                    if !self.failures.is_empty() {
                        // Later waves depend on this one: stop here.
                        let msg = format!(
                            "deploy failed (jobs promoted so far stay promoted):\n{}",
                            self.failures.join("\n")
                        );
                        return self.finish(Err(Error::op(msg)));
                    }
                }
            }
        }
    }

    /// Hand over the outcome of the step [`poll`](Self::poll) returned.
    pub fn complete(&mut self, outcome: Outcome) {
        let Some(waiting) = self.waiting.take() else {
            debug_assert!(false, "complete() without a step in progress");
            return;
        };
        match (waiting, outcome) {
            (Await::Nothing, Outcome::Done) => {}
            (Await::Checked, Outcome::Checked(results)) => {
                let problems: Vec<String> = results
                    .into_iter()
                    .filter_map(|(ip, r)| match r {
                        Err(e) => Some(e),
                        Ok(missing) if !missing.is_empty() => Some(format!(
                            "worker {ip}: missing {} (install them on the worker)",
                            missing.join(", missing ")
                        )),
                        Ok(_) => None,
                    })
                    .collect();
                if !problems.is_empty() {
                    self.abort(Error::op(format!("worker prerequisites:\n  {}", problems.join("\n  "))));
                }
            }
            (Await::WorkerJson, Outcome::PerWorker(results)) => {
                let notes: Vec<Op> = results
                    .into_iter()
                    .filter_map(|(_, r)| r.err())
                    .map(|e| Op::Step(Step::Say(format!("note: {e} (worker.json not updated)"))))
                    .collect();
                self.push_front(notes);
            }
            (Await::Hooks { in_job }, Outcome::Hooks(r)) => {
                if let Err(e) = r {
                    if in_job { self.fail_job(e) } else { self.abort(e) }
                }
            }
            (Await::Stop(item), Outcome::Remote(r)) => self.stopped(item, r),
            (Await::Remove(item), Outcome::Remote(r)) => match r {
                Err(e) => self.abort(e),
                Ok(r) if !r.ok() => {
                    self.abort(Error::op(format!("worker {}: removing job {} failed: {}", item.ip, item.job, r.detail)))
                }
                Ok(_) => self.push_front(vec![
                    Op::Step(Step::Record(vec![Event::AllocationUndeployed {
                        job: item.job.clone(),
                        ip: item.ip.clone(),
                    }])),
                    Op::Step(Step::Say(format!(
                        "reconcile: {} on {}: removed{}",
                        item.job,
                        item.ip,
                        if item.worker_gone { " (worker left the bucket)" } else { "" }
                    ))),
                ]),
            },
            (Await::Staged, Outcome::Staged(r)) => match r {
                Ok(staged) => {
                    if let Some(run) = self.job.as_mut() {
                        run.staged = staged;
                    }
                }
                Err(e) => self.fail_job(e),
            },
            (Await::Shipped, Outcome::PerWorker(results)) => {
                if let Some(e) = results.into_iter().find_map(|(_, r)| r.err()) {
                    self.fail_job(e);
                }
            }
            (Await::Lifecycle { phase, index, count, batch, runs }, Outcome::Ran(results)) => {
                self.ran(&phase, index, count, &batch, &runs, results)
            }
            (Await::Gate { ips }, Outcome::Gate(r)) => self.gated(&ips, r),
            (waiting, outcome) => {
                debug_assert!(false, "outcome {outcome:?} does not answer {waiting:?}");
                self.abort(Error::op(format!("internal error: outcome {outcome:?} does not answer {waiting:?}")));
            }
        }
    }

    fn emit(&mut self, step: Step) -> Step {
        self.waiting = Some(match &step {
            Step::Record(_) | Step::Flush | Step::Checkpoint(_) | Step::Say(_) => Await::Nothing,
            Step::CheckWorkers(_) => Await::Checked,
            Step::WriteWorkerJson(_) => Await::WorkerJson,
            Step::Hooks(_) => Await::Hooks { in_job: self.job.is_some() },
            Step::Stop { .. } | Step::Remove { .. } => {
                // Stop/Remove are emitted through `reconcile_op` only.
                debug_assert!(false, "reconcile steps carry their item");
                Await::Nothing
            }
            Step::Stage { .. } => Await::Staged,
            Step::Ship { .. } => Await::Shipped,
            Step::Lifecycle { phase, index, count, batch, runs, .. } => Await::Lifecycle {
                phase: phase.clone(),
                index: *index,
                count: *count,
                batch: batch.clone(),
                runs: runs.clone(),
            },
            Step::Gate { ips, .. } => Await::Gate { ips: ips.clone() },
            Step::Done(_) => {
                self.done = true;
                return step;
            }
        });
        step
    }

    fn finish(&mut self, result: std::result::Result<DeployResult, Error>) -> Step {
        self.done = true;
        self.waiting = None;
        Step::Done(result)
    }

    fn push_front(&mut self, ops: Vec<Op>) {
        for op in ops.into_iter().rev() {
            self.ops.push_front(op);
        }
    }

    fn checkpoint(&self, label: String) -> Step {
        if self.input.dry_run { Step::Flush } else { Step::Checkpoint(label) }
    }

    /// End the whole deploy with `e` (nothing more runs).
    fn abort(&mut self, e: Error) {
        let e = match &self.job {
            Some(run) if e.exit_code() == 2 => e.context(format!("job {}", run.job)),
            _ => e,
        };
        self.ops.clear();
        self.ops.push_back(Op::Step(Step::Done(Err(e))));
    }

    /// The current job failed: drop the rest of its steps; the wave's other
    /// jobs continue. Bad input or usage ends the whole deploy.
    fn fail_job(&mut self, e: Error) {
        if e.exit_code() == 2 {
            return self.abort(e);
        }
        let Some(run) = self.job.take() else { return self.abort(e) };
        while let Some(op) = self.ops.pop_front() {
            if matches!(op, Op::EndJob) {
                break;
            }
        }
        self.failures.push(format!("job {}: {e}", run.job));
        self.ops.push_front(Op::Step(Step::Say(format!("wave {}: {}: FAILED", run.wave, run.job))));
    }

    /// Queue the worker check, worker.json, and reconcile.
    fn queue_checks_and_reconcile(&mut self, state: &State) {
        let mut ips: Vec<String> = state
            .catalog
            .allocations
            .values()
            .filter(|a| a.active() && self.input.jobs.iter().any(|(_, j)| *j == a.job))
            .map(|a| a.worker_ip.clone())
            .collect();
        ips.sort();
        ips.dedup();
        let mut front = vec![Op::Step(Step::CheckWorkers(ips))];
        if !self.input.dry_run {
            let mut all: Vec<String> =
                state.catalog.allocations.values().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
            all.sort();
            all.dedup();
            front.push(Op::Step(Step::WriteWorkerJson(all)));
            let selected: Vec<String> = self.input.jobs.iter().map(|(_, j)| j.clone()).collect();
            let items = plan_reconcile(state, &selected, self.input.all_jobs);
            // after_allocation_stopped hooks first, grouped per job.
            let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for it in &items {
                by_job.entry(it.job.clone()).or_default().push(it.ip.clone());
            }
            for (job, ips) in by_job {
                front.push(Op::Step(Step::Hooks(hook(&job, HookEvent::AfterAllocationStopped, Some(ips)))));
            }
            for it in items {
                front.push(Op::ReconcileItem(it));
            }
            front.push(Op::Step(Step::Checkpoint("reconcile".into())));
        }
        self.push_front(front);
    }

    /// The first step of a reconciled allocation: stop it, or remove it.
    fn reconcile_step(&mut self, it: ReconcileItem) -> Step {
        if it.stop {
            self.waiting = Some(Await::Stop(it.clone()));
            Step::Stop { job: it.job, ip: it.ip, version: it.version }
        } else {
            self.remove_step(it)
        }
    }

    fn remove_step(&mut self, it: ReconcileItem) -> Step {
        self.waiting = Some(Await::Remove(it.clone()));
        Step::Remove { job: it.job, ip: it.ip, worker_gone: it.worker_gone }
    }

    fn stopped(&mut self, it: ReconcileItem, r: std::result::Result<RunResult, Error>) {
        match r {
            Err(e) if it.removed => self.push_front(vec![
                Op::Step(Step::Say(format!(
                    "reconcile: {} on {}: worker unreachable, treated as dead ({e})",
                    it.job, it.ip
                ))),
                Op::Step(Step::Record(vec![Event::AllocationUndeployed { job: it.job.clone(), ip: it.ip.clone() }])),
            ]),
            Err(e) => self.abort(e),
            Ok(r) => {
                let mut events = vec![Event::LifecycleRan {
                    job: it.job.clone(),
                    ip: it.ip.clone(),
                    target: "stop".into(),
                    exit_code: r.exit_code,
                    duration_ms: r.duration_ms,
                }];
                if !it.removed && !r.ok() {
                    // It may still run: not marked stopped, so the next
                    // deploy tries again (a disabled allocation is never
                    // stopped by anything else).
                    let e = Error::op(format!(
                        "reconcile: {} on {}: make stop failed ({}){}: it is not marked stopped",
                        it.job,
                        it.ip,
                        r.exit_code.map_or("did not run".into(), |c| format!("exit {c}")),
                        if r.detail.is_empty() { String::new() } else { format!(": {}", r.detail) }
                    ));
                    self.push_front(vec![Op::Step(Step::Record(events))]);
                    self.ops.truncate(1);
                    self.ops.push_back(Op::Step(Step::Done(Err(e))));
                    return;
                }
                if !it.removed {
                    events.push(Event::AllocationStopped { job: it.job.clone(), ip: it.ip.clone() });
                }
                let mut front = vec![
                    Op::Step(Step::Record(events)),
                    Op::Step(Step::Say(format!(
                        "reconcile: {} on {}: stopped ({})",
                        it.job,
                        it.ip,
                        if r.ok() { "ok" } else { "make stop failed" }
                    ))),
                ];
                if it.removed {
                    front.push(Op::ReconcileRemove(it));
                }
                self.push_front(front);
            }
        }
    }

    /// Plan the current job from its staged trees.
    fn plan_current(&mut self, state: &State) -> Option<Step> {
        let dry_run = self.input.dry_run;
        let run = self.job.as_mut()?;
        let plan = match plan_job(state, &run.job, &run.staged, &self.input.flags) {
            Ok(p) => p,
            Err(e) => {
                self.fail_job(e);
                return None;
            }
        };
        let job = run.job.clone();
        let wave = run.wave;
        let staged = run.staged.clone();
        run.plan = Some(plan.clone());
        let mut ops = vec![Op::Step(Step::Record(vec![Event::JobRolloutPlanned(Box::new(JobRollout {
            update_seq: self.input.update_seq,
            flags: self.input.flags.clone(),
            staged: staged.clone(),
            plan: plan.clone(),
        }))]))];
        ops.extend(plan_lines(wave, &plan).into_iter().map(|l| Op::Step(Step::Say(l))));
        if dry_run || !plan.needs_rollout() {
            self.push_front(ops);
            return None;
        }
        let spec = &state.catalog.jobs[&job].spec;
        let config = match health_config(spec) {
            Ok(c) => c,
            Err(e) => {
                ops.push(Op::FailJob(e));
                self.push_front(ops);
                return None;
            }
        };
        let ship: Vec<String> = plan
            .allocations
            .iter()
            .filter(|a| !matches!(a.action, Action::Skip | Action::Disabled))
            .map(|a| a.ip.clone())
            .collect();
        if !ship.is_empty() {
            let trees = ship.iter().map(|ip| (ip.clone(), staged.get(ip).cloned().unwrap_or_default())).collect();
            ops.push(Op::Step(Step::Ship { job: job.clone(), ips: ship, trees }));
        }
        let gate = |ips: &[String]| -> Vec<Op> {
            let mut v = Vec::new();
            if let Some(config) = &config {
                v.push(Op::Step(Step::Gate { job: job.clone(), ips: ips.to_vec(), config: config.clone() }));
            }
            v.push(Op::Step(Step::Hooks(hook(&job, HookEvent::HealthCheck, Some(ips.to_vec())))));
            v
        };
        let job_control = spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "job_control"));
        if job_control {
            let list = |want: &[Action]| {
                plan.allocations
                    .iter()
                    .filter(|a| want.contains(&a.action))
                    .map(|a| a.ip.clone())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let mut extra = BTreeMap::new();
            extra.insert("NEW_ALLOCATIONS".to_string(), list(&[Action::Start]));
            extra.insert("UPDATED_ALLOCATIONS".to_string(), list(&[Action::Restart, Action::Reload, Action::Sync]));
            ops.push(Op::Step(Step::Hooks(HookCall {
                job: job.clone(),
                event: HookEvent::JobControl,
                filter: None,
                extra,
            })));
            ops.extend(gate(&plan.order));
            ops.push(Op::Gated(plan.order.clone()));
        } else {
            let lifecycle = |phase: &str, index: usize, count: usize, batch: &[String]| -> Vec<Op> {
                let runs = batch
                    .iter()
                    .filter_map(|ip| plan.action(ip))
                    .filter(|a| matches!(a.action, Action::Start | Action::Restart | Action::Reload))
                    .map(|a| LifecycleRun {
                        ip: a.ip.clone(),
                        target: a.action.as_str().to_string(),
                        current_version: a.current_version.clone(),
                        new_version: a.new_version.clone(),
                    })
                    .collect();
                vec![
                    Op::Step(Step::Record(vec![Event::BatchStarted {
                        job: job.clone(),
                        phase: phase.to_string(),
                        index: index as u64,
                        count: count as u64,
                        allocations: batch.to_vec(),
                        order_source: plan.order_source.clone(),
                    }])),
                    Op::Step(Step::Flush),
                    Op::Step(Step::Lifecycle {
                        job: job.clone(),
                        phase: phase.to_string(),
                        index: index as u64,
                        count: count as u64,
                        batch: batch.to_vec(),
                        runs,
                    }),
                ]
            };
            let count = plan.start_batches.len();
            for (i, batch) in plan.start_batches.iter().enumerate() {
                ops.extend(lifecycle("new", i, count, batch));
                #[cfg(feature = "plant-promote-before-gate")]
                if self.input.plant_promote_before_gate {
                    ops.push(Op::PromoteEarly(batch.clone()));
                }
            }
            if count > 0 {
                let started: Vec<String> = plan.start_batches.concat();
                ops.extend(gate(&started));
                ops.push(Op::Ready(started));
            }
            let count = plan.update_batches.len();
            for (i, batch) in plan.update_batches.iter().enumerate() {
                ops.extend(lifecycle("update", i, count, batch));
                let restarted: Vec<String> = batch
                    .iter()
                    .filter(|ip| plan.action(ip).is_some_and(|a| a.action != Action::Sync))
                    .cloned()
                    .collect();
                #[cfg(feature = "plant-promote-before-gate")]
                if self.input.plant_promote_before_gate {
                    ops.push(Op::PromoteEarly(restarted.clone()));
                }
                if !restarted.is_empty() {
                    ops.extend(gate(&restarted));
                    ops.push(Op::Ready(restarted));
                }
            }
        }
        ops.push(Op::Step(Step::Hooks(hook(&job, HookEvent::PostDeploy, None))));
        ops.push(Op::Promote);
        self.push_front(ops);
        None
    }
}

impl DeployMachine {
    /// A lifecycle batch ended: record each run; on success run the
    /// batch's `after_allocation_started` hooks; a failure fails the job.
    fn ran(
        &mut self,
        phase: &str,
        index: u64,
        count: u64,
        batch: &[String],
        runs: &[LifecycleRun],
        results: Vec<RunResult>,
    ) {
        let Some(run) = self.job.as_mut() else {
            return self.abort(Error::op("internal error: lifecycle outside a job"));
        };
        let job = run.job.clone();
        // One result per run, in any order; a missing one is a failure
        // (fail closed), an unexpected one is ignored.
        let mut events = Vec::new();
        let mut failed = Vec::new();
        for r in runs {
            let got = results.iter().find(|x| x.ip == r.ip);
            debug_assert!(got.is_some(), "no lifecycle result for {}", r.ip);
            let res = got.cloned().unwrap_or_else(|| RunResult {
                ip: r.ip.clone(),
                exit_code: None,
                duration_ms: 0,
                detail: "no result (internal error)".into(),
            });
            events.push(Event::LifecycleRan {
                job: job.clone(),
                ip: r.ip.clone(),
                target: r.target.clone(),
                exit_code: res.exit_code,
                duration_ms: res.duration_ms,
            });
            if res.ok() {
                run.ran.insert(r.ip.clone());
            } else {
                failed.push(format!(
                    "{}: make {} {} {}",
                    r.ip,
                    r.target,
                    res.exit_code.map_or("did not run".into(), |c| format!("exit {c}")),
                    res.detail
                ));
            }
        }
        let ended = |ok: bool| Event::BatchEnded { job: job.clone(), phase: phase.to_string(), index, ok };
        let mut front = vec![Op::Step(Step::Record(events))];
        if failed.is_empty() {
            front.push(Op::Step(Step::Hooks(hook(&job, HookEvent::AfterAllocationStarted, Some(batch.to_vec())))));
            front.push(Op::Step(Step::Record(vec![ended(true)])));
            front.push(Op::Step(Step::Flush));
        } else {
            front.push(Op::Step(Step::Record(vec![ended(false)])));
            front.push(Op::Step(Step::Flush));
            front.push(Op::FailJob(Error::op(format!(
                "{phase} batch {}/{count} failed:\n  {}",
                index + 1,
                failed.join("\n  ")
            ))));
        }
        self.push_front(front);
    }

    /// A health gate ended: record it; a failure fails the job.
    fn gated(&mut self, ips: &[String], r: std::result::Result<u64, String>) {
        let Some(run) = self.job.as_ref() else { return self.abort(Error::op("internal error: gate outside a job")) };
        let job = run.job.clone();
        let (ok, detail) = match &r {
            Ok(_) => (true, String::new()),
            Err(e) => (false, e.clone()),
        };
        let mut front = vec![
            Op::Step(Step::Record(vec![Event::HealthChecked {
                job: job.clone(),
                allocations: ips.to_vec(),
                ok,
                detail: detail.clone(),
            }])),
            Op::Step(Step::Flush),
        ];
        if ok {
            front.push(Op::Step(Step::Say(format!("  {job} healthy [{}]", ips.join(",")))));
        } else {
            front.push(Op::FailJob(Error::op(format!(
                "health check failed for {job} on [{}]: {detail}",
                ips.join(",")
            ))));
        }
        self.push_front(front);
    }

    /// Allocations whose lifecycle passed its gate: durably ready, so a
    /// failure later in this deploy does not restart them next time.
    fn ready(&mut self, ips: &[String]) {
        let dry_run = self.input.dry_run;
        let Some(run) = self.job.as_mut() else { return };
        let Some(plan) = run.plan.as_ref() else { return };
        let mut events = Vec::new();
        for a in plan.allocations.iter().filter(|a| ips.contains(&a.ip)) {
            debug_assert!(
                !matches!(a.action, Action::Start | Action::Restart | Action::Reload) || run.ran.contains(&a.ip),
                "{} on {} ready without a successful lifecycle",
                plan.job,
                a.ip
            );
            run.gated.insert(a.ip.clone());
            events.push(Event::AllocationReady {
                job: plan.job.clone(),
                ip: a.ip.clone(),
                hash: a.tree_hash.clone(),
                version: a.new_version.clone(),
            });
        }
        let label = format!("{} batch ready", plan.job);
        let checkpoint = if dry_run { Step::Flush } else { Step::Checkpoint(label) };
        self.push_front(vec![Op::Step(Step::Record(events)), Op::Step(checkpoint)]);
    }

    /// Promote the job's non-skip allocations (all of them, or `only`).
    fn promote(&mut self, only: Option<&[String]>) {
        let dry_run = self.input.dry_run;
        let Some(run) = self.job.as_ref() else { return };
        let Some(plan) = run.plan.as_ref() else { return };
        let mut events = Vec::new();
        for a in plan.allocations.iter().filter(|a| a.action != Action::Skip) {
            if only.is_some_and(|o| !o.contains(&a.ip)) {
                continue;
            }
            if only.is_none() {
                // Nothing is promoted whose lifecycle did not run and pass
                // its gate in this deploy (or, `ready`, in an earlier one).
                debug_assert!(
                    !matches!(a.action, Action::Start | Action::Restart | Action::Reload) || run.gated.contains(&a.ip),
                    "{} on {} promoted before its health gate passed",
                    plan.job,
                    a.ip
                );
            }
            events.push(Event::AllocationPromoted {
                job: plan.job.clone(),
                ip: a.ip.clone(),
                alloc_id: a.alloc_id.clone(),
                hash: a.tree_hash.clone(),
                files: run.staged.get(&a.ip).cloned().unwrap_or_default(),
                version: a.new_version.clone(),
                running: a.action != Action::Disabled,
            });
        }
        let label = format!("{} promoted", plan.job);
        let checkpoint = if dry_run { Step::Flush } else { Step::Checkpoint(label) };
        let mut front = vec![Op::Step(Step::Record(events)), Op::Step(checkpoint)];
        if only.is_none() {
            front.push(Op::Step(Step::Say(format!("wave {}: {}: promoted", run.wave, plan.job))));
        }
        self.push_front(front);
    }
}

/// A hook call with no extra variables.
fn hook(job: &str, event: HookEvent, filter: Option<Vec<String>>) -> HookCall {
    HookCall { job: job.to_string(), event, filter, extra: BTreeMap::new() }
}

/// The lines `maand deploy` prints for a job's plan.
pub fn plan_lines(wave: u64, plan: &JobPlan) -> Vec<String> {
    let mut lines = vec![format!("wave {wave}: {} (order {} {})", plan.job, plan.order_source, plan.order.join(","))];
    for a in &plan.allocations {
        let short = |h: &str| if h.is_empty() { "-".to_string() } else { h[..h.len().min(12)].to_string() };
        let matched = if a.matched.is_empty() { String::new() } else { format!(" matched={}", a.matched.join(",")) };
        lines.push(format!(
            "  {:<15} {:<8} {} -> {} version {} -> {}{matched}",
            a.ip,
            a.action.as_str(),
            short(&a.current_hash),
            short(&a.tree_hash),
            a.current_version,
            a.new_version
        ));
    }
    lines
}

#[cfg(test)]
mod tests;
