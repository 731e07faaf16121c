//! `maand deploy [--build] [--jobs j1,j2] [--dry-run] [--force] [--sync-only]`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::build::{BuildOptions, run as build};
use crate::deploy::{DeployOptions, DeployReport, run as deploy};
use crate::error::{Error, Result};
use crate::output;
use serde_json::json;

/// Flags of `maand deploy`.
#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    /// Run `maand build` first.
    #[arg(long, short = 'b')]
    pub build: bool,
    /// Only these jobs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Stage and plan (running pre_deploy hooks) but change no worker and persist nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Update every active allocation even when nothing changed.
    #[arg(long)]
    pub force: bool,
    /// Ship files only, never run lifecycle; fails when a first start is needed.
    #[arg(long, conflicts_with = "force")]
    pub sync_only: bool,
    /// Stream hook output.
    #[arg(long)]
    pub verbose: bool,
    /// JSON Lines on stdout (docs/schema/run-events.schema.json): one object
    /// per batch, gate and message, then a summary; human text to stderr.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &DeployArgs) -> Result<()> {
    output::set_json(args.json);
    let result = deploy_run(paths, open, args);
    let fields = match &result {
        Ok(r) => json!({
            "dry_run": args.dry_run, "session": r.session, "update_seq": r.update_seq,
            "promoted": r.promoted, "up_to_date": r.up_to_date,
        }),
        Err(_) => json!({"dry_run": args.dry_run}),
    };
    output::summary("deploy", &result, fields);
    result.map(|_| ())
}

fn deploy_run(paths: &BucketPaths, open: &OpenOptions, args: &DeployArgs) -> Result<DeployReport> {
    let mut bucket = super::open_writer(paths, open)?;
    if args.build {
        let r = build(&mut bucket, &BuildOptions { purge_job_kv: false, verbose: args.verbose })?;
        output::say(&format!("build: {} change(s) (journal session {})", r.changes, r.session));
    }
    if bucket.state.catalog.jobs.is_empty() && bucket.state.deployed.is_empty() {
        return Err(Error::usage("nothing to deploy: the catalog has no jobs (run `maand build`)"));
    }
    let opts = DeployOptions {
        jobs: args.jobs.clone(),
        dry_run: args.dry_run,
        force: args.force,
        sync_only: args.sync_only,
        verbose: args.verbose,
        ..Default::default()
    };
    // Failed and skipped jobs: the summary is the command's error (exit 1).
    let r = deploy(&mut bucket, &opts)?.into_result()?;
    if args.dry_run {
        output::say("dry run: nothing was changed");
        let staged = crate::deploy::stage::workers_dir(paths);
        if staged.exists() {
            output::say(&format!(
                "staged files kept in {} (readable only by you; the next deploy removes them)",
                paths.rel(&staged) + "/"
            ));
        }
    } else {
        output::say(&format!(
            "deploy {}: {} promoted, {} up to date (journal session {})",
            r.update_seq,
            if r.promoted.is_empty() { "nothing".to_string() } else { r.promoted.join(", ") },
            r.up_to_date.len(),
            r.session
        ));
    }
    Ok(r)
}
