//! Day-2 commands on real loopback workers after a real deploy.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::path::Path;

const MAKEFILE: &str = "include config.env
start:
\t@mkdir -p data logs
\t@nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid
\t@echo start >> data/history
stop:
\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi
\t@echo stop >> data/history
restart: stop start
status:
\t@if [ -f data/pid ]; then echo \"running as $$(cat data/pid)\"; else echo stopped; fi
migrate:
\t@echo \"migrate $(NEW_VERSION)\" >> data/history
";

fn deployed(w: &TestWorkers, extra_manifest: &str) -> tempfile::TempDir {
    let dir = fresh_bucket();
    deployed_prepare(w, dir.path(), extra_manifest);
    ok(&maand(dir.path(), &["deploy", "--build"]));
    dir
}

fn deployed_prepare(w: &TestWorkers, p: &Path, extra_manifest: &str) {
    w.configure_bucket(p);
    let ws: Vec<String> = w
        .ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!(r#"{{"host": "{ip}", "labels": ["web"{}]}}"#, if i == 0 { r#", "edge""# } else { "" }))
        .collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(p, "workspace/bucket.conf", "port_min = \"37000\"\nport_max = \"37999\"\n");
    write(
        p,
        "workspace/jobs/web/manifest.json",
        &format!(
            r#"{{"version": "1.0.0", "selectors": ["web"], "max_concurrent_upgrades": 2, "resources": {{"ports": {{"web_port": {{}}}}}},
  "health_check": {{"checks": [{{"type": "tcp", "port": "web_port"}}, {{"type": "http", "port": "web_port", "path": "/", "expect_status": 200}}], "timeout_seconds": 2, "wait": {{"attempts": 10, "interval_seconds": 1}}}}{extra_manifest}}}"#
        ),
    );
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    write(p, "workspace/jobs/web/config.env.tpl", "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"web_port\" }}\n");
    write(p, "workspace/jobs/web/index.html", "ok\n");
}

fn history(w: &TestWorkers, p: &Path, ip: &str) -> String {
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    std::fs::read_to_string(w.opt(ip).join(bid).join("jobs/web/data/history")).unwrap_or_default()
}

#[test]
fn job_lifecycle_targets_on_selected_allocations() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = deployed(&w, "");
    let p = dir.path();
    let one = w.ips[1].clone();
    ok(&maand(p, &["job", "stop", "web", "--allocations", &one]));
    assert_eq!(history(&w, p, &one), "start\nstop\n");
    assert_eq!(history(&w, p, &w.ips[0]), "start\n", "only the selected allocation");
    let status = ok(&maand(p, &["job", "status", "web"]));
    assert!(status.contains(&format!("web@{one} | stopped")), "{status}");
    assert!(status.contains(&format!("web@{} | running as", w.ips[0])), "{status}");
    ok(&maand(p, &["job", "start", "web", "--allocations", &one, "--health_check"]));
    assert_eq!(history(&w, p, &one), "start\nstop\nstart\n");
    ok(&maand(p, &["job", "run", "web", "--target", "migrate"]));
    for ip in &w.ips {
        assert!(history(&w, p, ip).ends_with("migrate 1.0.0\n"), "{}", history(&w, p, ip));
    }
    // Unsafe targets are refused before any worker is contacted (no key needed).
    std::fs::remove_file(p.join("secrets/worker.key")).unwrap();
    let o = maand(p, &["job", "run", "web", "--target", "x; rm -rf /"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a make target may only hold"), "{}", stderr(&o));
    let o = maand(p, &["job", "start", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn stale_worker_json_is_refused_and_job_control_gets_target() {
    let Some(w) = start_or_skip(2) else { return };
    let hook = r#", "hooks": {"hook_ctl": {"executed_on": ["job_control"]}}"#;
    let dir = fresh_bucket();
    let p = dir.path();
    // The hook drives the Makefile over SSH with the Python helpers.
    write(
        p,
        "workspace/jobs/web/_hooks/hook_ctl.py",
        "import maand, os\nip = maand.allocation_ip()\ntarget = os.environ.get('TARGET') or ('start' if ip in os.environ.get('NEW_ALLOCATIONS', '').split(',') else 'restart')\nmaand.run_runner_target(target)\nwith open(os.path.join(os.environ['BUCKET_ROOT'], 'ctl-' + ip), 'a') as f:\n    f.write('%s %s %s %s\\n' % (target, os.environ['BATCH_COUNT'], os.environ['BATCH_ALLOCATIONS'], os.environ['DEPLOY_PHASE']))\n",
    );
    deployed_into(&w, p, hook);
    let target_ip = w.ips[1].clone();
    ok(&maand(p, &["job", "run", "web", "--target", "migrate", "--allocations", &target_ip]));
    let ctl = std::fs::read_to_string(p.join(format!("ctl-{target_ip}"))).unwrap();
    assert!(ctl.ends_with(&format!("migrate 1 {target_ip} job_control\n")), "{ctl}");
    assert!(
        !std::fs::read_to_string(p.join(format!("ctl-{}", w.ips[0]))).unwrap().contains("migrate"),
        "only the selected worker"
    );
    assert!(history(&w, p, &target_ip).ends_with("migrate 1.0.0\n"));
    // A worker whose worker.json is stale is refused, naming it.
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let wj = w.opt(&w.ips[0]).join(&bid).join("worker.json");
    let stale = std::fs::read_to_string(&wj).unwrap().replace("\"update_seq\": 1", "\"update_seq\": 0");
    std::fs::write(&wj, stale).unwrap();
    let o = maand(p, &["job", "status", "web"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "worker {}: worker.json has update_seq 0 (the catalog is at 1): run maand deploy",
            w.ips[0]
        )),
        "{}",
        stderr(&o)
    );
}

/// Like [`deployed`] but into an existing bucket directory.
fn deployed_into(w: &TestWorkers, p: &Path, extra_manifest: &str) {
    deployed_prepare(w, p, extra_manifest);
    ok(&maand(p, &["deploy", "--build"]));
}

#[test]
fn health_check_waits_for_a_late_port_and_names_failures() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = deployed(&w, "");
    let p = dir.path();
    ok(&maand(p, &["health_check"]));
    // Stop one worker's service: without --wait it fails at once, naming worker and port.
    let one = w.ips[0].clone();
    ok(&maand(p, &["job", "stop", "web", "--allocations", &one]));
    let o = maand(p, &["health_check", "--jobs", "web"]);
    assert_eq!(o.status.code(), Some(1));
    let port = kv_get(p, "maand/bucket", "web_port");
    assert!(stderr(&o).contains(&format!("tcp {one}:{port}")), "{}", stderr(&o));
    // --wait gives up after the manifest's wait budget with the last error.
    let o = maand(p, &["health_check", "--wait", "--jobs", "web"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("tcp {one}:{port}")), "{}", stderr(&o));
    // The service comes up a little later (started behind maand's back):
    // --wait passes once the port opens.
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let key = p.join("secrets/worker.key");
    let one2 = one.clone();
    let starter = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        std::process::Command::new("ssh")
            .args(["-i", key.to_str().unwrap(), "-p", &common::workers::PORT.to_string(), "-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
            .arg(format!("root@{one2}"))
            .arg(format!("cd /opt/worker/{bid}/jobs/web && make -s start"))
            .status()
            .unwrap()
    });
    let o = maand(p, &["health_check", "--wait"]);
    assert!(starter.join().unwrap().success());
    ok(&o);
    assert!(stdout(&o).contains("health check passed: web"), "{}", stdout(&o));
    // An http probe expecting another status fails naming worker, port and status.
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json"))
        .unwrap()
        .replace("\"expect_status\": 200", "\"expect_status\": 204");
    write(p, "workspace/jobs/web/manifest.json", &m);
    ok(&maand(p, &["build"]));
    let o = maand(p, &["health_check", "--jobs", "web"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("http://{}:{port}/: status 200, expected 204", w.ips[0])), "{}", stderr(&o));
    let o = maand(p, &["health_check", "--jobs", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_command_by_label_runs_in_the_bucket_dir() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = deployed(&w, "");
    let p = dir.path();
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let out = ok(&maand(p, &["run_command", "echo $WORKER_IP $BUCKET_ID; pwd", "-l", "edge"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("{} | {} {bid}", w.ips[0], w.ips[0])), "{out}");
    assert!(out.contains(&format!("{} | /opt/worker/{bid}", w.ips[0])), "{out}");
    let out = ok(&maand(p, &["run_command", "hostname", "-w", &format!("{},{}", w.ips[1], w.ips[2]), "-c", "1"]));
    assert_eq!(out.lines().count(), 2, "{out}");
    let o = maand(p, &["run_command", &format!("[ $WORKER_IP != {} ]", w.ips[1])]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("command failed on 1 worker(s): {} (exit 1)", w.ips[1])), "{}", stderr(&o));
    let o = maand(p, &["run_command", "true", "-w", "10.9.9.9"]);
    assert_eq!(o.status.code(), Some(2));
    let o = maand(p, &["run_command", "true", "-w", &w.ips[0], "-l", "web"]);
    assert_eq!(o.status.code(), Some(2), "-w and -l are exclusive");
    let shown = ok(&journal(p, &["show", &last_session(p).to_string()]));
    assert!(shown.contains("remote_command_ran"), "{shown}");
}

#[test]
fn worker_facts_rewrites_only_memory_and_cpu_all_or_nothing() {
    let Some(mut w) = start_or_skip(2) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let src = format!(
        "[\n  {{\"hostname\": \"a\", \"host\": \"{}\", \"tags\": {{\"zone\": \"z1\"}}, \"memory\": \"1 mb\"}},\n  {{\"host\": \"{}\", \"labels\": [\"x\"]}}\n]\n",
        w.ips[0], w.ips[1]
    );
    write(p, "workspace/workers.json", &src);
    ok(&maand(p, &["build"]));
    let out = ok(&maand(p, &["worker_facts", "--dry-run"]));
    assert!(out.contains("would change"), "{out}");
    assert_eq!(std::fs::read_to_string(p.join("workspace/workers.json")).unwrap(), src, "--dry-run writes nothing");
    ok(&maand(p, &["worker_facts", "--build"]));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("workspace/workers.json")).unwrap()).unwrap();
    let keys: Vec<&String> = doc[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["hostname", "host", "tags", "memory", "cpu"], "order and other fields kept");
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(doc[0]["memory"], format!("{} mb", mem_kb / 1024));
    assert!(doc[1]["cpu"].as_str().unwrap().ends_with(" mhz"));
    assert_eq!(doc[1]["labels"], serde_json::json!(["x"]));
    let workers: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "workers", "--json"]))).unwrap();
    assert_eq!(workers[0]["memory_mb"], mem_kb / 1024, "--build rebuilt the catalog");
    assert!(ok(&maand(p, &["worker_facts"])).contains("already up to date"));
    // One unreachable worker: nothing is written.
    let before = std::fs::read_to_string(p.join("workspace/workers.json")).unwrap();
    write(p, "workspace/workers.json", &before.replace(&format!("{} mb", mem_kb / 1024), "2 mb"));
    let edited = std::fs::read_to_string(p.join("workspace/workers.json")).unwrap();
    let gone = w.ips[1].clone();
    w.stop(&gone);
    let o = maand(p, &["worker_facts"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing written") && stderr(&o).contains(&gone), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(p.join("workspace/workers.json")).unwrap(), edited);
}

#[test]
fn gc_after_a_job_is_removed() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = deployed(&w, "");
    let p = dir.path();
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    write(p, "workspace/jobs/web/vars.toml", "kept = \"until gc\"\n");
    ok(&maand(p, &["build"]));
    std::fs::remove_dir_all(p.join("workspace/jobs/web")).unwrap();
    ok(&maand(p, &["deploy", "--build"]));
    // Deploy stopped it and removed its files but kept data/ and logs/.
    let job = w.opt(&w.ips[0]).join(&bid).join("jobs/web");
    assert!(job.join("data").exists() && !job.join("Makefile").exists());
    let out = ok(&maand(p, &["gc", "--retain-days", "0"]));
    assert!(out.contains("2 allocation(s) purged"), "{out}");
    for ip in &w.ips {
        assert!(!w.opt(ip).join(&bid).join("jobs/web").exists(), "gc deletes the job directory");
    }
    let allocs: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "allocations", "--json"]))).unwrap();
    assert!(allocs.is_empty(), "{allocs:?}");
    let kv = ok(&maand(p, &["cat", "kv", "--json"]));
    assert!(!kv.contains("vars/job/web") && !kv.contains("maand/job/web"), "{kv}");
    let conn = rusqlite::Connection::open(p.join("data/maand.db")).unwrap();
    let rows: i64 = conn.query_row("SELECT count(*) FROM hash", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0);
    // History stays in the journal.
    let first_build = ok(&journal(p, &["show", "2"]));
    assert!(first_build.contains("job_upserted         job web"), "{first_build}");
    ok(&journal(p, &["verify"]));
    replay_checks(p, &["build", "reconcile", "staged", "rollout"]);
}
