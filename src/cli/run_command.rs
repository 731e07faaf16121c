//! `maand run_command "<sh>" [-w ips | -l labels] [-c N] [--health_check]`.

use super::worker_selection::WorkerSelection;
use crate::bucket::{BucketPaths, OpenOptions};
use crate::error::{Error, Result};
use crate::ops::run_command;
use crate::output;
use crate::transport::Transport;

/// Flags of `maand run_command`.
#[derive(clap::Args, Debug)]
pub struct RunCommandArgs {
    /// The shell command (run with bash in /opt/worker/<bucket_id>).
    pub command: String,
    /// Which workers to run on.
    #[command(flatten)]
    pub select: WorkerSelection,
    /// How many workers at a time.
    #[arg(short = 'c', long = "concurrency", default_value_t = 4)]
    pub concurrency: usize,
    /// Run `maand health_check` afterwards.
    #[arg(long = "health_check")]
    pub health_check: bool,
    /// JSON Lines on stdout (docs/schema/run-events.schema.json): one
    /// `result` per worker, then a summary; human text to stderr.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &RunCommandArgs) -> Result<()> {
    output::set_json(args.json);
    let result = command_run(paths, open, args);
    output::summary("run_command", &result, serde_json::json!({}));
    result
}

fn command_run(paths: &BucketPaths, open: &OpenOptions, args: &RunCommandArgs) -> Result<()> {
    if args.concurrency == 0 {
        return Err(Error::usage("-c: concurrency must be at least 1"));
    }
    let mut bucket = super::open_writer(paths, open)?;
    let bucket_id = bucket.require_id()?;
    let ips = args.select.resolve(&bucket.state)?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_local()?;
    super::in_session(&mut bucket, "run_command", |session| {
        run_command::run(session, &transport, &bucket_id, &ips, &args.command, args.concurrency)?;
        if args.health_check {
            super::health_check::check_all(session, &transport, &[], false, false)?;
        }
        Ok(())
    })
}
