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
    // Control-host folders: never shipped, their templates never rendered.
    write(p, "workspace/jobs/db/_prometheus/runbooks/db_down.md", "# db down\n");
    write(p, "workspace/jobs/db/_prometheus/notes.yml.tpl", "{{ notAFunction }}\n");
    write(p, "workspace/jobs/db/_modules/lib.py", "X = 1\n");
    job(p, "broken", r#""hook_ready": {"executed_on": ["cli"]}"#, "");
    write(p, "workspace/jobs/broken/_hooks/hook_ready.py", "print('ready')\n");
    write(p, "workspace/jobs/broken/app.conf.tpl", "name = {{ .WorkerIP\n");
    // noisy's start prints and fails: its output ends up in the summary,
    // logs/ and the journal.
    job(p, "noisy", "", "");
    write(
        p,
        "workspace/jobs/noisy/Makefile",
        "start:\n\t@echo line-one\n\t@echo line-two\n\t@echo boom >&2\n\t@exit 3\nstop:\n\t@true\n",
    );
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
    assert!(err.contains("deploy failed: 2 job(s) failed, 2 skipped, 2 promoted"), "{err}");
    assert!(err.contains("  failed noisy (wave 0): new batch 1/1 failed:"), "{err}");
    assert!(err.contains("make start exit 2") || err.contains("make start exit 3"), "{err}");
    for line in ["| line-one", "| line-two", "| boom"] {
        assert!(err.contains(line) && out.contains(line), "the output's end is shown on failure: {line}\n{out}\n{err}");
    }
    let failed = err.lines().find(|l| l.contains("failed broken (wave 0):")).unwrap_or_else(|| panic!("{err}"));
    assert!(failed.contains("app.conf.tpl"), "the reason names the template: {failed}");
    assert!(err.contains("  skipped consumer (wave 1): demands job broken, which failed in this deploy"), "{err}");
    assert!(err.contains("  skipped edge (wave 2): demands job consumer, which was skipped in this deploy"), "{err}");
    // What ran: db and api started; broken, consumer and edge never reached a worker.
    assert_eq!(history(&w, p, "db"), "start\n");
    assert_eq!(history(&w, p, "api"), "start\n");
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let db = w.opt(&w.ips[0]).join(&bid).join("jobs/db");
    assert!(db.join("Makefile").exists());
    for gone in ["_hooks", "_modules", "_prometheus", "notes.yml"] {
        assert!(!db.join(gone).exists(), "{gone} was shipped");
    }
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
    let ip = &w.ips[0];
    for line in ["line-one", "line-two", "boom"] {
        assert!(log.contains(&format!("job=noisy worker={ip} phase=new")) && log.contains(line), "{log}");
    }
    let worker_log = std::fs::read_to_string(p.join(format!("logs/{ip}.log"))).unwrap();
    assert!(worker_log.contains("line-two"), "every line in the worker's log too");
    assert!(audit.contains("lifecycle_output") && audit.contains("noisy on"), "{audit}");
    let shown = ok(&journal(p, &["show", &last_session(p).to_string(), "--json"]));
    assert!(shown.contains("line-one\\nline-two\\nboom"), "the tail is kept in the journal: {shown}");

    // Fixed: the next deploy runs the three and leaves db and api alone.
    write(p, "workspace/jobs/broken/app.conf.tpl", "name = {{ .WorkerIP }}\n");
    write(p, "workspace/jobs/noisy/Makefile", MAKEFILE);
    let out = ok(&maand(p, &["deploy", "--build"]));
    for j in ["broken", "consumer", "edge"] {
        assert!(out.contains(&format!("{j}: promoted")), "{out}");
    }
    assert_eq!(history(&w, p, "db"), "start\n", "db untouched");
}

/// A hook library as real jobs ship it: waits for the node with
/// `run_ssh(...).stdout` and opens the certificates beside its own file.
const DBLIB: &str = r#"
import json, os, time
import maand

CERTS = os.path.join(os.path.dirname(__file__), "certs")


def wait_up(job, attempts=150):
    bid = maand.get_kv_value("maand/bucket", "bucket_id")
    for _ in range(attempts):
        r = maand.run_ssh(maand.allocation_ip(), "cat /opt/worker/%s/jobs/%s/data/state 2>/dev/null || true" % (bid, job))
        if r.stdout.strip() == "up":
            return r
        time.sleep(0.2)
    raise SystemExit("node never came up")


def report(name, **fields):
    fields["certs"] = sorted(os.listdir(CERTS)) if os.path.isdir(CERTS) else None
    with open(os.path.join(os.environ["BUCKET_ROOT"], "%s-%s.json" % (name, maand.allocation_ip())), "w") as f:
        json.dump(fields, f)
"#;

#[test]
fn hook_libraries_wait_with_run_ssh_stdout_and_find_their_certs() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = bucket(&w);
    let p = dir.path();
    let ip = &w.ips[0];
    // db comes up two seconds after `make start` returns.
    let hooks = r#""hook_check": {"executed_on": ["pre_deploy"]}, "hook_wait": {"executed_on": ["post_deploy"]},
                   "hook_contract": {"executed_on": ["post_deploy"]}"#;
    job(p, "db", hooks, r#", "certs": {"tls": {"subject": {"common_name": "db.internal"}}}"#);
    write(
        p,
        "workspace/jobs/db/Makefile",
        "start:\n\t@mkdir -p data\n\t@rm -f data/state\n\t@(sleep 2; echo up > data/state) > /dev/null 2>&1 &\n\
         stop:\n\t@rm -f data/state\nrestart: stop start\nstatus:\n\t@echo db-status-ok\n",
    );
    write(p, "workspace/jobs/db/_hooks/dblib.py", DBLIB);
    write(
        p,
        "workspace/jobs/db/_hooks/hook_check.py",
        "import os, dblib\n\
         for f in ('tls.crt', 'tls.key', 'ca.crt'):\n    assert os.path.exists(os.path.join(dblib.CERTS, f)), f\n\
         dblib.report('check')\n",
    );
    write(
        p,
        "workspace/jobs/db/_hooks/hook_wait.py",
        "import dblib, maand\nr = dblib.wait_up('db')\n\
         m = maand.run_make_target('status', timeout=30)\n\
         dblib.report('wait', stdout=r.stdout, stderr=r.stderr, make=m.stdout, make_err=m.stderr)\n",
    );
    write(p, "workspace/jobs/db/_hooks/hook_contract.py", include_str!("helpers/contract.py"));
    // A job without certificates of its own still finds the CA.
    job(p, "plain", r#""hook_ca": {"executed_on": ["pre_deploy"]}"#, "");
    write(p, "workspace/jobs/plain/_hooks/dblib.py", DBLIB);
    write(p, "workspace/jobs/plain/_hooks/hook_ca.py", "import dblib\ndblib.report('ca')\n");
    ok(&maand(p, &["build"]));
    let out = ok(&maand(p, &["deploy"]));
    assert!(out.contains("db: promoted") && out.contains("plain: promoted"), "{out}");

    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p.join(format!("{name}-{ip}.json"))).unwrap()).unwrap()
    };
    assert_eq!(read("check")["certs"], serde_json::json!(["ca.crt", "tls.crt", "tls.key"]));
    assert_eq!(read("ca")["certs"], serde_json::json!(["ca.crt"]), "ca.crt for every job");
    let wait = read("wait");
    assert_eq!(wait["stdout"], "up\n", "run_ssh captures stdout as text");
    assert_eq!(wait["stderr"], "", "no ssh notices in the hook's output");
    assert!(wait["make"].as_str().unwrap().contains("\ndb-status-ok\n"), "{wait}");
    let contract = read("contract");
    assert_eq!(contract["problems"], serde_json::json!([]), "{contract:#}");
    let res = &contract["results"];
    assert_eq!(res["run_ssh"][0], 0);
    assert!(res["run_ssh"][1].as_str().unwrap().starts_with("hello-from-"), "{res}");
    assert_eq!(res["run_ssh"][2], "");
    assert!(res["run_make_target"][1].as_str().unwrap().contains("\ndb-status-ok\n"), "{res}");
    assert_eq!(res["run_runner_target"][0], 0, "{res}");
    assert_eq!(res["run_ssh_check"], 3, "check=True raises CalledProcessError");
    assert_eq!(res["run_ssh_timeout"], 124, "the remote command is bounded by timeout");
}

#[test]
fn a_service_healthy_after_seconds_passes_a_hook_only_health_check_every_time() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = bucket(&w);
    let p = dir.path();
    // Health judged by a hook only: wait and timeout, no checks.
    job(
        p,
        "svc",
        r#""hook_health": {"executed_on": ["health_check"]}"#,
        r#", "max_concurrent_upgrades": 1,
           "health_check": {"wait": {"attempts": 15, "interval_seconds": 1}, "timeout_seconds": 2}"#,
    );
    // The service reports healthy from its third check after a start on
    // (as one that needs a few seconds, without the test timing anything).
    write(
        p,
        "workspace/jobs/svc/Makefile",
        "start:\n\t@mkdir -p data\n\t@rm -f data/checks\nstop:\n\t@rm -f data/checks\nrestart: stop start\n\
         health:\n\t@echo . >> data/checks\n\t@test $$(wc -l < data/checks) -ge 3\n",
    );
    write(
        p,
        "workspace/jobs/svc/_hooks/hook_health.py",
        "import subprocess, sys, maand\ntry:\n    maand.run_make_target('health', timeout=10)\n\
         except subprocess.CalledProcessError:\n    sys.exit(1)\n",
    );
    let built = ok(&maand(p, &["build"]));
    assert!(built.contains("change"), "a health_check without checks builds: {built}");
    let hook_runs = |session: u64| -> (usize, usize) {
        let evs = session_events(p, session);
        let runs: Vec<&serde_json::Value> = evs
            .iter()
            .filter_map(|e| e["event"]["HookInvoked"].as_object())
            .filter_map(|h| h.get("exit_code"))
            .collect();
        (runs.len(), runs.iter().filter(|c| **c == 0).count())
    };

    let out = ok(&maand(p, &["deploy"]));
    assert!(out.contains("svc: promoted"), "{out}");
    // Hooks run one worker at a time (max_concurrent_upgrades 1), a run
    // stopping at its first failing batch: the first worker passes at the
    // third attempt, the second at the fifth.
    assert!(out.contains("health_check hooks failed (attempt 4), retrying"), "{out}");
    assert!(!out.contains("(attempt 5)"), "{out}");
    let (runs, passed) = hook_runs(last_session(p));
    assert_eq!((runs, passed), (8, 4), "every attempt journaled");

    // `maand job restart --health_check`: the gate after every batch.
    let out = ok(&maand(p, &["job", "restart", "svc", "--health_check"]));
    let gates: Vec<&str> = out.lines().filter(|l| l.starts_with("svc: healthy [")).collect();
    assert_eq!(gates, [format!("svc: healthy [{}]", w.ips[0]), format!("svc: healthy [{}]", w.ips[1])], "{out}");
    assert_eq!(out.matches("(attempt 2), retrying").count(), 2, "retries after each batch's restart: {out}");

    // `maand health_check --wait` right after a restart retries the hook
    // until the service reports healthy.
    ok(&maand(p, &["job", "restart", "svc"]));
    let out = ok(&maand(p, &["health_check", "--wait"]));
    assert!(out.contains("health check passed: svc") && out.contains("retrying"), "{out}");

    // `maand run_command --health_check` gates every job after every batch.
    let out = ok(&maand(p, &["run_command", "true", "-c", "1", "--health_check"]));
    assert_eq!(out.matches("health check passed: svc").count(), 2, "{out}");
}

/// A leader-last ordering hook as real libraries write it: it talks to the
/// cluster with the certificates beside its file and, when it cannot, falls
/// back to the default order silently — which restarts the leader first.
#[test]
fn a_leader_last_hook_finds_its_certs_and_orders_the_rollout() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = bucket(&w);
    let p = dir.path();
    let (leader, follower) = (&w.ips[0], &w.ips[1]);
    job(
        p,
        "coord",
        r#""hook_order": {"executed_on": ["pre_deploy"]}"#,
        r#", "max_concurrent_upgrades": 1, "certs": {"peer": {"subject": {"common_name": "coord"}}}"#,
    );
    write(
        p,
        "workspace/jobs/coord/_hooks/hook_order.py",
        &format!(
            "import os, maand\n\
             certs = os.path.join(os.path.dirname(__file__), 'certs')\n\
             try:\n    ca = open(os.path.join(certs, 'ca.crt')).read()\n    \
             peer = open(os.path.join(certs, 'peer.crt')).read()\n\
             except OSError:\n    raise SystemExit(0)  # no cluster access: default order\n\
             assert 'BEGIN CERTIFICATE' in ca and 'BEGIN CERTIFICATE' in peer\n\
             if maand.is_one_shot():\n    maand.put_rollout_order(['{follower}', '{leader}']).raise_for_status()\n"
        ),
    );
    ok(&maand(p, &["build"]));
    // Rollout order is written by pre_deploy before this job is planned.
    let out = ok(&maand(p, &["deploy"]));
    assert!(out.contains(&format!("wave 0: coord (order kv {follower},{leader})")), "leader last: {out}");
    assert_eq!(kv_get(p, "maand/job/coord", "rollout_order"), format!("{follower},{leader}"));
    write(p, "workspace/jobs/coord/config.txt", "v2\n");
    let out = ok(&maand(p, &["deploy", "--build"]));
    let batches: Vec<&str> = out.lines().filter(|l| l.contains("coord update batch")).collect();
    assert_eq!(batches.len(), 2, "{out}");
    assert!(batches[0].contains(&format!("[{follower}]")) && batches[1].contains(&format!("[{leader}]")), "{out}");
}
