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

mod adopt;
mod health;
mod job;
mod reconcile;
mod steps;

pub use health::{GatePolicy, health_config};
pub use job::plan_lines;
pub use reconcile::{ReconcileItem, ReconcilePlan, plan_reconcile};
pub use steps::{DeployInput, DeployResult, HookCall, JobIssue, LifecycleRun, Outcome, Prepared, RunResult, Step};

use crate::error::Error;
use crate::event::Event;
use crate::model::rollout::{JobPlan, Tree};
use crate::state::State;
use crate::workspace::manifest::HookEvent;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
/// Internal instructions; external ones become [`Step`]s.
#[derive(Debug, Clone)]
enum Op {
    Step(Step),
    Reconcile,
    BeginJob {
        wave: u64,
        job: String,
    },
    /// Compare what the original maand deployed with the staged trees.
    Adopt,
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
    /// The workers whose check can end the deploy.
    Prepared(BTreeSet<String>),
    /// Hooks during reconcile (a failure fails the deploy) or a job.
    Hooks {
        in_job: bool,
    },
    Stop(ReconcileItem),
    Remove(ReconcileItem),
    Staged,
    /// The comparison of these allocations' files with their staged trees.
    Compared(adopt::Claims),
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
    /// Removed allocations recorded undeployed without a removal (their
    /// worker was unreachable when stopping).
    undeployed: BTreeSet<(String, String)>,
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
        // PrepareWorkers is queued at the first poll (it needs the state).
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
            undeployed: BTreeSet::new(),
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
                    if let Some(reason) = self.blocked(state, &job) {
                        self.skip_job(wave, &job, reason);
                        continue;
                    }
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
                        Op::Adopt,
                        Op::PlanJob,
                        Op::EndJob,
                    ];
                    self.push_front(front);
                }
                Op::Adopt => {
                    if let Some(step) = self.adopt_step(state) {
                        return step;
                    }
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
                Op::ReconcileRemove(it) => {
                    // An unreachable worker's allocation was already undeployed.
                    if !self.undeployed.contains(&(it.job.clone(), it.ip.clone())) {
                        return self.remove_step(it);
                    }
                }
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
                // Failure is per job (a later job that does not demand a
                // failed one still runs): nothing to decide between waves.
                Op::EndWave => {}
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
            (Await::Prepared(checked), Outcome::Prepared(results)) => self.prepared(&checked, results),
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
            (Await::Compared(claims), Outcome::Compared(results)) => self.compared(claims, results),
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
            Step::PrepareWorkers { check, .. } => Await::Prepared(check.iter().cloned().collect()),
            Step::Hooks(_) => Await::Hooks { in_job: self.job.is_some() },
            Step::Stop { .. } | Step::Remove { .. } => {
                // Stop/Remove are emitted through `reconcile_op` only.
                debug_assert!(false, "reconcile steps carry their item");
                Await::Nothing
            }
            Step::Stage { .. } => Await::Staged,
            Step::Compare { .. } => {
                // Compare is emitted through `adopt_step` only.
                debug_assert!(false, "compare steps carry their claims");
                Await::Nothing
            }
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

    /// The current job failed: drop the rest of its steps, record why
    /// (durably, so the journal says why even if the deploy is cut off);
    /// the other jobs continue. Outside a job, or on a usage error (the
    /// command's flags cannot apply, e.g. `--sync-only` before a first
    /// start), the deploy ends.
    fn fail_job(&mut self, e: Error) {
        if e.kind() == crate::error::ErrorKind::Usage {
            return self.abort(e);
        }
        let Some(run) = self.job.take() else { return self.abort(e) };
        while let Some(op) = self.ops.pop_front() {
            if matches!(op, Op::EndJob) {
                break;
            }
        }
        let reason = e.message().to_string();
        self.result.failed.push(JobIssue { job: run.job.clone(), wave: run.wave, reason: reason.clone() });
        let checkpoint = self.checkpoint(format!("{} failed", run.job));
        self.push_front(vec![
            Op::Step(Step::Record(vec![Event::JobDeployFailed {
                job: run.job.clone(),
                wave: run.wave,
                reason: reason.clone(),
            }])),
            // The failed job's own post-job checkpoint (seed 001: KV
            // persists after each job): what its hooks wrote is kept
            // whether or not another job follows; the failure is durable.
            Op::Step(checkpoint),
            Op::Step(Step::Say(format!("wave {}: {}: FAILED: {reason}", run.wave, run.job))),
        ]);
    }

    /// Skip `job` (it demands a failed or skipped job), recording why.
    fn skip_job(&mut self, wave: u64, job: &str, reason: String) {
        self.result.skipped.push(JobIssue { job: job.to_string(), wave, reason: reason.clone() });
        self.push_front(vec![
            Op::Step(Step::Record(vec![Event::JobDeploySkipped {
                job: job.to_string(),
                wave,
                reason: reason.clone(),
            }])),
            Op::Step(Step::Flush),
            Op::Step(Step::Say(format!("wave {wave}: {job}: skipped: {reason}"))),
        ]);
    }

    /// Why `job` cannot run: it demands, directly or through other jobs,
    /// one that failed or was skipped in this deploy (the nearest such
    /// demand, in name order).
    fn blocked(&self, state: &State, job: &str) -> Option<String> {
        let demands = |j: &str| -> BTreeSet<String> {
            state
                .catalog
                .jobs
                .get(j)
                .map(|j| j.spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect())
                .unwrap_or_default()
        };
        let mut seen = BTreeSet::from([job.to_string()]);
        let mut frontier: VecDeque<(String, Vec<String>)> = VecDeque::from([(job.to_string(), Vec::new())]);
        while let Some((j, path)) = frontier.pop_front() {
            for d in demands(&j) {
                if !seen.insert(d.clone()) {
                    continue;
                }
                let mut via = path.clone();
                via.push(d.clone());
                let what = if self.result.failed.iter().any(|i| i.job == d) {
                    Some("failed")
                } else if self.result.skipped.iter().any(|i| i.job == d) {
                    Some("was skipped")
                } else {
                    None
                };
                if let Some(what) = what {
                    let through = if via.len() > 1 {
                        format!(" (through {})", via[..via.len() - 1].join(" -> "))
                    } else {
                        String::new()
                    };
                    return Some(format!("demands job {d}{through}, which {what} in this deploy"));
                }
                frontier.push_back((d, via));
            }
        }
        None
    }

    /// What the workers' preparation found: a worker of the deployed jobs
    /// that is unreachable or lacks a tool ends the deploy (naming every
    /// such worker); a worker.json that could not be written is a note.
    fn prepared(&mut self, checked: &BTreeSet<String>, results: Vec<(String, std::result::Result<Prepared, String>)>) {
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        for (ip, r) in results {
            match r {
                Err(e) if checked.contains(&ip) => problems.push(e),
                Err(e) => notes.push(format!("note: {e} (worker.json not updated)")),
                Ok(p) => {
                    if !p.missing.is_empty() && checked.contains(&ip) {
                        problems.push(format!(
                            "worker {ip}: missing {} (install them on the worker)",
                            p.missing.join(", missing ")
                        ));
                    }
                    if let Some(e) = p.worker_json_error {
                        notes.push(format!(
                            "note: worker {ip}: writing worker.json failed: {e} (worker.json not updated)"
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            self.abort(Error::op(format!("worker prerequisites:\n  {}", problems.join("\n  "))));
            return;
        }
        self.push_front(notes.into_iter().map(|n| Op::Step(Step::Say(n))).collect());
    }

    /// Queue the workers' preparation (check, worker.json) and reconcile.
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
        let mut all: Vec<String> = Vec::new();
        if !self.input.dry_run {
            all = state.catalog.allocations.values().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
            all.sort();
            all.dedup();
        }
        let mut front = vec![Op::Step(Step::PrepareWorkers { check: ips, worker_json: all })];
        front.extend(self.reconcile_ops(state));
        self.push_front(front);
    }

    /// Plan reconcile ([`plan_reconcile`]), record the plan with its inputs,
    /// and queue it: the `after_allocation_stopped` hooks, then every stop,
    /// then every removal — a worker leaving the bucket is wiped only after
    /// every job on it stopped. A dry run only prints it.
    fn reconcile_ops(&self, state: &State) -> Vec<Op> {
        let jobs: Vec<String> = self.input.jobs.iter().map(|(_, j)| j.clone()).collect();
        let items = plan_reconcile(state, &jobs, self.input.all_jobs);
        let plan = ReconcilePlan { jobs, all_jobs: self.input.all_jobs, items: items.clone() };
        let mut ops = vec![Op::Step(Step::Record(vec![Event::ReconcilePlanned(Box::new(plan))]))];
        if self.input.dry_run {
            ops.extend(items.iter().map(|it| Op::Step(Step::Say(reconcile::preview_line(it)))));
            return ops;
        }
        let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for it in &items {
            by_job.entry(it.job.clone()).or_default().push(it.ip.clone());
        }
        for (job, ips) in by_job {
            ops.push(Op::Step(Step::Hooks(hook(&job, HookEvent::AfterAllocationStopped, Some(ips)))));
        }
        ops.extend(items.iter().filter(|it| it.stop).cloned().map(Op::ReconcileItem));
        // As before this ordering: what is not stopped (job_control) is removed.
        ops.extend(items.into_iter().filter(|it| it.removed || !it.stop).map(Op::ReconcileRemove));
        ops.push(Op::Step(Step::Checkpoint("reconcile".into())));
        ops
    }

    /// Stop a reconciled allocation.
    fn reconcile_step(&mut self, it: ReconcileItem) -> Step {
        self.waiting = Some(Await::Stop(it.clone()));
        Step::Stop { job: it.job, ip: it.ip, version: it.version }
    }

    fn remove_step(&mut self, it: ReconcileItem) -> Step {
        self.waiting = Some(Await::Remove(it.clone()));
        Step::Remove { job: it.job, ip: it.ip, worker_gone: it.worker_gone }
    }

    fn stopped(&mut self, it: ReconcileItem, r: std::result::Result<RunResult, Error>) {
        match r {
            Err(e) if it.removed => {
                self.undeployed.insert((it.job.clone(), it.ip.clone()));
                self.push_front(vec![
                    Op::Step(Step::Say(format!(
                        "reconcile: {} on {}: worker unreachable, treated as dead ({e})",
                        it.job, it.ip
                    ))),
                    Op::Step(Step::Record(vec![Event::AllocationUndeployed {
                        job: it.job.clone(),
                        ip: it.ip.clone(),
                    }])),
                ])
            }
            Err(e) => self.abort(e),
            Ok(r) => {
                let mut events = vec![Event::LifecycleRan {
                    job: it.job.clone(),
                    ip: it.ip.clone(),
                    target: "stop".into(),
                    exit_code: r.exit_code,
                    duration_ms: r.duration_ms,
                }];
                if !r.output.is_empty() {
                    events.push(Event::LifecycleOutput {
                        job: it.job.clone(),
                        ip: it.ip.clone(),
                        target: "stop".into(),
                        tail: r.output.clone(),
                    });
                }
                if !it.removed && !r.ok() {
                    // It may still run: not marked stopped, so the next
                    // deploy tries again (a disabled allocation is never
                    // stopped by anything else).
                    let e = Error::op(format!(
                        "reconcile: {} on {}: make stop failed ({}){}: it is not marked stopped{}",
                        it.job,
                        it.ip,
                        r.exit_code.map_or("did not run".into(), |c| format!("exit {c}")),
                        if r.detail.is_empty() { String::new() } else { format!(": {}", r.detail) },
                        job::shown_tail(&r.output)
                    ));
                    // Outside a job, failing it ends the deploy.
                    self.push_front(vec![Op::Step(Step::Record(events)), Op::FailJob(e)]);
                    return;
                }
                if !it.removed {
                    events.push(Event::AllocationStopped { job: it.job.clone(), ip: it.ip.clone() });
                }
                // A removed allocation's files go after every stop (reconcile_ops).
                self.push_front(vec![
                    Op::Step(Step::Record(events)),
                    Op::Step(Step::Say(format!(
                        "reconcile: {} on {}: stopped ({})",
                        it.job,
                        it.ip,
                        if r.ok() { "ok" } else { "make stop failed" }
                    ))),
                ]);
            }
        }
    }
}

/// A hook call with no extra variables.
fn hook(job: &str, event: HookEvent, filter: Option<Vec<String>>) -> HookCall {
    let phase = match event {
        HookEvent::AfterAllocationStopped => "stop".to_string(),
        e => e.as_str().to_string(),
    };
    HookCall { job: job.to_string(), event, filter, extra: BTreeMap::new(), phase, lifecycle: None, retry: None }
}

#[cfg(test)]
mod tests;
