//! `maand rollback`: put jobs back to what was promoted at an earlier
//! point of history — the exact bytes staged then (recorded at promotion,
//! never re-rendered), the job's manifest settings, sources and version,
//! and the KV its templates read — shipped through the deploy machine like
//! any deploy (rolling batches, health gates, hooks with `DEPLOY_PHASE`
//! `update`, resume after failure). The workspace is not touched.

pub mod source;
pub mod workspace;

use crate::bucket::{Bucket, session_info};
use crate::deploy::{DeployOptions, DeployReport, Drive, Workers};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::history::{Point, Resolved};
use crate::hooks::HookRunner;
use crate::plan::deploy::DeployInput;

/// Flags of a rollback.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// Jobs to roll back.
    pub jobs: Vec<String>,
    /// The point to roll back to.
    pub to: Point,
    /// Plan and print per allocation; change nothing.
    pub dry_run: bool,
    /// Restore the jobs' own KV namespaces too.
    pub kv: bool,
    /// Stream hook output.
    pub verbose: bool,
    /// After a successful rollout, write the old sources back into the workspace.
    pub write_workspace: bool,
}

/// How a point is named in the journal and to operators:
/// `deploy 7 (session 23)`.
pub fn describe(r: &Resolved, to: Point) -> String {
    match (to, r.session) {
        (Point::Deploy(n), Some(s)) => format!("deploy {n} (session {s})"),
        (Point::Session(s), _) => format!("session {s}"),
        _ => format!("event {}", r.seq),
    }
}

/// Roll back over SSH with hook processes.
pub fn run(bucket: &mut Bucket, opts: &RollbackOptions) -> Result<DeployReport> {
    // History is read and checked before anything reaches for the workers.
    let source = prepare(bucket, opts)?;
    crate::deploy::check_bun(bucket, &opts.jobs)?;
    crate::deploy::with_ssh_workers(bucket, |b, w| run_with(b, opts, source, w, &crate::hooks::ProcessHooks))
}

fn check(bucket: &Bucket, opts: &RollbackOptions) -> Result<()> {
    if opts.jobs.is_empty() {
        return Err(Error::usage("rollback: name the job(s) to roll back (`maand rollback web --to d3`)"));
    }
    let unknown: Vec<&str> =
        opts.jobs.iter().filter(|j| !bucket.state.catalog.jobs.contains_key(*j)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!("rollback: unknown job(s) {} (see `maand cat jobs`)", unknown.join(", "))));
    }
    Ok(())
}

/// What a rollback goes back to, read from history and checked.
pub struct Source {
    resolved: Resolved,
    then: crate::state::State,
    to: String,
    release: crate::deploy::recorded::Release,
}

/// Read and check what `opts` rolls back to (bad input: exit 2, nothing
/// written).
pub fn prepare(bucket: &Bucket, opts: &RollbackOptions) -> Result<Source> {
    check(bucket, opts)?;
    let (resolved, then) = crate::history::state_at(&bucket.paths, opts.to)?;
    let to = describe(&resolved, opts.to);
    for job in &opts.jobs {
        if !then.catalog.jobs.contains_key(job) {
            return Err(Error::input(format!("rollback of {job}: the job did not exist at {to}")));
        }
    }
    if opts.write_workspace {
        for job in &opts.jobs {
            workspace::check(&bucket.paths, job, &then.catalog.jobs[job], bucket.state.catalog.jobs.get(job))?;
        }
    }
    let release = source::release(&bucket.paths, &opts.jobs, &then, resolved.seq)?;
    // Allocations placed since the point have no bytes to go back to.
    for job in &opts.jobs {
        for a in bucket.state.catalog.allocations_of(job).into_iter().filter(|a| !a.removed) {
            if !release.jobs.get(job).is_some_and(|w| w.contains_key(&a.worker_ip)) {
                return Err(Error::input(format!(
                    "rollback of {job}: worker {} holds it now but held nothing promoted at {to}; \
                     remove it from the job first, or choose a later point",
                    a.worker_ip
                )));
            }
        }
    }
    Ok(Source { resolved, then, to, release })
}

/// Roll back to `source` with the given workers and hook runner.
pub fn run_with(
    bucket: &mut Bucket,
    opts: &RollbackOptions,
    source: Source,
    workers: &dyn Workers,
    hooks: &dyn HookRunner,
) -> Result<DeployReport> {
    let Source { resolved, then, to, release } = source;
    let at = crate::clock::now_ms();
    let mut first =
        vec![Event::RollbackStarted { jobs: opts.jobs.clone(), to: to.clone(), seq: resolved.seq, kv: opts.kv }];
    let ws = crate::workspace::load(&bucket.paths, &bucket.conf).ok();
    for job in &opts.jobs {
        first.extend(self::source::restore_events(job, &bucket.state, &then, opts.kv, at));
        let workspace = if opts.write_workspace {
            // The workspace will hold the old sources: the pin holds until they change.
            let old = &then.catalog.jobs[job];
            Some(crate::plan::build::pins::fingerprint_files(
                old.files.iter().map(|(p, f)| (p.as_str(), f.mode, f.content.as_slice())),
            ))
        } else {
            ws.as_ref().and_then(|w| w.jobs.get(job)).map(crate::plan::build::pins::fingerprint)
        };
        if workspace.is_none() {
            println!("note: the workspace of {job} could not be read: the next build that reads it releases the pin");
        }
        first.push(Event::JobPinned { job: job.clone(), to: to.clone(), workspace: workspace.unwrap_or_default() });
    }
    let mut jobs: Vec<(u64, String)> =
        opts.jobs.iter().map(|j| (then.catalog.jobs[j].spec.deployment_seq, j.clone())).collect();
    jobs.sort();
    jobs.dedup();
    let input = DeployInput {
        jobs,
        all_jobs: false,
        update_seq: bucket.state.update_seq + if opts.dry_run { 0 } else { 1 },
        flags: Default::default(),
        dry_run: opts.dry_run,
        #[cfg(feature = "plant-promote-before-gate")]
        plant_promote_before_gate: false,
    };
    let dopts =
        DeployOptions { jobs: opts.jobs.clone(), dry_run: opts.dry_run, verbose: opts.verbose, ..Default::default() };
    println!("rollback of {} to {to}", opts.jobs.join(","));
    let info = session_info(if opts.dry_run { "rollback --dry-run" } else { "rollback" });
    let current: Vec<Option<crate::state::Job>> =
        opts.jobs.iter().map(|j| bucket.state.catalog.jobs.get(j).cloned()).collect();
    let report =
        crate::deploy::drive(bucket, &dopts, Drive { workers, hooks, input, info, release: Some(&release), first })?
            .into_result()?;
    if opts.write_workspace && !opts.dry_run {
        for (job, cur) in opts.jobs.iter().zip(&current) {
            let changed = workspace::write_back(&bucket.paths, job, &then.catalog.jobs[job], cur.as_ref())?;
            println!("workspace/jobs/{job}/: {} file(s) written back as at {to}", changed.len());
            for c in changed {
                println!("  {c}");
            }
        }
    }
    Ok(report)
}

/// `maand rollback --release <job>…`: build and deploy handle these pinned
/// jobs again (the next `deploy --build` rolls them forward to the workspace).
pub fn release(bucket: &mut Bucket, jobs: &[String]) -> Result<()> {
    let not: Vec<&str> = jobs.iter().filter(|j| !bucket.state.pinned.contains_key(*j)).map(String::as_str).collect();
    if !not.is_empty() {
        return Err(Error::usage(format!(
            "rollback --release: {} not pinned (only rolled-back jobs are)",
            not.join(", ")
        )));
    }
    crate::cli::in_session(bucket, "rollback --release", |session| {
        for job in jobs {
            session.record(Event::JobUnpinned {
                job: job.clone(),
                reason: "released (maand rollback --release)".into(),
            })?;
        }
        Ok(())
    })
}
