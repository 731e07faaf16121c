//! `maand rollback <job>[,<job>…] --to <seq|sN|dN> [--dry-run] [--no-kv]`.

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
    #[arg(long)]
    pub to: String,
    /// Stage the recorded bytes and print per allocation what would change; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Leave the jobs' KV (vars/job, secrets/job) as it is now.
    #[arg(long)]
    pub no_kv: bool,
    /// Stream hook output.
    #[arg(long)]
    pub verbose: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &RollbackArgs) -> Result<()> {
    let to = args.to.parse::<Point>()?;
    let mut bucket = super::open_writer(paths, open)?;
    let opts =
        RollbackOptions { jobs: args.jobs.clone(), to, dry_run: args.dry_run, kv: !args.no_kv, verbose: args.verbose };
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
    println!(
        "note: the workspace files were not touched; they still hold the newer release \
         (`maand build` and `maand deploy` would roll it forward)"
    );
    Ok(())
}
