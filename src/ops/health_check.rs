//! `maand health_check [--jobs] [--wait]`: a TCP dial of every worker's SSH
//! port, then per job the manifest probes on active allocations (in rollout
//! order, `max_concurrent_upgrades` at a time), then `health_check` hooks
//! (KV read-only). A job without health config is skipped, not failed.

use crate::bucket::Recorder;
use crate::deploy::health;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::hooks::{HookRequest, run_hooks};
use crate::plan::deploy::GatePolicy;
use crate::plan::hooks::{batches, rollout_order};
use crate::transport::Transport;
use crate::workspace::manifest::{HealthCheckJson, HookEvent};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Jobs probed at the same time.
pub const PARALLEL_JOBS: usize = 4;

/// Dial every worker's SSH port (retrying 30 × 1 s with `wait`).
pub fn workers(session: &dyn Recorder, wait: bool) -> Result<()> {
    let port = session.conf().ssh_port;
    let ips: Vec<String> = session.state().catalog.workers_in_order().iter().map(|w| w.ip.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(if wait { 30 } else { 0 });
    let step = wait.then(|| crate::progress::step(format!("waiting for the SSH port of {} worker(s)", ips.len())));
    let finish = |step: Option<crate::progress::Step>, outcome: &str| {
        if let Some(s) = step {
            s.finish(outcome);
        }
    };
    loop {
        let down: Vec<String> = ips
            .iter()
            .filter(|ip| {
                let a = (ip.as_str(), port).to_socket_addrs().ok().and_then(|mut a| a.next());
                a.is_none_or(|a| TcpStream::connect_timeout(&a, Duration::from_secs(3)).is_err())
            })
            .cloned()
            .collect();
        if down.is_empty() {
            finish(step, "reachable");
            crate::output::say(&format!("worker health check passed ({} worker(s))", ips.len()));
            return Ok(());
        }
        if Instant::now() >= deadline {
            finish(step, "unreachable");
            return Err(Error::op(format!(
                "worker health check failed: port {port} unreachable on {}",
                down.join(", ")
            )));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The probe part of one job's check (no session needed, so jobs can be
/// probed in parallel).
pub struct Probed {
    job: String,
    skipped: bool,
    has_hooks: bool,
    /// Retry the hooks within this budget (`--wait`), else run them once.
    hook_retry: Option<GatePolicy>,
    batches: Vec<(Vec<String>, std::result::Result<u64, String>)>,
}

/// Run the manifest probes of `job` on its active allocations in rollout
/// order, `max_concurrent_upgrades` at a time, stopping at the first
/// failing batch.
pub fn probe(state: &crate::state::State, transport: &Transport, job: &str, wait: bool) -> Result<Probed> {
    let spec = &state.catalog.jobs.get(job).ok_or_else(|| Error::usage(format!("unknown job {job:?}")))?.spec;
    let has_hooks = spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "health_check"));
    let cfg = health::config(spec)?;
    let hook_retry = wait.then(|| GatePolicy::of(&cfg.clone().unwrap_or_else(HealthCheckJson::hooks_only), true));
    let mut out = Probed {
        job: job.to_string(),
        skipped: cfg.is_none() && !has_hooks,
        has_hooks,
        hook_retry,
        batches: Vec::new(),
    };
    if let Some(cfg) = cfg {
        let active: Vec<String> =
            state.catalog.allocations_of(job).into_iter().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
        let (order, _) = rollout_order(&state.kv, job, &active);
        for batch in batches(&order, spec.max_concurrent_upgrades.max(1)) {
            let r = health::check(spec, &cfg, &batch, transport, wait);
            let failed = r.is_err();
            out.batches.push((batch, r));
            if failed {
                break;
            }
        }
    }
    Ok(out)
}

/// Record a job's probe results and run its `health_check` hooks.
/// `Ok(false)` when the job has no health config.
pub fn finish(session: &mut dyn Recorder, probed: Probed, verbose: bool) -> Result<bool> {
    let job = probed.job;
    if probed.skipped {
        crate::output::say(&format!("health check skipped: {job}"));
        crate::output::job_skipped(&job, "no health_check config and no health_check hook");
        return Ok(false);
    }
    for (batch, r) in probed.batches {
        session.record(Event::HealthChecked {
            job: job.clone(),
            allocations: batch,
            ok: r.is_ok(),
            detail: r.as_ref().err().cloned().unwrap_or_default(),
        })?;
        if let Err(e) = r {
            return Err(Error::op(format!("health check failed: {job}: {e}")));
        }
    }
    if probed.has_hooks {
        let req = HookRequest {
            event: HookEvent::HealthCheck,
            hook: None,
            jobs: vec![job.clone()],
            filter: None,
            phase: "health_check",
            verbose,
            extra: Default::default(),
            lifecycle: None,
        };
        let r = match probed.hook_retry {
            None => run_hooks(session, &req).map(|_| ()),
            Some(policy) => {
                let (now, sleep) = health::wall_clock();
                health::retry_hooks(policy, &now, &sleep, |_| run_hooks(session, &req).map(|_| ())).map(|_| ())
            }
        };
        r.map_err(|e| e.context(format!("health check failed: {job}")))?;
    }
    crate::output::say(&format!("health check passed: {job}"));
    crate::output::emit(serde_json::json!({"type": "result", "job": job, "phase": "health_check", "ok": true}));
    Ok(true)
}

/// The gate `maand job … --health_check` runs after each batch: the job's
/// probes on `ips` with its wait policy (recorded), then its `health_check`
/// hooks on them, retried within the same budget.
pub fn gate_batch(
    session: &mut dyn Recorder,
    transport: &Transport,
    job: &str,
    ips: &[String],
    verbose: bool,
) -> Result<()> {
    let spec = session.state().catalog.jobs[job].spec.clone();
    let cfg = health::config(&spec)?;
    if let Some(cfg) = &cfg {
        let r = health::gate(&spec, cfg, ips, transport);
        session.record(Event::HealthChecked {
            job: job.to_string(),
            allocations: ips.to_vec(),
            ok: r.is_ok(),
            detail: r.as_ref().err().cloned().unwrap_or_default(),
        })?;
        r.map_err(|e| Error::op(format!("health check failed for {job}: {e}")))?;
    }
    if spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "health_check")) {
        let req = HookRequest {
            event: HookEvent::HealthCheck,
            hook: None,
            jobs: vec![job.to_string()],
            // Seed 001: health_check hooks run on every non-removed
            // allocation of the job, not only the batch just restarted.
            filter: None,
            phase: "health_check",
            verbose,
            extra: Default::default(),
            lifecycle: None,
        };
        let policy = GatePolicy::of(&cfg.unwrap_or_else(HealthCheckJson::hooks_only), true);
        let (now, sleep) = health::wall_clock();
        health::retry_hooks(policy, &now, &sleep, |_| run_hooks(session, &req).map(|_| ()))
            .map_err(|e| e.context(format!("health check failed for {job}")))?;
    }
    println!("{job}: healthy [{}]", ips.join(","));
    Ok(())
}
