//! Executes the deploy machine's steps: records events, checkpoints, runs
//! hooks, stages, and fans out to the workers. Decides nothing: every
//! branch taken here is the machine's.

use super::stage::{self, StageContext, stage_job};
use super::workers::Workers;
use crate::bucket::Session;
use crate::error::{Error, Result};
use crate::event::{Event, PeerScope, Staging, output_tail};
use crate::hooks::{HookRequest, HookRunner};
use crate::kv::seal::KvKey;
use crate::ops::fanout::fan_out;
use crate::output;
use crate::plan::deploy::{DeployInput, DeployMachine, DeployResult, LifecycleRun, Outcome, Prepared, RunResult, Step};
use crate::progress;
use crate::state::State;
use crate::transport::Remote;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

/// What a deploy reaches besides the journal.
pub struct Env<'a> {
    /// The workers.
    pub workers: &'a dyn Workers,
    /// The hook runner.
    pub hooks: &'a dyn HookRunner,
    /// Secret key (certificates and secrets in templates).
    pub kv_key: &'a KvKey,
    /// Bucket id.
    pub bucket_id: &'a str,
    /// Stream hook output.
    pub verbose: bool,
    /// A rollback: these jobs are staged from their recorded bytes instead
    /// of being rendered.
    pub release: Option<&'a super::recorded::Release>,
}

/// Check the workers in `check` and write worker.json to those in
/// `worker_json`, one round trip per worker, all at once.
fn prepare_workers(
    state: &State,
    env: &Env<'_>,
    check: &[String],
    worker_json: &[String],
    update_seq: u64,
) -> Vec<(String, std::result::Result<Prepared, String>)> {
    let mut ips: Vec<&String> = check.iter().chain(worker_json).collect();
    ips.sort();
    ips.dedup();
    // (worker, check it, its worker.json and jobs.json to write)
    type Work = (String, bool, Option<(String, String)>);
    let work: Vec<Work> = ips
        .into_iter()
        .map(|ip| {
            let files = worker_json
                .contains(ip)
                .then(|| (stage::worker_json(state, env.bucket_id, ip, update_seq), stage::jobs_json(state, ip)));
            (ip.clone(), check.contains(ip), files)
        })
        .collect();
    let results = fan_out(
        &work,
        |(ip, _, _)| worker(ip),
        |(ip, check, files)| env.workers.prepare(ip, *check, files.as_ref().map(|(b, j)| (b.as_str(), j.as_str()))),
    );
    work.into_iter()
        .zip(results)
        .map(|((ip, _, _), r)| (ip, r.and_then(|r| r).map_err(|e| e.message().to_string())))
        .collect()
}

/// Drive a deploy of `input` to its end inside `session`. A journal error
/// ends it at once (what was not durable is not state).
pub fn execute(session: &mut Session<'_>, env: &Env<'_>, input: DeployInput) -> Result<DeployResult> {
    let update_seq = input.update_seq;
    let selected: Vec<String> = input.jobs.iter().map(|(_, j)| j.clone()).collect();
    let mut machine = DeployMachine::new(input);
    // For the summary: the job of the last step that failed, and every job
    // a step worked on (the others were never attempted).
    let mut failing: Option<String> = None;
    let mut seen = BTreeSet::new();
    loop {
        let step = machine.poll(session.state());
        let job = step_job(&step).map(str::to_string);
        if let Some(j) = &job {
            seen.insert(j.clone());
        }
        let outcome = match step {
            Step::Done(result) => {
                if let Err(e) = &result {
                    note_failure(e.message(), &selected, &seen, failing.as_deref());
                }
                return result;
            }
            Step::Record(events) => {
                // The exact staged bytes of what is about to be promoted,
                // recorded first so a rollback can ship them again.
                if let Some(e) = staged_record(session, env, &events)? {
                    session.record(e)?;
                }
                for e in events {
                    log_job_issue(&e);
                    session.record(e)?;
                }
                Outcome::Done
            }
            Step::Flush => {
                session.flush()?;
                Outcome::Done
            }
            Step::Checkpoint(label) => {
                session.checkpoint(&label)?;
                Outcome::Done
            }
            Step::Say(line) => {
                output::say(&line);
                Outcome::Done
            }
            Step::PrepareWorkers { check, worker_json } => {
                Outcome::Prepared(prepare_workers(session.state(), env, &check, &worker_json, update_seq))
            }
            Step::Hooks(call) => {
                let req = HookRequest {
                    event: call.event,
                    hook: None,
                    jobs: vec![call.job.clone()],
                    filter: call.filter.clone(),
                    phase: &call.phase,
                    verbose: env.verbose,
                    extra: call.extra.clone(),
                    lifecycle: call.lifecycle.clone(),
                };
                Outcome::Hooks(match call.retry {
                    None => env.hooks.run(session, &req).map(|_| ()),
                    Some(policy) => {
                        super::health::retry_hooks(policy, &|| env.workers.now(), &|d| env.workers.sleep(d), |_| {
                            env.hooks.run(session, &req).map(|_| ())
                        })
                        .map(|_| ())
                    }
                })
            }
            Step::Stop { job, ip, version } => Outcome::Remote(logged(
                &job,
                &ip,
                "stop",
                one(&ip, |ip| {
                    let t = Instant::now();
                    env.workers.lifecycle(ip, &job, "stop", &version, &version).map(|r| run_result(ip, r, t))
                }),
            )),
            Step::Remove { job, ip, worker_gone } => Outcome::Remote(logged(
                &job,
                &ip,
                "remove",
                one(&ip, |ip| {
                    let t = Instant::now();
                    env.workers.remove(ip, &job, worker_gone).map(|r| run_result(ip, r, t))
                }),
            )),
            Step::Stage { job, ips } => {
                // The renderer is part of the staging decision's inputs
                // (`replay --check` compares trees only under the same one).
                let renderer = if env.release.is_some_and(|r| r.jobs.contains_key(&job)) {
                    // A rollback ships recorded bytes: nothing is rendered.
                    super::recorded::RENDERER.to_string()
                } else {
                    stage::RENDERER.to_string()
                };
                session.record(Event::JobStaged(Box::new(Staging { job: job.clone(), renderer })))?;
                Outcome::Staged(stage(session, env, &job, &ips, update_seq))
            }
            Step::Compare { job, ips, trees } => {
                let empty = BTreeMap::new();
                let results =
                    fan_out(&ips, worker, |ip| env.workers.differences(ip, &job, trees.get(ip).unwrap_or(&empty)));
                Outcome::Compared(ips.into_iter().zip(results).map(|(ip, r)| (ip, r.and_then(|r| r))).collect())
            }
            Step::Ship { job, ips, trees } => {
                let empty = BTreeMap::new();
                let results = fan_out(&ips, worker, |ip| env.workers.ship(ip, &job, trees.get(ip).unwrap_or(&empty)));
                let results: Vec<(String, Result<_>)> =
                    ips.into_iter().zip(results).map(|(ip, r)| (ip, r.and_then(|r| r))).collect();
                for (ip, r) in &results {
                    let msg = match r {
                        Ok(_) => "shipped".to_string(),
                        Err(e) => format!("failed: {}", e.message()),
                    };
                    crate::logs::record(&[
                        ("event", "rsync"),
                        ("job", &job),
                        ("worker", ip),
                        ("phase", "rsync"),
                        ("msg", &msg),
                    ]);
                }
                Outcome::PerWorker(results)
            }
            Step::Lifecycle { job, phase, index, count, batch, runs } => {
                let step = progress::step(format!("{job} {phase} batch {}/{count} [{}]", index + 1, batch.join(",")));
                let results = lifecycle(env, &job, &phase, &runs);
                debug_assert_eq!(results.len(), runs.len(), "one result per lifecycle run");
                let ok = results.iter().all(RunResult::ok);
                step.finish(if ok { "ok" } else { "failed" });
                output::emit(batch_json(&job, &phase, index, count, ok, &results));
                Outcome::Ran(results)
            }
            Step::Gate { job, ips, config } => {
                let spec = &session
                    .state()
                    .catalog
                    .jobs
                    .get(&job)
                    .ok_or_else(|| Error::op(format!("internal error: health gate of unknown job {job}")))?
                    .spec;
                let step = progress::step(format!("{job} health gate [{}]", ips.join(",")));
                let r = super::health::check_with(env.workers, spec, &config, &ips, true);
                step.finish(if r.is_ok() { "passed" } else { "failed" });
                output::emit(serde_json::json!({
                    "type": "gate", "job": job, "workers": ips, "ok": r.is_ok(),
                    "detail": r.as_ref().err().cloned().unwrap_or_default(),
                }));
                Outcome::Gate(r)
            }
        };
        if outcome_failed(&outcome) {
            failing = job;
        }
        machine.complete(outcome);
    }
}

/// A job's failure or skip also goes to `logs/` (the journal has it too)
/// and to the `--json` summary.
fn log_job_issue(e: &crate::event::Event) {
    use crate::event::Event;
    match e {
        Event::JobDeployFailed { job, reason, .. } => {
            output::job_failed(job, reason);
            crate::logs::record(&[("event", "job_failed"), ("job", job), ("msg", reason)])
        }
        Event::JobDeploySkipped { job, reason, .. } => {
            output::job_skipped(job, reason);
            crate::logs::record(&[("event", "job_skipped"), ("job", job), ("msg", reason)])
        }
        _ => {}
    }
}

/// Note the failed and skipped jobs of a deploy that ended with `msg`:
/// each `job <name>: why` block of the message (one per failed job of the
/// wave), else the job of the last failed step; skipped = selected jobs no
/// step worked on (later waves).
fn note_failure(msg: &str, selected: &[String], seen: &BTreeSet<String>, failing: Option<&str>) {
    let mut failed: Vec<(String, String)> = Vec::new();
    for line in msg.lines() {
        let named = selected.iter().find_map(|j| line.strip_prefix(&format!("job {j}: ")).map(|r| (j, r)));
        match (named, failed.last_mut()) {
            (Some((job, rest)), _) => failed.push((job.clone(), rest.to_string())),
            (None, Some((_, reason))) if line.starts_with(' ') => {
                reason.push('\n');
                reason.push_str(line);
            }
            _ => {}
        }
    }
    if failed.is_empty()
        && let Some(job) = failing
    {
        failed.push((job.to_string(), msg.to_string()));
    }
    for (job, reason) in &failed {
        output::job_failed(job, reason);
    }
    let why = match failed.first() {
        Some((job, _)) => format!("not attempted: the deploy stopped after {job} failed"),
        None => format!("not attempted: the deploy stopped: {}", msg.lines().next().unwrap_or("")),
    };
    for job in selected.iter().filter(|j| !seen.contains(*j) && !failed.iter().any(|(f, _)| f == *j)) {
        output::job_skipped(job, &why);
    }
}

/// Whether an outcome is a failure (of the step's job, when it has one).
fn outcome_failed(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Hooks(r) => r.is_err(),
        Outcome::Remote(r) => r.as_ref().map_or(true, |r| !r.ok()),
        Outcome::Staged(r) => r.is_err(),
        Outcome::Compared(rs) => rs.iter().any(|(_, r)| r.is_err()),
        Outcome::PerWorker(rs) => rs.iter().any(|(_, r)| r.is_err()),
        Outcome::Ran(rs) => !rs.iter().all(RunResult::ok),
        Outcome::Gate(r) => r.is_err(),
        _ => false,
    }
}

/// The job a step works on, if any.
fn step_job(step: &Step) -> Option<&str> {
    match step {
        Step::Hooks(call) => Some(&call.job),
        Step::Stop { job, .. }
        | Step::Remove { job, .. }
        | Step::Stage { job, .. }
        | Step::Compare { job, .. }
        | Step::Ship { job, .. }
        | Step::Lifecycle { job, .. }
        | Step::Gate { job, .. } => Some(job),
        _ => None,
    }
}

/// The `batch` object of `--json` output: one lifecycle batch's results.
fn batch_json(job: &str, phase: &str, index: u64, count: u64, ok: bool, results: &[RunResult]) -> serde_json::Value {
    let runs: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            serde_json::json!({
                "worker": r.ip, "ok": r.ok(), "exit_code": r.exit_code,
                "duration_ms": r.duration_ms, "detail": r.detail,
            })
        })
        .collect();
    serde_json::json!({
        "type": "batch", "job": job, "phase": phase, "index": index + 1, "count": count,
        "ok": ok, "results": runs,
    })
}

/// One worker operation under the fan-out failure policy (a panic is
/// that worker's failure).
fn one<T: Send>(ip: &str, f: impl Fn(&str) -> Result<T> + Sync) -> Result<T> {
    let ips = [ip.to_string()];
    fan_out(&ips, worker, |ip| f(ip))
        .pop()
        .unwrap_or_else(|| Err(Error::op("internal error: no result")))
        .and_then(|r| r)
}

/// Log a reconcile action (`stop`, `remove`) of `job` on `ip` with its
/// result, as the original's `phase=reconcile` lines.
fn logged(job: &str, ip: &str, action: &str, r: Result<RunResult>) -> Result<RunResult> {
    let msg = match &r {
        Ok(res) => format!(
            "{action}: {}",
            res.exit_code.map_or_else(|| format!("not run — {}", res.detail), |c| format!("exit {c}"))
        ),
        Err(e) => format!("{action}: failed — {}", e.message()),
    };
    crate::logs::record(&[("event", action), ("job", job), ("worker", ip), ("phase", "reconcile"), ("msg", &msg)]);
    r
}

fn worker(ip: &String) -> String {
    format!("worker {ip}")
}

fn run_result(ip: &str, r: Remote, t: Instant) -> RunResult {
    RunResult {
        ip: ip.to_string(),
        exit_code: r.code,
        duration_ms: t.elapsed().as_millis() as u64,
        detail: r.stderr.trim().lines().last().unwrap_or("").to_string(),
        output: output_tail(&r.stdout, &r.stderr),
    }
}

/// Stage `job` for each of `ips`; the staged tree of each.
fn stage(
    session: &Session<'_>,
    env: &Env<'_>,
    job: &str,
    ips: &[String],
    update_seq: u64,
) -> Result<BTreeMap<String, crate::plan::rollout::Tree>> {
    let paths = session.bucket().paths.clone();
    let cx = StageContext {
        paths: &paths,
        state: Arc::new(staging_state(session.state(), job, ips)),
        kv_key: env.kv_key,
        bucket_id: env.bucket_id,
        update_seq,
    };
    let mut staged = BTreeMap::new();
    let release = env.release.filter(|r| r.jobs.contains_key(job));
    for ip in ips {
        let tree = match release {
            Some(r) => super::recorded::stage_recorded(&cx, env.kv_key, r, job, ip)?,
            None => stage_job(&cx, job, ip)?,
        };
        staged.insert(ip.clone(), tree);
    }
    Ok(staged)
}

/// The `StagedRecorded` event for the `AllocationPromoted` events among
/// `events` (one job's promotion), or none.
fn staged_record(
    session: &Session<'_>,
    env: &Env<'_>,
    events: &[crate::event::Event],
) -> Result<Option<crate::event::Event>> {
    let mut job = None;
    let mut promoted = BTreeMap::new();
    for e in events {
        if let crate::event::Event::AllocationPromoted { job: j, ip, hash, .. } = e {
            job = Some(j.clone());
            promoted.insert(ip.clone(), hash.clone());
        }
    }
    let Some(job) = job else { return Ok(None) };
    super::recorded::record_event(&session.bucket().paths, env.kv_key, &job, &promoted, &session.state().staged_blobs)
        .map(Some)
}

/// The state staging `job` on `ips` reads: [`staging_view`], or the whole
/// state when the job reads beyond it.
pub fn staging_state(state: &State, job: &str, ips: &[String]) -> State {
    if needs_whole_state(state, job) { state.clone() } else { staging_view(state, job, ips) }
}

/// Whether staging `job` reads beyond [`staging_view`]: a Prometheus server
/// job (rules and consoles of every job) or a template calling
/// `scrapeConfigs`/`ruleFiles` (the whole catalog and its scrape KV).
fn needs_whole_state(state: &State, job: &str) -> bool {
    state.catalog.jobs.get(job).is_some_and(|j| {
        crate::plan::prometheus::is_server(j.files.keys())
            || j.files.iter().any(|(path, f)| {
                path.ends_with(".tpl")
                    && ["scrapeConfigs", "ruleFiles"]
                        .iter()
                        .any(|name| f.content.windows(name.len()).any(|w| w == name.as_bytes()))
            })
    })
}

/// The part of `state` staging `job` on `ips` can read: those workers, the
/// allocations on them (`jobs.json`), the job, its promoted deployments,
/// and the KV namespaces its templates may read (bucket-wide ones, its own,
/// its workers', its upstream jobs'; the hook read rules still apply at
/// render time). Staging reads nothing else, so this equals staging from
/// the whole state — without copying the whole state for every job (the
/// copy made a 10,000-worker deploy quadratic).
pub fn staging_view(state: &State, job: &str, ips: &[String]) -> State {
    let ipset: BTreeSet<&str> = ips.iter().map(String::as_str).collect();
    let upstream: Vec<String> = state
        .catalog
        .jobs
        .get(job)
        .map(|j| j.spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect())
        .unwrap_or_default();
    let mut names: BTreeSet<String> = ["maand/bucket", "vars/bucket", "maand/worker"].map(String::from).into();
    for j in std::iter::once(job).chain(upstream.iter().map(String::as_str)) {
        for prefix in ["maand/job", "vars/job", "secrets/job", "vars/bucket/job"] {
            names.insert(format!("{prefix}/{j}"));
        }
    }
    let job_workers = format!("maand/job/{job}/worker/");
    let readable = |ns: &str| {
        names.contains(ns)
            || ns.strip_prefix("maand/worker/").is_some_and(|r| ipset.contains(r.trim_end_matches("/tags")))
            || ns.strip_prefix(job_workers.as_str()).is_some_and(|ip| ipset.contains(ip))
    };
    let mut view =
        State { seq: state.seq, bucket: state.bucket.clone(), update_seq: state.update_seq, ..Default::default() };
    let mut last: Option<(&str, bool)> = None;
    for (ns, key, versions) in state.kv.stored_iter() {
        let keep = match last {
            Some((n, k)) if n == ns => k,
            _ => {
                let k = readable(ns);
                last = Some((ns, k));
                k
            }
        };
        if keep {
            view.kv.restore(ns, key, versions.to_vec());
        }
    }
    // The peer sets behind the derived keys of what it can read: its own
    // job's and every label's (a worker namespace shows its labels' peers).
    for (scope, set) in state.kv.peer_sets() {
        if matches!(scope, PeerScope::Label(_)) || *scope == PeerScope::Job(job.to_string()) {
            view.kv.restore_peers(scope.clone(), set.members.clone(), set.version, set.at);
        }
    }
    let cat = &state.catalog;
    view.catalog.workers = ips.iter().filter_map(|ip| cat.workers.get(ip).map(|w| (ip.clone(), w.clone()))).collect();
    view.catalog.allocations = cat
        .allocations
        .iter()
        .filter(|((_, ip), _)| ipset.contains(ip.as_str()))
        .map(|(k, a)| (k.clone(), a.clone()))
        .collect();
    if let Some(j) = cat.jobs.get(job) {
        view.catalog.jobs.insert(job.to_string(), j.clone());
    }
    view.deployed = state
        .deployed
        .range((job.to_string(), String::new())..)
        .take_while(|((j, _), _)| j == job)
        .map(|(k, d)| (k.clone(), d.clone()))
        .collect();
    view
}

/// Run one lifecycle batch in parallel: one result per run, in order (a
/// panicked run did not run).
fn lifecycle(env: &Env<'_>, job: &str, phase: &str, runs: &[LifecycleRun]) -> Vec<RunResult> {
    let results = fan_out(
        runs,
        |r| worker(&r.ip),
        |r| {
            let t = Instant::now();
            let out = env.workers.lifecycle(&r.ip, job, &r.target, &r.current_version, &r.new_version);
            (out, t.elapsed().as_millis() as u64)
        },
    );
    runs.iter()
        .zip(results)
        .map(|(run, r)| {
            let (out, ms) = match r {
                Ok((out, ms)) => (out, ms),
                Err(panicked) => (Err(panicked), 0),
            };
            let res = match out {
                Ok(out) => {
                    // Every line to logs/ (per worker and run), the end to the journal.
                    crate::ops::log_output(Some(job), &run.ip, phase, &out);
                    RunResult {
                        ip: run.ip.clone(),
                        exit_code: out.code,
                        duration_ms: ms,
                        detail: out.stderr.trim().lines().last().unwrap_or("").to_string(),
                        output: output_tail(&out.stdout, &out.stderr),
                    }
                }
                Err(e) => RunResult {
                    ip: run.ip.clone(),
                    exit_code: None,
                    duration_ms: ms,
                    detail: e.message().to_string(),
                    output: String::new(),
                },
            };
            let outcome = format!(
                "make {}: {} ({ms} ms){}",
                run.target,
                res.exit_code.map_or("not run".into(), |c| format!("exit {c}")),
                if res.detail.is_empty() { String::new() } else { format!(" — {}", res.detail) }
            );
            crate::logs::record(&[
                ("event", "lifecycle"),
                ("job", job),
                ("worker", &run.ip),
                ("phase", phase),
                ("msg", &outcome),
            ]);
            res
        })
        .collect()
}
