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

/// `cat deployments --json` as (job, worker, current == previous, rollout)
/// rows, the same shape as [`ORIGINAL_SQL`] returns.
fn cat_rows(p: &Path) -> Vec<Vec<String>> {
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    deps.iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap().to_string();
            vec![s("job"), s("worker_ip"), ((s("current_hash") == s("previous_hash")) as u8).to_string(), s("rollout")]
        })
        .collect()
}

/// A query an operator of the original runs: is every allocation promoted?
const ORIGINAL_SQL: &str =
    "SELECT job, worker_ip, current_hash = previous_hash, rollout FROM cat_deployments ORDER BY job, worker_ip";

#[test]
fn cat_deployments_keeps_the_original_hash_meaning_and_rollout() {
    let Some(w) = common::workers::start_or_skip(2) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(p, "workspace/jobs/web/manifest.json", r#"{"version": "1.0.0", "selectors": ["worker"]}"#);
    write(p, "workspace/jobs/web/Makefile", "start:\n\t@true\nstop:\n\t@true\nrestart:\n\t@true\n");
    ok(&maand(p, &["build"]));
    let (a, b) = (w.ips[0].clone(), w.ips[1].clone());
    let row =
        |ip: &str, same: &str, rollout: &str| vec!["web".to_string(), ip.to_string(), same.into(), rollout.into()];
    // Built, never deployed: nothing staged or promoted.
    assert_eq!(query(p, ORIGINAL_SQL), [row(&a, "1", "new"), row(&b, "1", "new")]);
    assert_eq!(query(p, "SELECT count(*) FROM cat_deployments WHERE current_hash = ''"), [["2"]]);

    ok(&maand(p, &["deploy"]));
    // Promoted: staged == promoted, as the original leaves it.
    assert_eq!(query(p, ORIGINAL_SQL), [row(&a, "1", "promoted"), row(&b, "1", "promoted")]);
    assert_eq!(
        query(p, "SELECT count(*) FROM cat_deployments WHERE current_hash != '' AND current_version = '1.0.0'"),
        [["2"]]
    );
    assert_eq!(cat_rows(p), query(p, ORIGINAL_SQL));

    // A new version, b disabled: restart pending on a, disabled_restart on b.
    write(p, "workspace/jobs/web/manifest.json", r#"{"version": "2.0.0", "selectors": ["worker"]}"#);
    write(p, "workspace/disabled.json", &format!(r#"{{"jobs": {{"web": {{"allocations": ["{b}"]}}}}}}"#));
    ok(&maand(p, &["build"]));
    assert_eq!(query(p, ORIGINAL_SQL), [row(&a, "1", "restart"), row(&b, "1", "disabled_restart")]);
    assert_eq!(cat_rows(p), query(p, ORIGINAL_SQL));
    ok(&maand(p, &["deploy"]));
    assert_eq!(query(p, ORIGINAL_SQL), [row(&a, "1", "promoted"), row(&b, "1", "disabled")]);
    assert_eq!(cat_rows(p), query(p, ORIGINAL_SQL));

    // rsync, reconcile and gc leave log lines, as the original's do.
    let rsync = ok(&maand(p, &["logs", "show", "--event", "rsync", "--format", "raw"]));
    assert!(rsync.contains("phase=rsync") && rsync.contains(&format!("worker={a}")), "{rsync}");
    std::fs::remove_dir_all(p.join("workspace/jobs/web")).unwrap();
    std::fs::remove_file(p.join("workspace/disabled.json")).unwrap();
    ok(&maand(p, &["build"]));
    assert_eq!(query(p, "SELECT DISTINCT rollout FROM cat_deployments"), [["removed"]]);
    ok(&maand(p, &["deploy"]));
    let reconcile = ok(&maand(p, &["logs", "show", "--phase", "reconcile", "--format", "raw"]));
    assert!(reconcile.contains(&format!("event=stop job=web worker={a}")), "{reconcile}");
    assert!(reconcile.contains(&format!("event=remove job=web worker={a}")), "{reconcile}");
    ok(&maand(p, &["gc"]));
    let gc = ok(&maand(p, &["logs", "show", "--phase", "gc", "--format", "raw"]));
    assert!(gc.contains(&format!("worker={a}")) && gc.contains("allocation(s) purged"), "{gc}");
    ok(&journal(p, &["verify"]));
}

#[test]
fn cat_kv_list_encrypted_placeholder_job_namespaces_and_job_name() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2", "labels": ["db"]}]"#);
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "certs": {"tls": {"subject": {"common_name": "api"}}},
            "hooks": {"hook_m": {"executed_on": ["cli"], "demands": {"job": "db", "hook": "hook_s"}}}}"#,
    );
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/api/_hooks/hook_m.py", "print(1)\n");
    write(
        p,
        "workspace/jobs/db/manifest.json",
        r#"{"version": "1", "selectors": ["db"], "hooks": {"hook_s": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/db/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/db/_hooks/hook_s.py", "print(1)\n");
    write(p, "workspace/jobs/other/manifest.json", r#"{"selectors": ["db"]}"#);
    write(p, "workspace/jobs/other/Makefile", "start:\n\ttrue\n");
    ok(&maand(p, &["build"]));

    assert_eq!(kv_get(p, "maand/job/api", "job_name"), "api");
    assert_eq!(ok(&maand(p, &["cat", "kv", "list", "--json"])), ok(&maand(p, &["cat", "kv", "--json"])));

    // A secret without --reveal: the original's placeholder, exit 0.
    let ns = "maand/job/api/worker/10.0.0.1";
    let o = maand(p, &["cat", "kv", "get", ns, "certs/tls.key"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "[encrypted]\n");
    assert!(stderr(&o).contains("pass --reveal"), "{}", stderr(&o));
    assert!(ok(&maand(p, &["cat", "kv", "get", "--reveal", ns, "certs/tls.key"])).contains("PRIVATE KEY"));

    // --jobs: every namespace api's hooks and templates can read.
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "kv", "list", "--jobs", "api", "--json"]))).unwrap();
    let nss: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["namespace"].as_str().unwrap()).collect();
    for want in [
        "maand/bucket",
        "maand/worker",
        "maand/worker/10.0.0.1",
        "maand/worker/10.0.0.2",
        "maand/job/api",
        "maand/job/api/worker/10.0.0.1",
        "maand/job/db",
    ] {
        assert!(nss.contains(want), "{want} missing from {nss:?}");
    }
    assert!(!nss.contains("maand/job/other"), "{nss:?}");
    assert!(!nss.contains("maand/job/db/worker/10.0.0.2"), "another job's allocation: {nss:?}");
}

#[test]
fn run_command_habits_of_the_original() {
    let Some(w) = common::workers::start_or_skip(3) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let (a, b, c) = (&w.ips[0], &w.ips[1], &w.ips[2]);
    write(
        p,
        "workspace/workers.json",
        &format!(
            r#"[{{"host": "{a}", "labels": ["x"]}}, {{"host": "{b}", "labels": ["y"]}}, {{"host": "{c}", "labels": ["z"]}}]"#
        ),
    );
    ok(&maand(p, &["build"]));

    // No command: workspace/command.sh, missing at first (bad input, exit 2).
    let o = maand(p, &["run_command"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("workspace/command.sh is missing"), "{}", stderr(&o));
    write(p, "workspace/command.sh", "echo from-file $WORKER_IP\n");
    let out = ok(&maand(p, &["run_command"]));
    for ip in [a, b, c] {
        assert!(out.contains(&format!("{ip} | from-file {ip}")), "{out}");
    }

    // -l a,b: workers carrying any of the labels.
    let out = ok(&maand(p, &["run_command", "-l", "x,y", "echo hi"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("{a} | hi")) && out.contains(&format!("{b} | hi")), "{out}");

    // Default -c 1 and the first failing batch stops the run: b fails, c never runs.
    let o = maand(p, &["run_command", &format!("echo ran; [ $WORKER_IP != {b} ]")]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains(&format!("{a} | ran")) && out.contains(&format!("{b} | ran")), "{out}");
    assert!(!out.contains(&format!("{c} |")), "stopped before the third batch: {out}");
    assert!(
        stderr(&o)
            .contains(&format!("batch 2/3: command failed on 1 worker(s): {b} (exit 1); not run on {c} (stopped)")),
        "{}",
        stderr(&o)
    );
    // Wider batches: one batch of three, all run.
    let o = maand(p, &["run_command", "-c", "3", &format!("echo ran; [ $WORKER_IP != {b} ]")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains(&format!("{c} | ran")), "{}", stdout(&o));

    // logs show --run-dir: the run's own directory, per worker.
    let run = last_session(p).to_string();
    let mine = ok(&maand(p, &["logs", "show", "--run", &run, "--run-dir", "--worker", c, "--format", "raw"]));
    assert!(mine.contains(c.as_str()) && !mine.contains(&format!("worker={b} ")), "{mine}");
    let all = ok(&maand(p, &["logs", "show", "--run", &run, "--run-dir", "--format", "raw"]));
    assert!(all.contains("command_begin") && all.contains(b.as_str()), "{all}");
    let o = maand(p, &["logs", "show", "--run-dir"]);
    assert_eq!(o.status.code(), Some(2), "--run-dir needs --run");
}

#[test]
fn worker_side_runner_worker_py_and_jobs_json_speak_the_original() {
    let Some(w) = common::workers::start_or_skip(1) else { return };
    let dir = w.bucket();
    let p = dir.path();
    let ip = w.ips[0].clone();
    let make = "start:\n\t@echo start >> data/history\nstop:\n\t@echo stop >> data/history\nrestart:\n\t@echo restart >> data/history\n";
    for job in ["api", "db"] {
        write(p, &format!("workspace/jobs/{job}/manifest.json"), r#"{"version": "1", "selectors": ["worker"]}"#);
        write(p, &format!("workspace/jobs/{job}/Makefile"), make);
    }
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    // db disabled after its first deploy: deploy stops it, its files stay.
    write(p, "workspace/disabled.json", r#"{"jobs": {"db": {}}}"#);
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let root = w.opt(&ip).join(&bid);
    let jobs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("jobs.json")).unwrap()).unwrap();
    assert_eq!(jobs, serde_json::json!([{"job": "api", "disabled": 0}, {"job": "db", "disabled": 1}]));
    let history =
        |job: &str| std::fs::read_to_string(root.join(format!("jobs/{job}/data/history"))).unwrap_or_default();
    assert_eq!((history("api"), history("db")), ("start\n".to_string(), "start\nstop\n".to_string()));

    // Reboot recovery: `runner.py <bucket> start` without --jobs starts every enabled job.
    ok(&maand(p, &["run_command", "python3 bin/runner.py $BUCKET_ID start"]));
    assert_eq!((history("api"), history("db")), ("start\nstart\n".to_string(), "start\nstop\n".to_string()));
    // Another target without --jobs: every job listed.
    ok(&maand(p, &["run_command", "python3 bin/runner.py $BUCKET_ID stop"]));
    assert_eq!(
        (history("api"), history("db")),
        ("start\nstart\nstop\n".to_string(), "start\nstop\nstop\n".to_string())
    );

    // worker.py <bucket_id> <worker_id> <update_seq>: the original's exit codes.
    let worker_id = kv_get(p, &format!("maand/worker/{ip}"), "worker_id");
    let info: serde_json::Value = serde_json::from_str(&ok(&maand(p, &["info", "--json"]))).unwrap();
    let seq = info["update_seq"].to_string();
    for (args, rc) in [
        (format!("$BUCKET_ID {worker_id} {seq}"), 0),
        (format!("other {worker_id} {seq}"), 1),
        (format!("$BUCKET_ID other {seq}"), 2),
        (format!("$BUCKET_ID {worker_id} 99"), 3),
    ] {
        let out = ok(&maand(p, &["run_command", &format!("python3 bin/worker.py {args}; echo rc=$?")]));
        assert!(out.contains(&format!("rc={rc}")), "{args}: {out}");
    }
}

const HTTP_MAKEFILE: &str = "include config.env
start:
\t@mkdir -p data logs
\t@nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid
stop:
\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi
restart: stop start
status:
\t@echo running
";

/// A `health_check` hook that, when asked to (file `wait-for-lock`), waits
/// for the bucket lock to be free: the check then ends after the deploy.
const WAIT_FOR_LOCK: &str = r#"
import fcntl, os, time
root = os.environ["BUCKET_ROOT"]
if os.path.exists(os.path.join(root, "wait-for-lock")):
    deadline = time.time() + 120
    with open(os.path.join(root, "data/maand.lock"), "a") as f:
        while time.time() < deadline:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(f, fcntl.LOCK_UN)
                break
            except OSError:
                time.sleep(0.1)
"#;

/// Start `maand deploy` in the background and wait until job `slow` is
/// starting on `ip` (its Makefile sleeps while the deploy holds the lock).
fn deploy_in_background(p: &Path, root: &Path, round: u32) -> std::process::Child {
    let marker = root.join(format!("jobs/slow/data/started-{round}"));
    let child = std::process::Command::new(maand_bin())
        .arg("deploy")
        .current_dir(p)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while !marker.exists() {
        assert!(t.elapsed().as_secs() < 120, "the deploy never reached job slow");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child
}

#[test]
fn health_check_and_job_status_run_during_a_deploy() {
    let Some(w) = common::workers::start_or_skip(1) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ip = w.ips[0].clone();
    // A fixed hook port, as operators configure it: the deploy's own API may
    // hold it, so the check binds another.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let conf = std::fs::read_to_string(p.join("maand.conf"))
        .unwrap()
        .replace("hook_api_port = 0", &format!("hook_api_port = {port}"));
    std::fs::write(p.join("maand.conf"), conf).unwrap();
    write(p, "workspace/workers.json", &format!(r#"[{{"host": "{ip}"}}]"#));
    write(p, "workspace/bucket.conf", "port_min = \"39000\"\nport_max = \"39999\"\n");
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "resources": {"ports": {"web_port": {}}},
            "hooks": {"hook_wait": {"executed_on": ["health_check"]}},
            "health_check": {"checks": [{"type": "tcp", "port": "web_port"}], "timeout_seconds": 2, "wait": {"attempts": 20, "interval_seconds": 1}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", HTTP_MAKEFILE);
    write(p, "workspace/jobs/web/config.env.tpl", "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"web_port\" }}\n");
    write(p, "workspace/jobs/web/_hooks/hook_wait.py", WAIT_FOR_LOCK);
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let root = w.opt(&ip).join(&bid);

    // Job slow keeps the next deploys busy while the checks run.
    let slow = |round: u32| {
        write(p, "workspace/jobs/slow/manifest.json", &format!(r#"{{"version": "{round}", "selectors": ["worker"]}}"#));
        write(
            p,
            "workspace/jobs/slow/Makefile",
            &format!(
                "start:\n\t@mkdir -p data && touch data/started-{round} && sleep 4\nstop:\n\t@true\nrestart: start\n"
            ),
        );
        ok(&maand(p, &["build"]));
    };
    slow(1);
    let deploy = deploy_in_background(p, &root, 1);
    let before = event_count(p);
    // The configured hook port taken (as by the deploy's own hook API).
    let held = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let o = maand(p, &["health_check", "--jobs", "web"]);
    drop(held);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(stdout(&o).contains("health check passed: web"), "{}", stdout(&o));
    assert!(err.contains("note: bucket is busy (pid") && err.contains("deploy"), "{err}");
    assert!(!err.contains("error"), "{err}");
    assert!(err.contains("note: the bucket is still busy: results kept in logs/detached/"), "{err}");
    let o = maand(p, &["job", "status", "web"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("running"), "{}", stdout(&o));
    // A writer is still refused.
    assert_eq!(maand(p, &["run_command", "true"]).status.code(), Some(1));
    let out = deploy.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let kept: Vec<_> = std::fs::read_dir(p.join("logs/detached")).unwrap().map(|e| e.unwrap().path()).collect();
    let text: String = kept.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    assert!(text.contains("health_checked") && text.contains("hook_invoked"), "{text}");
    assert!(event_count(p) > before, "the deploy went on");

    // When the lock is free by the end of the check: a session of its own.
    slow(2);
    let deploy = deploy_in_background(p, &root, 2);
    write(p, "wait-for-lock", "");
    let o = maand(p, &["health_check", "--jobs", "web"]);
    std::fs::remove_file(p.join("wait-for-lock")).unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("note: bucket is busy"), "{err}");
    assert!(deploy.wait_with_output().unwrap().status.success());
    assert!(err.contains("results recorded in journal session"), "{err}");
    let id = last_session(p);
    let shown = ok(&journal(p, &["show", &id.to_string()]));
    assert!(shown.contains("health_check") && shown.contains("health_checked"), "{shown}");
    ok(&journal(p, &["verify"]));
}

#[test]
fn a_failed_health_gate_leaves_health_failed_until_the_next_promotion() {
    let Some(w) = common::workers::start_or_skip(1) else { return };
    let dir = w.bucket();
    let p = dir.path();
    // Nothing listens on the probed port: the gate fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let manifest = |probe: bool| {
        let hc = format!(
            r#", "health_check": {{"checks": [{{"type": "tcp", "port": {port}}}], "timeout_seconds": 1, "wait": {{"attempts": 1, "interval_seconds": 1}}}}"#
        );
        format!(r#"{{"version": "1", "selectors": ["worker"]{}}}"#, if probe { hc.as_str() } else { "" })
    };
    write(p, "workspace/jobs/web/manifest.json", &manifest(true));
    write(p, "workspace/jobs/web/Makefile", "start:\n\t@true\nstop:\n\t@true\nrestart:\n\t@true\n");
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let sql = "SELECT previous_hash, rollout, current_hash != '' FROM cat_deployments";
    assert_eq!(query(p, sql), [["__maand_health_failed__", "health_failed", "1"]]);
    assert_eq!(cat_rows(p)[0][3], "health_failed");
    // Fixed: the next deploy runs it again and promotes it.
    write(p, "workspace/jobs/web/manifest.json", &manifest(false));
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    assert_eq!(query(p, "SELECT rollout, current_hash = previous_hash FROM cat_deployments"), [["promoted", "1"]]);
    ok(&journal(p, &["verify"]));
}
