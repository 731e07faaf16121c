//! Compatibility with the original maand, tried as an operator moving from
//! it would: its names (as aliases with a deprecation note), the fields it
//! accepts, the stale names it ignores (with a warning here).

mod common;
use common::*;
use std::path::Path;

/// A hook in the original's layout: `_modules/command_hello.py`, reading
/// the original's helper names and env.
const LEGACY_HOOK: &str = r#"
import json, os, maand
out = {"command": maand.command_name(), "event": maand.command_event(),
       "api_host": os.environ.get("JOB_COMMAND_API_HOST"), "job": maand.job_name()}
with open(os.path.join(os.environ["BUCKET_ROOT"], "legacy-%s.json" % maand.allocation_ip()), "w") as f:
    json.dump(out, f)
"#;

fn legacy_bucket() -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1", "position": 1}, {"host": "10.0.0.2", "position": 0}]"#);
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "commands": {"command_hello": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/api/_modules/command_hello.py", LEGACY_HOOK);
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "2", "selectors": ["worker"], "hooks": {"hook_ready": {"executed_on": ["cli"], "demands": {"job": "api", "command": "command_hello"}}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/web/_hooks/hook_ready.py", "print('ready')\n");
    // `maand job create` of the original writes an empty version.
    write(p, "workspace/jobs/plain/manifest.json", r#"{"version": "", "selectors": ["worker"]}"#);
    write(p, "workspace/jobs/plain/Makefile", "start:\n\ttrue\n");
    dir
}

fn legacy_out(p: &Path, ip: &str) -> serde_json::Value {
    let path = p.join(format!("legacy-{ip}.json"));
    let v = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    std::fs::remove_file(path).unwrap();
    v
}

#[test]
fn legacy_manifest_names_build_with_one_deprecation_note_each() {
    let dir = legacy_bucket();
    let p = dir.path();
    let o = maand(p, &["build"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for want in [
        "deprecated: workspace/jobs/api/manifest.json: field `commands` is the original's name of `hooks`",
        "deprecated: workspace/jobs/api/manifest.json: hook name command_hello follows the original's `command_` naming",
        "deprecated: workspace/jobs/web/manifest.json: field `hooks.hook_ready.demands.command` is the original's name of `demands.hook`",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    // `"version": ""` is the original's 0.0.0; the demand resolved to api's hook.
    assert_eq!(kv_get(p, "maand/job/plain", "version"), "0.0.0");
    let hooks = ok(&maand(p, &["cat", "hooks", "--json"]));
    assert!(
        hooks.contains("\"demand_hook\": \"command_hello\"") || hooks.contains("\"demand_hook\":\"command_hello\""),
        "{hooks}"
    );
    // workers.json `position` is the original's explicit order.
    assert_eq!(kv_get(p, "maand/worker/10.0.0.1", "position"), "1");
    assert_eq!(kv_get(p, "maand/worker/10.0.0.2", "position"), "0");
    assert_eq!(kv_get(p, "maand/worker", "worker_0"), "10.0.0.2");
}

#[test]
fn legacy_cli_names_run_the_current_commands() {
    let dir = legacy_bucket();
    let p = dir.path();
    ok(&maand(p, &["build"]));
    for alias in ["jobcommand", "job_command"] {
        let o = maand(p, &[alias, "command_hello", "api", "--concurrency", "2"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.contains(&format!("deprecated: `maand {alias}` is the original's name of `maand hooks`")), "{err}");
        assert!(err.contains("`--concurrency` of the original's jobcommand is ignored"), "{err}");
        for ip in ["10.0.0.1", "10.0.0.2"] {
            let v = legacy_out(p, ip);
            assert_eq!(v["command"], "command_hello");
            assert_eq!(v["event"], "cli");
            assert_eq!(v["api_host"], "127.0.0.1");
            assert_eq!(v["job"], "api");
        }
    }
    let o = maand(p, &["cat", "job_commands"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("command_hello"), "{}", stdout(&o));
    assert!(stderr(&o).contains("deprecated: `maand cat job_commands` is the original's name of `maand cat hooks`"));
    // The current names print no note.
    let o = maand(p, &["hooks", "command_hello", "api"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("deprecated"), "{}", stderr(&o));
}

#[test]
fn stale_names_and_folders_without_manifest_warn_and_build() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    write(p, "workspace/jobs/api/manifest.json", r#"{"selectors": ["worker"]}"#);
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/notes/README", "not a job\n");
    write(
        p,
        "workspace/disabled.json",
        r#"{"jobs": {"gone": {}, "api": {"allocations": ["10.9.9.9"]}}, "workers": ["10.9.9.8"]}"#,
    );
    write(p, "workspace/bucket.jobs.conf", "[gone]\nmemory = \"1 gb\"\n");
    let o = maand(p, &["build"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for want in [
        "warning: workspace/jobs/notes/: no manifest.json, so not a job; skipped",
        "warning: workspace/disabled.json: field `jobs.gone`: no job \"gone\" in workspace/jobs; ignored",
        "warning: workspace/disabled.json: field `jobs.api.allocations`: \"10.9.9.9\" is not a worker in workers.json; ignored",
        "warning: workspace/disabled.json: field `workers`: \"10.9.9.8\" is not a worker in workers.json; ignored",
        "warning: workspace/bucket.jobs.conf: section [gone] names no job in workspace/jobs; ignored",
    ] {
        assert!(err.contains(want), "missing {want:?} in {err}");
    }
    let jobs = ok(&maand(p, &["cat", "jobs", "--json"]));
    assert!(jobs.contains("\"api\"") && !jobs.contains("notes"), "{jobs}");
    // api stays enabled on its worker: the stale allocation entry named nothing.
    let allocs = ok(&maand(p, &["cat", "allocations", "--active", "--json"]));
    assert!(allocs.contains("10.0.0.1"), "{allocs}");
}

#[test]
fn unknown_fields_stay_errors_next_to_the_accepted_ones() {
    let dir = fresh_bucket();
    let p = dir.path();
    let before = event_count(p);
    for (file, content, want) in [
        ("workspace/workers.json", r#"[{"host": "10.0.0.1", "positon": 0}]"#, "unknown field `positon`"),
        ("workspace/workers.json", r#"[{"host": "10.0.0.1", "position": "first"}]"#, "workspace/workers.json"),
    ] {
        write(p, file, content);
        let o = maand(p, &["build"]);
        assert_eq!(o.status.code(), Some(2), "{content}");
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
    }
    write(p, "workspace/workers.json", "[]");
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/api/_modules/command_a.py", "print(1)\n");
    for (manifest, want) in [
        (r#"{"command": {}}"#, "unknown field `command`"),
        (
            r#"{"hooks": {}, "commands": {}}"#,
            "field `commands`: the original's name of `hooks`; give one of the two, not both",
        ),
        (r#"{"commands": {"command_": {"executed_on": ["cli"]}}}"#, "must be \"command_\" followed by"),
        (
            r#"{"commands": {"command_b": {"executed_on": ["cli"]}}}"#,
            "field `hooks.command_b`: no script _modules/command_b.py, .ts or .js",
        ),
        (
            r#"{"hooks": {"hook_a": {"executed_on": ["cli"], "demands": {"job": "x", "hook": "h", "command": "c"}}}}"#,
            "field `hooks.hook_a.demands.command`: the original's name of `hook`; give one of the two",
        ),
    ] {
        write(p, "workspace/jobs/api/manifest.json", manifest);
        let o = maand(p, &["build"]);
        assert_eq!(o.status.code(), Some(2), "{manifest}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{manifest}: {}", stderr(&o));
    }
    assert_eq!(event_count(p), before, "bad input records nothing");
}

#[test]
fn init_keeps_a_rotated_ca_whose_name_is_not_the_bucket_id() {
    let dir = fresh_bucket();
    let p = dir.path();
    let (crt, key) = (p.join("secrets/ca.crt"), p.join("secrets/ca.key"));
    std::fs::remove_file(&crt).unwrap();
    std::fs::remove_file(&key).unwrap();
    let st = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=rotated-ca"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let o = maand(p, &["init"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("note: secrets/ca.crt has common name \"rotated-ca\", not this bucket's id"),
        "{}",
        stderr(&o)
    );
    ok(&maand(p, &["build"]));
}
