//! Command-line interface of `maand`: clap definitions and dispatch. One
//! file per command; each is thin and delegates to the library.

mod build;
mod cat;
mod deploy;
mod detached;
mod gc;
mod health_check;
mod hooks;
mod info;
mod init;
mod job;
pub mod legacy;
mod logs;
mod rollback;
mod run_command;
pub mod shell_docs;
mod table;
mod worker_facts;
mod worker_selection;

use crate::bucket::{Bucket, BucketPaths, OpenOptions, Session, session_info};
use crate::error::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// maand: agentless workload orchestrator.
#[derive(Parser, Debug)]
#[command(name = "maand", version, about, long_about = None)]
pub struct Cli {
    /// Bucket directory (default: the current directory).
    #[arg(long, global = true, env = "MAAND_BUCKET", value_name = "DIR")]
    pub bucket: Option<PathBuf>,

    /// Wait up to this many seconds for a busy bucket instead of failing.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    pub lock_wait: u64,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// maand's commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a bucket here (or in --bucket), or upgrade an existing one,
    /// keeping its id, CA and keys.
    Init,
    /// Show the bucket's identity, counts and journal size.
    Info(info::InfoArgs),
    /// Compile the workspace (workers, jobs, KV, certificates) into the
    /// catalog. Never contacts workers.
    Build(build::BuildArgs),
    /// List the catalog and KV (read-only; `--json` for scripts).
    Cat(cat::CatArgs),
    /// Job commands: create, start, stop, restart, status, run.
    Job(job::JobArgs),
    /// Run a shell command on workers.
    #[command(name = "run_command")]
    RunCommand(run_command::RunCommandArgs),
    /// Check workers (SSH port) and jobs (probes, health_check hooks).
    #[command(name = "health_check")]
    HealthCheck(health_check::HealthCheckArgs),
    /// Probe workers' memory and CPU into workspace/workers.json.
    #[command(name = "worker_facts")]
    WorkerFacts(worker_facts::WorkerFactsArgs),
    /// Remove what is no longer needed from workers and state (not from the journal).
    Gc(gc::GcArgs),
    /// Structured logs: `maand logs show`.
    Logs(logs::LogsArgs),
    /// Run a hook registered for the `cli` event.
    Hooks(hooks::HooksArgs),
    /// Ship jobs to workers and roll them out in health-gated batches.
    Deploy(deploy::DeployArgs),
    /// Put jobs back to what was promoted at an earlier deploy, session or event.
    Rollback(rollback::RollbackArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(shell_docs::CompletionsArgs),
    /// Print the man page, or write every command's page with --dir.
    Man(shell_docs::ManArgs),
}

impl Cli {
    fn paths(&self) -> BucketPaths {
        BucketPaths::new(self.bucket.as_deref().unwrap_or_else(|| std::path::Path::new(".")))
    }

    /// Options for opening the bucket as a writer for `command`.
    pub fn open_options(&self, command: &str) -> OpenOptions {
        OpenOptions { command: command.to_string(), lock_wait: Duration::from_secs(self.lock_wait) }
    }
}

/// Every writer command starts here: open the bucket for writing (lock,
/// crash recovery, state) and tell the operator what opening did — a
/// session of a dead process marked aborted, a lock taken over.
pub(crate) fn open_writer(paths: &BucketPaths, open: &OpenOptions) -> Result<Bucket> {
    let bucket = Bucket::open(paths.clone(), open)?;
    for note in &bucket.notes {
        eprintln!("note: {note}");
    }
    Ok(bucket)
}

/// Run `f` in a new session of `command` on `bucket`: committed when `f`
/// succeeds, ended as failed (and the error handed back) when it fails.
pub(crate) fn in_session<T>(
    bucket: &mut Bucket,
    command: &str,
    f: impl FnOnce(&mut Session<'_>) -> Result<T>,
) -> Result<T> {
    let mut session = bucket.begin(session_info(command))?;
    let result = f(&mut session);
    session.finish(result)
}

/// Run the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let paths = cli.paths();
    match &cli.command {
        Command::Init => init::run(&paths, Duration::from_secs(cli.lock_wait)),
        Command::Info(args) => info::run(&paths, args),
        Command::Build(args) => build::run(&paths, &cli.open_options("build"), args),
        Command::Cat(args) => cat::run(&paths, args),
        Command::Job(args) => job::run(&paths, &cli.open_options("job"), args),
        Command::RunCommand(args) => run_command::run(&paths, &cli.open_options("run_command"), args),
        Command::HealthCheck(args) => health_check::run(&paths, &cli.open_options("health_check"), args),
        Command::WorkerFacts(args) => worker_facts::run(&paths, &cli.open_options("worker_facts"), args),
        Command::Gc(args) => gc::run(&paths, &cli.open_options("gc"), args),
        Command::Logs(args) => logs::run(&paths, args),
        Command::Hooks(args) => hooks::run(&paths, &cli.open_options("hooks"), args),
        Command::Deploy(args) => deploy::run(&paths, &cli.open_options("deploy"), args),
        Command::Rollback(args) => rollback::run(&paths, &cli.open_options("rollback"), args),
        Command::Completions(args) => shell_docs::completions(<Cli as clap::CommandFactory>::command(), args),
        Command::Man(args) => shell_docs::man(<Cli as clap::CommandFactory>::command(), args),
    }
}
