//! Moving a live bucket in from the original (Go) maand (issue 16): a bucket
//! written the way the original leaves it — its DDL, its `enc:v1` secret
//! sealing, its `maand.conf` — is imported by `maand init` without loss.

mod common;

use common::legacy::{BUCKET_ID, SECRET, original_bucket};
use common::workers::start_or_skip;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every lifecycle target leaves a line in `data/history` on the worker.
const MAKEFILE: &str = "start:\n\t@mkdir -p data\n\t@echo \"start $(NEW_VERSION)\" >> data/history\nstop:\n\t@echo stop >> data/history\nrestart: stop start\n";

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
    write(dir, "workspace/jobs/api/Makefile", MAKEFILE);
    write(dir, "workspace/jobs/api/index.html", "<h1>v1</h1>\n");
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
    original_bucket(d, &ips, &[("10.0.0.1", "a1b2c3")], true);
    workspace(d, &ips);
    write(
        d,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "resources": {"ports": {"api_port": {}}},
            "certs": {"tls": {"subject": {"common_name": "api.internal"}}}}"#,
    );
    let cert_ns = "maand/job/api/worker/10.0.0.2";
    let orig_cert =
        db(d, &format!("SELECT value FROM key_value WHERE namespace = '{cert_ns}' AND key = 'certs/tls.crt'"));
    let orig_key =
        db(d, &format!("SELECT value FROM key_value WHERE namespace = '{cert_ns}' AND key = 'certs/tls.key'"));
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
    let audit = ok(&journal(d, &["audit", &last_session(d).to_string()]));
    assert!(audit.contains("legacy_imported") && audit.contains("imported the original maand's bucket"), "{audit}");

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
    assert_eq!(
        db(d, "SELECT version, value FROM key_value WHERE key = 'pruned' ORDER BY version"),
        [["4", "v4"], ["5", "v5"]],
        "version numbers as the original kept them"
    );
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
        assert!(!bytes.windows(11).any(|w| w == b"PRIVATE KEY"), "{f} holds a certificate key in plaintext");
    }
    // Sealed anew (our sealing binds namespace and key), not copied over.
    let sealed = |file: &str| db(d, &format!("{file}|SELECT value FROM key_value WHERE key = 'token'"));
    assert_ne!(sealed("data/maand.db"), sealed("data/maand.db.original"));

    ok(&journal(d, &["verify"]));
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
    for (ip, id) in orig_workers.iter().map(|r| (&r[0], &r[1])) {
        assert_eq!(&kv_get(d, &format!("maand/worker/{ip}"), "worker_id"), id);
    }
    let label_id = db(d, "data/maand.db.original|SELECT value FROM key_value WHERE key = 'worker_label_id'");
    assert_eq!(kv_get(d, "maand/worker", "worker_label_id"), label_id[0][0], "the original's label id stays");
    assert_eq!(kv_get(d, "vars/job/api", "mode"), "green");
    assert_eq!(kv_get(d, "vars/job/api", "lease"), "held");
    assert_eq!(db(d, "SELECT update_seq FROM bucket"), [["17"]]);
    // Certificates as they are: not reissued, the key still the original's.
    assert_eq!(kv_get(d, cert_ns, "certs/tls.crt"), orig_cert[0][0].trim_end());
    assert_eq!(
        ok(&maand(d, &["cat", "kv", "get", "--reveal", cert_ns, "certs/tls.key"])).trim(),
        orig_key[0][0].trim()
    );
}

/// Put the job on a worker as the original maand left it there: the job
/// directory's files (same bytes, rsync's modes), started once.
fn deployed_by_the_original(ws_job: &Path, worker_job: &Path) {
    std::fs::create_dir_all(worker_job.join("data")).unwrap();
    for e in std::fs::read_dir(ws_job).unwrap() {
        let e = e.unwrap();
        let to = worker_job.join(e.file_name());
        std::fs::copy(e.path(), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(worker_job.join("data/history"), "start 1.0.0\n").unwrap();
}

#[test]
fn first_deploy_after_import_adopts_equal_workers_without_restart_and_updates_the_others() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ips: Vec<&str> = w.ips.iter().map(String::as_str).collect();
    original_bucket(d, &ips, &[(ips[0], "0a1b2c"), (ips[1], "3d4e5f")], false);
    workspace(d, &ips);
    for f in ["Makefile", "index.html", "manifest.json"] {
        let p = d.join("workspace/jobs/api").join(f);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    w.configure_bucket(d);
    ok(&maand(d, &["init"]));
    ok(&maand(d, &["build"]));
    let job = |ip: &str| w.opt(ip).join(BUCKET_ID).join("jobs/api");
    for ip in &ips {
        deployed_by_the_original(&d.join("workspace/jobs/api"), &job(ip));
    }
    // The second worker runs other content than the workspace's.
    std::fs::write(job(ips[1]).join("index.html"), "<h1>v0</h1>\n").unwrap();
    let history = |ip: &str| std::fs::read_to_string(job(ip).join("data/history")).unwrap();

    // The dry run compares and says why, and changes nothing.
    let out = ok(&maand(d, &["deploy", "--dry-run"]));
    assert!(out.contains(&format!("adopt: api on {}: the worker's files equal the staged tree", ips[0])), "{out}");
    assert!(
        out.contains(&format!("adopt: api on {}: deployed by the original maand, but its files differ", ips[1]))
            && out.contains("(index.html)")
            && out.contains("planned as an update"),
        "{out}"
    );
    assert_eq!(history(ips[0]), "start 1.0.0\n");
    assert_eq!(history(ips[1]), "start 1.0.0\n");

    let out = ok(&maand(d, &["deploy"]));
    assert_eq!(history(ips[0]), "start 1.0.0\n", "the equal worker is adopted, not restarted: {out}");
    assert_eq!(history(ips[1]), "start 1.0.0\nstop\nstart 1.0.0\n", "the differing one is updated: {out}");
    assert_eq!(std::fs::read_to_string(job(ips[1]).join("index.html")).unwrap(), "<h1>v1</h1>\n");
    let info: serde_json::Value = serde_json::from_str(&ok(&maand(d, &["info", "--json"]))).unwrap();
    assert_eq!(info["update_seq"], 18, "update_seq continues the original's");
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(d, &["cat", "deployments", "--json"]))).unwrap();
    assert_eq!(deps.len(), 2);
    assert!(deps.iter().all(|x| x["current_hash"] == deps[0]["current_hash"] && x["current_version"] == "1.0.0"));
    assert!(!deps[0]["current_hash"].as_str().unwrap().starts_with("legacy:"), "{deps:?}");

    // Converged: the next deploy runs nothing; replay re-derives every plan.
    ok(&maand(d, &["deploy"]));
    assert_eq!(history(ips[0]), "start 1.0.0\n");
    assert_eq!(history(ips[1]), "start 1.0.0\nstop\nstart 1.0.0\n");
    let out = ok(&journal(d, &["replay", "--check"]));
    assert!(out.contains("replanned identically"), "{out}");
}

#[test]
fn an_import_that_cannot_be_read_exits_2_and_writes_nothing() {
    // The secret was sealed under another kv.key than the bucket's.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    original_bucket(d, &["10.0.0.1"], &[], false);
    std::fs::write(d.join("secrets/kv.key"), [7u8; 32]).unwrap();
    std::fs::set_permissions(d.join("secrets/kv.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read(d.join("data/maand.db")).unwrap();
    let o = maand(d, &["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("secrets/job/api token") && stderr(&o).contains("kv.key"), "{}", stderr(&o));
    assert!(!d.join("data/journal.redb").exists(), "nothing recorded");
    assert_eq!(std::fs::read(d.join("data/maand.db")).unwrap(), before, "the original file is untouched");

    // The key itself is missing: none is made up in its place.
    std::fs::remove_file(d.join("secrets/kv.key")).unwrap();
    let o = maand(d, &["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("secrets/kv.key is missing"), "{}", stderr(&o));
    assert!(!d.join("secrets/kv.key").exists() && !d.join("data/journal.redb").exists());

    // A database of the original missing a table it always has.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    original_bucket(d, &["10.0.0.1"], &[], false);
    rusqlite::Connection::open(d.join("data/maand.db")).unwrap().execute("DROP TABLE job", []).unwrap();
    let o = maand(d, &["init"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("data/maand.db (the original maand's database): table job: no such table: job"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("data/journal.redb").exists(), "nothing recorded");
}
