//! `maand-journal`: read a bucket's journal: list sessions, show events,
//! verify the hash chain and projection, export, rebuild the projection.
//! Read-only except `rebuild-db`.

mod audit;
mod diff;
mod export;
mod head;
mod rebuild_db;
mod replay;
mod sessions;
mod show;
mod timeline;
mod verify;

use clap::{Parser, Subcommand};
use maand::bucket::BucketPaths;
use maand::error::Result;
use std::path::PathBuf;

// Same allocator as `maand`: state loading decodes many small strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Audit tool for maand buckets.
#[derive(Parser, Debug)]
#[command(name = "maand-journal", version, about)]
struct Cli {
    /// Bucket directory (default: the current directory).
    #[arg(long, global = true, env = "MAAND_BUCKET", value_name = "DIR")]
    bucket: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List sessions (one per command run).
    Sessions(sessions::Args),
    /// Show the events of a session (`7`) or of a sequence range (`10..20`).
    Show(show::Args),
    /// Check the hash chain, snapshots, session index and projection; with
    /// --allowed-signers, every session's signature.
    Verify(verify::Args),
    /// Print the chain head's hash and sequence number (to anchor elsewhere).
    Head(head::Args),
    /// Recreate data/maand.db from the journal.
    RebuildDb,
    /// Print every event as one JSON object per line.
    Export(export::Args),
    /// A session's timeline: waves, batches, lifecycle, hooks, health, KV, outcome.
    Audit(audit::Args),
    /// State at any point; with --check, the rollout determinism check.
    Replay(replay::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(maand::cli::shell_docs::CompletionsArgs),
    /// Print the man page, or write every command's page with --dir.
    Man(maand::cli::shell_docs::ManArgs),
    /// What changed between two points (events, sN sessions, dN deploys, head).
    Diff(diff::Args),
    /// A deploy's timeline: terminal Gantt chart, or a self-contained HTML page.
    Timeline(timeline::Args),
}

fn main() {
    maand::process::setup();
    let cli = Cli::parse();
    let paths = BucketPaths::new(cli.bucket.as_deref().unwrap_or_else(|| std::path::Path::new(".")));
    let result: Result<i32> = maand::process::guard_journal(&paths.journal(), || run(&cli, &paths));
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("maand-journal: error: {}", maand::process::render_error(&e));
            std::process::exit(e.exit_code());
        }
    }
}

fn run(cli: &Cli, paths: &BucketPaths) -> Result<i32> {
    match &cli.command {
        Command::Sessions(a) => sessions::run(paths, a).map(|_| 0),
        Command::Show(a) => show::run(paths, a).map(|_| 0),
        Command::Verify(a) => verify::run(paths, a),
        Command::Head(a) => head::run(paths, a).map(|_| 0),
        Command::RebuildDb => rebuild_db::run(paths).map(|_| 0),
        Command::Export(a) => export::run(paths, a).map(|_| 0),
        Command::Audit(a) => audit::run(paths, a).map(|_| 0),
        Command::Replay(a) => replay::run(paths, a),
        Command::Diff(a) => diff::run(paths, a).map(|_| 0),
        Command::Timeline(a) => timeline::run(paths, a).map(|_| 0),
        Command::Completions(a) => {
            maand::cli::shell_docs::completions(<Cli as clap::CommandFactory>::command(), a).map(|_| 0)
        }
        Command::Man(a) => maand::cli::shell_docs::man(<Cli as clap::CommandFactory>::command(), a).map(|_| 0),
    }
}
