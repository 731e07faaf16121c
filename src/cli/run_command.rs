//! `maand run_command ["<sh>"] [-w ips | -l labels] [-c N] [--health_check]`.
//! Without a command, `workspace/command.sh` runs (the original's habit).

use super::worker_selection::WorkerSelection;
use crate::bucket::{BucketPaths, OpenOptions};
use crate::error::{Error, Result};
use crate::ops::run_command;
use crate::output;
use crate::transport::Transport;

/// Flags of `maand run_command`.
#[derive(clap::Args, Debug)]
pub struct RunCommandArgs {
    /// The shell command (run with bash in /opt/worker/<bucket_id>);
    /// default: the contents of workspace/command.sh.
    pub command: Option<String>,
    /// Which workers to run on.
    #[command(flatten)]
    pub select: WorkerSelection,
    /// How many workers at a time (one batch); the first failing batch
    /// stops the run.
    #[arg(short = 'c', long = "concurrency", default_value_t = 1)]
    pub concurrency: usize,
    /// After every batch, gate on every job's health (probes and
    /// health_check hooks, waiting as `maand health_check --wait`).
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
    let command = command_text(paths, args.command.as_deref())?;
    let mut bucket = super::open_writer(paths, open)?;
    let bucket_id = bucket.require_id()?;
    let ips = args.select.resolve(&bucket.state)?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_local()?;
    let health_check = args.health_check;
    super::in_session(&mut bucket, "run_command", |session| {
        run_command::run(session, &transport, &bucket_id, &ips, &command, args.concurrency, &mut |session| {
            if health_check { super::health_check::check_all(session, &transport, &[], true, false) } else { Ok(()) }
        })
    })
}

/// The command given, or the contents of `workspace/command.sh`.
fn command_text(paths: &BucketPaths, given: Option<&str>) -> Result<String> {
    if let Some(c) = given.filter(|c| !c.trim().is_empty()) {
        return Ok(c.to_string());
    }
    let file = paths.workspace().join("command.sh");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(
                "no command given and workspace/command.sh is missing: give one, e.g. `maand run_command uptime`",
            ));
        }
        Err(e) => return Err(Error::input(format!("workspace/command.sh: cannot read: {e}"))),
    };
    if text.trim().is_empty() {
        return Err(Error::input("workspace/command.sh is empty: put the commands to run in it"));
    }
    Ok(text)
}
