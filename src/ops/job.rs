//! `maand job start|stop|restart|status <job>` and `maand job run <job>
//! --target <t>`: after checking each worker's `worker.json` against the
//! catalog, run the job's `job_control` hook (env `TARGET`) or
//! `make <target>` in the job's directory on the selected active allocations, in rollout
//! order, `max_concurrent_upgrades` at a time; with `--health_check`, the
//! job's gate (probes, then `health_check` hooks) after every batch.

use crate::bucket::Recorder;
use crate::deploy::workers::lifecycle_command;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::hooks::{HookRequest, run_hooks};
use crate::plan::hooks::{batches, rollout_order};
use crate::transport::{Transport, shell_quote};
use crate::workspace::manifest::HookEvent;
use std::collections::BTreeMap;

/// A lifecycle request.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// Job.
    pub job: String,
    /// Make target (already validated).
    pub target: String,
    /// Only these workers (empty = all active).
    pub allocations: Vec<String>,
    /// Run the health gate afterwards.
    pub health_check: bool,
    /// Stream hook output.
    pub verbose: bool,
}

/// Whether `t` is a safe make target name.
pub fn valid_target(t: &str) -> bool {
    !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) && !t.starts_with('-')
}

/// Active allocations of `job` selected by `filter`, in rollout order;
/// unknown or inactive addresses are a usage error.
pub fn targets(session: &dyn Recorder, job: &str, filter: &[String]) -> Result<Vec<String>> {
    let state = session.state();
    if !state.catalog.jobs.contains_key(job) {
        return Err(Error::usage(format!("unknown job {job:?} (see `maand cat jobs`)")));
    }
    let active: Vec<String> =
        state.catalog.allocations_of(job).into_iter().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
    for ip in filter {
        if !active.contains(ip) {
            return Err(Error::usage(format!("--allocations: {ip} is not an active allocation of {job}")));
        }
    }
    let (order, _) = rollout_order(&state.kv, job, &active);
    Ok(order.into_iter().filter(|ip| filter.is_empty() || filter.contains(ip)).collect())
}

/// Refuse workers whose `worker.json` disagrees with the catalog.
pub fn check_worker_json(session: &dyn Recorder, transport: &Transport, bucket_id: &str, ips: &[String]) -> Result<()> {
    let state = session.state();
    let read = super::fanout::fan_out(
        ips,
        |ip| format!("worker {ip}"),
        |ip| transport.run(ip, &format!("cat /opt/worker/{}/worker.json", shell_quote(bucket_id))),
    );
    let problems: Vec<String> = {
        ips.iter()
            .zip(read)
            .map(|(ip, r)| (ip, r.and_then(|r| r)))
            .filter_map(|(ip, r)| {
                let r = match r {
                    Err(e) => return Some(e.message().to_string()),
                    Ok(r) if !r.ok() => {
                        return Some(format!("worker {ip}: no worker.json (never deployed): run maand deploy"));
                    }
                    Ok(r) => r,
                };
                let Ok(w) = serde_json::from_str::<serde_json::Value>(&r.stdout) else {
                    return Some(format!("worker {ip}: unreadable worker.json: run maand deploy"));
                };
                let want_id = state.catalog.workers.get(ip.as_str()).map(|w| w.worker_id.clone()).unwrap_or_default();
                let mismatch = if w["bucket_id"] != bucket_id {
                    Some(format!("bucket_id {} (this bucket is {bucket_id})", w["bucket_id"]))
                } else if w["worker_id"] != want_id.as_str() {
                    Some(format!("worker_id {} (the catalog says {want_id})", w["worker_id"]))
                } else if w["update_seq"] != state.update_seq {
                    Some(format!("update_seq {} (the catalog is at {})", w["update_seq"], state.update_seq))
                } else {
                    None
                };
                mismatch.map(|m| format!("worker {ip}: worker.json has {m}: run maand deploy"))
            })
            .collect()
    };
    if !problems.is_empty() {
        return Err(Error::op(problems.join("\n")));
    }
    Ok(())
}

/// Run the request.
pub fn run(session: &mut dyn Recorder, transport: &Transport, bucket_id: &str, req: &JobRequest) -> Result<()> {
    let ips = targets(session, &req.job, &req.allocations)?;
    check_worker_json(session, transport, bucket_id, &ips)?;
    let spec = session.state().catalog.jobs[&req.job].spec.clone();
    let has_control = spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "job_control"));
    if has_control {
        let mut extra = BTreeMap::new();
        extra.insert("TARGET".to_string(), req.target.clone());
        run_hooks(
            session,
            &HookRequest {
                event: HookEvent::JobControl,
                hook: None,
                jobs: vec![req.job.clone()],
                filter: Some(ips.clone()),
                phase: "job_control",
                verbose: req.verbose,
                extra,
                lifecycle: None,
            },
        )?;
        if req.health_check {
            super::health_check::gate_batch(session, transport, &req.job, &ips, req.verbose)?;
        }
    } else {
        let versions: BTreeMap<String, String> = ips
            .iter()
            .map(|ip| {
                let v = session
                    .state()
                    .deployed
                    .get(&(req.job.clone(), ip.clone()))
                    .map_or_else(|| "0.0.0".to_string(), |d| d.version.clone());
                (ip.clone(), v)
            })
            .collect();
        let version = |ip: &String| versions.get(ip).cloned().unwrap_or_default();
        let mut failed = Vec::new();
        let all = batches(&ips, spec.max_concurrent_upgrades.max(1));
        let count = all.len();
        for (i, batch) in all.into_iter().enumerate() {
            let step = crate::progress::step_aside(format!(
                "{} {} batch {}/{count} [{}]",
                req.job,
                req.target,
                i + 1,
                batch.join(",")
            ));
            let cmds: Vec<(String, String)> = batch
                .iter()
                .map(|ip| {
                    (ip.clone(), lifecycle_command(bucket_id, &req.job, &req.target, &version(ip), &spec.version))
                })
                .collect();
            let results = super::run_batch(transport, &cmds, step);
            for (ip, r, ms) in results {
                let code = super::show_output(Some(&req.job), &ip, &req.target, &r);
                session.record(Event::LifecycleRan {
                    job: req.job.clone(),
                    ip: ip.clone(),
                    target: req.target.clone(),
                    exit_code: code,
                    duration_ms: ms,
                })?;
                let tail = r.as_ref().map(|r| crate::event::output_tail(&r.stdout, &r.stderr)).unwrap_or_default();
                if !tail.is_empty() {
                    session.record(Event::LifecycleOutput {
                        job: req.job.clone(),
                        ip: ip.clone(),
                        target: req.target.clone(),
                        tail,
                    })?;
                }
                if code != Some(0) {
                    failed.push(format!("{ip}: {}", code.map_or("unreachable".into(), |c| format!("exit {c}"))));
                }
            }
            if !failed.is_empty() {
                return Err(Error::op(format!(
                    "make {} of job {} failed on {}",
                    req.target,
                    req.job,
                    failed.join(", ")
                )));
            }
            // As the original: the gate (probes and health_check hooks)
            // after every batch, before the next one starts.
            if req.health_check {
                super::health_check::gate_batch(session, transport, &req.job, &batch, req.verbose)?;
            }
        }
    }
    Ok(())
}
