//! Shared helpers for the integration tests: run the real binaries on real
//! buckets in temporary directories.
#![allow(dead_code)]

use maand::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use maand::event::{Event, KvValue};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Path of the `maand` binary under test.
pub fn maand_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_maand"))
}

/// Path of the `maand-journal` binary (built by `cargo test --workspace`).
pub fn journal_bin() -> PathBuf {
    let p = maand_bin().with_file_name("maand-journal");
    assert!(p.exists(), "{} is missing: run the tests with `cargo test --workspace`", p.display());
    p
}

/// Run `maand <args>` in `dir`.
pub fn maand(dir: &Path, args: &[&str]) -> Output {
    Command::new(maand_bin()).args(args).current_dir(dir).env_remove("MAAND_BUCKET").output().unwrap()
}

/// Run `maand-journal <args>` in `dir`.
pub fn journal(dir: &Path, args: &[&str]) -> Output {
    Command::new(journal_bin()).args(args).current_dir(dir).env_remove("MAAND_BUCKET").output().unwrap()
}

/// Stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert success, showing output otherwise.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "command failed: {:?}\nstdout:\n{}\nstderr:\n{}", o.status, stdout(o), stderr(o));
    stdout(o)
}

/// A fresh bucket made by `maand init` in a new temp dir.
pub fn fresh_bucket() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&maand(dir.path(), &["init"]));
    dir
}

/// Open a bucket for writing through the library.
pub fn open(dir: &Path, command: &str) -> Bucket {
    Bucket::open(BucketPaths::new(dir), &OpenOptions { command: command.into(), lock_wait: Duration::from_secs(5) })
        .unwrap()
}

/// A plain KV put event.
pub fn put(ns: &str, key: &str, value: &str, at: i64) -> Event {
    Event::KvPut { namespace: ns.into(), key: key.into(), value: KvValue::Plain(value.into()), ttl: 0, at }
}

/// One committed session writing `keys` puts (key names `k<i>`) into `ns`.
pub fn write_session(dir: &Path, ns: &str, keys: usize, tag: &str) {
    let mut b = open(dir, "test");
    let mut s = b.begin(session_info("test")).unwrap();
    for i in 0..keys {
        s.record_at(1_000 + i as i64, put(ns, &format!("k{i}"), &format!("{tag}-{i}"), 1_000 + i as i64)).unwrap();
    }
    s.commit().unwrap();
}

/// `sqlite3 <db> .dump` output (the real CLI, as an operator would compare).
pub fn sqlite_dump(db: &Path) -> String {
    let o = Command::new("sqlite3").arg(db).arg(".dump").output().expect("sqlite3 CLI (apt-get install sqlite3)");
    ok(&o)
}

/// Number of events in the bucket's journal, read through `maand-journal export`.
pub fn event_count(dir: &Path) -> usize {
    stdout(&journal(dir, &["export", "--jsonl"])).lines().count()
}

/// Recursively copy a directory, keeping modes (as `cp -a`).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    // Keep directory modes (a bucket's data/, logs/, tmp/ are 0700), as
    // `cp -a` would: a copy is the same bucket, not a loosened one.
    std::fs::set_permissions(to, std::fs::metadata(from).unwrap().permissions()).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap_or_else(|err| panic!("copying {}: {err}", e.path().display()));
        }
    }
}

/// Write a file under `dir`, creating parent directories.
pub fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// The acceptance workspace of the build issue: three workers with labels,
/// tags and capacity; `database` <- `api` <- `frontend` chained by hook
/// demands; fixed and pool ports; reservations in bucket.jobs.conf;
/// vars.toml; disabled.json disabling api on 10.0.0.2; certs on api.
pub fn acceptance_workspace(dir: &Path) {
    write(
        dir,
        "workspace/workers.json",
        r#"[
  {"host": "10.0.0.1", "labels": ["db", "app"], "memory": "4 gb", "cpu": "4 ghz", "tags": {"zone": "a", "rack": "r1"}},
  {"host": "10.0.0.2", "labels": ["app"], "memory": "2048 mb", "cpu": "2000 mhz", "tags": {"zone": "b"}, "hostname": "node-b"},
  {"host": "10.0.0.3", "labels": ["app", "web"], "memory": "2 gb", "cpu": "2 ghz"}
]
"#,
    );
    write(
        dir,
        "workspace/jobs/database/manifest.json",
        r#"{"version": "2.1", "selectors": ["db"],
 "resources": {"memory": {"min": "256 mb", "max": "1 gb"}, "cpu": {"min": "100 mhz", "max": "2 ghz"}, "ports": {"database_port": 5432}},
 "hooks": {"hook_schema": {"executed_on": ["pre_deploy", "cli"]}}}
"#,
    );
    write(
        dir,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["app"], "max_concurrent_upgrades": 1,
 "resources": {"memory": {"max": "512 mb"}, "ports": {"api_http_port": {}, "api_admin_port": {}}},
 "hooks": {"hook_migrate": {"executed_on": ["pre_deploy"], "demands": {"job": "database", "hook": "hook_schema", "config": {"min_version": "2"}}}},
 "certs": {"tls": {"subject": {"common_name": "api.internal"}},
           "cluster": {"subject": {"common_name": "api-cluster"}, "one": true, "pkcs8": true}}}
"#,
    );
    write(
        dir,
        "workspace/jobs/frontend/manifest.json",
        r#"{"version": "3", "selectors": ["web"], "resources": {"ports": {"frontend_port": 8080}},
 "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "api", "hook": "hook_migrate"}}}}
"#,
    );
    for j in ["database", "api", "frontend"] {
        write(
            dir,
            &format!("workspace/jobs/{j}/Makefile"),
            "start:\n\t@echo start\nstop:\n\t@echo stop\nrestart: stop start\n",
        );
    }
    write(dir, "workspace/jobs/database/_hooks/hook_schema.py", "print('schema')\n");
    write(dir, "workspace/jobs/api/_hooks/hook_migrate.py", "print('migrate')\n");
    write(dir, "workspace/jobs/frontend/_hooks/hook_assets.ts", "console.log('assets')\n");
    write(
        dir,
        "workspace/jobs/api/config.json.tpl",
        "{\"port\": \"{{ get \\\"maand/bucket\\\" \\\"api_http_port\\\" }}\"}\n",
    );
    write(dir, "workspace/jobs/api/vars.toml", "cluster_name = \"prod-east\"\nreplicas = 3\n");
    write(dir, "workspace/jobs/api/.venv/bin/python3", "not indexed\n");
    write(dir, "workspace/bucket.conf", "port_min = \"30000\"\nport_max = \"30010\"\nenvironment = \"staging\"\n");
    write(
        dir,
        "workspace/bucket.jobs.conf",
        "[database]\nmemory = \"512 mb\"\ncpu = \"1 ghz\"\nowner = \"dba\"\n\n[api]\nmemory = \"256 mb\"\n",
    );
    write(dir, "workspace/disabled.json", "{\"jobs\": {\"api\": {\"allocations\": [\"10.0.0.2\"]}}}\n");
}

/// `maand cat kv get ns key` output (trimmed), asserting success.
pub fn kv_get(dir: &Path, ns: &str, key: &str) -> String {
    ok(&maand(dir, &["cat", "kv", "get", ns, key])).trim_end_matches('\n').to_string()
}

/// Events of session `id` as JSON envelopes (via `maand-journal show --json`).
pub fn session_events(dir: &Path, id: u64) -> Vec<serde_json::Value> {
    serde_json::from_str::<Vec<serde_json::Value>>(&ok(&journal(dir, &["show", &id.to_string(), "--json"]))).unwrap()
}

/// Number of the newest session.
pub fn last_session(dir: &Path) -> u64 {
    let s: Vec<serde_json::Value> = serde_json::from_str(&ok(&journal(dir, &["sessions", "--json"]))).unwrap();
    s.last().unwrap()["id"].as_u64().unwrap()
}

/// Kinds of the state-changing events (not session records, nor a build's
/// record of its inputs) of a session.
pub fn changes_in(dir: &Path, id: u64) -> Vec<String> {
    const RECORDS: &[&str] = &[
        "SessionOpened",
        "Checkpoint",
        "SessionCommitted",
        "SessionFailed",
        "SessionAborted",
        "SessionSigned",
        "BuildPlanned",
    ];
    session_events(dir, id)
        .iter()
        .filter_map(|e| e["event"].as_object().and_then(|o| o.keys().next().cloned()))
        .filter(|k| !RECORDS.contains(&k.as_str()))
        .collect()
}

pub mod hostile;
pub mod legacy;
pub mod prom;
pub mod web;
pub mod workers;

/// Set `key = value` (TOML) in a bucket's `maand.conf`, replacing the line
/// that sets it, if any.
pub fn set_conf(bucket: &Path, key: &str, value: &str) {
    let f = bucket.join("maand.conf");
    let conf = std::fs::read_to_string(&f).unwrap_or_default();
    let mut out: String = conf
        .lines()
        .filter(|l| l.trim_start().split([' ', '=']).next() != Some(key))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str(&format!("{key} = {value}\n"));
    std::fs::write(f, out).unwrap();
}

/// The determinism check (`maand-journal replay --check`) passes on the
/// bucket's whole history and re-derived at least one decision of each of
/// `kinds`; perturbing the re-derivation of each of them is caught and
/// reported with its location (kind, event, session, job). Every deploy
/// test ends with it.
pub fn replay_checks(p: &Path, kinds: &[&str]) {
    let out = ok(&journal(p, &["replay", "--check"]));
    assert!(out.contains("replanned identically"), "{out}");
    let j: serde_json::Value = serde_json::from_str(&ok(&journal(p, &["replay", "--check", "--json"]))).unwrap();
    assert_eq!(j["ok"], true, "{j}");
    for k in kinds {
        assert!(j["kinds"][k]["rederived"].as_u64().unwrap_or(0) > 0, "no {k} decision re-derived: {j}");
        assert_eq!(j["kinds"][k]["not_rederivable"], serde_json::json!([]), "{k}: {j}");
    }
    for k in kinds {
        let o = journal(p, &["replay", "--check", "--json", "--inject-nondeterminism", k]);
        assert_eq!(o.status.code(), Some(1), "{k}: {}", stdout(&o));
        assert!(stderr(&o).contains("TEST SWITCH --inject-nondeterminism is on"), "{}", stderr(&o));
        let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let d = &j["divergence"];
        assert_eq!((&j["ok"], &d["kind"]), (&serde_json::json!(false), &serde_json::json!(k)), "{j}");
        assert!(d["seq"].as_u64().unwrap() > 0 && d["session"].as_u64().unwrap() > 0, "{j}");
        assert!(!d["job"].as_str().unwrap().is_empty() && d["recorded"] != d["rederived"], "{j}");
    }
    if kinds.contains(&"rollout") {
        // The switch without a kind perturbs the rollout planner (its older form).
        let o = journal(p, &["replay", "--check", "--inject-nondeterminism"]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(stderr(&o).contains("differs when planned again"), "{}", stderr(&o));
    }
}

/// Rows of an SQL query on the bucket's `maand.db`, every cell as text
/// (`NULL` for null), as an operator's `sqlite3` sees them.
pub fn query(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(dir.join("data/maand.db")).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => "NULL".to_string(),
                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
            .collect())
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}
