//! `maand deploy`: the executor (SPEC §6). The decisions come from the pure
//! rollout planner ([`crate::plan::rollout`]); this module stages, ships,
//! runs lifecycles and hooks, gates on health, promotes, and records every
//! step as an event.

pub mod health;
pub mod http_probe;
mod progress;
pub mod stage;

use crate::bucket::{Bucket, Session, session_info};
use crate::error::{Error, Result};
use crate::event::{Event, JobRollout};
use crate::hooks::{HookRequest, run_hooks};
use crate::kv::seal::KvKey;
use crate::plan::rollout::{Action, JobPlan, RolloutFlags, Tree, plan_job};
use crate::transport::{Transport, shell_quote};
use crate::workspace::manifest::HookEvent;
use stage::{StageContext, stage_job, worker_dir};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Flags of a deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Only these jobs (empty = all).
    pub jobs: Vec<String>,
    /// Plan and print, change nothing.
    pub dry_run: bool,
    /// Update every active allocation.
    pub force: bool,
    /// Ship files only; a needed start is an error.
    pub sync_only: bool,
    /// Stream hook output.
    pub verbose: bool,
}

/// What a deploy did.
#[derive(Debug, Clone, Default)]
pub struct DeployReport {
    /// Journal session.
    pub session: u64,
    /// The deploy's update_seq.
    pub update_seq: u64,
    /// Jobs promoted.
    pub promoted: Vec<String>,
    /// Jobs already up to date.
    pub up_to_date: Vec<String>,
}

struct Ctx<'a> {
    transport: Transport,
    kv_key: KvKey,
    bucket_id: String,
    update_seq: u64,
    opts: &'a DeployOptions,
    flags: RolloutFlags,
}

/// Run a deploy on an open bucket.
pub fn run(bucket: &mut Bucket, opts: &DeployOptions) -> Result<DeployReport> {
    let cat = &bucket.state.catalog;
    let unknown: Vec<&String> = opts.jobs.iter().filter(|j| !cat.jobs.contains_key(*j)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(Error::usage(format!("--jobs: unknown job(s) {} (see `maand cat jobs`)", names.join(", "))));
    }
    let bucket_id = bucket.require_id()?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_local()?;
    for tool in ["ssh", "rsync", "python3"] {
        if which(tool).is_none() {
            return Err(Error::usage(format!("{tool} is not installed on this control host")));
        }
    }
    let needs_bun = cat
        .jobs
        .values()
        .filter(|j| opts.jobs.is_empty() || opts.jobs.contains(&j.spec.name))
        .any(|j| j.spec.hooks.values().any(|h| !h.script.ends_with(".py")));
    if needs_bun && which("bun").is_none() {
        return Err(Error::usage(
            "bun is not installed on this control host, and a selected job has .ts/.js hooks (npm install -g bun)",
        ));
    }
    let kv_key = KvKey::load(&bucket.paths.kv_key())?;
    let mut jobs: Vec<(u64, String)> = cat
        .jobs
        .values()
        .filter(|j| opts.jobs.is_empty() || opts.jobs.contains(&j.spec.name))
        .map(|j| (j.spec.deployment_seq, j.spec.name.clone()))
        .collect();
    jobs.sort();
    let update_seq = bucket.state.update_seq + if opts.dry_run { 0 } else { 1 };
    let flags = RolloutFlags { force: opts.force, sync_only: opts.sync_only };
    let cx = Ctx { transport, kv_key, bucket_id, update_seq, opts, flags };

    // Staged trees hold rendered secrets and decrypted keys: start from an
    // empty staging area (a dry run's or a killed deploy's is removed) and
    // leave none behind, except a dry run's, which is its output.
    let staging = StagingCleanup { dir: stage::workers_dir(&bucket.paths), keep: opts.dry_run };
    staging.clear()?;
    let mut session = bucket.begin(session_info(if opts.dry_run { "deploy --dry-run" } else { "deploy" }))?;
    let result = deploy(&mut session, &cx, &jobs);
    match result {
        Ok(mut report) if !opts.dry_run => {
            report.session = session.id();
            // Best-effort; only a journal error stops the commit.
            if let Err(e) = crate::prometheus::push::after_deploy(&mut session, &cx.kv_key) {
                return session.finish(Err(e));
            }
            session.commit()?;
            Ok(report)
        }
        Ok(report) => {
            // A dry run persists nothing: end the session without committing.
            session.fail(&Error::op("dry run: nothing persisted"))?;
            Ok(report)
        }
        Err(e) => session.finish(Err(e)),
    }
}

/// Removes deploy's staging area when the deploy ends, however it ends.
struct StagingCleanup {
    dir: std::path::PathBuf,
    keep: bool,
}

impl StagingCleanup {
    fn clear(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::op(format!("clearing {}: {e}", self.dir.display()))),
        }
    }
}

impl Drop for StagingCleanup {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.clear();
        }
    }
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(tool)).find(|p| p.is_file())
}

fn checkpoint(session: &mut Session<'_>, cx: &Ctx, label: &str) -> Result<()> {
    if cx.opts.dry_run { session.flush() } else { session.checkpoint(label) }
}

fn deploy(session: &mut Session<'_>, cx: &Ctx, jobs: &[(u64, String)]) -> Result<DeployReport> {
    let mut report = DeployReport { update_seq: cx.update_seq, ..Default::default() };
    if !cx.opts.dry_run {
        session.record(Event::UpdateSeqSet { update_seq: cx.update_seq })?;
        checkpoint(session, cx, "update_seq")?;
    }
    check_workers(session, cx, jobs)?;
    if !cx.opts.dry_run {
        write_worker_json(session, cx);
        reconcile(session, cx, jobs)?;
    }
    let mut failures: Vec<String> = Vec::new();
    let waves: std::collections::BTreeSet<u64> = jobs.iter().map(|(s, _)| *s).collect();
    for wave in waves {
        for (_, job) in jobs.iter().filter(|(s, _)| *s == wave) {
            match deploy_job(session, cx, wave, job) {
                Ok(true) => report.promoted.push(job.clone()),
                Ok(false) => report.up_to_date.push(job.clone()),
                Err(e) if e.exit_code() == 2 => return Err(e.context(format!("job {job}"))),
                Err(e) => {
                    println!("wave {wave}: {job}: FAILED");
                    failures.push(format!("job {job}: {e}"));
                }
            }
        }
        if !failures.is_empty() {
            // Later waves depend on this one: stop here.
            return Err(Error::op(format!(
                "deploy failed (jobs promoted so far stay promoted):\n{}",
                failures.join("\n")
            )));
        }
    }
    Ok(report)
}

/// Workers of the selected jobs are reachable and have the tools deploy needs.
fn check_workers(session: &Session<'_>, cx: &Ctx, jobs: &[(u64, String)]) -> Result<()> {
    let cat = &session.state().catalog;
    let mut ips: Vec<String> = cat
        .allocations
        .values()
        .filter(|a| a.active() && jobs.iter().any(|(_, j)| *j == a.job))
        .map(|a| a.worker_ip.clone())
        .collect();
    ips.sort();
    ips.dedup();
    let script =
        "for t in python3 make rsync bash timeout; do command -v $t >/dev/null 2>&1 || echo \"missing $t\"; done";
    let problems: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = ips.iter().map(|ip| s.spawn(move || (ip, cx.transport.run(ip, script)))).collect();
        hs.into_iter()
            .filter_map(|h| h.join().ok())
            .filter_map(|(ip, r)| match r {
                Err(e) => Some(e.message().to_string()),
                Ok(r) if !r.stdout.trim().is_empty() => {
                    Some(format!("worker {ip}: {} (install them on the worker)", r.stdout.trim().replace('\n', ", ")))
                }
                Ok(_) => None,
            })
            .collect()
    });
    if !problems.is_empty() {
        return Err(Error::op(format!("worker prerequisites:\n  {}", problems.join("\n  "))));
    }
    Ok(())
}

/// Every worker with an active allocation learns this deploy's update_seq
/// (its `worker.json`), so `maand job` can tell a current worker from a
/// stale one. Workers outside the selected jobs that cannot be reached are
/// reported, not fatal.
fn write_worker_json(session: &Session<'_>, cx: &Ctx) {
    let state = session.state();
    let mut ips: Vec<String> =
        state.catalog.allocations.values().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
    ips.sort();
    ips.dedup();
    std::thread::scope(|s| {
        for ip in &ips {
            let body = stage::worker_json(state, &cx.bucket_id, ip, cx.update_seq);
            s.spawn(move || {
                let script = format!(
                    "mkdir -p /opt/worker/{b} && printf %s {body} > /opt/worker/{b}/worker.json",
                    b = shell_quote(&cx.bucket_id),
                    body = shell_quote(&body)
                );
                if let Err(e) = cx.transport.run(ip, &script) {
                    println!("note: {e} (worker.json not updated)");
                }
            });
        }
    });
}

fn runner_cmd(cx: &Ctx, job: &str, target: &str, current: &str, new: &str) -> String {
    runner_command(&cx.bucket_id, job, target, current, new)
}

/// The remote command running a lifecycle target through `bin/runner.py`.
pub fn runner_command(bucket_id: &str, job: &str, target: &str, current: &str, new: &str) -> String {
    format!(
        "cd /opt/worker/{b} && CURRENT_VERSION={c} NEW_VERSION={n} timeout 900 python3 bin/runner.py {b} {t} --jobs {j}",
        b = bucket_id,
        c = shell_quote(current),
        n = shell_quote(new),
        t = shell_quote(target),
        j = shell_quote(job)
    )
}

/// Stop what must no longer run: removed or newly disabled allocations that
/// were deployed; delete removed ones' files (keeping data/ and logs/); wipe
/// the bucket directory of workers gone from workers.json.
fn reconcile(session: &mut Session<'_>, cx: &Ctx, jobs: &[(u64, String)]) -> Result<()> {
    let state = session.state();
    let mut todo = Vec::new();
    for ((job, ip), d) in &state.deployed {
        // A job removed from the workspace is reconciled by any deploy
        // without --jobs (it can no longer be named).
        let selected =
            jobs.iter().any(|(_, j)| j == job) || (cx.opts.jobs.is_empty() && !state.catalog.jobs.contains_key(job));
        if !selected {
            continue;
        }
        let alloc = state.catalog.allocations.get(&(job.clone(), ip.clone()));
        let removed = alloc.is_none_or(|a| a.removed);
        let disabled = alloc.is_some_and(|a| a.disabled);
        let worker_gone = !state.catalog.workers.contains_key(ip);
        if removed || (disabled && d.running) {
            todo.push((job.clone(), ip.clone(), removed, worker_gone, d.version.clone(), d.running));
        }
    }
    // after_allocation_stopped hooks first, grouped per job (SPEC §6 step 3).
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (job, ip, ..) in &todo {
        by_job.entry(job.clone()).or_default().push(ip.clone());
    }
    for (job, ips) in by_job {
        hooks(session, cx, &job, HookEvent::AfterAllocationStopped, Some(ips), BTreeMap::new())?;
    }
    for (job, ip, removed, worker_gone, version, running) in todo {
        let has_control = session
            .state()
            .catalog
            .jobs
            .get(&job)
            .is_some_and(|j| j.spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "job_control")));
        let t = Instant::now();
        let stop = if has_control || !running {
            None
        } else {
            Some(cx.transport.run(&ip, &runner_cmd(cx, &job, "stop", &version, &version)))
        };
        match stop {
            Some(Err(e)) if removed => {
                println!("reconcile: {job} on {ip}: worker unreachable, treated as dead ({e})");
                session.record(Event::AllocationUndeployed { job: job.clone(), ip: ip.clone() })?;
                continue;
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(r)) => {
                session.record(Event::LifecycleRan {
                    job: job.clone(),
                    ip: ip.clone(),
                    target: "stop".into(),
                    exit_code: r.code,
                    duration_ms: t.elapsed().as_millis() as u64,
                })?;
                println!("reconcile: {job} on {ip}: stopped ({})", if r.ok() { "ok" } else { "make stop failed" });
                if !removed {
                    session.record(Event::AllocationStopped { job: job.clone(), ip: ip.clone() })?;
                }
            }
            None => {}
        }
        if removed {
            let script = if worker_gone {
                format!("rm -rf /opt/worker/{}", cx.bucket_id)
            } else {
                format!(
                    "d=/opt/worker/{}/jobs/{}; [ -d \"$d\" ] && find \"$d\" -mindepth 1 -maxdepth 1 ! -name data ! -name logs -exec rm -rf {{}} + ; true",
                    cx.bucket_id,
                    shell_quote(&job)
                )
            };
            let r = cx.transport.run(&ip, &script)?;
            if !r.ok() {
                return Err(Error::op(format!("worker {ip}: removing job {job} failed: {}", r.stderr.trim())));
            }
            session.record(Event::AllocationUndeployed { job: job.clone(), ip: ip.clone() })?;
            println!("reconcile: {job} on {ip}: removed{}", if worker_gone { " (worker left the bucket)" } else { "" });
        }
    }
    checkpoint(session, cx, "reconcile")
}

fn hooks(
    session: &mut Session<'_>,
    cx: &Ctx,
    job: &str,
    event: HookEvent,
    filter: Option<Vec<String>>,
    extra: BTreeMap<String, String>,
) -> Result<usize> {
    let phase = event.as_str();
    run_hooks(
        session,
        &HookRequest { event, hook: None, jobs: vec![job.to_string()], filter, phase, verbose: cx.opts.verbose, extra },
    )
}

/// Deploy one job; `Ok(false)` when it was already up to date.
fn deploy_job(session: &mut Session<'_>, cx: &Ctx, wave: u64, job: &str) -> Result<bool> {
    hooks(session, cx, job, HookEvent::PreDeploy, None, BTreeMap::new())?;
    checkpoint(session, cx, &format!("{job} pre_deploy"))?;

    let state = Arc::new(session.state().clone());
    let paths = session.bucket().paths.clone();
    let scx = StageContext {
        paths: &paths,
        state: state.clone(),
        kv_key: &cx.kv_key,
        bucket_id: &cx.bucket_id,
        update_seq: cx.update_seq,
    };
    let mut staged: BTreeMap<String, Tree> = BTreeMap::new();
    for a in state.catalog.allocations_of(job).into_iter().filter(|a| !a.removed) {
        staged.insert(a.worker_ip.clone(), stage_job(&scx, job, &a.worker_ip)?);
    }
    let plan = plan_job(&state, job, &staged, &cx.flags)?;
    session.record(Event::JobRolloutPlanned(Box::new(JobRollout {
        update_seq: cx.update_seq,
        flags: cx.flags.clone(),
        staged: staged.clone(),
        plan: plan.clone(),
    })))?;
    print_plan(wave, &plan);
    if cx.opts.dry_run || !plan.needs_rollout() {
        return Ok(false);
    }

    // Ship: every active allocation with something to do.
    let ship: Vec<String> = plan
        .allocations
        .iter()
        .filter(|a| !matches!(a.action, Action::Skip | Action::Disabled))
        .map(|a| a.ip.clone())
        .collect();
    let shipped: Vec<Result<()>> = std::thread::scope(|s| {
        let hs: Vec<_> = ship.iter().map(|ip| s.spawn(|| rsync_job(cx, &paths, job, ip))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::op("rsync thread panicked")))).collect()
    });
    if let Some(Err(e)) = shipped.into_iter().find(|r| r.is_err()) {
        return Err(e);
    }

    let spec = state.catalog.jobs[job].spec.clone();
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
        hooks(session, cx, job, HookEvent::JobControl, None, extra)?;
        health_gate(session, cx, &spec, job, &plan.order)?;
    } else {
        let count = plan.start_batches.len() as u64;
        for (i, batch) in plan.start_batches.iter().enumerate() {
            lifecycle_batch(session, cx, &plan, job, "new", i as u64, count, batch)?;
        }
        if count > 0 {
            let started: Vec<String> = plan.start_batches.concat();
            health_gate(session, cx, &spec, job, &started)?;
            ready(session, cx, &plan, &started)?;
        }
        let count = plan.update_batches.len() as u64;
        for (i, batch) in plan.update_batches.iter().enumerate() {
            lifecycle_batch(session, cx, &plan, job, "update", i as u64, count, batch)?;
            let restarted: Vec<String> =
                batch.iter().filter(|ip| plan.action(ip).is_some_and(|a| a.action != Action::Sync)).cloned().collect();
            if !restarted.is_empty() {
                health_gate(session, cx, &spec, job, &restarted)?;
                ready(session, cx, &plan, &restarted)?;
            }
        }
    }
    hooks(session, cx, job, HookEvent::PostDeploy, None, BTreeMap::new())?;
    for a in plan.allocations.iter().filter(|a| a.action != Action::Skip) {
        session.record(Event::AllocationPromoted {
            job: job.to_string(),
            ip: a.ip.clone(),
            alloc_id: a.alloc_id.clone(),
            hash: a.tree_hash.clone(),
            files: staged.get(&a.ip).cloned().unwrap_or_default(),
            version: a.new_version.clone(),
            running: a.action != Action::Disabled,
        })?;
    }
    checkpoint(session, cx, &format!("{job} promoted"))?;
    println!("wave {wave}: {job}: promoted");
    Ok(true)
}

/// Mark allocations whose lifecycle passed its gate, durably, so a failure
/// later in this deploy does not restart them again next time.
fn ready(session: &mut Session<'_>, cx: &Ctx, plan: &JobPlan, ips: &[String]) -> Result<()> {
    for a in plan.allocations.iter().filter(|a| ips.contains(&a.ip)) {
        session.record(Event::AllocationReady {
            job: plan.job.clone(),
            ip: a.ip.clone(),
            hash: a.tree_hash.clone(),
            version: a.new_version.clone(),
        })?;
    }
    checkpoint(session, cx, &format!("{} batch ready", plan.job))
}

fn print_plan(wave: u64, plan: &JobPlan) {
    println!("wave {wave}: {} (order {} {})", plan.job, plan.order_source, plan.order.join(","));
    for a in &plan.allocations {
        let short = |h: &str| if h.is_empty() { "-".to_string() } else { h[..h.len().min(12)].to_string() };
        let matched = if a.matched.is_empty() { String::new() } else { format!(" matched={}", a.matched.join(",")) };
        println!(
            "  {:<15} {:<8} {} -> {} version {} -> {}{matched}",
            a.ip,
            a.action.as_str(),
            short(&a.current_hash),
            short(&a.tree_hash),
            a.current_version,
            a.new_version
        );
    }
}

fn rsync_job(cx: &Ctx, paths: &crate::bucket::BucketPaths, job: &str, ip: &str) -> Result<()> {
    let root = worker_dir(paths, ip);
    let dest = format!("/opt/worker/{}/", cx.bucket_id);
    let top = ["--include=/worker.json", "--include=/jobs.json", "--include=/bin/***", "--exclude=*"].map(String::from);
    cx.transport.rsync(ip, &root, &dest, &top)?;
    let keep =
        ["--delete", "--filter=protect /data/", "--filter=protect /logs/", "--filter=protect /bin/"].map(String::from);
    cx.transport.rsync(ip, &root.join("jobs").join(job), &format!("{dest}jobs/{job}/"), &keep)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn lifecycle_batch(
    session: &mut Session<'_>,
    cx: &Ctx,
    plan: &JobPlan,
    job: &str,
    phase: &str,
    index: u64,
    count: u64,
    batch: &[String],
) -> Result<()> {
    session.record(Event::BatchStarted {
        job: job.to_string(),
        phase: phase.to_string(),
        index,
        count,
        allocations: batch.to_vec(),
        order_source: plan.order_source.clone(),
    })?;
    session.flush()?;
    let step = progress::step(format!("{job} {phase} batch {}/{count} [{}]", index + 1, batch.join(",")));
    let results: Vec<(String, String, Option<i32>, u64, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = batch
            .iter()
            .filter_map(|ip| plan.action(ip).map(|a| (ip, a)))
            .filter(|(_, a)| a.action != Action::Sync)
            .map(|(ip, a)| {
                s.spawn(move || {
                    let t = Instant::now();
                    let target = a.action.as_str();
                    let r = cx.transport.run(ip, &runner_cmd(cx, job, target, &a.current_version, &a.new_version));
                    let ms = t.elapsed().as_millis() as u64;
                    match r {
                        Ok(r) => (
                            ip.clone(),
                            target.to_string(),
                            r.code,
                            ms,
                            r.stderr.trim().lines().last().unwrap_or("").to_string(),
                        ),
                        Err(e) => (ip.clone(), target.to_string(), None, ms, e.message().to_string()),
                    }
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut failed = Vec::new();
    for (ip, target, code, ms, err) in &results {
        let outcome = format!(
            "make {target}: {} ({ms} ms){}",
            code.map_or("not run".into(), |c| format!("exit {c}")),
            if err.is_empty() { String::new() } else { format!(" — {err}") }
        );
        crate::logs::record(&[
            ("event", "lifecycle"),
            ("job", job),
            ("worker", ip),
            ("phase", phase),
            ("msg", &outcome),
        ]);
        session.record(Event::LifecycleRan {
            job: job.to_string(),
            ip: ip.clone(),
            target: target.clone(),
            exit_code: *code,
            duration_ms: *ms,
        })?;
        if *code != Some(0) {
            failed.push(format!(
                "{ip}: make {target} {} {err}",
                code.map_or("did not run".into(), |c| format!("exit {c}"))
            ));
        }
    }
    let ok = failed.is_empty();
    step.finish(if ok { "ok" } else { "failed" });
    if ok {
        hooks(session, cx, job, HookEvent::AfterAllocationStarted, Some(batch.to_vec()), BTreeMap::new())?;
    }
    session.record(Event::BatchEnded { job: job.to_string(), phase: phase.to_string(), index, ok })?;
    session.flush()?;
    if !ok {
        return Err(Error::op(format!("{phase} batch {}/{count} failed:\n  {}", index + 1, failed.join("\n  "))));
    }
    Ok(())
}

fn health_gate(
    session: &mut Session<'_>,
    cx: &Ctx,
    spec: &crate::state::JobSpec,
    job: &str,
    ips: &[String],
) -> Result<()> {
    if let Some(cfg) = health::config(spec) {
        let step = progress::step(format!("{job} health gate [{}]", ips.join(",")));
        let r = health::gate(spec, &cfg, ips, &cx.transport);
        step.finish(if r.is_ok() { "passed" } else { "failed" });
        let (ok, detail) = match &r {
            Ok(_) => (true, String::new()),
            Err(e) => (false, e.clone()),
        };
        session.record(Event::HealthChecked {
            job: job.to_string(),
            allocations: ips.to_vec(),
            ok,
            detail: detail.clone(),
        })?;
        session.flush()?;
        if !ok {
            return Err(Error::op(format!("health check failed for {job} on [{}]: {detail}", ips.join(","))));
        }
        println!("  {job} healthy [{}]", ips.join(","));
    }
    hooks(session, cx, job, HookEvent::HealthCheck, Some(ips.to_vec()), BTreeMap::new())?;
    Ok(())
}
