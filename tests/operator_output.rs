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

    // A job whose start fails: exit 1, and the summary names it with why;
    // `late` (a later wave: it demands bad's hook) is skipped.
    write(
        p,
        "workspace/jobs/bad/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["web"], "hooks": {"hook_ready": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/bad/Makefile", "start:\n\t@echo no disk left >&2; exit 3\nstop:\n\t@true\n");
    write(p, "workspace/jobs/bad/_hooks/hook_ready.py", "print('ready')\n");
    write(
        p,
        "workspace/jobs/late/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["web"],
            "hooks": {"hook_wait": {"executed_on": ["cli"], "demands": {"job": "bad", "hook": "hook_ready"}}}}"#,
    );
    write(p, "workspace/jobs/late/Makefile", MAKEFILE);
    write(p, "workspace/jobs/late/_hooks/hook_wait.py", "print('waited')\n");
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
    assert_eq!(s["skipped"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["skipped"][0]["job"], "late", "{s}");
    assert_eq!(s["skipped"][0]["reason"], "demands job bad, which failed in this deploy", "{s}");
    let bad: Vec<&Value> = lines.iter().filter(|l| l["type"] == "batch" && l["job"] == "bad").collect();
    assert!(bad.iter().any(|b| b["results"][0]["exit_code"] == 2 && b["ok"] == false), "{lines:?}");

    // The failed deploy's audit, as JSON Lines.
    let failed_session = last_session(p);
    let out = journal(p, &["audit", &failed_session.to_string(), "--json"]);
    let lines = json_lines(&out, "audit.schema.json");
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["command"], "deploy");
    let s = lines.last().unwrap();
    assert_eq!((s["type"].as_str(), s["outcome"].as_str()), (Some("summary"), Some("failed")), "{s}");
    assert!(s["error"].as_str().unwrap().contains("job bad"), "{s}");
    let events: Vec<&Value> = lines.iter().filter(|l| l["type"] == "event").collect();
    assert_eq!(events.len() as u64, s["events"].as_u64().unwrap(), "every event of the session");
    assert!(events.iter().any(|e| e["kind"] == "batch_ended" && e["summary"].as_str().unwrap().contains("bad")));
    let o = journal(p, &["audit", "999", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no session 999"), "{}", stderr(&o));

    // Bad input: exit 2, still one valid summary line, nothing else on stdout.
    let out = maand(p, &["deploy", "--json", "--jobs", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out, "run-events.schema.json");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["exit_code"], 2);
    assert!(lines[0]["error"].as_str().unwrap().contains("unknown job(s) nope"), "{:?}", lines[0]);
}

/// A bucket with three (unreachable) workers and job `api` whose cli hook
/// `hook_report` sleeps a little (so a live view has time to draw), prints
/// and exits with the code in the bucket's file `code` (0 when absent).
fn hook_bucket() -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}, {"host": "10.0.0.3"}]"#);
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": 1,
            "hooks": {"hook_report": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    let script = "import os, sys, time\ntime.sleep(0.4)\nprint('report from', os.environ['ALLOCATION_IP'])\n\
                  f = os.path.join(os.environ['BUCKET_ROOT'], 'code')\n\
                  sys.exit(int(open(f).read()) if os.path.exists(f) else 0)\n";
    write(p, "workspace/jobs/api/_hooks/hook_report.py", script);
    ok(&maand(p, &["build"]));
    dir
}

#[test]
fn hooks_json_lines_validate_with_one_result_per_run_and_failures_in_the_summary() {
    let dir = hook_bucket();
    let p = dir.path();
    let out = maand(p, &["hooks", "hook_report", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out, "run-events.schema.json");
    let results: Vec<&Value> = lines.iter().filter(|l| l["type"] == "result").collect();
    let workers: Vec<&str> = results.iter().map(|r| r["worker"].as_str().unwrap()).collect();
    assert_eq!(workers, ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "{lines:?}");
    assert!(results.iter().all(|r| r["ok"] == true && r["hook"] == "hook_report" && r["phase"] == "cli"));
    let s = summary(&lines);
    assert_eq!((s["command"].as_str(), s["ok"].as_bool()), (Some("hooks"), Some(true)), "{s}");
    assert!(s["session"].as_u64().unwrap() > 0);

    write(p, "code", "4");
    let out = maand(p, &["hooks", "hook_report", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines = json_lines(&out, "run-events.schema.json");
    let first = lines.iter().find(|l| l["type"] == "result").unwrap();
    assert_eq!((first["exit_code"].as_i64(), first["detail"].as_str()), (Some(4), Some("report from 10.0.0.1")));
    let s = summary(&lines);
    assert_eq!(s["failed"][0]["job"], "api", "{s}");
    assert!(s["failed"][0]["reason"].as_str().unwrap().contains("exit 4"), "{s}");

    // Bad input: one summary line with exit code 2.
    let out = maand(p, &["hooks", "hook_nope", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out, "run-events.schema.json");
    assert_eq!((lines.len(), lines[0]["exit_code"].as_i64()), (1, Some(2)), "{lines:?}");
}

/// Run `maand <args>` in `dir` on a pseudo-terminal (util-linux `script`);
/// everything the terminal received.
fn on_terminal(dir: &Path, args: &str, env: &[(&str, &str)]) -> String {
    let cmd = format!("{} {args}", maand_bin().display());
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"]).current_dir(dir).env_remove("MAAND_BUCKET").env("TERM", "xterm");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("util-linux `script` runs");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    stdout(&out)
}

#[test]
fn hooks_show_a_live_view_on_a_terminal_and_plain_lines_without_one() {
    let dir = hook_bucket();
    let p = dir.path();
    // On a terminal: spinner lines redrawn in place (erase-line escapes),
    // then each batch's final line with its outcome.
    let tty = on_terminal(p, "hooks hook_report", &[]);
    assert!(tty.contains("\u{1b}[2K"), "no live redraw on a terminal: {tty:?}");
    // No colors are drawn (so NO_COLOR holds): no SGR sequence at all.
    let sgr = sgr_sequences(&tty);
    assert!(sgr.is_empty(), "color sequences on the terminal: {sgr:?}");
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        assert!(tty.contains(&format!("api hook_report batch {}/3 [{ip}] — ok (", i + 1)), "{tty:?}");
    }
    // MAAND_PLAIN on a terminal, and a pipe: plain lines only.
    let plain_tty = on_terminal(p, "hooks hook_report", &[("MAAND_PLAIN", "1")]);
    let piped = ok(&maand(p, &["hooks", "hook_report"]));
    for text in [&plain_tty, &piped] {
        assert!(!text.contains('\u{1b}'), "escape sequences without a live view: {text:?}");
        let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
        assert_eq!(
            lines[..3],
            [
                "  api hook_report batch 1/3 [10.0.0.1]",
                "  api hook_report batch 2/3 [10.0.0.2]",
                "  api hook_report batch 3/3 [10.0.0.3]"
            ],
            "{text:?}"
        );
        assert!(lines[3].starts_with("hook_report ran for api (journal session "), "{text:?}");
    }
}

#[test]
fn job_run_command_and_health_check_json_lines_validate() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = worker_bucket(&w);
    let p = dir.path();
    ok(&maand(p, &["deploy"]));
    let run = |args: &[&str], code: i32| -> Vec<Value> {
        let out = maand(p, args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        json_lines(&out, "run-events.schema.json")
    };

    let lines = run(&["job", "status", "web", "--json"], 0);
    let results: Vec<&Value> = lines.iter().filter(|l| l["type"] == "result").collect();
    assert_eq!(results.len(), 2, "{lines:?}");
    assert!(results.iter().all(|r| r["stdout"] == "running\n" && r["phase"] == "status" && r["job"] == "web"));
    assert_eq!(summary(&lines)["command"], "job");

    let lines = run(&["job", "run", "web", "--target", "missing", "--json"], 1);
    let s = summary(&lines);
    assert_eq!(s["failed"][0]["job"], "web", "{s}");
    assert!(s["failed"][0]["reason"].as_str().unwrap().contains("make missing of job web failed"), "{s}");

    let lines = run(&["run_command", "echo hi from $WORKER_IP", "--json"], 0);
    let results: Vec<&Value> = lines.iter().filter(|l| l["type"] == "result").collect();
    for (r, ip) in results.iter().zip(&w.ips) {
        assert_eq!(r["stdout"], format!("hi from {ip}\n"));
        assert_eq!((r["exit_code"].as_i64(), r["job"].is_null()), (Some(0), true));
    }
    assert_eq!((results.len(), summary(&lines)["command"].as_str()), (2, Some("run_command")));
    // One worker at a time (the original's default); the first failing
    // batch stops the run.
    let lines = run(&["run_command", "exit 5", "--json"], 1);
    let results: Vec<&Value> = lines.iter().filter(|l| l["type"] == "result").collect();
    assert!(results.len() == 1 && results[0]["exit_code"] == 5 && results[0]["ok"] == false, "{lines:?}");
    let error = summary(&lines)["error"].as_str().unwrap().to_string();
    assert!(error.contains("batch 1/2: command failed on 1 worker(s)") && error.contains("(stopped)"), "{error}");

    // `web` has no health config: skipped, with why, and the check passes.
    let lines = run(&["health_check", "--json"], 0);
    let s = summary(&lines);
    assert_eq!((s["command"].as_str(), s["ok"].as_bool()), (Some("health_check"), Some(true)), "{s}");
    assert_eq!(s["skipped"][0]["job"], "web", "{s}");
    assert!(s["skipped"][0]["reason"].as_str().unwrap().contains("no health_check config"), "{s}");
    let lines = run(&["health_check", "--jobs", "nope", "--json"], 2);
    assert_eq!(lines.len(), 1);
}

/// The SGR (`ESC [ … m`) sequences in `text`.
fn sgr_sequences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("\u{1b}[") {
        let rest = &text[i + 2..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        if rest[end..].starts_with('m') {
            out.push(rest[..=end].to_string());
        }
    }
    out
}
