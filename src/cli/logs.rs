//! `maand logs show [--worker IP] [--run N [--run-dir]] [--job J] [--phase P]
//! [--event E] [--tail N] [--format raw|human]`.

use crate::bucket::{BucketPaths, BucketView};
use crate::error::{Error, Result};
use crate::logs::parse_line;
use clap::{Args, Subcommand, ValueEnum};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Read the run's directory (logs/runs/<run>/: every file, or
    /// <worker>.log with --worker) instead of the aggregate logs, as the
    /// original's `--run-dir`.
    #[arg(long = "run-dir", requires = "run")]
    run_dir: bool,
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
    let text = if a.run_dir { read_run_dir(paths, a)? } else { read_one(paths, a)? };
    let records: Vec<(&str, BTreeMap<String, String>)> =
        text.lines().filter_map(|l| parse_line(l).map(|r| (l, r))).collect();
    let mut lines = filter_records(records, a);
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

fn read_file(paths: &BucketPaths, file: &std::path::Path) -> Result<String> {
    match std::fs::read_to_string(file) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::usage(format!("no log at {} (nothing logged for that selection)", paths.rel(file))))
        }
        Err(e) => Err(Error::op(format!("{}: {e}", file.display()))),
    }
}

/// The one aggregate file the selection reads.
fn read_one(paths: &BucketPaths, a: &ShowArgs) -> Result<String> {
    let file = match (&a.run, &a.worker) {
        (Some(r), _) => paths.logs().join("runs").join(r.to_string()).join("maand.log"),
        (None, Some(w)) => paths.logs().join(format!("{w}.log")),
        (None, None) => paths.logs().join("maand.log"),
    };
    read_file(paths, &file)
}

/// `--run-dir`: the run's `<worker>.log`, or its `maand.log` (which holds
/// every record of the run, the workers' included).
fn read_run_dir(paths: &BucketPaths, a: &ShowArgs) -> Result<String> {
    let dir = paths.logs().join("runs").join(a.run.unwrap_or_default().to_string());
    match &a.worker {
        Some(w) => read_file(paths, &dir.join(format!("{w}.log"))),
        None => read_file(paths, &dir.join("maand.log")),
    }
}

/// The records `a`'s filters select. Every filter applies to every line: a
/// run's `command_begin`/`command_end` frame is kept only around runs that
/// have a selected record (or when no job/phase/worker filter is given).
fn filter_records<'a>(
    records: Vec<(&'a str, BTreeMap<String, String>)>,
    a: &ShowArgs,
) -> Vec<(&'a str, BTreeMap<String, String>)> {
    let is = |rec: &BTreeMap<String, String>, k: &str, want: &Option<String>| {
        want.as_ref().is_none_or(|w| rec.get(k) == Some(w))
    };
    let framing = |rec: &BTreeMap<String, String>| {
        matches!(rec.get("event").map(String::as_str), Some("command_begin" | "command_end"))
    };
    let about = |rec: &BTreeMap<String, String>| {
        is(rec, "job", &a.job) && is(rec, "phase", &a.phase) && is(rec, "worker", &a.worker)
    };
    let narrowed = a.job.is_some() || a.phase.is_some() || a.worker.is_some();
    let runs: BTreeSet<String> =
        records.iter().filter(|(_, r)| !framing(r) && about(r)).filter_map(|(_, r)| r.get("run").cloned()).collect();
    records
        .into_iter()
        .filter(|(_, r)| {
            if framing(r) {
                is(r, "event", &a.event) && (!narrowed || r.get("run").is_some_and(|run| runs.contains(run)))
            } else {
                about(r) && is(r, "event", &a.event)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ShowArgs,
    }

    fn rec(run: &str, event: &str, job: &str) -> (&'static str, BTreeMap<String, String>) {
        let mut r = BTreeMap::new();
        r.insert("run".to_string(), run.to_string());
        r.insert("event".to_string(), event.to_string());
        if !job.is_empty() {
            r.insert("job".to_string(), job.to_string());
        }
        ("", r)
    }

    fn shown(args: &[&str]) -> Vec<(String, String)> {
        let a = T::parse_from(std::iter::once("t").chain(args.iter().copied())).a;
        let records = vec![
            rec("1", "command_begin", ""),
            rec("1", "lifecycle", "web"),
            rec("1", "command_end", ""),
            rec("2", "command_begin", ""),
            rec("2", "lifecycle", "db"),
            rec("2", "command_end", ""),
        ];
        filter_records(records, &a).into_iter().map(|(_, r)| (r["run"].clone(), r["event"].clone())).collect()
    }

    #[test]
    fn a_job_filter_drops_unrelated_runs_and_their_frames() {
        let s = |r: &str, e: &str| (r.to_string(), e.to_string());
        assert_eq!(shown(&["--job", "web"]), [s("1", "command_begin"), s("1", "lifecycle"), s("1", "command_end")]);
        assert_eq!(shown(&[]).len(), 6, "no filter: everything");
        assert_eq!(shown(&["--event", "command_begin"]), [s("1", "command_begin"), s("2", "command_begin")]);
        assert!(shown(&["--job", "nope"]).is_empty());
    }
}
