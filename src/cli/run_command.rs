//! `maand run_command "<sh>" [-w ips | -l labels] [-c N] [--health_check]`.

use crate::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use crate::error::{Error, Result};
use crate::ops::{run_command, select_workers};
use crate::transport::Transport;

/// Flags of `maand run_command`.
#[derive(clap::Args, Debug)]
pub struct RunCommandArgs {
    /// The shell command (run with bash in /opt/worker/<bucket_id>).
    pub command: String,
    /// Only these workers (comma-separated addresses).
    #[arg(short = 'w', long = "workers", value_delimiter = ',', conflicts_with = "labels")]
    pub workers: Vec<String>,
    /// Only workers carrying all these labels (comma-separated).
    #[arg(short = 'l', long = "labels", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// How many workers at a time.
    #[arg(short = 'c', long = "concurrency", default_value_t = 4)]
    pub concurrency: usize,
    /// Run `maand health_check` afterwards.
    #[arg(long = "health_check")]
    pub health_check: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &RunCommandArgs) -> Result<()> {
    if args.concurrency == 0 {
        return Err(Error::usage("-c: concurrency must be at least 1"));
    }
    let mut bucket = Bucket::open(paths.clone(), open)?;
    let bucket_id =
        bucket.state.bucket_id().ok_or_else(|| Error::usage("the bucket has no id yet: run `maand init`"))?.to_string();
    let ips = select_workers(&bucket.state, &args.workers, &args.labels)?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_key()?;
    let mut session = bucket.begin(session_info("run_command"))?;
    let mut result = run_command::run(&mut session, &transport, &bucket_id, &ips, &args.command, args.concurrency);
    if result.is_ok() && args.health_check {
        result = super::health_check::check_all(&mut session, &transport, &[], false, false);
    }
    match result {
        Ok(()) => session.commit(),
        Err(e) => {
            session.fail(&e)?;
            Err(e)
        }
    }
}
