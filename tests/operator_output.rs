//! What scripts and people see of a run: `--json` JSON Lines validated
//! against the schemas under docs/schema/ (with the `jsonschema` crate), on
//! real sshd workers for deploy; `maand-journal audit --json`; the live
//! progress view of `maand hooks` on a pseudo-terminal and plain lines
//! without one.

mod common;
use common::workers::start_or_skip;
use common::*;
use serde_json::Value;
use std::path::Path;

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema").join(name);
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::validator_for(&s).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every stdout line is one JSON object valid under `schema_file`; the
/// objects, in order.
fn json_lines(out: &std::process::Output, schema_file: &str) -> Vec<Value> {
    let v = schema(schema_file);
    let text = stdout(out);
    assert!(!text.trim().is_empty(), "no JSON on stdout; stderr:\n{}", stderr(out));
    text.lines()
        .map(|l| {
            let j: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            let errors: Vec<String> = v.iter_errors(&j).map(|e| format!("{e} at {}", e.instance_path())).collect();
            assert!(errors.is_empty(), "{l}\ndoes not match {schema_file}: {errors:?}");
            j
        })
        .collect()
}

/// The last object, which must be the only summary.
fn summary(lines: &[Value]) -> &Value {
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary", "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l["type"] == "summary").count(), 1, "{lines:?}");
    last
}

const MAKEFILE: &str = "start:\n\t@echo started\nstop:\n\t@true\nrestart: stop start\nstatus:\n\t@echo running\n";

fn worker_bucket(w: &common::workers::TestWorkers) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["web"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(p, "workspace/jobs/web/manifest.json", r#"{"version": "1.0.0", "selectors": ["web"]}"#);
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    ok(&maand(p, &["build"]));
    dir
}

#[test]
fn deploy_json_lines_validate_and_the_summary_lists_failed_jobs() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = worker_bucket(&w);
    let p = dir.path();

    let out = maand(p, &["deploy", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out, "run-events.schema.json");
    let s = summary(&lines);
    assert_eq!(s["command"], "deploy");
    assert_eq!(s["ok"], true);
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["promoted"], serde_json::json!(["web"]));
    assert_eq!(s["failed"], serde_json::json!([]));
    assert_eq!(s["skipped"], serde_json::json!([]));
    let batches: Vec<&Value> = lines.iter().filter(|l| l["type"] == "batch").collect();
    assert!(!batches.is_empty(), "{lines:?}");
    let ran: usize = batches.iter().map(|b| b["results"].as_array().unwrap().len()).sum();
    assert_eq!(ran, 2, "one start per worker: {batches:?}");
    assert!(batches.iter().all(|b| b["ok"] == true && b["job"] == "web"), "{batches:?}");
    // Human text went to stderr, not among the JSON.
    assert!(stderr(&out).contains("deploy 1:"), "{}", stderr(&out));

    // A job whose start fails: exit 1, and the summary names it with why.
    write(p, "workspace/jobs/bad/manifest.json", r#"{"version": "1.0.0", "selectors": ["web"]}"#);
    write(p, "workspace/jobs/bad/Makefile", "start:\n\t@echo no disk left >&2; exit 3\nstop:\n\t@true\n");
    ok(&maand(p, &["build"]));
    let out = maand(p, &["deploy", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = json_lines(&out, "run-events.schema.json");
    let s = summary(&lines);
    assert_eq!((s["ok"].clone(), s["exit_code"].clone()), (Value::Bool(false), 1.into()), "{s}");
    let failed = s["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{s}");
    assert_eq!(failed[0]["job"], "bad");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("new batch 1/1 failed") && reason.contains("make start exit 2"), "{s}");
    assert!(s["error"].as_str().unwrap().contains("batch"), "{s}");
    let bad: Vec<&Value> = lines.iter().filter(|l| l["type"] == "batch" && l["job"] == "bad").collect();
    assert!(bad.iter().any(|b| b["results"][0]["exit_code"] == 2 && b["ok"] == false), "{lines:?}");

    // Bad input: exit 2, still one valid summary line, nothing else on stdout.
    let out = maand(p, &["deploy", "--json", "--jobs", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out, "run-events.schema.json");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["exit_code"], 2);
    assert!(lines[0]["error"].as_str().unwrap().contains("unknown job(s) nope"), "{:?}", lines[0]);
}
