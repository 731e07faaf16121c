//! `peer_workers` and `<label>_peers` are derived from peer sets recorded
//! once per change (issue: scale). Every value a user can read stays the
//! same through all four read paths — `maand cat kv`, the `cat_kv` view of
//! `maand.db`, a hook's `GET /kv`, a template's `get` — for a new bucket,
//! after the fleet changes, and for a journal written before peer sets.

mod common;
use common::workers::start_or_skip;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

const HOOK: &str = r#"
import os, maand
ip = maand.allocation_ip()
own = maand.get_store_value("maand/job/api/worker/" + ip, "peer_workers").json()["value"]
label = maand.get_store_value("maand/worker/" + ip, "worker_peers").json()["value"]
with open(os.path.join(os.environ["BUCKET_ROOT"], "hook-%s.txt" % ip), "w") as f:
    f.write(own + "|" + label)
"#;

const TEMPLATE: &str = r#"{{ get (printf "maand/job/api/worker/%s" .WorkerIP) "peer_workers" }}|{{ get (printf "maand/worker/%s" .WorkerIP) "worker_peers" }}"#;

/// `ip` → what it should read: the other members, in catalog order.
fn expected(ips: &[String]) -> BTreeMap<String, String> {
    ips.iter().map(|ip| (ip.clone(), ips.iter().filter(|o| *o != ip).cloned().collect::<Vec<_>>().join(","))).collect()
}

/// The `cat_kv` value of a key through sqlite3 (what an operator's query sees).
fn sql_value(p: &Path, ns: &str, key: &str) -> String {
    let o = std::process::Command::new("sqlite3")
        .arg(p.join("data/maand.db"))
        .arg(format!("SELECT value FROM cat_kv WHERE namespace = '{ns}' AND key = '{key}' AND deleted = 0"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

fn check_cli_and_sql(p: &Path, want: &BTreeMap<String, String>) {
    for (ip, others) in want {
        let job_ns = format!("maand/job/api/worker/{ip}");
        let worker_ns = format!("maand/worker/{ip}");
        assert_eq!(kv_get(p, &job_ns, "peer_workers"), *others, "cat kv get {job_ns}");
        assert_eq!(kv_get(p, &worker_ns, "worker_peers"), *others, "cat kv get {worker_ns}");
        // cat_kv shortens values over 50 characters, like the original.
        let short = |v: &str| if v.chars().count() > 50 { format!("{}...", &v[..50]) } else { v.to_string() };
        assert_eq!(sql_value(p, &job_ns, "peer_workers"), short(others), "cat_kv {job_ns}");
        assert_eq!(sql_value(p, &worker_ns, "worker_peers"), short(others), "cat_kv {worker_ns}");
    }
}

/// Events of `kind` in session `id`, and `KvPut`s of derived keys in it.
fn recorded(p: &Path, id: u64) -> (usize, usize) {
    let events = session_events(p, id);
    let sets = events.iter().filter(|e| e["event"].get("PeerSetRecorded").is_some()).count();
    let copies = events
        .iter()
        .filter(|e| {
            let k = e["event"]["KvPut"]["key"].as_str().unwrap_or("");
            k == "peer_workers" || k.ends_with("_peers")
        })
        .count();
    (sets, copies)
}

#[test]
fn derived_peer_keys_read_the_same_through_every_path() {
    let Some(w) = start_or_skip(4) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let three: Vec<String> = w.ips[..3].to_vec();
    let workers = |ips: &[String]| {
        let ws: Vec<String> = ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
        write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    };
    workers(&three);
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "hooks": {"hook_peers": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\nstop:\n\ttrue\n");
    write(p, "workspace/jobs/api/peers.conf.tpl", TEMPLATE);
    write(p, "workspace/jobs/api/_hooks/hook_peers.py", HOOK);
    ok(&maand(p, &["build"]));
    let build = last_session(p);
    assert_eq!(recorded(p, build), (2, 0), "one set for the job, one for the label; no per-member copies");

    let want = expected(&three);
    check_cli_and_sql(p, &want);
    ok(&maand(p, &["hooks", "hook_peers", "api"]));
    ok(&maand(p, &["deploy", "--dry-run"]));
    for (ip, others) in &want {
        let hook = std::fs::read_to_string(p.join(format!("hook-{ip}.txt"))).unwrap();
        assert_eq!(hook, format!("{others}|{others}"), "GET /kv from a hook on {ip}");
        let staged = p.join(format!("tmp/workers/{ip}/jobs/api/peers.conf"));
        let rendered = std::fs::read_to_string(&staged).unwrap_or_else(|e| panic!("{}: {e}", staged.display()));
        assert_eq!(rendered, format!("{others}|{others}"), "template get on {ip}");
    }

    // The fleet grows by one: one new version of each set, still no copies,
    // and every member reads the new list.
    workers(&w.ips);
    ok(&maand(p, &["build"]));
    assert_eq!(recorded(p, last_session(p)), (2, 0));
    check_cli_and_sql(p, &expected(&w.ips));
    // An unchanged rebuild records nothing about peers.
    ok(&maand(p, &["build"]));
    assert_eq!(recorded(p, last_session(p)).0, 0);
}

#[test]
fn a_journal_from_before_peer_sets_reads_the_same_before_and_after_its_next_build() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0/bucket"), dir.path());
    let p = dir.path();
    std::fs::remove_file(p.join("secrets/ca.crt")).unwrap();
    ok(&maand(p, &["init"]));
    // Every peer key of the old journal, as `maand cat kv` shows it.
    let peers = |p: &Path| -> Vec<(String, String, String)> {
        let rows: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "kv", "--json"]))).unwrap();
        rows.iter()
            .filter(|r| r["deleted"] == false)
            .filter(|r| {
                let k = r["key"].as_str().unwrap();
                k == "peer_workers" || k.ends_with("_peers")
            })
            .map(|r| {
                (
                    r["namespace"].as_str().unwrap().into(),
                    r["key"].as_str().unwrap().into(),
                    r["value"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    let before = peers(p);
    assert!(before.iter().any(|(_, k, v)| k == "peer_workers" && !v.is_empty()), "{before:?}");
    for (ns, key, value) in &before {
        assert_eq!(sql_value(p, ns, key), *value, "cat_kv {ns} {key} before");
    }
    ok(&maand(p, &["build"]));
    let (sets, copies) = recorded(p, last_session(p));
    assert!(sets > 0 && copies == 0, "the build moved to peer sets: {sets} sets, {copies} copies");
    assert_eq!(peers(p), before, "the same keys and values after the move");
    for (ns, key, value) in &before {
        assert_eq!(sql_value(p, ns, key), *value, "cat_kv {ns} {key} after");
    }
}
