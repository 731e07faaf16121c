//! `maand deploy [--build] [--jobs j1,j2] [--dry-run] [--force] [--sync-only]`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::build::{BuildOptions, run as build};
use crate::deploy::{DeployOptions, run as deploy};
use crate::error::{Error, Result};

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
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &DeployArgs) -> Result<()> {
    let mut bucket = super::open_writer(paths, open)?;
    if args.build {
        let r = build(&mut bucket, &BuildOptions { purge_job_kv: false, verbose: args.verbose })?;
        println!("build: {} change(s) (journal session {})", r.changes, r.session);
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
        println!("dry run: nothing was changed");
        let staged = crate::deploy::stage::workers_dir(paths);
        if staged.exists() {
            println!(
                "staged files kept in {} (readable only by you; the next deploy removes them)",
                paths.rel(&staged) + "/"
            );
        }
    } else {
        println!(
            "deploy {}: {} promoted, {} up to date (journal session {})",
            r.update_seq,
            if r.promoted.is_empty() { "nothing".to_string() } else { r.promoted.join(", ") },
            r.up_to_date.len(),
            r.session
        );
    }
    Ok(())
}
