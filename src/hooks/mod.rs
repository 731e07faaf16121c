//! Hooks: operator scripts (Python or Bun) that maand runs on the control
//! host at fixed points, talking back through the runtime API.
//!
//! - [`crate::plan::hooks`] decides who runs, in which batches, with which env (pure);
//! - [`runner`] stages, spawns and watches the processes;
//! - [`api`] serves the runtime HTTP API (axum) for the session;
//! - [`kv_session`] is the KV view hooks read and write; writes become
//!   journal events after each batch and durable at the session's checkpoint;
//! - [`assets`] holds the embedded `maand.py` / `maand.ts`.

pub mod api;
pub mod assets;
pub mod kv_session;
pub mod runner;
pub mod semaphores;
pub mod serve;
pub mod stage;

use crate::bucket::{Recorder, Session};
use crate::error::{Error, Result};
use crate::event::{Event, HookRunPlan, PlannedHook};
use crate::kv::seal::KvKey;
use crate::plan::hooks::{HookRun, plan_hook_run};
use crate::workspace::manifest::HookEvent;
use api::{ApiServer, Shared};
use kv_session::KvSession;
use runner::Runner;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What to run.
#[derive(Debug, Clone)]
pub struct HookRequest<'a> {
    /// The event (`cli`, `post_build`, ...).
    pub event: HookEvent,
    /// Only this hook (`maand hooks <hook>`); `None` = every hook on the event.
    pub hook: Option<&'a str>,
    /// Jobs, in the order to run them.
    pub jobs: Vec<String>,
    /// Worker filter (`--allocations`).
    pub filter: Option<Vec<String>>,
    /// `DEPLOY_PHASE`.
    pub phase: &'a str,
    /// Stream hook output.
    pub verbose: bool,
    /// Event-specific variables (`TARGET`, ...).
    pub extra: BTreeMap<String, String>,
    /// The lifecycle batch this run is (`after_allocation_started` in deploy).
    pub lifecycle: Option<crate::plan::hooks::LifecycleBatch>,
}

/// Runs hook requests inside a session. [`ProcessHooks`] spawns the hook
/// processes and serves the runtime API; the deploy simulation fakes it.
pub trait HookRunner {
    /// Run the hooks `req` names, recording every invocation (and KV
    /// write) in `session`; how many hooks ran.
    fn run(&self, session: &mut Session<'_>, req: &HookRequest) -> Result<usize>;
}

/// The real hook runner: [`run_hooks`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessHooks;

impl HookRunner for ProcessHooks {
    fn run(&self, session: &mut Session<'_>, req: &HookRequest) -> Result<usize> {
        run_hooks(session, req)
    }
}

/// A hook run's plan as recorded: the planner's inputs (but the promoted
/// versions, which the state holds) and its batches, so `replay --check`
/// can plan it again.
pub fn recorded_plan(run: &HookRun, batches: &[crate::plan::hooks::Batch]) -> HookRunPlan {
    HookRunPlan {
        job: run.job.to_string(),
        hook: run.hook.to_string(),
        event: run.event.as_str().to_string(),
        phase: run.phase.to_string(),
        filter: run.filter.map(<[String]>::to_vec),
        first_start: run.first_start,
        bucket_root: run.bucket_root.to_string(),
        extra: run.extra.clone(),
        batches: batches
            .iter()
            .map(|b| {
                b.invocations
                    .iter()
                    .map(|i| PlannedHook { alloc_id: i.alloc_id.clone(), ip: i.ip.clone(), env: i.env.clone() })
                    .collect()
            })
            .collect(),
        lifecycle: run.lifecycle.cloned(),
    }
}

/// A random token for one hook process's calls to the runtime API.
pub fn new_token() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| Error::op(format!("random token: {e}")))?;
    Ok(hex::encode(b))
}

/// Run the hooks `req` names inside `session`, recording every invocation
/// and every KV write. Returns how many hooks ran (0 starts no API server).
pub fn run_hooks(session: &mut dyn Recorder, req: &HookRequest) -> Result<usize> {
    run_hooks_counted(session, req).map(|(hooks, _)| hooks)
}

/// [`run_hooks`], also counting the KV changes (puts, deletes) the hooks'
/// writes recorded.
pub fn run_hooks_counted(session: &mut dyn Recorder, req: &HookRequest) -> Result<(usize, usize)> {
    let mut kv_changes = 0;
    let todo = hooks_on(session.state(), req);
    if todo.is_empty() {
        return Ok((0, 0));
    }
    let paths = session.paths().clone();
    let port = session.hook_api_port();
    let base = Arc::new(session.state().clone());
    let shared = Arc::new(Shared {
        kv_key: KvKey::load(&paths.kv_key())?,
        kv: Mutex::new(KvSession::new(base.clone())),
        running: Mutex::new(BTreeMap::new()),
        semaphores: Default::default(),
    });
    let server = ApiServer::start(port, shared.clone())?;
    let staging = stage::HookStaging::new(&paths)?;
    let runner = Runner {
        paths: &paths,
        shared,
        port: server.port,
        verbose: req.verbose,
        session: session.id(),
        stage_root: staging.root(),
    };
    let state = session.state();
    let versions = crate::plan::hooks::promoted_versions(state, &req.jobs);
    let root = paths.root().display().to_string();
    for (job, hook, script) in &todo {
        let run = HookRun {
            job,
            hook,
            event: req.event,
            phase: req.phase,
            filter: req.filter.as_deref(),
            first_start: false,
            bucket_root: &root,
            current_versions: &versions,
            extra: req.extra.clone(),
            lifecycle: req.lifecycle.as_ref(),
        };
        let batches = plan_and_record(session, &run)?;
        if batches.is_empty() {
            continue;
        }
        runner.run(&base, job, hook, script, req.event, &batches, &mut |events| {
            for e in events {
                kv_changes += usize::from(kv_change(session.state(), &e));
                session.record(e)?;
            }
            session.flush()
        })?;
    }
    drop(server);
    Ok((todo.len(), kv_changes))
}

/// The hooks `req` runs, as (job, hook, script), in the request's job
/// order: those registered on its event (only `req.hook` when named).
pub fn hooks_on(state: &crate::state::State, req: &HookRequest) -> Vec<(String, String, String)> {
    let mut todo = Vec::new();
    for job in &req.jobs {
        let Some(j) = state.catalog.jobs.get(job) else { continue };
        for (name, h) in &j.spec.hooks {
            if h.executed_on.iter().any(|e| e == req.event.as_str()) && req.hook.is_none_or(|x| x == name) {
                todo.push((job.clone(), name.clone(), h.script.clone()));
            }
        }
    }
    todo
}

/// Plan one hook run on the session's current state and record the plan
/// (`HookRunPlanned`) when anything runs. Every hook runner takes its
/// batches from here (the deploy simulation's fake too), so
/// `replay --check` re-derives every run that was executed.
pub fn plan_and_record(session: &mut dyn Recorder, run: &HookRun) -> Result<Vec<crate::plan::hooks::Batch>> {
    let batches = plan_hook_run(&session.state().catalog, &session.state().kv, run);
    if !batches.is_empty() {
        session.record(Event::HookRunPlanned(Box::new(recorded_plan(run, &batches))))?;
    }
    Ok(batches)
}

/// Whether recording `e` changes a KV value: a put of another value (a
/// sealed one always differs: fresh nonce) or a delete of a live key.
fn kv_change(state: &crate::state::State, e: &crate::event::Event) -> bool {
    use crate::event::{Event, KvValue};
    match e {
        Event::KvPut { namespace, key, value: KvValue::Plain(v), .. } => {
            !matches!(state.kv.get(namespace, key).as_deref(), Some(KvValue::Plain(old)) if old == v)
        }
        Event::KvPut { .. } => true,
        Event::KvDeleted { namespace, key, .. } => state.kv.get(namespace, key).is_some(),
        _ => false,
    }
}
