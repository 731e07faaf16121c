//! Structured logs under `logs/`: `maand.log` (every run), `<worker_ip>.log`
//! (records about that worker), `runs/<run>/maand.log` (one run; run id =
//! journal session id). Each run is framed by `command_begin` and
//! `command_end` records. Lines are `key=value` pairs (`log_format = "kv"`)
//! or JSON objects (`json`/`jsonl`).

use crate::bucket::{BucketPaths, LogFormat};
use crate::clock;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

struct RunLog {
    logs: PathBuf,
    run: u64,
    command: String,
    format: LogFormat,
    lock: Mutex<()>,
}

fn current() -> &'static Mutex<Option<Arc<RunLog>>> {
    static CURRENT: OnceLock<Mutex<Option<Arc<RunLog>>>> = OnceLock::new();
    CURRENT.get_or_init(|| Mutex::new(None))
}

/// Start logging run `run` of `command` (called when a session begins).
pub fn begin(paths: &BucketPaths, format: LogFormat, run: u64, command: &str, argv: &[String]) {
    let log = Arc::new(RunLog { logs: paths.logs(), run, command: command.to_string(), format, lock: Mutex::new(()) });
    *current().lock().unwrap_or_else(|p| p.into_inner()) = Some(log);
    record(&[("event", "command_begin"), ("msg", &argv.join(" "))]);
}

/// End the current run with `outcome` (`committed`, `failed: …`).
pub fn end(outcome: &str) {
    record(&[("event", "command_end"), ("msg", outcome)]);
    *current().lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Write a record with `fields` (known keys: event, job, worker, phase,
/// stream, msg) to the run's files. A no-op outside a run.
pub fn record(fields: &[(&str, &str)]) {
    let Some(log) = current().lock().unwrap_or_else(|p| p.into_inner()).clone() else { return };
    let mut rec: BTreeMap<&str, String> = BTreeMap::new();
    rec.insert("ts", clock::format_ms(clock::now_ms()));
    rec.insert("run", log.run.to_string());
    rec.insert("command", log.command.clone());
    for (k, v) in fields {
        rec.insert(k, v.to_string());
    }
    let line = match log.format {
        LogFormat::Kv => format_kv(&rec),
        LogFormat::Json | LogFormat::Jsonl => serde_json::to_string(&rec).unwrap_or_default(),
    };
    let _guard = log.lock.lock().unwrap_or_else(|p| p.into_inner());
    append(&log.logs.join("maand.log"), &line);
    append(&log.logs.join("runs").join(log.run.to_string()).join("maand.log"), &line);
    if let Some(w) = rec.get("worker").filter(|w| !w.is_empty()) {
        append(&log.logs.join(format!("{w}.log")), &line);
        // The original's run directory also holds one file per worker.
        append(&log.logs.join("runs").join(log.run.to_string()).join(format!("{w}.log")), &line);
    }
}

fn append(path: &Path, line: &str) {
    if let Some(p) = path.parent() {
        let _ = std::fs::create_dir_all(p);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

/// Order of keys on a kv line (the rest follow alphabetically).
const ORDER: &[&str] = &["ts", "run", "command", "event", "job", "worker", "phase", "stream", "msg"];

fn format_kv(rec: &BTreeMap<&str, String>) -> String {
    let mut keys: Vec<&&str> = rec.keys().collect();
    keys.sort_by_key(|k| (ORDER.iter().position(|o| o == *k).unwrap_or(ORDER.len()), **k));
    keys.iter()
        .map(|k| {
            let v = &rec[**k];
            if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c == '"' || c == '=') {
                format!("{k}={}", serde_json::to_string(v).unwrap_or_default())
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parse a log line written in either format.
pub fn parse_line(line: &str) -> Option<BTreeMap<String, String>> {
    let line = line.trim();
    if line.starts_with('{') {
        return serde_json::from_str(line).ok();
    }
    let mut out = BTreeMap::new();
    let mut rest = line;
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_string();
        rest = &rest[eq + 1..];
        let value = if rest.starts_with('"') {
            // A JSON string: find its end by parsing.
            let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
            let v = de.next()?.ok()?;
            rest = &rest[de.byte_offset()..];
            v
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let v = rest[..end].to_string();
            rest = &rest[end..];
            v
        };
        out.insert(key, value);
        rest = rest.trim_start();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn kv_lines_round_trip() {
        let mut rec = std::collections::BTreeMap::new();
        rec.insert("ts", "t".to_string());
        rec.insert("msg", "a \"quoted\" = thing".to_string());
        rec.insert("job", "api".to_string());
        let line = super::format_kv(&rec);
        assert!(line.starts_with("ts=t job=api msg="), "{line}");
        let back = super::parse_line(&line).unwrap();
        assert_eq!(back["msg"], "a \"quoted\" = thing");
        assert_eq!(back["job"], "api");
        assert_eq!(super::parse_line("{\"a\":\"b\"}").unwrap()["a"], "b");
    }
}
