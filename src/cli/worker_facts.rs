//! `maand worker_facts [-w ips | -l labels] [-c N] [--dry-run] [--build]`.

use super::worker_selection::WorkerSelection;
use crate::bucket::{BucketPaths, OpenOptions};
use crate::build::{BuildOptions, run as build};
use crate::error::{Error, Result};
use crate::ops::worker_facts;
use crate::transport::Transport;

/// Flags of `maand worker_facts`.
#[derive(clap::Args, Debug)]
pub struct WorkerFactsArgs {
    /// Which workers to probe.
    #[command(flatten)]
    pub select: WorkerSelection,
    /// How many workers at a time.
    #[arg(short = 'c', long = "concurrency", default_value_t = 1)]
    pub concurrency: usize,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run `maand build` afterwards.
    #[arg(long)]
    pub build: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &WorkerFactsArgs) -> Result<()> {
    if args.concurrency == 0 {
        return Err(Error::usage("-c: concurrency must be at least 1"));
    }
    let mut bucket = super::open_writer(paths, open)?;
    let ips = args.select.resolve(&bucket.state)?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_local()?;
    let facts = super::in_session(&mut bucket, "worker_facts", |session| {
        worker_facts::probe(session, &transport, &ips, args.concurrency)
    })?;
    let changes = worker_facts::apply(paths, &facts, !args.dry_run)?;
    if changes.is_empty() {
        println!("workspace/workers.json is already up to date");
    } else {
        for c in &changes {
            println!("{}{c}", if args.dry_run { "would change " } else { "" });
        }
    }
    if args.build && !args.dry_run {
        let r = build(&mut bucket, &BuildOptions::default())?;
        println!("build: {} change(s) (journal session {})", r.changes, r.session);
    }
    Ok(())
}
