//! `maand rollback <job>[,<job>…] --to <seq|sN|dN> [--dry-run] [--no-kv]`, `maand rollback --release <job>…`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::error::Result;
use crate::history::Point;
use crate::rollback::{RollbackOptions, run as rollback};

/// Flags of `maand rollback`.
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    /// Jobs to roll back (comma-separated).
    #[arg(value_delimiter = ',', required = true)]
    pub jobs: Vec<String>,
    /// The point to go back to: a deploy (`d7`), a session (`s23`) or an event (`123`).
    #[arg(long, required_unless_present = "release")]
    pub to: Option<String>,
    /// Release pinned (rolled-back) jobs: build and deploy handle them again.
    #[arg(long, conflicts_with_all = ["to", "dry_run", "no_kv", "write_workspace"])]
    pub release: bool,
    /// Stage the recorded bytes and print per allocation what would change; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Leave the jobs' KV (vars/job, secrets/job) as it is now.
    #[arg(long)]
    pub no_kv: bool,
    /// After the rollout, write the rolled-back release's sources back into workspace/jobs/<job>/.
    #[arg(long, conflicts_with = "dry_run")]
    pub write_workspace: bool,
    /// Stream hook output.
    #[arg(long)]
    pub verbose: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &RollbackArgs) -> Result<()> {
    if args.release {
        let mut bucket = super::open_writer(paths, open)?;
        crate::rollback::release(&mut bucket, &args.jobs)?;
        println!("released {}: build and deploy handle it again", args.jobs.join(", "));
        return Ok(());
    }
    let to = args.to.as_deref().unwrap_or_default().parse::<Point>()?;
    let mut bucket = super::open_writer(paths, open)?;
    let opts = RollbackOptions {
        jobs: args.jobs.clone(),
        to,
        dry_run: args.dry_run,
        kv: !args.no_kv,
        verbose: args.verbose,
        write_workspace: args.write_workspace,
    };
    let r = rollback(&mut bucket, &opts)?;
    if args.dry_run {
        println!("dry run: nothing was changed");
    } else {
        println!(
            "rollback (deploy {}): {} promoted, {} up to date (journal session {})",
            r.update_seq,
            if r.promoted.is_empty() { "nothing".to_string() } else { r.promoted.join(", ") },
            r.up_to_date.len(),
            r.session
        );
    }
    let pinned = if args.dry_run {
        String::new()
    } else {
        format!(
            "; {} pinned: build and deploy skip it until `maand rollback --release {}` or a change to its workspace files",
            args.jobs.join(", "),
            args.jobs.join(",")
        )
    };
    if args.write_workspace && !args.dry_run {
        println!("note: the workspace holds the rolled-back sources again{pinned}");
    } else {
        println!(
            "note: the workspace files were not touched; they still hold the newer release{pinned} \
             (`--write-workspace` writes the old ones back)"
        );
    }
    Ok(())
}
