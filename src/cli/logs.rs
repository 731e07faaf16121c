//! `maand logs show [--worker IP] [--run N] [--job J] [--phase P] [--event E]
//! [--tail N] [--format raw|human]`.

use crate::bucket::{BucketPaths, BucketView};
use crate::error::{Error, Result};
use crate::logs::parse_line;
use clap::{Args, Subcommand, ValueEnum};

/// `maand logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(subcommand)]
    command: LogsCommand,
}

#[derive(Subcommand, Debug)]
enum LogsCommand {
    /// Show log records, filtered.
    Show(ShowArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Format {
    /// The lines as written.
    Raw,
    /// Command blocks with their records.
    Human,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// Only records about this worker (reads logs/<worker>.log).
    #[arg(long)]
    worker: Option<String>,
    /// Only this run (journal session id; reads logs/runs/<run>/maand.log).
    #[arg(long)]
    run: Option<u64>,
    /// Only this job.
    #[arg(long)]
    job: Option<String>,
    /// Only this phase (hook event, lifecycle phase, make target).
    #[arg(long)]
    phase: Option<String>,
    /// Only this event (command_begin, hook_output, lifecycle, output, ...).
    #[arg(long)]
    event: Option<String>,
    /// Only the last N records.
    #[arg(long)]
    tail: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub(super) fn run(paths: &BucketPaths, args: &LogsArgs) -> Result<()> {
    let LogsCommand::Show(a) = &args.command;
    BucketView::open(paths.clone())?;
    let file = match (&a.run, &a.worker) {
        (Some(r), _) => paths.logs().join("runs").join(r.to_string()).join("maand.log"),
        (None, Some(w)) => paths.logs().join(format!("{w}.log")),
        (None, None) => paths.logs().join("maand.log"),
    };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!("no log at {} (nothing logged for that selection)", paths.rel(&file))));
        }
        Err(e) => return Err(Error::op(format!("{}: {e}", file.display()))),
    };
    let matches = |rec: &std::collections::BTreeMap<String, String>| {
        let is = |k: &str, want: &Option<String>| want.as_ref().is_none_or(|w| rec.get(k) == Some(w));
        match rec.get("event").map(String::as_str) {
            // Run boundaries frame the blocks unless events are filtered.
            Some("command_begin" | "command_end") => is("event", &a.event),
            _ => is("job", &a.job) && is("phase", &a.phase) && is("event", &a.event) && is("worker", &a.worker),
        }
    };
    let mut lines: Vec<(&str, std::collections::BTreeMap<String, String>)> =
        text.lines().filter_map(|l| parse_line(l).map(|r| (l, r))).filter(|(_, r)| matches(r)).collect();
    if let Some(n) = a.tail {
        let skip = lines.len().saturating_sub(n);
        lines.drain(..skip);
    }
    for (raw, rec) in &lines {
        if a.format == Format::Raw {
            println!("{raw}");
            continue;
        }
        let get = |k: &str| rec.get(k).map(String::as_str).unwrap_or("");
        match get("event") {
            "command_begin" => println!("=== run {} · {} · {} — {}", get("run"), get("command"), get("ts"), get("msg")),
            "command_end" => println!("=== end of run {}: {} ({})", get("run"), get("msg"), get("ts")),
            ev => {
                let who = match (get("job"), get("worker")) {
                    ("", "") => String::new(),
                    ("", w) => format!("{w} "),
                    (j, "") => format!("{j} "),
                    (j, w) => format!("{j}@{w} "),
                };
                let mark = if get("stream") == "stderr" { "!" } else { "|" };
                let phase = if get("phase").is_empty() { String::new() } else { format!("[{}] ", get("phase")) };
                println!("  {} {who}{phase}{ev} {mark} {}", &get("ts").get(11..23).unwrap_or(""), get("msg"));
            }
        }
    }
    Ok(())
}
