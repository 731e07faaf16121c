//! `maand health_check [--jobs j1,j2] [--wait] [--verbose]`.

use crate::bucket::{BucketPaths, OpenOptions, Recorder};
use crate::error::{Error, Result};
use crate::ops::health_check;
use crate::output;
use crate::transport::Transport;

/// Flags of `maand health_check`.
#[derive(clap::Args, Debug)]
pub struct HealthCheckArgs {
    /// Only these jobs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Retry until healthy (manifest `wait`, or 30 × 1 s).
    #[arg(long)]
    pub wait: bool,
    /// Stream health_check hook output.
    #[arg(long)]
    pub verbose: bool,
    /// JSON Lines on stdout (docs/schema/run-events.schema.json): one
    /// `result` per job, then a summary; human text to stderr.
    #[arg(long)]
    pub json: bool,
}

/// Workers, then every selected job; failures are collected per job.
pub(super) fn check_all(
    session: &mut dyn Recorder,
    transport: &Transport,
    jobs: &[String],
    wait: bool,
    verbose: bool,
) -> Result<()> {
    health_check::workers(session, wait)?;
    let mut names: Vec<(u64, String)> = session
        .state()
        .catalog
        .jobs
        .values()
        .filter(|j| jobs.is_empty() || jobs.contains(&j.spec.name))
        .map(|j| (j.spec.deployment_seq, j.spec.name.clone()))
        .collect();
    names.sort();
    let mut failed = Vec::new();
    for group in names.chunks(health_check::PARALLEL_JOBS) {
        // Probes of up to four jobs at once; recording and hooks in order.
        let label: Vec<&str> = group.iter().map(|(_, j)| j.as_str()).collect();
        let step = crate::progress::step(format!("probing {}", label.join(", ")));
        let state = session.state();
        let probed: Vec<Result<health_check::Probed>> = crate::ops::fanout::fan_out(
            group,
            |(_, job)| format!("job {job}"),
            |(_, job)| health_check::probe(state, transport, job, wait),
        )
        .into_iter()
        .map(|r| r.and_then(|r| r))
        .collect();
        step.finish(if probed.iter().all(|p| p.is_ok()) { "probed" } else { "failed" });
        for ((_, job), p) in group.iter().zip(probed) {
            if let Err(e) = p.and_then(|p| health_check::finish(session, p, verbose)) {
                if e.exit_code() == 2 {
                    return Err(e);
                }
                eprintln!("{e}");
                output::job_failed(job, e.message());
                output::emit(serde_json::json!({
                    "type": "result", "job": job, "phase": "health_check", "ok": false, "error": e.message(),
                }));
                failed.push(job.clone());
            }
        }
    }
    if !failed.is_empty() {
        return Err(Error::op(format!("health check failed: {}", failed.join(", "))));
    }
    Ok(())
}

/// A check, not a writer: it runs beside a deploy (see `cli::detached`).
pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &HealthCheckArgs) -> Result<()> {
    output::set_json(args.json);
    let result = check_run(paths, open, args);
    output::summary("health_check", &result, serde_json::json!({}));
    result
}

fn check_run(paths: &BucketPaths, open: &OpenOptions, args: &HealthCheckArgs) -> Result<()> {
    super::detached::run_check(paths, open, |session| {
        let unknown: Vec<&str> =
            args.jobs.iter().filter(|j| !session.state().catalog.jobs.contains_key(*j)).map(String::as_str).collect();
        if !unknown.is_empty() {
            return Err(Error::usage(format!("--jobs: unknown job(s) {} (see `maand cat jobs`)", unknown.join(", "))));
        }
        let transport = Transport::new(session.paths(), session.conf());
        check_all(session, &transport, &args.jobs, args.wait, args.verbose)
    })
}
