//! Replaying the journal: state at any point, and the determinism check
//! (`maand-journal replay --check`): every recorded rollout plan is planned
//! again from the state and inputs recorded before it; the first plan that
//! comes out different is reported.

use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::event::Event;
use crate::journal::{self, JournalReader};
use crate::plan::rollout::{JobPlan, plan_job};
use crate::state::{Fold, State};
use std::ops::ControlFlow;

/// A recorded plan the planner no longer reproduces.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// Sequence number of the recorded plan.
    pub seq: u64,
    /// Session it belongs to.
    pub session: u64,
    /// What was recorded.
    pub recorded: JobPlan,
    /// What the planner says now.
    pub replanned: std::result::Result<JobPlan, String>,
}

/// Result of a determinism check.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Plans re-derived.
    pub plans: usize,
    /// Sessions that held plans.
    pub sessions: std::collections::BTreeSet<u64>,
    /// The first divergence.
    pub divergence: Option<Divergence>,
}

/// Re-run the rollout planner on every recorded plan (of `only` session
/// when given). `perturb` simulates a non-deterministic planner (tests).
pub fn check(paths: &BucketPaths, only: Option<u64>, perturb: bool) -> Result<CheckReport> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let mut fold = Fold::default();
    let mut live: Option<(u64, State)> = None;
    let mut report = CheckReport::default();
    journal::for_each_event(&txn, .., |env| {
        if let Event::SessionOpened(_) = env.event {
            live = Some((env.session_id, fold.state().clone()));
        }
        if let Event::JobRolloutPlanned(r) = &env.event
            && only.is_none_or(|s| s == env.session_id)
            && let Some((_, state)) = live.as_ref().filter(|(s, _)| *s == env.session_id)
        {
            report.plans += 1;
            report.sessions.insert(env.session_id);
            let mut replanned = plan_job(state, &r.plan.job, &r.staged, &r.flags).map_err(|e| e.message().to_string());
            if perturb && let Ok(p) = replanned.as_mut() {
                p.allocations.reverse();
                p.order.reverse();
            }
            if replanned.as_ref() != Ok(&r.plan) {
                report.divergence =
                    Some(Divergence { seq: env.seq, session: env.session_id, recorded: r.plan.clone(), replanned });
                return Ok(ControlFlow::Break(()));
            }
        }
        if let Some((s, state)) = live.as_mut()
            && *s == env.session_id
            && !env.event.is_session_record()
        {
            state.apply(&env.event);
        }
        fold.push(&env);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(report)
}

/// Committed state as of sequence number `until` (inclusive).
pub fn state_until(paths: &BucketPaths, until: u64) -> Result<State> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let mut fold = Fold::default();
    journal::for_each_event(&txn, ..=until, |env| {
        fold.push(&env);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(fold.finish())
}
