//! `maand init`, `maand info`, `maand-journal sessions|verify|rebuild-db`
//! as an operator runs them.

mod common;
use common::*;

#[test]
fn init_twice_keeps_bucket_id_and_records_both_sessions() {
    let dir = fresh_bucket();
    let info1: serde_json::Value = serde_json::from_str(&ok(&maand(dir.path(), &["info", "--json"]))).unwrap();
    let ca1 = std::fs::read(dir.path().join("secrets/ca.crt")).unwrap();
    let kv1 = std::fs::read(dir.path().join("secrets/kv.key")).unwrap();
    let out = ok(&maand(dir.path(), &["init"]));
    assert!(out.contains("is up to date"), "{out}");
    let info2: serde_json::Value = serde_json::from_str(&ok(&maand(dir.path(), &["info", "--json"]))).unwrap();
    assert_eq!(info1["bucket_id"], info2["bucket_id"]);
    assert!(uuid::Uuid::parse_str(info1["bucket_id"].as_str().unwrap()).is_ok());
    assert_eq!(ca1, std::fs::read(dir.path().join("secrets/ca.crt")).unwrap());
    assert_eq!(kv1, std::fs::read(dir.path().join("secrets/kv.key")).unwrap());

    let sessions: serde_json::Value = serde_json::from_str(&ok(&journal(dir.path(), &["sessions", "--json"]))).unwrap();
    let list = sessions.as_array().unwrap();
    assert_eq!(list.len(), 2);
    for s in list {
        assert_eq!(s["command"], "init");
        assert_eq!(s["outcome"], "committed");
    }
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.starts_with("ok: "), "{v}");
}

#[test]
fn init_writes_spec_defaults_and_private_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = fresh_bucket();
    let p = dir.path();
    assert_eq!(std::fs::read_to_string(p.join("workspace/workers.json")).unwrap().trim(), "[]");
    let bucket_conf = std::fs::read_to_string(p.join("workspace/bucket.conf")).unwrap();
    assert!(bucket_conf.contains("port_min = \"30000\"") && bucket_conf.contains("port_max = \"39999\""));
    let conf = maand::bucket::MaandConf::load(&p.join("maand.conf")).unwrap();
    assert_eq!(conf, maand::bucket::MaandConf::default());
    assert_eq!(conf.hook_api_port, 8080);
    for d in ["workspace/jobs", "tmp", "logs", "data"] {
        assert!(p.join(d).is_dir(), "{d}");
    }
    let mode = |f: &str| std::fs::metadata(p.join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("secrets/kv.key"), 0o600);
    assert_eq!(mode("secrets/ca.key"), 0o600);
    assert_eq!(std::fs::metadata(p.join("secrets/kv.key")).unwrap().len(), 32);
    // CA: CN is the bucket id, ten years, and a CA.
    let info: serde_json::Value = serde_json::from_str(&ok(&maand(p, &["info", "--json"]))).unwrap();
    let pem = std::fs::read(p.join("secrets/ca.crt")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string();
    assert_eq!(cn, info["bucket_id"].as_str().unwrap());
    let days = (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86_400;
    assert!((3650..=3651).contains(&days), "{days}");
    assert!(cert.is_ca());
    assert_eq!(cert.public_key().algorithm.algorithm.to_id_string(), "1.2.840.113549.1.1.1", "RSA key");
}

#[test]
fn init_keeps_existing_files_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(dir.path().join("workspace/workers.json"), "[{\"host\": \"10.0.0.1\"}]\n").unwrap();
    std::fs::write(dir.path().join("maand.conf"), "ssh_user = \"root\"\nuse_sudo = false\n").unwrap();
    ok(&maand(dir.path(), &["init"]));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/workers.json")).unwrap(),
        "[{\"host\": \"10.0.0.1\"}]\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("maand.conf")).unwrap(),
        "ssh_user = \"root\"\nuse_sudo = false\n"
    );
}

#[test]
fn rebuild_db_recreates_an_identical_projection() {
    let dir = fresh_bucket();
    write_session(dir.path(), "vars/job/api", 25, "a");
    write_session(dir.path(), "vars/job/api", 5, "b");
    let db = dir.path().join("data/maand.db");
    let before = sqlite_dump(&db);
    assert!(before.contains("INSERT INTO key_value"), "{before}");
    std::fs::remove_file(&db).unwrap();
    let out = ok(&journal(dir.path(), &["rebuild-db"]));
    assert!(out.contains("rebuilt"), "{out}");
    assert_eq!(before, sqlite_dump(&db));
    // The next maand command recreates it too.
    std::fs::remove_file(&db).unwrap();
    ok(&maand(dir.path(), &["init"]));
    let again = sqlite_dump(&db);
    // init appended a session (no state change): same rows except the mark.
    let strip = |s: &str| s.lines().filter(|l| !l.contains("maand_projection VALUES")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&before), strip(&again));
    ok(&journal(dir.path(), &["verify"]));
}

#[test]
fn projection_has_the_catalog_schema_and_views() {
    let dir = fresh_bucket();
    let conn = rusqlite::Connection::open(dir.path().join("data/maand.db")).unwrap();
    let cols = |name: &str| -> Vec<String> {
        let mut st = conn.prepare(&format!("SELECT name FROM pragma_table_info('{name}')")).unwrap();
        st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    };
    for t in [
        "bucket",
        "schema_version",
        "worker",
        "worker_labels",
        "worker_tags",
        "job",
        "job_selectors",
        "job_commands",
        "job_files",
        "job_ports",
        "job_certs",
        "allocations",
        "hash",
        "key_value",
    ] {
        assert!(!cols(t).is_empty(), "table {t} missing");
    }
    let want: &[(&str, &[&str])] = &[
        (
            "cat_workers",
            &["worker_id", "worker_ip", "available_memory_mb", "available_cpu_mhz", "position", "labels", "zone"],
        ),
        (
            "cat_jobs",
            &[
                "job_id",
                "name",
                "version",
                "disabled",
                "deployment_seq",
                "selectors",
                "current_memory_mb",
                "current_memory_source",
                "current_cpu_mhz",
                "current_cpu_source",
            ],
        ),
        ("cat_allocations", &["alloc_id", "worker_ip", "job", "disabled", "removed", "new_version", "zone"]),
        ("cat_job_commands", &["job", "command_name", "executed_on", "demand_job", "demand_command", "demand_config"]),
        ("cat_kv", &["namespace", "key", "value", "version", "ttl", "created_date", "deleted"]),
        (
            "cat_deployments",
            &[
                "alloc_id",
                "worker_ip",
                "job",
                "disabled",
                "removed",
                "current_hash",
                "previous_hash",
                "current_version",
                "new_version",
                "rollout",
            ],
        ),
    ];
    for (view, columns) in want {
        assert_eq!(cols(view), columns.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{view}");
        conn.prepare(&format!("SELECT * FROM {view}")).unwrap().query([]).unwrap().next().unwrap();
    }
    let (id, seq): (String, i64) =
        conn.query_row("SELECT bucket_id, update_seq FROM bucket", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!(seq, 0);
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let v: i64 = conn.query_row("SELECT version FROM schema_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, maand::projection::SCHEMA_VERSION);
    assert_eq!(v, 3, "2: rollout column, 3: peer sets");
}

#[test]
fn cat_kv_shows_latest_version_and_masks_secrets() {
    let dir = fresh_bucket();
    write_session(dir.path(), "vars/job/api", 2, "one");
    write_session(dir.path(), "vars/job/api", 1, "two");
    {
        let mut b = open(dir.path(), "test");
        let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
        s.record(maand::event::Event::KvPut {
            namespace: "secrets/job/api".into(),
            key: "pw".into(),
            value: maand::event::KvValue::Sealed {
                alg: maand::event::SealAlg::Aes256Gcm,
                nonce: vec![7; 12],
                ciphertext: vec![1, 2, 3],
            },
            ttl: 60,
            at: 5,
        })
        .unwrap();
        s.record(maand::event::Event::KvDeleted { namespace: "vars/job/api".into(), key: "k1".into(), at: 6 }).unwrap();
        s.commit().unwrap();
    }
    let conn = rusqlite::Connection::open(dir.path().join("data/maand.db")).unwrap();
    let mut st = conn.prepare("SELECT namespace, key, value, version, ttl, deleted FROM cat_kv").unwrap();
    let rows: Vec<(String, String, String, i64, String, i64)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        rows,
        vec![
            ("secrets/job/api".into(), "pw".into(), "[encrypted]".into(), 1, "60".into(), 0),
            ("vars/job/api".into(), "k0".into(), "two-0".into(), 2, "0".into(), 0),
            ("vars/job/api".into(), "k1".into(), "".into(), 2, "0".into(), 1),
        ]
    );
    let raw: String =
        conn.query_row("SELECT value FROM key_value WHERE namespace = 'secrets/job/api'", [], |r| r.get(0)).unwrap();
    assert_eq!(raw, format!("enc:v1:{}:010203", "07".repeat(12)));
    ok(&journal(dir.path(), &["verify"]));
}
