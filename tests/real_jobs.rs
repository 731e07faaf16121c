//! Jobs written the way operators write them for the original maand,
//! deployed on real loopback sshd workers with real rsync, make and hook
//! processes: failure isolation between jobs, helpers, hook certificates,
//! health_check hooks, what is shipped, lifecycle output.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::path::Path;

/// A job's Makefile: `start` records that it ran in `data/history`.
const MAKEFILE: &str = "start:\n\t@mkdir -p data\n\t@echo start >> data/history\n\
stop:\n\t@echo stop >> data/history\nrestart: stop start\n";

/// A bucket pointed at `w`, every worker labelled `app`.
fn bucket(w: &TestWorkers) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["app"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    dir
}

/// Job `name` on every worker; `hooks` is the manifest's hooks object body.
fn job(p: &Path, name: &str, hooks: &str, extra: &str) {
    write(
        p,
        &format!("workspace/jobs/{name}/manifest.json"),
        &format!(r#"{{"version": "1.0.0", "selectors": ["app"], "hooks": {{{hooks}}}{extra}}}"#),
    );
    write(p, &format!("workspace/jobs/{name}/Makefile"), MAKEFILE);
}

fn history(w: &TestWorkers, p: &Path, job: &str) -> String {
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    std::fs::read_to_string(w.opt(&w.ips[0]).join(bid).join(format!("jobs/{job}/data/history"))).unwrap_or_default()
}

#[test]
fn one_jobs_broken_template_fails_that_job_and_what_demands_it_the_rest_deploys() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = bucket(&w);
    let p = dir.path();
    // Wave 0: db (fine) and broken (its template does not parse).
    job(p, "db", r#""hook_ready": {"executed_on": ["cli"]}"#, "");
    write(p, "workspace/jobs/db/_hooks/hook_ready.py", "print('ready')\n");
    job(p, "broken", r#""hook_ready": {"executed_on": ["cli"]}"#, "");
    write(p, "workspace/jobs/broken/_hooks/hook_ready.py", "print('ready')\n");
    write(p, "workspace/jobs/broken/app.conf.tpl", "name = {{ .WorkerIP\n");
    // Wave 1: api demands db (runs); consumer demands broken (skipped).
    // Wave 2: edge demands consumer (skipped, transitively).
    let demand = |job: &str| {
        format!(r#""hook_pre": {{"executed_on": ["pre_deploy"], "demands": {{"job": "{job}", "hook": "hook_ready"}}}}"#)
    };
    for (name, upstream) in [("api", "db"), ("consumer", "broken")] {
        job(p, name, &(demand(upstream) + r#", "hook_ready": {"executed_on": ["cli"]}"#), "");
        write(p, &format!("workspace/jobs/{name}/_hooks/hook_pre.py"), "print('pre')\n");
        write(p, &format!("workspace/jobs/{name}/_hooks/hook_ready.py"), "print('ready')\n");
    }
    job(p, "edge", &demand("consumer"), "");
    write(p, "workspace/jobs/edge/_hooks/hook_pre.py", "print('pre')\n");
    ok(&maand(p, &["build"]));

    let o = maand(p, &["deploy"]);
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "a failed job fails the command with exit 1\n{out}\n{err}");
    assert!(out.contains("wave 0: db: promoted") && out.contains("wave 1: api: promoted"), "{out}");
    assert!(err.contains("deploy failed: 1 job(s) failed, 2 skipped, 2 promoted"), "{err}");
    let failed = err.lines().find(|l| l.contains("failed broken (wave 0):")).unwrap_or_else(|| panic!("{err}"));
    assert!(failed.contains("app.conf.tpl"), "the reason names the template: {failed}");
    assert!(err.contains("  skipped consumer (wave 1): demands job broken, which failed in this deploy"), "{err}");
    assert!(err.contains("  skipped edge (wave 2): demands job consumer, which was skipped in this deploy"), "{err}");
    // What ran: db and api started; broken, consumer and edge never reached a worker.
    assert_eq!(history(&w, p, "db"), "start\n");
    assert_eq!(history(&w, p, "api"), "start\n");
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    for j in ["broken", "consumer", "edge"] {
        assert!(!w.opt(&w.ips[0]).join(&bid).join("jobs").join(j).exists(), "{j} was shipped");
    }
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    let mut promoted: Vec<&str> =
        deps.iter().filter(|d| d["current_hash"] != "").filter_map(|d| d["job"].as_str()).collect();
    promoted.sort();
    assert_eq!(promoted, ["api", "db"]);

    // The journal and the logs say why, per job.
    let audit = ok(&journal(p, &["audit", &last_session(p).to_string()]));
    assert!(audit.contains("job_deploy_failed") && audit.contains("broken FAILED"), "{audit}");
    assert!(audit.contains("job_deploy_skipped") && audit.contains("consumer skipped: demands job broken"), "{audit}");
    let log = std::fs::read_to_string(p.join("logs/maand.log")).unwrap();
    assert!(log.contains("event=job_failed job=broken"), "{log}");
    assert!(log.contains("event=job_skipped job=edge"), "{log}");

    // Fixed: the next deploy runs the three and leaves db and api alone.
    write(p, "workspace/jobs/broken/app.conf.tpl", "name = {{ .WorkerIP }}\n");
    let out = ok(&maand(p, &["deploy", "--build"]));
    for j in ["broken", "consumer", "edge"] {
        assert!(out.contains(&format!("{j}: promoted")), "{out}");
    }
    assert_eq!(history(&w, p, "db"), "start\n", "db untouched");
}
