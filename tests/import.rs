//! Moving a live bucket in from the original (Go) maand (issue 16): a bucket
//! written the way the original leaves it — its DDL, its `enc:v1` secret
//! sealing, its `maand.conf` — is imported by `maand init` without loss.

mod common;

use common::*;
use std::path::Path;

const BUCKET_ID: &str = "3f2c9a7e-1b4d-4e8a-9c6f-2a1b3c4d5e6f";
const SECRET: &str = "s3cr3t-root-token";

/// Write an original-format bucket with `tests/import/original_bucket.py`.
fn original_bucket(dir: &Path, workers: &[&str], hashes: &[(&str, &str)]) {
    let spec = serde_json::json!({
        "bucket_id": BUCKET_ID, "workers": workers, "job": "api", "port": 30007, "update_seq": 17,
        "hashes": hashes.iter().map(|(ip, h)| (ip.to_string(), serde_json::json!(h))).collect::<serde_json::Map<_, _>>(),
        "version": "1.0.0", "secret": SECRET,
        "now": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/original_bucket.py");
    let out = std::process::Command::new("python3").arg(script).arg(dir).arg(spec.to_string()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The workspace the original bucket was built from: `api` on every worker,
/// one pool port.
fn workspace(dir: &Path, workers: &[&str]) {
    let list: Vec<String> = workers.iter().map(|ip| format!("{{\"host\": \"{ip}\"}}")).collect();
    write(dir, "workspace/workers.json", &format!("[{}]\n", list.join(", ")));
    write(
        dir,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "resources": {"ports": {"api_port": {}}}}"#,
    );
    write(dir, "workspace/jobs/api/Makefile", "start:\n\t@echo start\nstop:\n\t@echo stop\nrestart: stop start\n");
    write(dir, "workspace/bucket.conf", "port_min = \"30000\"\nport_max = \"30100\"\n");
}

fn db(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(dir.join(sql.split_once('|').map_or("data/maand.db", |s| s.0))).unwrap();
    let sql = sql.split_once('|').map_or(sql, |s| s.1);
    let mut st = conn.prepare(sql).unwrap();
    let n = st.column_count();
    st.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get::<_, rusqlite::types::Value>(i).unwrap() {
                rusqlite::types::Value::Integer(v) => v.to_string(),
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Null => "NULL".into(),
                other => format!("{other:?}"),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn init_imports_catalog_kv_ports_update_seq_and_keeps_the_original_db() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ips = ["10.0.0.1", "10.0.0.2"];
    original_bucket(d, &ips, &[("10.0.0.1", "a1b2c3")]);
    workspace(d, &ips);
    let original = std::fs::read(d.join("data/maand.db")).unwrap();
    let ids = |file: &str| db(d, &format!("{file}|SELECT worker_ip, worker_id FROM worker ORDER BY worker_ip"));
    let orig_workers = ids("data/maand.db");
    let orig_allocs = db(d, "SELECT worker_ip, alloc_id FROM allocations ORDER BY worker_ip");
    let orig_job = db(d, "SELECT job_id FROM job");

    let out = ok(&maand(d, &["init"]));
    assert!(out.contains(BUCKET_ID), "{out}");
    // The original file is kept byte for byte next to ours.
    assert_eq!(std::fs::read(d.join("data/maand.db.original")).unwrap(), original);
    assert_eq!(ids("data/maand.db.original"), orig_workers);

    // One session, named as an import in the audit.
    let sessions: Vec<serde_json::Value> = serde_json::from_str(&ok(&journal(d, &["sessions", "--json"]))).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["command"], "import", "{sessions:?}");
    let kinds = changes_in(d, last_session(d));
    assert!(kinds.iter().any(|k| k == "LegacyImported"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "LegacyDeploymentImported"), "{kinds:?}");

    // Ids, ports and update_seq as the original had them.
    assert_eq!(ids("data/maand.db"), orig_workers);
    assert_eq!(db(d, "SELECT worker_ip, alloc_id FROM allocations ORDER BY worker_ip"), orig_allocs);
    assert_eq!(db(d, "SELECT job_id FROM job"), orig_job);
    assert_eq!(db(d, "SELECT port FROM job_ports WHERE name = 'api_port'"), [["30007"]]);
    assert_eq!(db(d, "SELECT update_seq FROM bucket"), [["17"]]);

    // KV: history, TTL, tombstone.
    assert_eq!(kv_get(d, "vars/job/api", "mode"), "green");
    assert_eq!(
        db(
            d,
            "SELECT version, value FROM key_value WHERE namespace = 'vars/job/api' AND key = 'mode' ORDER BY version"
        ),
        [["1", "blue"], ["2", "green"]]
    );
    assert_eq!(db(d, "SELECT ttl FROM key_value WHERE key = 'lease'"), [["86400"]]);
    assert_eq!(kv_get(d, "vars/job/api", "lease"), "held");
    let gone = maand(d, &["cat", "kv", "get", "vars/job/api", "gone"]);
    assert!(!gone.status.success(), "a tombstoned key stays deleted: {}", stdout(&gone));
    assert_eq!(db(d, "SELECT deleted FROM key_value WHERE key = 'gone' ORDER BY version"), [["0"], ["1"]]);

    // The secret: re-sealed in our format, readable with --reveal, never
    // stored in plaintext.
    assert_eq!(ok(&maand(d, &["cat", "kv", "get", "--reveal", "secrets/job/api", "token"])).trim(), SECRET);
    let plain = maand(d, &["cat", "kv", "get", "secrets/job/api", "token"]);
    assert!(!stdout(&plain).contains(SECRET));
    for f in ["data/journal.redb", "data/maand.db"] {
        let bytes = std::fs::read(d.join(f)).unwrap();
        assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "{f} holds the plaintext");
    }
    // Sealed anew (our sealing binds namespace and key), not copied over.
    let sealed = |file: &str| db(d, &format!("{file}|SELECT value FROM key_value WHERE key = 'token'"));
    assert_ne!(sealed("data/maand.db"), sealed("data/maand.db.original"));

    // A second init imports nothing again.
    ok(&maand(d, &["init"]));
    assert_eq!(changes_in(d, last_session(d)), Vec::<String>::new());

    // Build right after: ids, the pool port, KV and update_seq stay.
    ok(&maand(d, &["build"]));
    assert_eq!(ids("data/maand.db"), orig_workers);
    assert_eq!(db(d, "SELECT worker_ip, alloc_id FROM allocations ORDER BY worker_ip"), orig_allocs);
    assert_eq!(db(d, "SELECT job_id FROM job"), orig_job);
    assert_eq!(db(d, "SELECT port FROM job_ports WHERE name = 'api_port'"), [["30007"]]);
    assert_eq!(kv_get(d, "maand/bucket", "api_port"), "30007");
    assert_eq!(kv_get(d, "maand/job/api", "job_id"), orig_job[0][0]);
    assert_eq!(kv_get(d, "vars/job/api", "mode"), "green");
    assert_eq!(kv_get(d, "vars/job/api", "lease"), "held");
    assert_eq!(db(d, "SELECT update_seq FROM bucket"), [["17"]]);
}
