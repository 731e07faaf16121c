//! `maand hooks <hook_name> [job] [--verbose]`: run a hook registered for
//! the `cli` event on every non-removed allocation (disabled included, seed
//! 001's worker table); its KV writes commit when it succeeds. There is no
//! worker filter: one worker is `maand job run <job> --allocations <ip>`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::error::{Error, Result};
use crate::hooks::{HookRequest, run_hooks};
use crate::output;
use crate::workspace::manifest::HookEvent;
use crate::workspace::names::check_cli_hook_name;
use std::collections::BTreeMap;

/// Flags of `maand hooks`.
#[derive(clap::Args, Debug)]
pub struct HooksArgs {
    /// The hook, e.g. `hook_status`.
    pub hook: String,
    /// Only this job (default: every job registering the hook for `cli`).
    pub job: Option<String>,
    /// Refused with a pointer to `maand job run --allocations` (the flag
    /// an earlier release had; kept hidden so its use gets that message).
    #[arg(long, hide = true)]
    pub allocations: Option<String>,
    /// Stream each hook's output as `job@worker | line`.
    #[arg(long)]
    pub verbose: bool,
    /// JSON Lines on stdout (docs/schema/run-events.schema.json): one
    /// `result` per hook run, then a summary; human text to stderr.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &HooksArgs) -> Result<()> {
    output::set_json(args.json);
    let result = hooks_run(paths, open, args);
    let fields = match &result {
        Ok(id) => serde_json::json!({ "session": id }),
        Err(_) => serde_json::json!({}),
    };
    output::summary("hooks", &result, fields);
    result.map(|_| ())
}

fn hooks_run(paths: &BucketPaths, open: &OpenOptions, args: &HooksArgs) -> Result<u64> {
    if args.allocations.is_some() {
        return Err(Error::usage(
            "maand hooks has no worker filter: cli hooks run on every non-removed allocation of the job \
             (disabled included); to run on some workers, register the hook for job_control and use \
             `maand job run <job> --target <target> --allocations <ips>`",
        ));
    }
    check_cli_hook_name(&args.hook).map_err(Error::usage)?;
    let mut bucket = super::open_writer(paths, open)?;
    let cat = &bucket.state.catalog;
    let registers = |job: &str| {
        cat.jobs
            .get(job)
            .and_then(|j| j.spec.hooks.get(&args.hook))
            .is_some_and(|h| h.executed_on.iter().any(|e| e == "cli"))
    };
    let mut jobs: Vec<String> = match &args.job {
        Some(j) if !cat.jobs.contains_key(j) => {
            return Err(Error::usage(format!("unknown job {j:?} (see `maand cat jobs`)")));
        }
        Some(j) if !registers(j) => {
            return Err(Error::usage(format!(
                "job {j} has no hook {} registered for \"cli\" (see `maand cat hooks --jobs {j}`)",
                args.hook
            )));
        }
        Some(j) => vec![j.clone()],
        None => cat.jobs.keys().filter(|j| registers(j)).cloned().collect(),
    };
    if jobs.is_empty() {
        return Err(Error::usage(format!("no job registers hook {} for \"cli\" (see `maand cat hooks`)", args.hook)));
    }
    jobs.sort_by_key(|j| (cat.jobs[j].spec.deployment_seq, j.clone()));
    let req = HookRequest {
        event: HookEvent::Cli,
        hook: Some(&args.hook),
        jobs: jobs.clone(),
        filter: None,
        phase: "cli",
        verbose: args.verbose,
        extra: BTreeMap::new(),
        lifecycle: None,
    };
    let id = super::in_session(&mut bucket, "hooks", |session| {
        run_hooks(session, &req).inspect_err(|e| failed_job(&jobs, e))?;
        Ok(session.id())
    })?;
    output::say(&format!("{} ran for {} (journal session {id})", args.hook, jobs.join(", ")));
    Ok(id)
}

/// Note which of `jobs` a hook failure belongs to (its message names it:
/// "hook h of job j ...").
fn failed_job(jobs: &[String], e: &Error) {
    let msg = e.message();
    if let Some(job) = jobs.iter().find(|j| msg.contains(&format!(" of job {j} "))) {
        output::job_failed(job, msg);
    }
}
