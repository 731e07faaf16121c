//! History tools on real deploys (loopback sshd workers): the timeline of a
//! 16-worker, 4-batch deploy whose health gate fails, rendered by a real
//! headless Chromium; where an unfinished deploy stopped (`maand info`,
//! `maand-journal audit`), for a failed and for a killed deploy; `diff`
//! between two real deploys.

mod common;
use common::web::{broken_marker, makefile, web_bucket};
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names this file's broken-worker markers.
const MARKER: &str = "maand-history-test-broken";

/// A bucket deploying `web` to `workers` in update batches of `width`, with
/// a `pre_deploy` and an `after_allocation_started` hook; deployed once.
fn deployed_bucket(workers: &TestWorkers, width: usize) -> tempfile::TempDir {
    let dir = web_bucket(workers);
    let p = dir.path();
    write(
        p,
        "workspace/jobs/web/manifest.json",
        &format!(
            r#"{{"version": "1.0.0", "selectors": ["web"], "max_concurrent_upgrades": {width}, "max_concurrent_starts": 0,
  "resources": {{"ports": {{"web_port": {{}}}}}},
  "hooks": {{"hook_check": {{"executed_on": ["pre_deploy"]}}, "hook_warm": {{"executed_on": ["after_allocation_started"]}}}},
  "health_check": {{"checks": [{{"type": "tcp", "port": "web_port"}}], "timeout_seconds": 2, "wait": {{"attempts": 2, "interval_seconds": 1}}}}}}"#
        ),
    );
    write(p, "workspace/jobs/web/Makefile", &makefile(MARKER));
    write(p, "workspace/jobs/web/config.env.tpl", "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"web_port\" }}\n");
    write(p, "workspace/jobs/web/index.html", "<h1>v1</h1>\n");
    write(p, "workspace/jobs/web/_hooks/hook_check.py", "print('pre-deploy check ok')\n");
    write(p, "workspace/jobs/web/_hooks/hook_warm.py", "import time\ntime.sleep(0.05)\nprint('warmed')\n");
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    dir
}

/// Kinds of the events of session `id`, as `maand-journal export` names them.
fn kinds(p: &Path, id: u64) -> Vec<String> {
    session_events(p, id).iter().map(|e| e["event"].as_object().unwrap().keys().next().unwrap().clone()).collect()
}

/// The Chromium binary, or why there is none; in CI it must be there.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser"]
        .iter()
        .filter_map(|n| std::env::var_os("PATH").map(|p| (n, p)))
        .flat_map(|(n, p)| std::env::split_paths(&p).map(move |d| d.join(n)).collect::<Vec<_>>())
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "chromium must be installed in CI (scripts/test.sh installs it)");
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium; scripts/test.sh does)");
    }
    found
}

/// Run headless Chromium on a local page with no network at all.
fn chromium_run(bin: &Path, profile: &Path, args: &[String], page: &Path) -> std::process::Output {
    Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        // Every host name fails to resolve: the page must need nothing from outside.
        .arg("--host-resolver-rules=MAP * ~NOTFOUND")
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

#[test]
fn timeline_of_a_failed_16_worker_deploy_in_a_real_browser() {
    let Some(w) = start_or_skip(16) else { return };
    let Some(browser) = chromium() else { return };
    let dir = deployed_bucket(&w, 4);
    let p = dir.path();
    // v2, and worker 10 (batch 3 of 4) will not come back up.
    write(p, "workspace/jobs/web/index.html", "<h1>v2</h1>\n");
    let marker = broken_marker(MARKER, &w.ips[9]);
    std::fs::write(&marker, "").unwrap();
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let session = last_session(p);

    // Text: a compact Gantt with the failure marked.
    let text = ok(&journal(p, &["timeline", &session.to_string()]));
    assert!(text.contains("(deploy 2)") && text.contains("FAILED"), "{text}");
    for ip in &w.ips {
        assert!(text.lines().any(|l| l.trim_start().starts_with(ip.as_str())), "{ip} row missing:\n{text}");
    }
    assert!(text.lines().any(|l| l.contains("health gates") && l.contains('X')), "{text}");

    // HTML: self-contained, light.
    let out = tempfile::tempdir().unwrap();
    let page = out.path().join("timeline.html");
    let said = ok(&journal(p, &["timeline", &session.to_string(), "--html", page.to_str().unwrap()]));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 200 * 1024, "a 16-worker, 4-batch deploy's page weighs {} bytes", html.len());
    assert!(said.contains(&format!("({} bytes", html.len())), "{said}");
    assert!(!html.contains("<link") && !html.contains(" src=") && !html.contains("url("), "external assets");

    // A real browser renders it: the bars the journal calls for, a failed one.
    let k = kinds(p, session);
    let count = |kind: &str| k.iter().filter(|x| *x == kind).count();
    let profile = out.path().join("profile");
    let dom = chromium_run(&browser, &profile, &["--dump-dom".into()], &page);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let bars = |kind: &str| dom.matches(&format!("data-kind=\"{kind}\"")).count();
    assert_eq!(bars("lifecycle"), count("LifecycleRan"), "one bar per lifecycle run");
    assert_eq!(bars("hook"), count("HookInvoked"), "one bar per hook run");
    assert_eq!(bars("batch"), count("BatchStarted"), "one bar per batch");
    assert_eq!(bars("health"), count("HealthChecked"), "one bar per health gate");
    assert_eq!((bars("session"), bars("wave"), bars("job")), (1, 1, 1));
    assert_eq!(count("BatchStarted"), 3, "batches 1-3 of 4 ran: {k:?}");
    assert_eq!(bars("lifecycle"), 12);
    assert!(count("HookInvoked") >= 12, "after_allocation_started ran for batches 1-3: {k:?}");
    assert!(dom.contains("class=\"bar failed health"), "a failed health gate bar");
    assert!(dom.contains("class=\"bar failed job"), "the job is marked failed");
    // The page's script ran: the failed gate is selected, its event listed.
    assert!(dom.contains("<h2 id=\"details-title\" class=\"failed\">"), "details of the failed bar shown");
    let details = &dom[dom.find("id=\"events\"").unwrap()..];
    assert!(
        details.contains("health_checked") && details.contains("failed"),
        "{}",
        &details[..details.len().min(2000)]
    );

    let shot = out.path().join("timeline.png");
    let height = 330 + 22 * (5 + 16);
    let o = chromium_run(
        &browser,
        &profile,
        &[format!("--screenshot={}", shot.display()), format!("--window-size=1180,{height}")],
        &page,
    );
    let png = std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {}", stderr(&o)));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000, "{} bytes", png.len());
    // `MAAND_WRITE_SCREENSHOT=1 cargo test --test history_deploy timeline` refreshes the README's picture.
    if std::env::var_os("MAAND_WRITE_SCREENSHOT").is_some() {
        let dest = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img/timeline.png");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, &png).unwrap();
        std::fs::write(dest.with_extension("html"), &html).unwrap();
        eprintln!("{text}");
    }

    // Where it stopped, for the operator and the auditor.
    let info = ok(&maand(p, &["info"]));
    let want = format!(
        "deploy 2 (session {session}) stopped in wave 0, job web update batch 3/4: health gate failed — rerun maand deploy to resume"
    );
    assert!(info.contains(&format!("unfinished      {want}")), "{info}");
    let audit = ok(&journal(p, &["audit", &session.to_string()]));
    assert!(audit.contains(&format!("unfinished: {want}")), "{audit}");
    let j: serde_json::Value = serde_json::from_str(&ok(&maand(p, &["info", "--json"]))).unwrap();
    assert_eq!(j["unfinished_deploy"]["step"], "update batch 3/4: health gate failed");

    // Rerun: it resumes and completes; nothing is unfinished any more.
    ok(&maand(p, &["deploy"]));
    let info = ok(&maand(p, &["info"]));
    assert!(!info.contains("unfinished"), "{info}");
    let audit = ok(&journal(p, &["audit", &session.to_string()]));
    assert!(audit.contains(&format!("— resumed by session {}", session + 1)), "{audit}");

    // diff between the two real deploys: the file and every deployment.
    let d = ok(&journal(p, &["diff", "d1", "d3"]));
    assert!(d.contains("    -<h1>v1</h1>\n    +<h1>v2</h1>\n"), "{d}");
    for ip in &w.ips {
        assert!(d.contains(&format!("  ~ web on {ip}  files changed: ~index.html; hash: ")), "{ip}: {d}");
    }
}

#[test]
fn a_killed_deploy_shows_where_it_stopped_until_rerun() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = deployed_bucket(&w, 1);
    let p = dir.path();
    write(p, "workspace/jobs/web/index.html", "<h1>v2</h1>\n");
    ok(&maand(p, &["build"]));
    // Where to cut: rehearse the same deploy on a copy (its events, in order,
    // are the plan's), and stop the real one right after batch 2 began.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(p, copy.path());
    ok(&maand(copy.path(), &["deploy"]));
    let rehearsal = kinds(copy.path(), last_session(copy.path()));
    let second_batch = rehearsal.iter().enumerate().filter(|(_, k)| *k == "BatchStarted").nth(1).unwrap().0;
    let o = Command::new(maand_bin())
        .arg("deploy")
        .current_dir(p)
        .env("MAAND_FAULT_ABORT_AFTER_EVENTS", (second_batch + 1).to_string())
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("fault injection: aborting"), "{}", stderr(&o));
    let killed = last_session(p);
    assert_eq!(kinds(p, killed).last().map(String::as_str), Some("BatchStarted"));

    // Read-only commands see it before anyone marks it aborted…
    let want_tail = "in wave 0, job web update batch 2/3: it never ended — rerun maand deploy to resume";
    let info = ok(&maand(p, &["info"]));
    assert!(
        info.contains(&format!("deploy 2 (session {killed}) has not ended (running now, or cut off) {want_tail}")),
        "{info}"
    );
    // …and after the next writer marked it aborted.
    ok(&maand(p, &["build"]));
    let info = ok(&maand(p, &["info"]));
    assert!(info.contains(&format!("deploy 2 (session {killed}) was cut off {want_tail}")), "{info}");
    let audit = ok(&journal(p, &["audit", &killed.to_string()]));
    assert!(audit.contains(&format!("unfinished: deploy 2 (session {killed}) was cut off {want_tail}")), "{audit}");
    let text = ok(&journal(p, &["timeline", &killed.to_string()]));
    assert!(text.contains("update 2/3") && text.contains("never ended"), "{text}");

    let o = maand(p, &["deploy"]);
    ok(&o);
    assert!(!ok(&maand(p, &["info"])).contains("unfinished"));
    let audit = ok(&journal(p, &["audit", &killed.to_string()]));
    assert!(audit.contains("— resumed by session"), "{audit}");
    ok(&journal(p, &["verify"]));
    replay_checks(p, &["build", "reconcile", "staged", "rollout"]);
}
