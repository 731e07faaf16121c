//! Where a command's output goes: human text, or JSON Lines for scripts.
//!
//! With `--json` (`deploy`, `job`, `hooks`, `health_check`, `run_command`)
//! stdout carries only JSON objects, one a line, each with a `type`
//! (`docs/schema/run-events.schema.json`): `message`, `batch`, `gate`,
//! `result`, and last a `summary` listing failed and skipped jobs. Human
//! text (progress, hook output) then goes to stderr, so a script reads
//! stdout and a person still sees what happens.
//!
//! The mode is process-wide: a command sets it once, before any output.

use serde_json::{Value, json};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// Jobs that failed or were skipped in this run, for the summary.
static OUTCOMES: Mutex<Outcomes> = Mutex::new(Outcomes { failed: Vec::new(), skipped: Vec::new() });

struct Outcomes {
    failed: Vec<(String, String)>,
    skipped: Vec<(String, String)>,
}

/// Switch this process to JSON Lines output (human text to stderr).
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::SeqCst);
}

/// Whether stdout carries JSON Lines.
pub fn json() -> bool {
    JSON.load(Ordering::SeqCst)
}

/// Print a line of human text: stdout, or stderr under `--json`; under
/// `--json` a `message` object is also emitted.
pub fn say(line: &str) {
    if json() {
        eprintln!("{line}");
        emit(json!({"type": "message", "text": line}));
    } else {
        println!("{line}");
    }
}

/// Print a line of streamed text (hook or command output) that is not a
/// result: stdout, or stderr under `--json`.
pub fn stream(line: &str) {
    if json() {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    } else {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// Emit one JSON object (a no-op without `--json`). One `write` per line,
/// so lines from parallel workers never interleave.
pub fn emit(value: Value) {
    if json() {
        let mut line = value.to_string();
        line.push('\n');
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

/// Note that `job` failed, with why, for the summary.
pub fn job_failed(job: &str, reason: &str) {
    let mut o = OUTCOMES.lock().unwrap_or_else(|p| p.into_inner());
    if !o.failed.iter().any(|(j, _)| j == job) {
        o.failed.push((job.to_string(), reason.to_string()));
    }
}

/// Note that `job` was skipped, with why, for the summary.
pub fn job_skipped(job: &str, reason: &str) {
    let mut o = OUTCOMES.lock().unwrap_or_else(|p| p.into_inner());
    if !o.skipped.iter().any(|(j, _)| j == job) {
        o.skipped.push((job.to_string(), reason.to_string()));
    }
}

/// Emit the final `summary` object of `command` with its `result`, merging
/// the command's own `fields` (an object). The error's message and exit code
/// are included on failure.
pub fn summary<T>(command: &str, result: &crate::error::Result<T>, fields: Value) {
    if !json() {
        return;
    }
    let o = OUTCOMES.lock().unwrap_or_else(|p| p.into_inner());
    let list = |v: &[(String, String)]| -> Value {
        v.iter().map(|(job, reason)| json!({"job": job, "reason": reason})).collect()
    };
    let mut s = json!({
        "type": "summary",
        "command": command,
        "ok": result.is_ok(),
        "exit_code": result.as_ref().map_or_else(|e| e.exit_code(), |_| 0),
        "error": result.as_ref().err().map(|e| e.message().to_string()),
        "failed": list(&o.failed),
        "skipped": list(&o.skipped),
    });
    if let (Some(s), Value::Object(extra)) = (s.as_object_mut(), fields) {
        s.extend(extra);
    }
    emit(s);
}
