//! The walk of `replay --check`: fold the journal event by event; at each
//! recorded decision, derive it again from the state its session had at
//! that point (committed state when it opened, plus its own events so far)
//! and compare; count what was re-derived and what cannot be, per kind.

use super::derive::{self, Diff};
use crate::bucket::BucketPaths;
use crate::deploy::stage::RENDERER;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::{self, JournalReader};
use crate::kv::seal::KvKey;
use crate::state::{Fold, State};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

/// A kind of decision `replay --check` re-derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A build's catalog, KV and certificate events.
    Build,
    /// What a deploy's reconcile stops and removes.
    Reconcile,
    /// The staged trees of a job (every template rendered, every file hashed).
    Staged,
    /// A job's rollout plan.
    Rollout,
    /// A hook run's worker set, batches, order and variables.
    Hooks,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [Kind::Build, Kind::Reconcile, Kind::Staged, Kind::Rollout, Kind::Hooks];

    /// Name in reports, `--json` and `--inject-nondeterminism`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Build => "build",
            Kind::Reconcile => "reconcile",
            Kind::Staged => "staged",
            Kind::Rollout => "rollout",
            Kind::Hooks => "hooks",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Result<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            Error::usage(format!("unknown decision kind {s:?} (one of {})", names.join(", ")))
        })
    }
}

/// How many decisions of one kind were re-derived, and how many could not
/// be (by reason).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindCount {
    /// Re-derived and equal.
    pub rederived: usize,
    /// Not re-derivable, per reason.
    pub not_rederivable: BTreeMap<String, usize>,
}

/// A recorded decision that comes out different when derived again.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// Its kind.
    pub kind: Kind,
    /// Sequence number of the recorded decision.
    pub seq: u64,
    /// Session it belongs to.
    pub session: u64,
    /// Job.
    pub job: String,
    /// Allocation (worker), when the difference is in one.
    pub allocation: Option<String>,
    /// What differs.
    pub field: String,
    /// The recorded value.
    pub recorded: String,
    /// The re-derived value.
    pub rederived: String,
}

/// Result of a determinism check.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Per kind.
    pub kinds: BTreeMap<Kind, KindCount>,
    /// Sessions that held re-derived decisions.
    pub sessions: BTreeSet<u64>,
    /// The first divergence (the check stops there).
    pub divergence: Option<Divergence>,
}

impl CheckReport {
    /// Decisions of `kind` re-derived.
    pub fn rederived(&self, kind: Kind) -> usize {
        self.kinds.get(&kind).map_or(0, |c| c.rederived)
    }

    fn not(&mut self, kind: Kind, reason: impl Into<String>) {
        *self.kinds.entry(kind).or_default().not_rederivable.entry(reason.into()).or_default() += 1;
    }
}

/// What to check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Only this session.
    pub only: Option<u64>,
    /// Test only: perturb the re-derivation of these kinds (the check must fail).
    pub perturb: Vec<Kind>,
}

const BEFORE_STAGED: &str = "recorded before format 2 recorded staging decisions (job_staged)";
const BEFORE_RECONCILE: &str = "recorded before format 2 recorded reconcile decisions (reconcile_planned)";
const BEFORE_HOOKS: &str = "recorded before format 2 recorded hook plans (hook_run_planned)";
const BEFORE_BUILD: &str = "recorded before format 2 recorded build inputs (build_planned)";

/// A build planned in this session, checked at its checkpoint (when its
/// job files are in the state).
struct PendingBuild {
    seq: u64,
    before: State,
    inputs: crate::event::BuildInputs,
    events: Vec<Event>,
}

/// One session's progress through the walk.
#[derive(Default)]
struct Live {
    session: u64,
    command: String,
    state: State,
    /// The renderer of the job staged last, until its plan is recorded.
    staged: Option<(String, String)>,
    reconciled: bool,
    planned_jobs: bool,
    hook_plans: BTreeSet<(String, String, String)>,
    unplanned_hooks: BTreeSet<(String, String, String)>,
    build: Option<PendingBuild>,
    build_planned: bool,
}

/// Derive every recorded decision again (of `opts.only` when given).
pub fn check(paths: &BucketPaths, opts: &CheckOptions) -> Result<CheckReport> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    if let Some(id) = opts.only
        && journal::reader_session(&txn, id)?.is_none()
    {
        return Err(Error::usage(format!("--session {id}: the journal has no session {id}")));
    }
    // Staged trees hold opened secrets and private keys: without the key
    // they cannot be re-hashed (reported, not failed).
    let kv_key = KvKey::load(&paths.kv_key()).ok();
    let mut fold = Fold::default();
    let mut live: Option<Live> = None;
    let mut report = CheckReport::default();
    journal::for_each_event(&txn, .., |env| {
        if let Event::SessionOpened(info) = &env.event {
            if let Some(done) = live.take().filter(|l| opts.only.is_none_or(|s| s == l.session)) {
                end_session(&mut report, done);
            }
            live = Some(Live {
                session: env.session_id,
                command: info.command.clone(),
                state: fold.state().clone(),
                ..Live::default()
            });
        }
        if let Some(l) = live.as_mut().filter(|l| l.session == env.session_id)
            && opts.only.is_none_or(|s| s == env.session_id)
            && let Err(failed) = decision(&mut report, l, env.seq, &env.event, kv_key.as_ref(), opts)
        {
            let (kind, d) = *failed;
            report.divergence = Some(Divergence {
                kind,
                seq: d.at.unwrap_or(env.seq),
                session: env.session_id,
                job: d.job,
                allocation: d.allocation,
                field: d.field,
                recorded: d.recorded,
                rederived: d.rederived,
            });
            return Ok(ControlFlow::Break(()));
        }
        if let Some(l) = live.as_mut()
            && l.session == env.session_id
            && !env.event.is_session_record()
        {
            l.state.apply(&env.event);
        }
        fold.push(&env);
        Ok(ControlFlow::Continue(()))
    })?;
    if let Some(done) = live.take().filter(|l| opts.only.is_none_or(|s| s == l.session))
        && report.divergence.is_none()
    {
        end_session(&mut report, done);
    }
    Ok(report)
}

/// Count what a finished session recorded without its inputs.
fn end_session(report: &mut CheckReport, l: Live) {
    if l.command.starts_with("deploy") && l.planned_jobs && !l.reconciled {
        report.not(Kind::Reconcile, BEFORE_RECONCILE);
    }
    for _ in l.unplanned_hooks.difference(&l.hook_plans) {
        report.not(Kind::Hooks, BEFORE_HOOKS);
    }
    if l.command == "build" && !l.build_planned {
        report.not(Kind::Build, BEFORE_BUILD);
    }
}

/// Check one event of a live session.
fn decision(
    report: &mut CheckReport,
    l: &mut Live,
    seq: u64,
    event: &Event,
    kv_key: Option<&KvKey>,
    opts: &CheckOptions,
) -> std::result::Result<(), Box<(Kind, Diff)>> {
    let perturb = |k: Kind| opts.perturb.contains(&k);
    let done = |report: &mut CheckReport, k: Kind| {
        report.kinds.entry(k).or_default().rederived += 1;
        report.sessions.insert(l.session);
    };
    // A build's events are collected until its checkpoint, where its job
    // files are in the state; then it is planned again.
    if matches!(event, Event::Checkpoint { .. }) {
        if let Some(b) = l.build.take() {
            super::build::build(b.seq, &b.before, &l.state, &b.inputs, &b.events, perturb(Kind::Build))
                .map_err(|d| Box::new((Kind::Build, *d)))?;
            done(report, Kind::Build);
        }
    } else if let Some(b) = l.build.as_mut() {
        b.events.push(event.clone());
    }
    match event {
        Event::BuildPlanned(inputs) => {
            l.build_planned = true;
            l.build =
                Some(PendingBuild { seq, before: l.state.clone(), inputs: (**inputs).clone(), events: Vec::new() });
        }
        Event::JobStaged(s) => l.staged = Some((s.job.clone(), s.renderer.clone())),
        Event::ReconcilePlanned(p) => {
            l.reconciled = true;
            derive::reconcile(&l.state, p, perturb(Kind::Reconcile)).map_err(|d| Box::new((Kind::Reconcile, *d)))?;
            done(report, Kind::Reconcile);
        }
        Event::HookRunPlanned(p) => {
            l.hook_plans.insert((p.job.clone(), p.hook.clone(), p.event.clone()));
            derive::hooks(&l.state, p, perturb(Kind::Hooks)).map_err(|d| Box::new((Kind::Hooks, *d)))?;
            done(report, Kind::Hooks);
        }
        Event::HookInvoked(h) => {
            l.unplanned_hooks.insert((h.job.clone(), h.hook.clone(), h.event.clone()));
        }
        Event::JobRolloutPlanned(r) => {
            l.planned_jobs = true;
            match (l.staged.take().filter(|(job, _)| *job == r.plan.job), kv_key) {
                (None, _) => report.not(Kind::Staged, BEFORE_STAGED),
                (Some((_, renderer)), _) if renderer == crate::deploy::recorded::RENDERER => report
                    .not(Kind::Staged, "a rollback shipped recorded bytes (staged_recorded), nothing was rendered"),
                (Some((_, renderer)), _) if renderer != RENDERER => report.not(
                    Kind::Staged,
                    format!("renderer changed since this session (recorded {renderer}, running {RENDERER})"),
                ),
                (Some(_), None) => report.not(Kind::Staged, "secrets/kv.key is not readable here"),
                (Some(_), Some(key)) => {
                    derive::staged(&l.state, r, key, perturb(Kind::Staged))
                        .map_err(|d| Box::new((Kind::Staged, *d)))?;
                    done(report, Kind::Staged);
                }
            }
            derive::rollout(&l.state, r, perturb(Kind::Rollout)).map_err(|d| Box::new((Kind::Rollout, *d)))?;
            done(report, Kind::Rollout);
        }
        _ => {}
    }
    Ok(())
}
