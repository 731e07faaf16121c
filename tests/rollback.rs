//! `maand rollback` on real workers (loopback sshd, rsync, a Python hook):
//! three releases — v1 whose template reads a secret, v2 with a new file and
//! a new secret value, v3 whose health gate fails in batch 2 of 3 — then a
//! rollback to v1's deploy: the exact bytes and values of v1 on every
//! worker, in batches of `max_concurrent_upgrades` with gates, resumed on
//! rerun after a failed batch; audit and replay cover it.

mod common;
use common::web::{broken_marker, makefile, web_bucket};
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use maand::bucket::session_info;
use maand::event::Event;
use maand::kv::seal::KvKey;
use std::path::Path;

/// Names this file's broken-worker markers.
const MARKER: &str = "maand-rollback-test-broken";

/// Write the job's secret `token` as a hook would (sealed with the bucket key).
fn put_secret(p: &Path, value: &str) {
    let key = KvKey::load(&p.join("secrets/kv.key")).unwrap();
    let mut b = open(p, "test");
    let mut s = b.begin(session_info("test")).unwrap();
    let sealed = key.seal("secrets/job/web", "token", value).unwrap();
    s.record(Event::KvPut { namespace: "secrets/job/web".into(), key: "token".into(), value: sealed, ttl: 0, at: 1 })
        .unwrap();
    s.commit().unwrap();
}

/// Release `version` of `web` in the workspace.
fn release(p: &Path, version: &str, body: &str) {
    write(
        p,
        "workspace/jobs/web/manifest.json",
        &format!(
            r#"{{"version": "{version}", "selectors": ["web"], "max_concurrent_upgrades": 1, "max_concurrent_starts": 0,
  "resources": {{"ports": {{"web_port": {{}}}}}},
  "hooks": {{"hook_phase": {{"executed_on": ["after_allocation_started"]}}}},
  "health_check": {{"checks": [{{"type": "tcp", "port": "web_port"}}], "timeout_seconds": 2, "wait": {{"attempts": 2, "interval_seconds": 1}}}}}}"#
        ),
    );
    write(p, "workspace/jobs/web/index.html", body);
}

/// A bucket of three workers deploying `web` v1 (its `config.env` holds a
/// secret), v2 (new file, new secret) and v3 (fails in batch 2 of 3).
fn three_releases(w: &TestWorkers) -> tempfile::TempDir {
    let dir = two_releases(w);
    let p = dir.path();
    release(p, "3.0.0", "<h1>v3</h1>\n");
    ok(&maand(p, &["build"]));
    let marker = broken_marker(MARKER, &w.ips[1]);
    std::fs::write(&marker, "").unwrap();
    let o = maand(p, &["deploy"]);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(o.status.code(), Some(1), "v3 fails in batch 2: {}{}", stdout(&o), stderr(&o));
    dir
}

/// The workers' bucket with `web` v1 and v2 deployed (deploys 1 and 2).
fn two_releases(w: &TestWorkers) -> tempfile::TempDir {
    let dir = web_bucket(w);
    let p = dir.path();
    write(p, "workspace/jobs/web/Makefile", &makefile(MARKER));
    write(
        p,
        "workspace/jobs/web/config.env.tpl",
        "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"web_port\" }}\nTOKEN={{ getSecret \"token\" }}\n",
    );
    let log = p.join("phases.log");
    write(
        p,
        "workspace/jobs/web/_hooks/hook_phase.py",
        &format!(
            "import os\nwith open({:?}, 'a') as f:\n    f.write(os.environ['DEPLOY_PHASE'] + ' ' + os.environ.get('ALLOCATION_IP', '') + '\\n')\n",
            log.to_str().unwrap()
        ),
    );
    release(p, "1.0.0", "<h1>v1</h1>\n");
    put_secret(p, "one");
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));

    release(p, "2.0.0", "<h1>v2</h1>\n");
    write(p, "workspace/jobs/web/extra.txt", "new in v2\n");
    put_secret(p, "two");
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["deploy"]));
    dir
}

fn job_file(w: &TestWorkers, p: &Path, ip: &str, rel: &str) -> Option<String> {
    let id = std::fs::read_to_string(p.join("data/bucket_id")).ok().map(|s| s.trim().to_string());
    let base = w.opt(ip);
    // /opt/worker/<bucket id>/jobs/web/<rel>
    let bucket = id.filter(|i| base.join(i).exists()).unwrap_or_else(|| {
        std::fs::read_dir(&base).unwrap().next().unwrap().unwrap().file_name().to_string_lossy().into_owned()
    });
    std::fs::read_to_string(base.join(bucket).join("jobs/web").join(rel)).ok()
}

fn history(w: &TestWorkers, p: &Path, ip: &str) -> Vec<String> {
    job_file(w, p, ip, "data/history").unwrap_or_default().lines().map(String::from).collect()
}

#[test]
fn rollback_restores_v1_in_gated_batches_and_resumes_after_a_failed_batch() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = three_releases(&w);
    let p = dir.path();
    for ip in &w.ips {
        assert_eq!(job_file(&w, p, ip, "extra.txt").as_deref(), Some("new in v2\n"), "{ip} has v2's file");
    }
    assert_eq!(job_file(&w, p, &w.ips[0], "index.html").as_deref(), Some("<h1>v3</h1>\n"));

    // Every promotion recorded its staged bytes, once per distinct content.
    let recorded: Vec<serde_json::Value> = (1..=last_session(p))
        .flat_map(|s| session_events(p, s))
        .filter_map(|e| e["event"].get("StagedRecorded").cloned())
        .collect();
    assert!(recorded.len() >= 2, "v1 and v2 promotions recorded their bytes");
    // index.html, Makefile and Makefile-identical files are the same on all
    // three workers: fewer blobs than files.
    let first = &recorded[0];
    let files: usize = first["trees"].as_object().unwrap().values().map(|t| t.as_object().unwrap().len()).sum();
    assert!(first["blobs"].as_object().unwrap().len() < files, "deduplicated: {first}");
    // Across deploys too: v2 records only contents the journal lacked (the
    // unchanged Makefile is not recorded again).
    let v1_blobs = first["blobs"].as_object().unwrap();
    let v2_blobs = recorded[1]["blobs"].as_object().unwrap();
    assert!(!v2_blobs.is_empty() && v2_blobs.keys().all(|h| !v1_blobs.contains_key(h)), "{v2_blobs:?}");

    // Dry run: per allocation what would change; nothing changes.
    let before = last_session(p);
    let out = ok(&maand(p, &["rollback", "web", "--to", "d1", "--dry-run"]));
    assert!(out.contains("rollback of web to deploy 1 (session"), "{out}");
    for ip in &w.ips {
        let line = out.lines().find(|l| l.trim_start().starts_with(ip.as_str())).unwrap_or_else(|| panic!("{out}"));
        assert!(line.contains("restart") && line.contains("-> 1.0.0"), "{line}");
    }
    assert!(out.contains("workspace files were not touched"), "{out}");
    assert_eq!(job_file(&w, p, &w.ips[0], "index.html").as_deref(), Some("<h1>v3</h1>\n"));
    assert!(last_session(p) > before, "a dry run is a session that fails (nothing persisted)");

    // The rollback itself fails in batch 2 (that worker still cannot start)…
    let marker = broken_marker(MARKER, &w.ips[1]);
    std::fs::write(&marker, "").unwrap();
    let o = maand(p, &["rollback", "web", "--to", "d1"]);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(job_file(&w, p, &w.ips[0], "index.html").as_deref(), Some("<h1>v1</h1>\n"), "batch 1 rolled back");
    // (files ship to every worker first; lifecycle runs batch by batch)
    let v1_starts = |ip: &str| history(&w, p, ip).iter().filter(|l| *l == "start 1.0.0").count();
    assert_eq!(v1_starts(&w.ips[0]), 2, "batch 1 restarted with v1");
    assert_eq!(v1_starts(&w.ips[2]), 1, "batch 3 never ran: {:?}", history(&w, p, &w.ips[2]));

    let info = ok(&maand(p, &["info"]));
    assert!(info.contains("update batch 2/3") && info.contains("rerun maand rollback web --to "), "{info}");

    // …and resumes on rerun: batch 1 is not restarted again.
    let out = ok(&maand(p, &["rollback", "web", "--to", "d1"]));
    assert!(out.contains("promoted"), "{out}");
    let session = last_session(p);
    for ip in &w.ips {
        assert_eq!(job_file(&w, p, ip, "index.html").as_deref(), Some("<h1>v1</h1>\n"), "{ip}");
        assert_eq!(job_file(&w, p, ip, "extra.txt"), None, "{ip}: v2's file is gone");
        let env = job_file(&w, p, ip, "config.env").unwrap();
        assert!(env.contains("TOKEN=one\n"), "{ip}: v1's secret value: {env}");
    }
    assert_eq!(v1_starts(&w.ips[0]), 2, "worker 1 not restarted again: {:?}", history(&w, p, &w.ips[0]));
    assert_eq!(history(&w, p, &w.ips[2]).last().map(String::as_str), Some("start 1.0.0"));

    // Rolling batches of one, each gated; hooks ran as for an update.
    let events = session_events(p, session);
    let batches: Vec<&serde_json::Value> = events.iter().filter_map(|e| e["event"].get("BatchStarted")).collect();
    assert!(!batches.is_empty(), "batches ran");
    assert!(batches.iter().all(|b| b["allocations"].as_array().unwrap().len() == 1 && b["phase"] == "update"));
    assert!(events.iter().any(|e| e["event"].get("HealthChecked").is_some_and(|h| h["ok"] == true)));
    let phases = std::fs::read_to_string(p.join("phases.log")).unwrap();
    assert_eq!(phases.lines().last().map(|l| l.split(' ').next().unwrap()), Some("update"), "{phases}");

    // The job's catalog entry and secret are v1's again, and so are the
    // build-owned version keys that follow the catalog.
    let secret = ok(&maand(p, &["cat", "kv", "get", "--reveal", "secrets/job/web", "token"]));
    assert_eq!(secret.trim(), "one");
    let jobs = ok(&maand(p, &["cat", "jobs"]));
    assert!(jobs.contains("1.0.0") && !jobs.contains("3.0.0"), "{jobs}");
    let versions = || -> Vec<String> {
        let workers = w.ips.iter().map(|ip| format!("maand/job/web/worker/{ip}"));
        std::iter::once("maand/job/web".to_string()).chain(workers).map(|ns| kv_get(p, &ns, "version")).collect()
    };
    assert_eq!(versions(), vec!["1.0.0"; 4]);

    // Audit names it; replay re-derives its plans.
    let audit = ok(&journal(p, &["audit", &session.to_string()]));
    assert!(audit.contains("rollback of web to deploy 1 (session"), "{audit}");
    let replay = journal(p, &["replay", "--check"]);
    assert!(replay.status.success(), "{}{}", stdout(&replay), stderr(&replay));

    // Pinned: the workspace still holds v3, yet build and deploy keep v1.
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("web is pinned (rolled back to deploy 1 (session"), "{out}");
    assert!(ok(&maand(p, &["cat", "jobs"])).contains("1.0.0"));
    assert_eq!(versions(), vec!["1.0.0"; 4], "a pinned build holds the restored version keys");
    let out = ok(&maand(p, &["deploy"]));
    assert!(out.contains("web: pinned (rolled back to deploy 1"), "{out}");
    assert_eq!(job_file(&w, p, &w.ips[0], "index.html").as_deref(), Some("<h1>v1</h1>\n"));

    // Released, the next build and deploy roll forward to the workspace.
    ok(&maand(p, &["rollback", "--release", "web"]));
    let again = maand(p, &["rollback", "--release", "web"]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("web not pinned"), "{}", stderr(&again));
    ok(&maand(p, &["build"]));
    assert_eq!(versions(), vec!["3.0.0"; 4], "released, build writes the workspace's version");
    ok(&maand(p, &["deploy"]));
    for ip in &w.ips {
        assert_eq!(job_file(&w, p, ip, "index.html").as_deref(), Some("<h1>v3</h1>\n"), "{ip}");
    }
}

#[test]
fn write_workspace_puts_the_old_sources_back_and_an_edit_releases_the_pin() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = two_releases(&w);
    let p = dir.path();
    let out = ok(&maand(p, &["rollback", "web", "--to", "d1", "--write-workspace"]));
    assert!(out.contains("written back as at deploy 1"), "{out}");
    let ws = |rel: &str| std::fs::read_to_string(p.join("workspace/jobs/web").join(rel)).ok();
    assert_eq!(ws("index.html").as_deref(), Some("<h1>v1</h1>\n"));
    assert!(ws("manifest.json").unwrap().contains("\"1.0.0\""));
    assert_eq!(ws("extra.txt"), None, "v2's file removed from the workspace");
    for ip in &w.ips {
        assert_eq!(job_file(&w, p, ip, "index.html").as_deref(), Some("<h1>v1</h1>\n"), "{ip}");
    }
    // The workspace holds what was rolled back to: still pinned (a deploy
    // would re-render it with today's KV)…
    assert!(ok(&maand(p, &["build"])).contains("web is pinned"));
    // …until an edit: released and built as usual.
    write(p, "workspace/jobs/web/index.html", "<h1>v4</h1>\n");
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("web: workspace files changed since the rollback to deploy 1"), "{out}");
    ok(&maand(p, &["deploy"]));
    for ip in &w.ips {
        assert_eq!(job_file(&w, p, ip, "index.html").as_deref(), Some("<h1>v4</h1>\n"), "{ip}");
    }
}

#[test]
fn rollback_bad_input_is_refused_without_a_state_change() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1", "labels": ["web"]}]"#);
    write(p, "workspace/jobs/web/manifest.json", r#"{"version": "1.0.0", "selectors": ["web"]}"#);
    write(p, "workspace/jobs/web/Makefile", "start:\n");
    ok(&maand(p, &["build"]));
    let count = event_count(p);
    for (args, want) in [
        (vec!["rollback", "web", "--to", "yesterday"], "is not a point in history"),
        (vec!["rollback", "nope", "--to", "d1"], "unknown job(s) nope"),
        (vec!["rollback", "web"], "--to"),
        (vec!["rollback", "web", "--to", "d1", "--dry-run", "--write-workspace"], "cannot be used with"),
        (vec!["rollback", "web", "--to", "99999"], "event 99999 does not exist"),
        (vec!["rollback", "web", "--to", "d4"], "no deploy 4"),
        (vec!["rollback", "web", "--to", "1"], "rollback of web: the job did not exist at event 1"),
        (vec!["rollback", "web", "--to", "head"], "rollback of web: nothing of it was promoted at that point"),
        (vec!["rollback", "--release", "web"], "web not pinned"),
        // Sessions that do not exist, or are of another kind than a deploy
        // of the job: init (before the job), the build (nothing promoted).
        (vec!["rollback", "web", "--to", "s99"], "no session 99; `maand-journal sessions` lists them"),
        (vec!["rollback", "web", "--to", "s1"], "rollback of web: the job did not exist at session 1"),
        (vec!["rollback", "web", "--to", "s2"], "rollback of web: nothing of it was promoted at that point"),
        // Garbage.
        (vec!["rollback", "web", "--to", ""], "\"\" is not a point in history"),
        (vec!["rollback", "web", "--to", "d0"], "\"d0\" is not a point in history"),
        (vec!["rollback", "web", "--to", "s-1"], "is not a point in history"),
        (vec!["rollback", "web", "--to", "18446744073709551616"], "is not a point in history"),
        (vec!["rollback", "web", "--to", "\u{ff44}1"], "is not a point in history"),
        (vec!["rollback", "web", "--to", "d1; rm -rf /"], "is not a point in history"),
        (vec!["rollback", "web", "--to", "s\u{7}1"], "is not a point in history"),
    ] {
        let o = maand(p, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
    // A point of 100,000 characters makes a short message.
    let long = "7".repeat(100_000);
    let o = maand(p, &["rollback", "web", "--to", &long]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not a point in history") && stderr(&o).len() < 2_000, "{}", stderr(&o).len());
    assert_eq!(event_count(p), count, "bad input changes nothing");
}

/// `--write-workspace` never writes through a link: one planted at a job
/// file, or as the job folder, is refused before anything runs (exit 2,
/// nothing recorded, nothing shipped, the link's target untouched).
#[test]
fn write_workspace_refuses_links_in_the_job_folder_before_anything_runs() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = two_releases(&w);
    let p = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    let job = p.join("workspace/jobs/web");
    let refused = |want: &str| {
        let count = event_count(p);
        let o = maand(p, &["rollback", "web", "--to", "d1", "--write-workspace"]);
        assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
        assert_eq!(event_count(p), count, "nothing recorded");
        for ip in &w.ips {
            assert_eq!(job_file(&w, p, ip, "index.html").as_deref(), Some("<h1>v2</h1>\n"), "{ip}: nothing shipped");
        }
    };
    std::fs::remove_file(job.join("index.html")).unwrap();
    std::os::unix::fs::symlink(&victim, job.join("index.html")).unwrap();
    refused("rollback --write-workspace: workspace/jobs/web/index.html is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");

    // The job folder itself a link to a copy outside the bucket.
    std::fs::remove_file(job.join("index.html")).unwrap();
    std::fs::write(job.join("index.html"), "<h1>v2</h1>\n").unwrap();
    let copy = outside.path().join("web");
    std::fs::rename(&job, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &job).unwrap();
    refused("rollback --write-workspace: workspace/jobs/web is a symbolic link");
    assert_eq!(std::fs::read_to_string(copy.join("index.html")).unwrap(), "<h1>v2</h1>\n");

    // Without the links the same rollback writes the old sources back.
    std::fs::remove_file(&job).unwrap();
    std::fs::rename(&copy, &job).unwrap();
    ok(&maand(p, &["rollback", "web", "--to", "d1", "--write-workspace"]));
    assert_eq!(std::fs::read_to_string(job.join("index.html")).unwrap(), "<h1>v1</h1>\n");
}
