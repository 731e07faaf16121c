//! `maand build [--purge-job-kv]`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::build::{BuildOptions, run as build};
use crate::error::Result;

/// Flags of `maand build`.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// Also clear vars/job/<job> and secrets/job/<job> of jobs that have no
    /// active allocation.
    #[arg(long)]
    pub purge_job_kv: bool,
    /// Stream `post_build` hook output as `job@worker | line`.
    #[arg(long)]
    pub verbose: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &BuildArgs) -> Result<()> {
    let mut bucket = super::open_writer(paths, open)?;
    let r = build(&mut bucket, &BuildOptions { purge_job_kv: args.purge_job_kv, verbose: args.verbose })?;
    // The process ends after this command: freeing a state of 100,000s of
    // entries one by one is time the operator waits for and nothing else.
    std::mem::forget(std::mem::take(&mut bucket.state));
    let (total, disabled, removed) = r.allocations;
    println!(
        "catalog: {} workers, {} jobs, {} allocations ({} disabled, {} removed)",
        r.workers, r.jobs, total, disabled, removed
    );
    if r.changes == 0 {
        println!("nothing changed (journal session {})", r.session);
    } else {
        println!(
            "recorded {} change(s){} in journal session {}",
            r.changes,
            if r.certs_issued > 0 { format!(", issued {} certificate(s)", r.certs_issued) } else { String::new() },
            r.session
        );
    }
    Ok(())
}
