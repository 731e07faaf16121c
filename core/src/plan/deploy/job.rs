//! The machine's handling of one job's rollout: planning it from its
//! staged trees, lifecycle batches, health gates, ready and promotion.

use super::steps::{HookCall, LifecycleRun, RunResult, Step};
use super::{DeployMachine, GatePolicy, Op, health_config, hook};
use crate::error::Error;
use crate::event::{Event, JobRollout};
use crate::model::rollout::{Action, JobPlan};
use crate::plan::hooks::LifecycleBatch;
use crate::plan::rollout::plan_job;
use crate::state::State;
use crate::workspace::manifest::{HealthCheckJson, HookEvent};
use std::collections::BTreeMap;

impl DeployMachine {
    /// Plan the current job from its staged trees.
    pub(super) fn plan_current(&mut self, state: &State) -> Option<Step> {
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
        // health_check hooks retry within the job's wait budget (the
        // default 30 × 1 s without a health_check configuration).
        let hook_policy = GatePolicy::of(&config.clone().unwrap_or_else(HealthCheckJson::hooks_only), true);
        let gate = |ips: &[String]| -> Vec<Op> {
            let mut v = Vec::new();
            if let Some(config) = &config {
                v.push(Op::Step(Step::Gate { job: job.clone(), ips: ips.to_vec(), config: config.clone() }));
            }
            // Seed 001: health_check commands run on every non-removed
            // allocation (disabled included), not only the batch just gated;
            // retried as a whole within the gate's budget.
            let call = HookCall { retry: Some(hook_policy), ..hook(&job, HookEvent::HealthCheck, None) };
            v.push(Op::Step(Step::Hooks(call)));
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
            ops.push(Op::Step(Step::Hooks(HookCall { extra, ..hook(&job, HookEvent::JobControl, None) })));
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

    /// A lifecycle batch ended: record each run; on success run the
    /// batch's `after_allocation_started` hooks; a failure fails the job.
    pub(super) fn ran(
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
        let lifecycle = run.plan.as_ref().map(|p| LifecycleBatch {
            index,
            count,
            allocations: batch.to_vec(),
            order: p.order.clone(),
            order_source: p.order_source.clone(),
        });
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
                output: String::new(),
            });
            events.push(Event::LifecycleRan {
                job: job.clone(),
                ip: r.ip.clone(),
                target: r.target.clone(),
                exit_code: res.exit_code,
                duration_ms: res.duration_ms,
            });
            if !res.output.is_empty() {
                events.push(Event::LifecycleOutput {
                    job: job.clone(),
                    ip: r.ip.clone(),
                    target: r.target.clone(),
                    tail: res.output.clone(),
                });
            }
            if res.ok() {
                run.ran.insert(r.ip.clone());
            } else {
                failed.push(format!(
                    "{}: make {} {} {}{}",
                    r.ip,
                    r.target,
                    res.exit_code.map_or("did not run".into(), |c| format!("exit {c}")),
                    res.detail,
                    shown_tail(&res.output)
                ));
            }
        }
        let ended = |ok: bool| Event::BatchEnded { job: job.clone(), phase: phase.to_string(), index, ok };
        let mut front = vec![Op::Step(Step::Record(events))];
        if failed.is_empty() {
            // One run per lifecycle batch, with that batch's context.
            front.push(Op::Step(Step::Hooks(HookCall {
                phase: phase.to_string(),
                lifecycle,
                ..hook(&job, HookEvent::AfterAllocationStarted, Some(batch.to_vec()))
            })));
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
    pub(super) fn gated(&mut self, ips: &[String], r: std::result::Result<u64, String>) {
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
            // The original's `health_failed`, kept past this deploy's failure.
            let failed: Vec<Event> = run
                .plan
                .iter()
                .flat_map(|p| p.allocations.iter())
                .filter(|a| ips.contains(&a.ip))
                .map(|a| Event::AllocationHealthFailed {
                    job: job.clone(),
                    ip: a.ip.clone(),
                    hash: a.tree_hash.clone(),
                    version: a.new_version.clone(),
                })
                .collect();
            if !failed.is_empty() && !self.input.dry_run {
                front.push(Op::Step(Step::Record(failed)));
                front.push(Op::Step(Step::Checkpoint(format!("{job} health gate failed"))));
            }
            front.push(Op::FailJob(Error::op(format!(
                "health check failed for {job} on [{}]: {detail}",
                ips.join(",")
            ))));
        }
        self.push_front(front);
    }

    /// Allocations whose lifecycle passed its gate: durably ready, so a
    /// failure later in this deploy does not restart them next time.
    pub(super) fn ready(&mut self, ips: &[String]) {
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
    pub(super) fn promote(&mut self, only: Option<&[String]>) {
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

/// The last lines of a failed run's output, indented under its line.
pub(super) fn shown_tail(output: &str) -> String {
    const LINES: usize = 20;
    let lines: Vec<&str> = output.lines().collect();
    let from = lines.len().saturating_sub(LINES);
    lines[from..].iter().map(|l| format!("\n    | {l}")).collect()
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
