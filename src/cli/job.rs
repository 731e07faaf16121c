//! `maand job create|start|stop|restart|status|run`.

use crate::bucket::{BucketPaths, OpenOptions, Recorder};
use crate::error::{Error, Result};
use crate::ops::job::{JobRequest, valid_target};
use crate::output;
use crate::transport::Transport;
use crate::workspace::names::{check_job_name, check_label};
use clap::{Args, Subcommand};
use std::io::Write;

/// `maand job`.
#[derive(Args, Debug)]
pub struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Subcommand, Debug)]
enum JobCommand {
    /// Scaffold workspace/jobs/<job>/ with a manifest and a Makefile.
    Create {
        /// Job name.
        job: String,
        /// Worker labels the job needs (default: the job name).
        #[arg(long, value_delimiter = ',')]
        selectors: Vec<String>,
    },
    /// `make start` on the job's active allocations (or its job_control hook).
    Start(Target),
    /// `make stop`.
    Stop(Target),
    /// `make restart`.
    Restart(Target),
    /// `make status`, printing each worker's output.
    Status(Target),
    /// Any Makefile target: `maand job run <job> --target migrate`.
    Run(RunTarget),
}

/// Which allocations, and what after.
#[derive(clap::Args, Debug)]
pub struct Target {
    /// Job.
    job: String,
    /// Only these workers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    allocations: Vec<String>,
    /// Run the job's health check afterwards (waiting).
    #[arg(long = "health_check")]
    health_check: bool,
    /// Stream hook output.
    #[arg(long)]
    verbose: bool,
    /// JSON Lines on stdout (docs/schema/run-events.schema.json): one
    /// `result` per worker, then a summary; human text to stderr.
    #[arg(long)]
    json: bool,
}

/// `maand job run`.
#[derive(clap::Args, Debug)]
pub struct RunTarget {
    #[command(flatten)]
    target: Target,
    /// The Makefile target (letters, digits, `_`, `.`, `-`).
    #[arg(long = "target", id = "make_target", required = true)]
    target_name: Option<String>,
}

const MAKEFILE: &str = "# Lifecycle targets maand runs on each worker (in /opt/worker/<bucket>/jobs/<job>).
# CURRENT_VERSION and NEW_VERSION are set by deploy.
.PHONY: start stop restart reload status

start:
\t@echo \"starting $(notdir $(CURDIR)) $(NEW_VERSION)\"

stop:
\t@echo \"stopping $(notdir $(CURDIR))\"

restart: stop start

reload:
\t@echo \"reloading $(notdir $(CURDIR))\"

status:
\t@echo \"$(notdir $(CURDIR)) is running\"
";

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &JobArgs) -> Result<()> {
    match &args.command {
        JobCommand::Create { job, selectors } => create(paths, job, selectors),
        JobCommand::Start(t) => lifecycle(paths, open, t, "start"),
        JobCommand::Stop(t) => lifecycle(paths, open, t, "stop"),
        JobCommand::Restart(t) => lifecycle(paths, open, t, "restart"),
        JobCommand::Status(t) => lifecycle(paths, open, t, "status"),
        JobCommand::Run(r) => lifecycle(paths, open, &r.target, r.target_name.as_deref().unwrap_or("")),
    }
}

fn lifecycle(paths: &BucketPaths, open: &OpenOptions, t: &Target, target: &str) -> Result<()> {
    output::set_json(t.json);
    let result = lifecycle_run(paths, open, t, target);
    if let Err(e) = &result
        && e.exit_code() == 1
    {
        output::job_failed(&t.job, e.message());
    }
    output::summary("job", &result, serde_json::json!({}));
    result
}

fn lifecycle_run(paths: &BucketPaths, open: &OpenOptions, t: &Target, target: &str) -> Result<()> {
    // Refused before anything else, let alone SSH.
    if !valid_target(target) {
        return Err(Error::usage(format!(
            "--target {target:?}: a make target may only hold letters, digits, '_', '.' and '-'"
        )));
    }
    let req = JobRequest {
        job: t.job.clone(),
        target: target.to_string(),
        allocations: t.allocations.clone(),
        health_check: t.health_check,
        verbose: t.verbose,
    };
    let run = |session: &mut dyn Recorder| {
        let bucket_id = session
            .state()
            .bucket_id()
            .map(str::to_string)
            .ok_or_else(|| Error::usage("the bucket has no id yet: run `maand init`"))?;
        let transport = Transport::new(session.paths(), session.conf());
        transport.check_local()?;
        crate::ops::job::run(session, &transport, &bucket_id, &req)
    };
    // `status` only reads: it runs beside a deploy (see `cli::detached`);
    // start/stop/restart change workers and stay writers.
    if target == "status" {
        return super::detached::run_check(paths, open, run);
    }
    let mut bucket = super::open_writer(paths, open)?;
    super::in_session(&mut bucket, "job", |session| run(session))
}

fn create(paths: &BucketPaths, job: &str, selectors: &[String]) -> Result<()> {
    check_job_name(job).map_err(Error::usage)?;
    for s in selectors {
        check_label(s).map_err(|e| Error::usage(format!("--selectors: {e}")))?;
    }
    if !paths.workspace().is_dir() {
        return Err(Error::usage(format!("{} has no workspace/: run `maand init` first", paths.root().display())));
    }
    let dir = paths.jobs_dir().join(job);
    if dir.exists() {
        return Err(Error::usage(format!("workspace/jobs/{job} already exists; not overwriting it")));
    }
    let selectors: Vec<String> = if selectors.is_empty() { vec![job.to_string()] } else { selectors.to_vec() };
    let manifest = serde_json::json!({
        "version": "0.1.0",
        "selectors": selectors,
        "max_concurrent_upgrades": 1,
        "max_concurrent_starts": 0,
        "restart_policy": "always",
        "resources": { "ports": {} },
    });
    std::fs::create_dir_all(&dir).map_err(|e| Error::op(format!("creating {}: {e}", dir.display())))?;
    let write = |name: &str, body: &str| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(name))
            .map_err(|e| Error::op(format!("creating workspace/jobs/{job}/{name}: {e}")))?;
        f.write_all(body.as_bytes())?;
        Ok(())
    };
    write("manifest.json", &(serde_json::to_string_pretty(&manifest)? + "\n"))?;
    write("Makefile", MAKEFILE)?;
    println!("created workspace/jobs/{job}/ (manifest.json, Makefile); selectors: {}", selectors.join(","));
    if selectors.iter().any(|s| s != "worker") {
        println!("label workers with {} in workspace/workers.json, then run `maand build`", selectors.join(", "));
    }
    Ok(())
}
