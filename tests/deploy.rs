//! `maand deploy` on real loopback sshd workers with real rsync, make and a
//! real service (python's http.server) behind a tcp health gate.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::path::Path;

const MAKEFILE: &str = "include config.env
start:
\t@mkdir -p data logs
\t@nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid
\t@echo \"start $(NEW_VERSION)\" >> data/history
stop:
\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi
\t@echo stop >> data/history
restart: stop start
reload:
\t@echo \"reload $(NEW_VERSION)\" >> data/history
status:
\t@echo running
";

fn setup(workers: &TestWorkers, width: u64, policy: &str) -> tempfile::TempDir {
    let dir = common::web::web_bucket(workers);
    let p = dir.path();
    let globs = if policy == "reload" { r#", "restart_globs": ["Makefile", "bin2/**"]"# } else { "" };
    write(
        p,
        "workspace/jobs/web/manifest.json",
        &format!(
            r#"{{"version": "1.0.0", "selectors": ["web"], "max_concurrent_upgrades": {width}, "max_concurrent_starts": 0,
  "restart_policy": "{policy}"{globs},
  "resources": {{"ports": {{"web_port": {{}}}}}},
  "health_check": {{"checks": [{{"type": "tcp", "port": "web_port"}}], "timeout_seconds": 2, "wait": {{"attempts": 20, "interval_seconds": 1}}}}}}"#
        ),
    );
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    write(p, "workspace/jobs/web/config.env.tpl", "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"web_port\" }}\n");
    write(p, "workspace/jobs/web/index.html", "<h1>v1</h1>\n");
    ok(&maand(p, &["build"]));
    dir
}

fn history(w: &TestWorkers, p: &Path, ip: &str) -> String {
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    std::fs::read_to_string(w.opt(ip).join(bid).join("jobs/web/data/history")).unwrap_or_default()
}

/// What every deploy re-derives in `replay --check` (hooks when a job has some).
const DEPLOY: &[&str] = &["build", "reconcile", "staged", "rollout"];
const DEPLOY_HOOKS: &[&str] = &["build", "reconcile", "staged", "rollout", "hooks"];

fn deploy(p: &Path, extra: &[&str]) -> String {
    let mut args = vec!["deploy"];
    args.extend_from_slice(extra);
    ok(&maand(p, &args))
}

#[test]
fn first_deploy_unchanged_redeploy_and_rolling_one_file_change() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = setup(&w, 1, "always");
    let p = dir.path();
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let out = deploy(p, &[]);
    assert!(out.contains("web: promoted"), "{out}");
    assert_eq!(out.matches("web new batch").count(), 1, "max_concurrent_starts 0: one start batch: {out}");
    assert_eq!(out.matches("web healthy").count(), 1, "one gate after the starts: {out}");
    for ip in &w.ips {
        let job = w.opt(ip).join(&bid).join("jobs/web");
        assert!(job.join("Makefile").exists() && job.join("index.html").exists());
        let env = std::fs::read_to_string(job.join("config.env")).unwrap();
        assert!(env.contains(&format!("IP={ip}")), "template rendered per worker: {env}");
        assert!(!job.join("config.env.tpl").exists());
        assert_eq!(history(&w, p, ip), "start 1.0.0\n", "make start ran once");
        let wj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(w.opt(ip).join(&bid).join("worker.json")).unwrap()).unwrap();
        assert_eq!(wj["update_seq"], 1);
        assert!(w.opt(ip).join(&bid).join("bin/runner.py").exists());
    }
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    assert_eq!(deps.len(), 3);
    assert!(deps.iter().all(|d| d["current_hash"] != "" && d["current_version"] == "1.0.0"), "{deps:?}");
    let info: serde_json::Value = serde_json::from_str(&ok(&maand(p, &["info", "--json"]))).unwrap();
    assert_eq!(info["update_seq"], 1);

    // Unchanged: skipped, no lifecycle.
    let out = deploy(p, &[]);
    assert!(out.contains("0 promoted") || out.contains("nothing promoted"), "{out}");
    for ip in &w.ips {
        assert_eq!(history(&w, p, ip), "start 1.0.0\n");
    }

    // One-file change, width 1: three batches in rollout order, health gate between.
    write(p, "workspace/jobs/web/index.html", "<h1>v2</h1>\n");
    let out = deploy(p, &["--build"]);
    let batches: Vec<&str> = out.lines().filter(|l| l.contains("web update batch")).collect();
    assert_eq!(batches.len(), 3, "{out}");
    for (i, ip) in w.ips.iter().enumerate() {
        assert!(batches[i].contains(&format!("batch {}/3 [{ip}]", i + 1)), "{out}");
        assert_eq!(history(&w, p, ip), "start 1.0.0\nstop\nstart 1.0.0\n");
    }
    assert_eq!(out.matches("web healthy").count(), 3, "a health gate after each update batch: {out}");
    let shown = ok(&journal(p, &["show", &last_session(p).to_string()]));
    assert!(
        shown.contains("health_checked") && shown.contains("allocation_promoted") && shown.contains("lifecycle_ran"),
        "{shown}"
    );
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}

#[test]
fn reload_globs_dry_run_version_bump_force_and_sync_only() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = setup(&w, 2, "reload");
    let p = dir.path();
    // --sync-only cannot do a first start.
    let o = maand(p, &["deploy", "--sync-only"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--sync-only: job web on"), "{}", stderr(&o));
    // --dry-run changes nothing (no worker, no state; update_seq stays).
    let seq = || {
        serde_json::from_str::<serde_json::Value>(&ok(&maand(p, &["info", "--json"]))).unwrap()["update_seq"].clone()
    };
    let before = seq();
    let out = deploy(p, &["--dry-run"]);
    assert!(out.contains("start") && out.contains("dry run: nothing was changed"), "{out}");
    assert!(history(&w, p, &w.ips[0]).is_empty());
    assert_eq!(seq(), before);
    deploy(p, &[]);
    // A non-glob change reloads; a glob-matched change restarts, and dry-run says why.
    write(p, "workspace/jobs/web/index.html", "<h1>v2</h1>\n");
    ok(&maand(p, &["build"]));
    let out = deploy(p, &[]);
    assert!(out.contains(" reload "), "{out}");
    assert_eq!(history(&w, p, &w.ips[0]), "start 1.0.0\nreload 1.0.0\n");
    write(p, "workspace/jobs/web/Makefile", &format!("{MAKEFILE}\n# changed\n"));
    ok(&maand(p, &["build"]));
    let dry = deploy(p, &["--dry-run"]);
    assert!(dry.contains("restart") && dry.contains("matched=Makefile"), "{dry}");
    deploy(p, &[]);
    assert_eq!(history(&w, p, &w.ips[1]), "start 1.0.0\nreload 1.0.0\nstop\nstart 1.0.0\n");
    // A version-only bump rolls (reload: no file changed).
    let m =
        std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replace("\"1.0.0\"", "\"1.1.0\"");
    write(p, "workspace/jobs/web/manifest.json", &m);
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    assert!(history(&w, p, &w.ips[0]).ends_with("reload 1.1.0\n"), "{}", history(&w, p, &w.ips[0]));
    // --force rolls with nothing changed; --sync-only then ships without lifecycle.
    deploy(p, &["--force"]);
    assert!(history(&w, p, &w.ips[0]).ends_with("reload 1.1.0\nreload 1.1.0\n"));
    let before = history(&w, p, &w.ips[0]);
    write(p, "workspace/jobs/web/index.html", "<h1>v3</h1>\n");
    ok(&maand(p, &["build"]));
    deploy(p, &["--sync-only"]);
    assert_eq!(history(&w, p, &w.ips[0]), before, "sync-only runs no lifecycle");
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    assert_eq!(
        std::fs::read_to_string(w.opt(&w.ips[0]).join(&bid).join("jobs/web/index.html")).unwrap(),
        "<h1>v3</h1>\n"
    );
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}

/// A template printing `.CurrentVersion` and `.UpdateSeq` (issue 13): start,
/// unchanged, version bump, unchanged, unchanged is one start and one
/// restart per allocation, and the shipped file shows the version that was
/// running when it was rendered.
#[test]
fn current_version_in_a_template_restarts_once_per_version() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = setup(&w, 2, "always");
    let p = dir.path();
    write(
        p,
        "workspace/jobs/web/version.txt.tpl",
        "running={{ .CurrentVersion }} target={{ .NewVersion }} seq={{ .UpdateSeq }}\n",
    );
    ok(&maand(p, &["build"]));
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let shipped = |ip: &str| std::fs::read_to_string(w.opt(ip).join(&bid).join("jobs/web/version.txt")).unwrap();
    // Every allocation's planned action is skip.
    let unchanged = |out: String| {
        let actions: Vec<&str> = out
            .lines()
            .filter(|l| w.ips.iter().any(|ip| l.trim_start().starts_with(ip.as_str())))
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        assert_eq!(actions, ["skip", "skip"], "{out}");
    };
    deploy(p, &[]);
    assert_eq!(shipped(&w.ips[0]), "running=0.0.0 target=1.0.0 seq=1\n");
    unchanged(deploy(p, &[]));
    unchanged(deploy(p, &["--dry-run"]));
    let m =
        std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replace("\"1.0.0\"", "\"1.1.0\"");
    write(p, "workspace/jobs/web/manifest.json", &m);
    ok(&maand(p, &["build"]));
    let out = deploy(p, &[]);
    assert!(out.contains(" restart "), "{out}");
    unchanged(deploy(p, &[]));
    unchanged(deploy(p, &[]));
    for ip in &w.ips {
        assert_eq!(history(&w, p, ip), "start 1.0.0\nstop\nstart 1.1.0\n", "one start and one restart on {ip}");
        assert_eq!(shipped(ip), "running=1.0.0 target=1.1.0 seq=3\n");
    }
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}

#[test]
fn disabled_allocations_are_never_started_and_removed_workers_are_cleaned() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = setup(&w, 3, "always");
    let p = dir.path();
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    write(p, "workspace/disabled.json", &format!(r#"{{"jobs": {{"web": {{"allocations": ["{}"]}}}}}}"#, w.ips[1]));
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    assert!(!w.opt(&w.ips[1]).join(&bid).exists(), "a disabled allocation is never rsynced");
    assert_eq!(history(&w, p, &w.ips[0]), "start 1.0.0\n");
    // Enable it: it starts; then disable again: it is stopped.
    write(p, "workspace/disabled.json", "{}");
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    assert_eq!(history(&w, p, &w.ips[1]), "start 1.0.0\n");
    write(p, "workspace/disabled.json", &format!(r#"{{"jobs": {{"web": {{"allocations": ["{}"]}}}}}}"#, w.ips[1]));
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    assert_eq!(history(&w, p, &w.ips[1]), "start 1.0.0\nstop\n");
    // A worker that stops matching loses the job's files but keeps data/ and logs/.
    let relabel: Vec<String> = w
        .ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!(r#"{{"host": "{ip}", "labels": ["{}"]}}"#, if i == 0 { "other" } else { "web" }))
        .collect();
    write(p, "workspace/workers.json", &format!("[{}]", relabel.join(",")));
    write(p, "workspace/disabled.json", "{}");
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replacen(
        '{',
        r#"{"hooks": {"hook_stopped": {"executed_on": ["after_allocation_stopped"]}}, "#,
        1,
    );
    write(p, "workspace/jobs/web/manifest.json", &m);
    write(
        p,
        "workspace/jobs/web/_hooks/hook_stopped.py",
        "import os
open(os.path.join(os.environ['BUCKET_ROOT'], 'stopped-' + os.environ['ALLOCATION_IP']), 'w').write(os.environ['EVENT'])
",
    );
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    let job0 = w.opt(&w.ips[0]).join(&bid).join("jobs/web");
    assert!(!job0.join("index.html").exists() && job0.join("data/history").exists() && job0.join("logs").exists());
    assert_eq!(std::fs::read_to_string(p.join(format!("stopped-{}", w.ips[0]))).unwrap(), "after_allocation_stopped");
    // A worker leaves workers.json: its job is stopped and the bucket directory wiped.
    write(p, "workspace/disabled.json", "{}");
    let ws: Vec<String> = w.ips[..2].iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["web"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    ok(&maand(p, &["build"]));
    let out = deploy(p, &[]);
    assert!(out.contains(&format!("reconcile: web on {}: removed (worker left the bucket)", w.ips[2])), "{out}");
    assert!(!w.opt(&w.ips[2]).join(&bid).exists());
    // A removed worker that is unreachable is logged as dead and skipped.
    let mut w = w;
    let gone = w.ips[1].clone();
    w.stop(&gone);
    let ws = format!(r#"[{{"host": "{}", "labels": ["web"]}}]"#, w.ips[0]);
    write(p, "workspace/workers.json", &ws);
    let out = deploy(p, &["--build"]);
    assert!(out.contains(&format!("reconcile: web on {gone}: worker unreachable, treated as dead")), "{out}");
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    assert!(deps.iter().filter(|d| d["worker_ip"] == gone.as_str()).all(|d| d["current_hash"] == ""), "{deps:?}");
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY_HOOKS);
}

#[test]
fn a_failing_job_leaves_earlier_promotions_and_the_rerun_touches_only_it() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = setup(&w, 2, "always");
    let p = dir.path();
    // Job `app` demands web (wave 1) and fails its post_deploy until fixed.
    write(
        p,
        "workspace/jobs/app/manifest.json",
        r#"{"version": "1", "selectors": ["web"], "hooks": {"hook_check": {"executed_on": ["post_deploy"], "demands": {"job": "web", "hook": "hook_ready"}}}}"#,
    );
    write(p, "workspace/jobs/app/Makefile", "start:\n\t@echo start >> history\nstop:\n\ttrue\nrestart: start\n");
    write(
        p,
        "workspace/jobs/app/_hooks/hook_check.py",
        "import os, sys\nsys.exit(0 if os.path.exists(os.path.join(os.environ['BUCKET_ROOT'], 'fixed')) else 4)\n",
    );
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replacen(
        '{',
        r#"{"hooks": {"hook_ready": {"executed_on": ["cli"]}}, "#,
        1,
    );
    write(p, "workspace/jobs/web/manifest.json", &m);
    write(p, "workspace/jobs/web/_hooks/hook_ready.py", "pass\n");
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("  failed app (wave 1): hook hook_check of job app (post_deploy) failed"),
        "{}",
        stderr(&o)
    );
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    // previous_hash is what was last promoted (current_hash: last staged).
    let promoted = |job: &str| deps.iter().filter(|d| d["job"] == job && d["previous_hash"] != "").count();
    assert_eq!((promoted("web"), promoted("app")), (2, 0), "{deps:?}");
    write(p, "fixed", "");
    let out = deploy(p, &[]);
    assert!(out.contains("app: promoted") && !out.contains("web: promoted"), "{out}");
    assert_eq!(history(&w, p, &w.ips[0]), "start 1.0.0\n", "web was not restarted");
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY_HOOKS);
}

#[test]
fn health_gate_failing_in_batch_two_resumes_without_restarting_batch_one() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = setup(&w, 1, "always");
    let p = dir.path();
    deploy(p, &[]);
    // Worker 2 will not come back up (its start skips the service) until the
    // marker is removed; the gate gives up after two attempts.
    let marker = format!("/tmp/maand-test-{}-{}", std::process::id(), w.ips[1]);
    let mk = format!(
        "include config.env\nstart:\n\t@mkdir -p data logs\n\t@if [ -f /tmp/maand-test-{}-$(IP) ]; then echo 'start (broken)' >> data/history; \\\n\t else nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid; \\\n\t echo \"start $(NEW_VERSION)\" >> data/history; fi\nstop:\n\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi\n\t@echo stop >> data/history\nrestart: stop start\n",
        std::process::id()
    );
    write(p, "workspace/jobs/web/Makefile", &mk);
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json"))
        .unwrap()
        .replace("\"attempts\": 20", "\"attempts\": 2");
    write(p, "workspace/jobs/web/manifest.json", &m);
    std::fs::write(&marker, "").unwrap();
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}\n{}", stdout(&o), stderr(&o), history(&w, p, &w.ips[1]));
    assert!(stderr(&o).contains(&format!("health check failed for web on [{}]", w.ips[1])), "{}", stderr(&o));
    assert!(!stdout(&o).contains("batch 3/3"), "{}", stdout(&o));
    std::fs::remove_file(&marker).unwrap();
    let out = deploy(p, &[]);
    assert!(out.contains(&format!("{}     ready", w.ips[0])), "{out}");
    assert_eq!(history(&w, p, &w.ips[0]), "start 1.0.0\nstop\nstart 1.0.0\n", "batch 1 is not restarted again");
    assert_eq!(history(&w, p, &w.ips[1]), "start 1.0.0\nstop\nstart (broken)\nstop\nstart 1.0.0\n");
    assert_eq!(history(&w, p, &w.ips[2]), "start 1.0.0\nstop\nstart 1.0.0\n");
    let out = deploy(p, &[]);
    assert!(out.contains("0 promoted") || out.contains("nothing promoted"), "{out}");
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}

#[test]
fn pre_deploy_rollout_order_override_audit_and_replay() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = setup(&w, 1, "always");
    let p = dir.path();
    let order = format!("{},{},{}", w.ips[2], w.ips[0], w.ips[1]);
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replacen(
        '{',
        r#"{"hooks": {"hook_order": {"executed_on": ["pre_deploy"]}}, "#,
        1,
    );
    write(p, "workspace/jobs/web/manifest.json", &m);
    write(
        p,
        "workspace/jobs/web/_hooks/hook_order.py",
        &format!(
            "import maand\nif maand.is_one_shot():\n    maand.put_rollout_order('{order}'.split(',')).raise_for_status()\n"
        ),
    );
    ok(&maand(p, &["build"]));
    let out = deploy(p, &[]);
    assert!(out.contains(&format!("order kv {order}")), "{out}");
    assert!(out.contains(&format!("web new batch 1/1 [{order}]")), "batch in the overridden order: {out}");
    let session = last_session(p);
    let audit = ok(&journal(p, &["audit", &session.to_string()]));
    for want in [
        "update_seq 1",
        "wave 0 job web",
        "batch_started",
        "lifecycle_ran",
        "health_checked",
        "hook_invoked",
        "allocation_promoted",
        "outcome: committed",
        "rollout_order",
    ] {
        assert!(audit.contains(want), "{want} missing from audit:\n{audit}");
    }
    // State at any point: before the deploy nothing was promoted.
    let before: serde_json::Value =
        serde_json::from_str(&ok(&journal(p, &["replay", "--until", &format!("s{}", session - 1)]))).unwrap();
    assert_eq!(before["deployed"], 0);
    let now: serde_json::Value = serde_json::from_str(&ok(&journal(p, &["replay"]))).unwrap();
    assert_eq!(now["deployed"], 3);
    replay_checks(p, DEPLOY_HOOKS);
}

#[test]
fn kill_9_mid_batch_then_the_next_deploy_completes() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = setup(&w, 1, "always");
    let p = dir.path();
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json"))
        .unwrap()
        .replace("\"max_concurrent_starts\": 0", "\"max_concurrent_starts\": 1");
    write(p, "workspace/jobs/web/manifest.json", &m);
    write(
        p,
        "workspace/jobs/web/Makefile",
        &MAKEFILE.replace("\t@mkdir -p data logs\n", "\t@mkdir -p data logs\n\t@sleep 1\n"),
    );
    ok(&maand(p, &["build"]));
    let mut child = std::process::Command::new(maand_bin())
        .arg("deploy")
        .current_dir(p)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the second start batch began, then kill -9.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let shown = stdout(&journal(p, &["export", "--jsonl"]));
        if shown.matches("\"BatchStarted\"").count() >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "deploy never reached batch 2");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    // Readers accept the cut-off journal; nothing is promoted yet.
    ok(&journal(p, &["verify"]));
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    assert!(deps.iter().all(|d| d["current_hash"] == ""), "{deps:?}");
    // The next deploy marks the session aborted and completes.
    let o = maand(p, &["deploy"]);
    ok(&o);
    assert!(stderr(&o).contains("was cut off: marked aborted"), "{}", stderr(&o));
    let sessions = ok(&journal(p, &["sessions"]));
    assert!(sessions.contains("aborted"), "{sessions}");
    let deps: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "deployments", "--json"]))).unwrap();
    assert!(deps.iter().all(|d| d["current_hash"] != "" && d["current_version"] == "1.0.0"), "{deps:?}");
    for ip in &w.ips {
        assert!(history(&w, p, ip).ends_with("start 1.0.0\n"), "{}", history(&w, p, ip));
    }
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}

#[test]
fn job_control_hook_replaces_the_makefile_lifecycle() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = setup(&w, 2, "always");
    let p = dir.path();
    // No probes for this one: the hook decides what "running" means.
    let m = r#"{"version": "1.0.0", "selectors": ["web"], "max_concurrent_upgrades": 2,
  "resources": {"ports": {"web_port": {}}}, "hooks": {"hook_ctl": {"executed_on": ["job_control"]}}}"#;
    write(p, "workspace/jobs/web/manifest.json", m);
    write(
        p,
        "workspace/jobs/web/_hooks/hook_ctl.py",
        "import os\nwith open(os.path.join(os.environ['BUCKET_ROOT'], 'ctl-' + os.environ['ALLOCATION_IP']), 'a') as f:\n    f.write('%s new=%s updated=%s\\n' % (os.environ['EVENT'], os.environ['NEW_ALLOCATIONS'], os.environ['UPDATED_ALLOCATIONS']))\n",
    );
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    let both = format!("{},{}", w.ips[0], w.ips[1]);
    for ip in &w.ips {
        assert_eq!(
            std::fs::read_to_string(p.join(format!("ctl-{ip}"))).unwrap(),
            format!("job_control new={both} updated=\n")
        );
        assert!(history(&w, p, ip).is_empty(), "the Makefile lifecycle did not run");
    }
    write(p, "workspace/jobs/web/index.html", "<h1>v9</h1>\n");
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    assert!(
        std::fs::read_to_string(p.join(format!("ctl-{}", w.ips[0])))
            .unwrap()
            .ends_with(&format!("job_control new= updated={both}\n"))
    );
    replay_checks(p, DEPLOY_HOOKS);
}

/// A port of `ip` accepts connections.
fn listening(ip: &str, port: &str) -> bool {
    let addr: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
}

#[test]
fn a_worker_leaving_with_two_jobs_has_both_stopped_before_its_directory_is_wiped() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = setup(&w, 2, "always");
    let p = dir.path();
    // A second service job on the same workers, with its own port.
    let m =
        std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap().replace("web_port", "api_port");
    write(p, "workspace/jobs/api/manifest.json", &m);
    write(p, "workspace/jobs/api/Makefile", MAKEFILE);
    write(p, "workspace/jobs/api/config.env.tpl", "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"api_port\" }}\n");
    ok(&maand(p, &["build"]));
    deploy(p, &[]);
    let leaving = w.ips[1].clone();
    let ports = [kv_get(p, "maand/bucket", "web_port"), kv_get(p, "maand/bucket", "api_port")];
    for port in &ports {
        assert!(listening(&leaving, port), "{leaving}:{port} serves after the deploy");
    }
    // The dry run previews both stops and the wipe, and changes nothing.
    let ws = format!(r#"[{{"host": "{}", "labels": ["web"]}}]"#, w.ips[0]);
    write(p, "workspace/workers.json", &ws);
    ok(&maand(p, &["build"]));
    let out = deploy(p, &["--dry-run"]);
    for job in ["api", "web"] {
        assert!(
            out.contains(&format!(
                "reconcile (dry run): {job} on {leaving}: would stop, then remove its files (worker left the bucket"
            )),
            "{out}"
        );
    }
    assert!(listening(&leaving, &ports[0]) && listening(&leaving, &ports[1]), "a dry run stops nothing");
    let out = deploy(p, &[]);
    for job in ["api", "web"] {
        assert!(out.contains(&format!("reconcile: {job} on {leaving}: stopped (ok)")), "{out}");
        assert!(out.contains(&format!("reconcile: {job} on {leaving}: removed (worker left the bucket)")), "{out}");
    }
    for port in &ports {
        assert!(!listening(&leaving, port), "{leaving}:{port} still serves: a job kept running after the wipe");
    }
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    assert!(!w.opt(&leaving).join(bid).exists(), "the bucket directory is wiped");
    ok(&journal(p, &["verify"]));
    replay_checks(p, DEPLOY);
}
