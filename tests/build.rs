//! `maand build` on the acceptance workspace, as an operator runs it:
//! catalog rows, KV keys, certificates, idempotence, removals.

mod common;
use common::*;

fn built() -> tempfile::TempDir {
    let dir = fresh_bucket();
    acceptance_workspace(dir.path());
    let out = ok(&maand(dir.path(), &["build"]));
    assert!(out.contains("catalog: 3 workers, 3 jobs, 5 allocations (1 disabled, 0 removed)"), "{out}");
    dir
}

#[test]
fn acceptance_workspace_catalog_rows() {
    let dir = built();
    let p = dir.path();
    let jobs = query(
        p,
        "SELECT name, version, deployment_seq, selectors, current_memory_mb, current_memory_source FROM cat_jobs",
    );
    assert_eq!(
        jobs,
        vec![
            vec!["database", "2.1.0", "0", "db", "512", "bucket.jobs.conf"],
            vec!["api", "1.0.0", "1", "app", "256", "bucket.jobs.conf"],
            vec!["frontend", "3.0.0", "2", "web", "0", "manifest"],
        ]
    );
    let allocs =
        query(p, "SELECT job, worker_ip, disabled, removed, new_version, ifnull(zone, '-') FROM cat_allocations");
    assert_eq!(
        allocs,
        vec![
            vec!["api", "10.0.0.1", "0", "0", "1.0.0", "a"],
            vec!["api", "10.0.0.2", "1", "0", "1.0.0", "b"],
            vec!["api", "10.0.0.3", "0", "0", "1.0.0", "-"],
            vec!["database", "10.0.0.1", "0", "0", "2.1.0", "a"],
            vec!["frontend", "10.0.0.3", "0", "0", "3.0.0", "-"],
        ]
    );
    let id = query(p, "SELECT alloc_id FROM allocations WHERE job = 'api' AND worker_ip = '10.0.0.1'")[0][0].clone();
    assert_eq!(
        id,
        uuid::Uuid::new_v5(
            &uuid::Uuid::from_bytes([
                0x6d, 0x61, 0x61, 0x6e, 0x64, 0x2d, 0x40, 0x69, 0x80, 0x73, 0x2d, 0x76, 0x35, 0x2d, 0x6e, 0x73
            ]),
            b"api|10.0.0.1"
        )
        .to_string()
    );
    let workers = query(
        p,
        "SELECT worker_ip, available_memory_mb, available_cpu_mhz, position, labels, ifnull(zone, '-') FROM cat_workers",
    );
    assert_eq!(workers[0], vec!["10.0.0.1", "4096", "4000", "0", "app,db,worker", "a"]);
    assert_eq!(workers[2], vec!["10.0.0.3", "2048", "2000", "2", "app,web,worker", "-"]);
    let hooks = query(
        p,
        "SELECT job, command_name, executed_on, demand_job, demand_command, demand_config FROM cat_job_commands",
    );
    assert_eq!(
        hooks,
        vec![
            vec!["api", "hook_migrate", "pre_deploy", "database", "hook_schema", r#"{"min_version":"2"}"#],
            vec!["database", "hook_schema", "cli", "", "", "{}"],
            vec!["database", "hook_schema", "pre_deploy", "", "", "{}"],
            vec!["frontend", "hook_assets", "post_deploy", "api", "hook_migrate", "{}"],
        ]
    );
    let ports =
        query(p, "SELECT j.name, p.name, p.port FROM job_ports p JOIN job j ON j.job_id = p.job_id ORDER BY p.port");
    assert_eq!(
        ports,
        vec![
            vec!["database", "database_port", "5432"],
            vec!["frontend", "frontend_port", "8080"],
            vec!["api", "api_admin_port", "30000"],
            vec!["api", "api_http_port", "30001"],
        ]
    );
    let files = query(p, "SELECT path FROM job_files f JOIN job j ON j.job_id = f.job_id WHERE j.name = 'api'");
    let files: Vec<&str> = files.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        files,
        ["Makefile", "_hooks/hook_migrate.py", "config.json.tpl", "manifest.json", "vars.toml"],
        ".venv is skipped"
    );
    ok(&journal(p, &["verify"]));
}

#[test]
fn acceptance_workspace_kv_keys() {
    let dir = built();
    let p = dir.path();
    let bucket_id = ok(&maand(p, &["info", "--json"]));
    let bucket_id: serde_json::Value = serde_json::from_str(&bucket_id).unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("maand/bucket", "bucket_id", bucket_id["bucket_id"].as_str().unwrap()),
        ("maand/bucket", "jobs", "api,database,frontend"),
        ("maand/bucket", "activejobs", "api,database,frontend"),
        ("maand/bucket", "api_http_port", "30001"),
        ("maand/bucket", "database_port", "5432"),
        ("vars/bucket", "environment", "staging"),
        ("vars/bucket", "port_min", "30000"),
        ("maand/worker", "app_workers", "10.0.0.1,10.0.0.2,10.0.0.3"),
        ("maand/worker", "app_workers_length", "3"),
        ("maand/worker", "app_1", "10.0.0.2"),
        ("maand/worker", "db_workers", "10.0.0.1"),
        ("maand/worker", "worker_workers_length", "3"),
        ("maand/worker/10.0.0.2", "worker_ip", "10.0.0.2"),
        ("maand/worker/10.0.0.2", "hostname", "node-b"),
        ("maand/worker/10.0.0.2", "position", "1"),
        ("maand/worker/10.0.0.2", "labels", "app,worker"),
        ("maand/worker/10.0.0.2", "worker_memory_mb", "2048"),
        ("maand/worker/10.0.0.2", "worker_cpu_mhz", "2000"),
        ("maand/worker/10.0.0.2", "jobs", ""),
        ("maand/worker/10.0.0.1", "jobs", "api,database"),
        ("maand/worker/10.0.0.2", "app_peers", "10.0.0.1,10.0.0.3"),
        ("maand/worker/10.0.0.2", "app_allocation_index", "1"),
        ("maand/worker/10.0.0.1/tags", "rack", "r1"),
        ("maand/job/api", "name", "api"),
        ("maand/job/api", "version", "1.0.0"),
        ("maand/job/api", "selectors", "app"),
        ("maand/job/api", "workers", "10.0.0.1,10.0.0.3"),
        ("maand/job/api", "workers_length", "2"),
        ("maand/job/api", "worker_1", "10.0.0.3"),
        ("maand/job/api", "rollout_order", "10.0.0.1,10.0.0.3"),
        ("maand/job/api", "memory", "256"),
        ("maand/job/api", "max_memory_mb", "512"),
        ("maand/job/database", "min_memory_mb", "256"),
        ("maand/job/database", "cpu", "1000"),
        ("vars/bucket/job/database", "owner", "dba"),
        ("vars/job/api", "cluster_name", "prod-east"),
        ("vars/job/api", "replicas", "3"),
        ("maand/job/api/worker/10.0.0.2", "api_allocation_index", "1"),
        ("maand/job/api/worker/10.0.0.2", "peer_workers", "10.0.0.1,10.0.0.3"),
        ("maand/job/api/worker/10.0.0.3", "version", "1.0.0"),
    ];
    for (ns, key, want) in cases {
        assert_eq!(kv_get(p, ns, key), *want, "{ns} {key}");
    }
    let job_id = kv_get(p, "maand/job/api", "job_id");
    assert!(uuid::Uuid::parse_str(&job_id).is_ok());
    assert!(kv_get(p, "maand/worker", "app_label_id").len() == 36);
    assert!(kv_get(p, "maand/worker", "certs/ca.crt").starts_with("-----BEGIN CERTIFICATE-----"));
}

#[test]
fn certificates_verify_against_the_bucket_ca_with_the_right_sans() {
    use x509_parser::extensions::GeneralName;
    let dir = built();
    let p = dir.path();
    let ca_pem = std::fs::read(p.join("secrets/ca.crt")).unwrap();
    let (_, ca_pem) = x509_parser::pem::parse_x509_pem(&ca_pem).unwrap();
    let ca = ca_pem.parse_x509().unwrap();
    let sans = |pem: &str| -> (Vec<String>, String) {
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        cert.verify_signature(Some(ca.public_key())).expect("signed by the bucket CA");
        let mut ips: Vec<String> = cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::IPAddress(b) if b.len() == 4 => Some(format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
                _ => None,
            })
            .collect();
        ips.sort();
        let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string();
        (ips, cn)
    };
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        let ns = format!("maand/job/api/worker/{ip}");
        let (ips, cn) = sans(&kv_get(p, &ns, "certs/tls.crt"));
        assert_eq!(ips, vec!["10.0.0.".to_string() + &ip[7..], "127.0.0.1".into()], "per-worker SANs");
        assert_eq!(cn, "api.internal");
        let (ips, cn) = sans(&kv_get(p, &ns, "certs/cluster.crt"));
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1"], "one: SANs of all allocations");
        assert_eq!(cn, "api-cluster");
        // Keys are secrets: masked without --reveal, PKCS#1 or PKCS#8 with it.
        let o = maand(p, &["cat", "kv", "get", &ns, "certs/tls.key"]);
        assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "[encrypted]\n"), "the original's placeholder");
        let tls_key = ok(&maand(p, &["cat", "kv", "get", "--reveal", &ns, "certs/tls.key"]));
        assert!(tls_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{tls_key}");
        let cluster_key = ok(&maand(p, &["cat", "kv", "get", "--reveal", &ns, "certs/cluster.key"]));
        assert!(cluster_key.starts_with("-----BEGIN PRIVATE KEY-----"));
        // The private key never reaches the journal, the projection or listings in plaintext.
        let body: String = tls_key.lines().nth(1).unwrap().to_string();
        for f in ["data/journal.redb", "data/maand.db"] {
            let raw = std::fs::read(p.join(f)).unwrap();
            assert!(!raw.windows(body.len()).any(|w| w == body.as_bytes()), "{f} holds key material");
        }
        let export = ok(&journal(p, &["export", "--jsonl"]));
        assert!(!export.contains(&body));
        assert!(!ok(&maand(p, &["cat", "kv", "--json"])).contains(&body));
    }
    let one: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        .iter()
        .map(|ip| kv_get(p, &format!("maand/job/api/worker/{ip}"), "certs/cluster.crt"))
        .collect();
    assert!(one.windows(2).all(|w| w[0] == w[1]), "one: the same pair everywhere");
    let certs = ok(&maand(p, &["cat", "certs", "--json"]));
    let certs: Vec<serde_json::Value> = serde_json::from_str(&certs).unwrap();
    assert_eq!(certs.len(), 7, "CA + 2 certs x 3 workers");
    assert!(certs.iter().all(|c| c["status"] == "ok"), "{certs:?}");
}

#[test]
fn unchanged_rebuild_records_nothing_and_keeps_the_projection() {
    let dir = built();
    let p = dir.path();
    let before = sqlite_dump(&p.join("data/maand.db"));
    let serials = ok(&maand(p, &["cat", "kv", "--jobs", "api", "--json"]));
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("nothing changed"), "{out}");
    assert!(changes_in(p, last_session(p)).is_empty());
    let strip = |s: &str| s.lines().filter(|l| !l.contains("maand_projection VALUES")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&before), strip(&sqlite_dump(&p.join("data/maand.db"))));
    assert_eq!(serials, ok(&maand(p, &["cat", "kv", "--jobs", "api", "--json"])), "certificates are not churned");
    ok(&journal(p, &["verify"]));
}

#[test]
fn build_session_lists_its_events() {
    let dir = built();
    let p = dir.path();
    let kinds = changes_in(p, 2);
    for k in ["WorkerUpserted", "JobUpserted", "JobFilePut", "AllocationUpserted", "KvPut", "CertIssued"] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    let shown = ok(&journal(p, &["show", "2"]));
    assert!(shown.contains("allocation_upserted  api on 10.0.0.2 (disabled, version 1.0.0)"), "{shown}");
}

#[test]
fn removing_a_worker_and_editing_disabled_json() {
    let dir = built();
    let p = dir.path();
    // Drop 10.0.0.3 (api + frontend ran there).
    write(
        p,
        "workspace/workers.json",
        r#"[{"host": "10.0.0.1", "labels": ["db", "app"], "memory": "4 gb", "cpu": "4 ghz", "tags": {"zone": "a", "rack": "r1"}},
            {"host": "10.0.0.2", "labels": ["app"], "memory": "2048 mb", "cpu": "2000 mhz", "tags": {"zone": "b"}, "hostname": "node-b"}]"#,
    );
    // ... and enable api on 10.0.0.2, disable database everywhere.
    write(p, "workspace/disabled.json", r#"{"jobs": {"database": {}}}"#);
    ok(&maand(p, &["build"]));
    let allocs = query(p, "SELECT job, worker_ip, disabled, removed FROM cat_allocations");
    assert_eq!(
        allocs,
        vec![
            vec!["api", "10.0.0.1", "0", "0"],
            vec!["api", "10.0.0.2", "0", "0"],
            vec!["api", "10.0.0.3", "0", "1"],
            vec!["database", "10.0.0.1", "1", "0"],
            vec!["frontend", "10.0.0.3", "0", "1"],
        ]
    );
    assert!(query(p, "SELECT * FROM worker WHERE worker_ip = '10.0.0.3'").is_empty());
    // The removed allocation's namespace and the worker's are cleared; jobs
    // without an active allocation lose their job namespace.
    // (`peer_workers` is derived from the job's peer set, which no longer
    // lists the removed allocation: there is no such key.)
    let o = maand(p, &["cat", "kv", "get", "maand/job/api/worker/10.0.0.3", "peer_workers"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no key \"peer_workers\""), "{}", stderr(&o));
    let o = maand(p, &["cat", "kv", "get", "maand/job/api/worker/10.0.0.3", "certs/tls.key"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(maand(p, &["cat", "kv", "get", "maand/worker/10.0.0.3", "worker_ip"]).status.code(), Some(1));
    assert_eq!(maand(p, &["cat", "kv", "get", "maand/job/frontend", "name"]).status.code(), Some(1));
    assert_eq!(maand(p, &["cat", "kv", "get", "maand/job/database", "name"]).status.code(), Some(1));
    assert_eq!(kv_get(p, "maand/bucket", "activejobs"), "api");
    assert_eq!(kv_get(p, "maand/job/api", "rollout_order"), "10.0.0.1,10.0.0.2");
    assert_eq!(kv_get(p, "maand/job/api/worker/10.0.0.2", "peer_workers"), "10.0.0.1");
    // Certificate records of the removed allocation are retired; one: true re-issued for the new set.
    let certs: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "certs", "--json", "--workers", "10.0.0.1"]))).unwrap();
    assert_eq!(certs.len(), 2);
    let cluster = kv_get(p, "maand/job/api/worker/10.0.0.1", "certs/cluster.crt");
    assert_eq!(cluster, kv_get(p, "maand/job/api/worker/10.0.0.2", "certs/cluster.crt"));
    let deleted = ok(&maand(p, &["cat", "allocations", "--deleted", "--json"]));
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&deleted).unwrap().len(), 2);
    let active = ok(&maand(p, &["cat", "allocations", "--active", "--json"]));
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&active).unwrap().len(), 2);
    // Rebuilding again changes nothing.
    ok(&maand(p, &["build"]));
    assert!(changes_in(p, last_session(p)).is_empty());
    // The worker comes back: its allocations are live again.
    acceptance_workspace(p);
    ok(&maand(p, &["build"]));
    assert_eq!(query(p, "SELECT count(*) FROM allocations WHERE removed = 1"), vec![vec!["0"]]);
    ok(&journal(p, &["verify"]));
}

#[test]
fn ports_stay_stable_and_certs_follow_their_config() {
    let dir = built();
    let p = dir.path();
    let serial_of = |ip: &str, name: &str| {
        let certs: Vec<serde_json::Value> =
            serde_json::from_str(&ok(&maand(p, &["cat", "kv", "--json", "--workers", ip]))).unwrap();
        certs.iter().find(|c| c["key"] == format!("certs/{name}.crt")).map(|c| c["version"].clone()).unwrap()
    };
    let v_tls = serial_of("10.0.0.1", "tls");
    // A new pool port whose name sorts first must not move existing assignments.
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["app"], "max_concurrent_upgrades": 1,
 "resources": {"memory": {"max": "512 mb"}, "ports": {"api_aaa_port": {}, "api_http_port": {}, "api_admin_port": {}}},
 "hooks": {"hook_migrate": {"executed_on": ["pre_deploy"], "demands": {"job": "database", "hook": "hook_schema", "config": {"min_version": "2"}}}},
 "certs": {"tls": {"subject": {"common_name": "api.other"}}}}
"#,
    );
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "maand/bucket", "api_admin_port"), "30000");
    assert_eq!(kv_get(p, "maand/bucket", "api_http_port"), "30001");
    assert_eq!(kv_get(p, "maand/bucket", "api_aaa_port"), "30002");
    // Changed CN → re-issued; removed `cluster` cert → purged.
    assert_ne!(serial_of("10.0.0.1", "tls"), v_tls);
    assert_eq!(
        maand(p, &["cat", "kv", "get", "maand/job/api/worker/10.0.0.1", "certs/cluster.crt"]).status.code(),
        Some(1)
    );
    // A new CA → every leaf re-issued.
    let v = serial_of("10.0.0.3", "tls");
    std::fs::remove_file(p.join("secrets/ca.crt")).unwrap();
    std::fs::remove_file(p.join("secrets/ca.key")).unwrap();
    ok(&maand(p, &["init"]));
    ok(&maand(p, &["build"]));
    assert_ne!(serial_of("10.0.0.3", "tls"), v);
    let certs: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "certs", "--json"]))).unwrap();
    assert!(certs.iter().all(|c| c["status"] == "ok"), "{certs:?}");
    ok(&journal(p, &["verify"]));
}

#[test]
fn vars_merge_ttl_expiry_and_purge_job_kv() {
    let dir = built();
    let p = dir.path();
    // A hook-written key (recorded as hooks do) survives builds; an expired one is tombstoned.
    {
        let mut b = open(p, "hooks");
        let mut s = b.begin(maand::bucket::session_info("hooks")).unwrap();
        s.record(put("vars/job/api", "from_hook", "kept", maand::clock::now_ms())).unwrap();
        s.record(maand::event::Event::KvPut {
            namespace: "vars/job/api".into(),
            key: "short_lived".into(),
            value: maand::event::KvValue::Plain("x".into()),
            ttl: 1,
            at: maand::clock::now_ms() - 5_000,
        })
        .unwrap();
        s.commit().unwrap();
    }
    write(p, "workspace/jobs/api/vars.toml", "cluster_name = \"prod-west\"\n");
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "vars/job/api", "cluster_name"), "prod-west");
    assert_eq!(kv_get(p, "vars/job/api", "replicas"), "3", "vars.toml merge never deletes");
    assert_eq!(kv_get(p, "vars/job/api", "from_hook"), "kept");
    assert_eq!(
        maand(p, &["cat", "kv", "get", "vars/job/api", "short_lived"]).status.code(),
        Some(1),
        "expired key tombstoned"
    );
    let tomb = ok(&maand(p, &["cat", "kv", "--deleted", "--jobs", "api", "--json"]));
    assert!(tomb.contains("short_lived"), "{tomb}");

    // Without --purge-job-kv a job's vars outlive it; with it they go.
    std::fs::remove_dir_all(p.join("workspace/jobs/frontend")).unwrap();
    std::fs::remove_dir_all(p.join("workspace/jobs/api")).unwrap();
    write(p, "workspace/disabled.json", "{}");
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(0), "a section for a job that is gone is ignored, as the original does");
    assert!(
        stderr(&o)
            .contains("warning: workspace/bucket.jobs.conf: section [api] names no job in workspace/jobs; ignored"),
        "{}",
        stderr(&o)
    );
    write(p, "workspace/bucket.jobs.conf", "[database]\nmemory = \"512 mb\"\n");
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "vars/job/api", "from_hook"), "kept");
    ok(&maand(p, &["build", "--purge-job-kv"]));
    assert_eq!(maand(p, &["cat", "kv", "get", "vars/job/api", "from_hook"]).status.code(), Some(1));
    assert_eq!(query(p, "SELECT count(*) FROM job"), vec![vec!["1"]]);
    assert_eq!(query(p, "SELECT count(*) FROM job_files f WHERE f.path = 'config.json.tpl'"), vec![vec!["0"]]);
    ok(&journal(p, &["verify"]));
}

#[test]
fn job_create_scaffolds_a_buildable_job_and_refuses_to_overwrite() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.1.0.1", "labels": ["cache"]}]"#);
    let out = ok(&maand(p, &["job", "create", "cache"]));
    assert!(out.contains("created workspace/jobs/cache/"), "{out}");
    let mk = std::fs::read_to_string(p.join("workspace/jobs/cache/Makefile")).unwrap();
    for t in ["start:", "stop:", "restart:", "reload:", "status:"] {
        assert!(mk.contains(t), "{t}");
    }
    let o = maand(p, &["job", "create", "cache"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"));
    let o = maand(p, &["job", "create", "bad name"]);
    assert_eq!(o.status.code(), Some(2));
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("1 allocations"), "{out}");
    ok(&maand(p, &["job", "create", "web", "--selectors", "worker,edge"]));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap()).unwrap();
    assert_eq!(m["selectors"], serde_json::json!(["worker", "edge"]));
}

#[test]
fn cat_certs_reports_expiring_expired_and_invalid() {
    let dir = built();
    let p = dir.path();
    std::fs::write(p.join("maand.conf"), "certs_ttl = 60\ncerts_renewal_buffer = 10\n").unwrap();
    let ca_key = rcgen::KeyPair::from_pem(&std::fs::read_to_string(p.join("secrets/ca.key")).unwrap()).unwrap();
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&std::fs::read_to_string(p.join("secrets/ca.crt")).unwrap(), ca_key).unwrap();
    let leaf = |days: i64| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "api.internal");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(90);
        params.not_after = now + time::Duration::days(days);
        params.signed_by(&key, &issuer).unwrap().pem()
    };
    // Replace three stored leaves as a renewal would have left them.
    {
        let mut b = open(p, "test");
        let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
        let ns = |ip: &str| format!("maand/job/api/worker/{ip}");
        s.record(put(&ns("10.0.0.1"), "certs/tls.crt", &leaf(5), 1)).unwrap();
        s.record(put(&ns("10.0.0.2"), "certs/tls.crt", &leaf(-1), 1)).unwrap();
        s.record(put(&ns("10.0.0.3"), "certs/tls.crt", "not a certificate", 1)).unwrap();
        s.commit().unwrap();
    }
    let certs: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "certs", "--json", "--jobs", "api"]))).unwrap();
    let status = |ip: &str| {
        certs
            .iter()
            .find(|c| c["worker"] == ip && c["name"] == "tls")
            .map(|c| c["status"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(status("10.0.0.1"), "expiring");
    assert_eq!(status("10.0.0.2"), "expired");
    assert_eq!(status("10.0.0.3"), "invalid");
    let days =
        certs.iter().find(|c| c["worker"] == "10.0.0.1" && c["name"] == "tls").unwrap()["days_left"].as_i64().unwrap();
    assert!((4..=5).contains(&days), "{days}");
}

/// A link to a file inside the same job folder is stored as a copy of that
/// file (docs/workspace.md); links leaving the folder are refused (see
/// build_bad_input.rs).
#[test]
fn a_link_inside_the_job_folder_is_stored_as_a_copy_of_its_target() {
    let dir = fresh_bucket();
    let p = dir.path();
    acceptance_workspace(p);
    write(p, "workspace/jobs/api/conf/v2.conf", "version = 2\n");
    std::os::unix::fs::symlink("conf/v2.conf", p.join("workspace/jobs/api/current.conf")).unwrap();
    ok(&maand(p, &["build"]));
    let rows = query(
        p,
        "SELECT f.path, CAST(f.content AS TEXT) FROM job_files f JOIN job j ON j.job_id = f.job_id \
         WHERE j.name = 'api' AND f.path LIKE '%.conf' ORDER BY f.path",
    );
    assert_eq!(rows, vec![vec!["conf/v2.conf", "version = 2\n"], vec!["current.conf", "version = 2\n"]]);
}
