//! Where an unfinished deploy stopped, derived from the journal: "deploy 9
//! stopped in wave 1, job api update batch 2/3: health gate failed — rerun
//! maand deploy to resume". `maand info` shows the latest one, `maand-journal
//! audit` the audited session's.

use super::point::{DEPLOY_COMMANDS, deploy_number};
use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::event::{Envelope, Event};
use crate::journal::{self, JournalReader, Outcome, SessionRecord};
use redb::ReadTransaction;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// A deploy session that did not commit, and where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfinished {
    /// The session.
    pub session: u64,
    /// Its deploy number (`update_seq`), when it got that far.
    pub deploy: Option<u64>,
    /// `failed`, `aborted` (the process died) or `open` (running, or cut
    /// off and not yet marked).
    pub outcome: String,
    /// The wave it was in.
    pub wave: Option<u64>,
    /// The job it was on.
    pub job: Option<String>,
    /// The step: `update batch 2/3: health gate failed`, `pre_deploy hooks`, …
    pub step: Option<String>,
    /// Jobs this session promoted before it stopped (they stay promoted).
    pub promoted: Vec<String>,
    /// The error the session ended with, if it failed.
    pub error: Option<String>,
    /// A later deploy session that committed (it resumed this one).
    pub resumed_by: Option<u64>,
    /// The command that resumes it (`maand deploy`, or the rollback with
    /// its jobs and point).
    pub rerun: String,
}

impl Unfinished {
    /// One line for an operator.
    pub fn sentence(&self) -> String {
        let name = match self.deploy {
            Some(n) => format!("deploy {n} (session {})", self.session),
            None => format!("deploy session {}", self.session),
        };
        let verb = match self.outcome.as_str() {
            "aborted" => "was cut off",
            "open" => "has not ended (running now, or cut off)",
            _ => "stopped",
        };
        let mut s = format!("{name} {verb}");
        match (&self.wave, &self.job) {
            (Some(w), Some(j)) => s.push_str(&format!(" in wave {w}, job {j}")),
            (None, Some(j)) => s.push_str(&format!(" at job {j}")),
            _ => s.push_str(" before its first wave"),
        }
        if let Some(step) = &self.step {
            s.push_str(&format!(" {step}"));
        }
        if !self.promoted.is_empty() {
            s.push_str(&format!(" ({} promoted before it stopped)", self.promoted.join(", ")));
        }
        match self.resumed_by {
            Some(r) => s.push_str(&format!(" — resumed by session {r}")),
            None => s.push_str(&format!(" — rerun {} to resume", self.rerun)),
        }
        s
    }
}

fn outcome_name(o: &Outcome) -> Option<&'static str> {
    match o {
        Outcome::Committed => None,
        Outcome::Failed(_) => Some("failed"),
        Outcome::Aborted(_) => Some("aborted"),
        Outcome::Open => Some("open"),
    }
}

/// Where a deploy session's events (in journal order) show it stopped.
pub fn where_stopped(rec: &SessionRecord, envs: &[Envelope]) -> Option<Unfinished> {
    let outcome = outcome_name(&rec.outcome)?;
    let mut u = Unfinished {
        session: rec.id,
        deploy: None,
        outcome: outcome.to_string(),
        wave: None,
        job: None,
        step: None,
        promoted: Vec::new(),
        error: match &rec.outcome {
            Outcome::Failed(e) => Some(e.clone()),
            _ => None,
        },
        resumed_by: None,
        rerun: "maand deploy".into(),
    };
    let mut waves: BTreeMap<String, u64> = BTreeMap::new();
    // The current job's last batch: (phase, index, count, ended ok?).
    let mut batch: Option<(String, u64, u64, Option<bool>)> = None;
    let mut health_failed = false;
    let mut hooks: Option<String> = None;
    let mut planned = false;
    for env in envs {
        let job = match &env.event {
            Event::UpdateSeqSet { update_seq } => {
                u.deploy = Some(*update_seq);
                None
            }
            Event::RollbackStarted { jobs, seq, .. } => {
                u.rerun = format!("maand rollback {} --to {seq}", jobs.join(","));
                None
            }
            Event::JobRolloutPlanned(r) => {
                waves.insert(r.plan.job.clone(), r.plan.deployment_seq);
                Some(r.plan.job.clone())
            }
            Event::HookInvoked(h) => Some(h.job.clone()),
            Event::BatchStarted { job, .. }
            | Event::BatchEnded { job, .. }
            | Event::HealthChecked { job, .. }
            | Event::AllocationPromoted { job, .. } => Some(job.clone()),
            _ => None,
        };
        let Some(job) = job else { continue };
        if u.job.as_ref() != Some(&job) {
            u.job = Some(job.clone());
            batch = None;
            health_failed = false;
            hooks = None;
            planned = false;
        }
        match &env.event {
            Event::JobRolloutPlanned(_) => planned = true,
            Event::HookInvoked(h) => hooks = Some(format!("{} hook {}", h.event, h.hook)),
            Event::BatchStarted { phase, index, count, .. } => {
                batch = Some((phase.clone(), *index, *count, None));
                health_failed = false;
            }
            Event::BatchEnded { ok, .. } => {
                if let Some(b) = batch.as_mut() {
                    b.3 = Some(*ok);
                }
            }
            Event::HealthChecked { ok, .. } => health_failed = !ok,
            Event::AllocationPromoted { .. } if !u.promoted.contains(&job) => u.promoted.push(job.clone()),
            _ => {}
        }
    }
    if let Some(job) = &u.job {
        u.wave = waves.get(job).copied();
        if u.promoted.contains(job) {
            u.step = Some("after promoting it".into());
        } else if let Some((phase, i, n, ended)) = &batch {
            let b = format!("{phase} batch {}/{n}", i + 1);
            u.step = Some(match ended {
                _ if health_failed => format!("{b}: health gate failed"),
                Some(false) => format!("{b}: the batch failed"),
                Some(true) => format!("after {b}"),
                None => format!("{b}: it never ended"),
            });
        } else if planned {
            u.step = Some("before its first batch (shipping files or the job_control hook)".into());
        } else if let Some(h) = hooks {
            u.step = Some(format!("in its {h}"));
        }
    }
    Some(u)
}

/// The events of session `rec` (its index range ends with its last record,
/// an abort marker written later by another process included).
fn session_events(txn: &ReadTransaction, rec: &SessionRecord) -> Result<Vec<Envelope>> {
    let mut envs = Vec::new();
    journal::for_each_event(txn, rec.first_seq..=rec.last_seq, |env| {
        if env.session_id == rec.id {
            envs.push(env);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(envs)
}

/// Where deploy session `rec` stopped, if it is a deploy that did not
/// commit; with the later deploy that resumed it, if any.
pub fn of_session(txn: &ReadTransaction, rec: &SessionRecord) -> Result<Option<Unfinished>> {
    if !DEPLOY_COMMANDS.contains(&rec.info.command.as_str()) || outcome_name(&rec.outcome).is_none() {
        return Ok(None);
    }
    let envs = session_events(txn, rec)?;
    let Some(mut u) = where_stopped(rec, &envs) else { return Ok(None) };
    u.resumed_by = journal::reader_sessions(txn)?
        .into_iter()
        .find(|s| {
            s.id > rec.id && DEPLOY_COMMANDS.contains(&s.info.command.as_str()) && s.outcome == Outcome::Committed
        })
        .map(|s| s.id);
    Ok(Some(u))
}

/// The latest deploy, if it did not commit: what `maand info` shows.
pub fn latest(paths: &BucketPaths) -> Result<Option<Unfinished>> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let last = journal::reader_sessions(&txn)?
        .into_iter()
        .rev()
        .find(|s| DEPLOY_COMMANDS.contains(&s.info.command.as_str()) && deploy_started(&txn, s).unwrap_or(true));
    match last {
        Some(rec) => of_session(&txn, &rec),
        None => Ok(None),
    }
}

/// Whether a deploy session got as far as numbering itself (a deploy that
/// failed its pre-checks, before `update_seq`, leaves nothing to resume
/// and does not hide an earlier unfinished one).
fn deploy_started(txn: &ReadTransaction, rec: &SessionRecord) -> Result<bool> {
    Ok(deploy_number(txn, rec.first_seq, rec.last_seq)?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::fixture::failed_deploy;
    use crate::journal::session_index_info;

    fn record(outcome: Outcome, envs: &[Envelope]) -> SessionRecord {
        let Event::SessionOpened(info) = &envs[0].event else { panic!() };
        SessionRecord {
            id: 7,
            info: session_index_info(info),
            first_seq: envs[0].seq,
            last_seq: envs.last().unwrap().seq,
            events: envs.len() as u64,
            checkpoint_seq: 0,
            ended_at: None,
            outcome,
        }
    }

    #[test]
    fn a_failed_gate_names_wave_job_and_batch() {
        let envs = failed_deploy();
        let u = where_stopped(&record(Outcome::Failed("boom".into()), &envs), &envs).unwrap();
        assert_eq!(
            u.sentence(),
            "deploy 9 (session 7) stopped in wave 1, job web update batch 2/2: health gate failed — rerun maand deploy to resume"
        );
        assert!(where_stopped(&record(Outcome::Committed, &envs), &envs).is_none());
    }

    #[test]
    fn a_cut_off_batch_never_ended() {
        let envs: Vec<Envelope> = failed_deploy().into_iter().take(12).collect();
        let u = where_stopped(&record(Outcome::Aborted("died".into()), &envs), &envs).unwrap();
        assert_eq!(
            u.sentence(),
            "deploy 9 (session 7) was cut off in wave 1, job web update batch 2/2: it never ended — rerun maand deploy to resume"
        );
        let envs: Vec<Envelope> = failed_deploy().into_iter().take(3).collect();
        let u = where_stopped(&record(Outcome::Open, &envs), &envs).unwrap();
        assert_eq!(
            u.sentence(),
            "deploy 9 (session 7) has not ended (running now, or cut off) before its first wave — rerun maand deploy to resume"
        );
    }
}
