//! `maand-journal replay --check` on staging decisions written through the
//! library: a tree staged from something the journal does not hold is a
//! divergence named down to the file; a tree staged by another renderer is
//! reported, not failed. (Deploy tests on real workers check every kind
//! end to end through `common::replay_checks`.)

mod common;
use common::*;
use maand::deploy::stage::{RENDERER, render_job};
use maand::event::{Event, JobRollout, Staging};
use maand::kv::seal::KvKey;
use maand::plan::rollout::{RolloutFlags, plan_job};
use maand::state::State;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn bucket() -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}]"#);
    write(p, "workspace/bucket.conf", "greeting = \"hello\"\n");
    write(p, "workspace/jobs/api/manifest.json", r#"{"version": "1.0.0", "selectors": ["worker"]}"#);
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/api/greeting.txt.tpl", "{{ get \"vars/bucket\" \"greeting\" }} from {{ .WorkerIP }}\n");
    ok(&maand(p, &["build"]));
    dir
}

/// One deploy-like session recording a staging decision for job `api`:
/// trees rendered from `staged_from` (the session's state, or something
/// else), under `renderer`.
fn record_staging(p: &Path, renderer: &str, staged_from: impl Fn(&State) -> State) -> u64 {
    let key = KvKey::load(&p.join("secrets/kv.key")).unwrap();
    let mut b = open(p, "deploy");
    let mut s = b.begin(maand::bucket::session_info("deploy")).unwrap();
    let id = s.id();
    let state = s.state().clone();
    let from = Arc::new(staged_from(&state));
    let bucket_id = state.bucket_id().unwrap().to_string();
    let staged: BTreeMap<String, _> = ["10.0.0.1", "10.0.0.2"]
        .iter()
        .map(|ip| (ip.to_string(), render_job(&from, &key, &bucket_id, 1, "api", ip).unwrap().tree))
        .collect();
    let flags = RolloutFlags::default();
    let plan = plan_job(&state, "api", &staged, &flags).unwrap();
    s.record(Event::JobStaged(Box::new(Staging { job: "api".into(), renderer: renderer.into() }))).unwrap();
    s.record(Event::JobRolloutPlanned(Box::new(JobRollout { update_seq: 1, flags, staged, plan }))).unwrap();
    s.commit().unwrap();
    id
}

fn check_json(p: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["replay", "--check", "--json"];
    args.extend_from_slice(extra);
    let o = journal(p, &args);
    (o.status.code(), serde_json::from_str(&stdout(&o)).unwrap())
}

#[test]
fn a_tree_staged_from_outside_the_journal_is_a_divergence_naming_the_file() {
    let dir = bucket();
    let p = dir.path();
    let good = record_staging(p, RENDERER, State::clone);
    let (code, j) = check_json(p, &[]);
    assert_eq!(code, Some(0), "{j}");
    assert_eq!(
        (j["kinds"]["staged"]["rederived"].as_u64(), j["kinds"]["rollout"]["rederived"].as_u64()),
        (Some(1), Some(1))
    );

    // The template read a KV value the journal never recorded: its output
    // depends on something outside its recorded inputs.
    let bad = record_staging(p, RENDERER, |s| {
        let mut s = s.clone();
        s.apply(&put("vars/bucket", "greeting", "from outside", 1));
        s
    });
    let (code, j) = check_json(p, &[]);
    assert_eq!(code, Some(1), "{j}");
    let d = &j["divergence"];
    assert_eq!(d["kind"], "staged", "{j}");
    assert_eq!((d["session"].as_u64(), d["job"].as_str()), (Some(bad), Some("api")), "{j}");
    assert_eq!((d["allocation"].as_str(), d["field"].as_str()), (Some("10.0.0.1"), Some("file greeting.txt")), "{j}");
    assert!(d["recorded"] != d["rederived"] && d["seq"].as_u64().unwrap() > 0, "{j}");
    let o = journal(p, &["replay", "--check"]);
    assert!(
        stderr(&o).contains(&format!("the staged decision recorded at event {} (session {bad}) for job api on 10.0.0.1 differs when derived again: file greeting.txt", d["seq"])),
        "{}",
        stderr(&o)
    );
    // The earlier session alone still passes.
    let (code, j) = check_json(p, &["--session", &good.to_string()]);
    assert_eq!(code, Some(0), "{j}");
}

#[test]
fn a_tree_staged_by_another_renderer_is_reported_not_failed() {
    let dir = bucket();
    let p = dir.path();
    record_staging(p, "maand-stage/0 gotmpl/0.5.0", |s| {
        // What the old renderer produced differs from today's, by design.
        let mut s = s.clone();
        s.apply(&put("vars/bucket", "greeting", "old engine", 1));
        s
    });
    let (code, j) = check_json(p, &[]);
    assert_eq!(code, Some(0), "{j}");
    let not = &j["kinds"]["staged"]["not_rederivable"][0];
    assert_eq!(not["count"], 1, "{j}");
    let reason = not["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "renderer changed since this session (recorded maand-stage/0 gotmpl/0.5.0, running maand-stage/"
        ),
        "{reason}"
    );
    assert_eq!(j["kinds"]["rollout"]["rederived"], 1, "the rollout plan is still re-derived: {j}");
}

#[test]
fn a_build_planned_from_another_workspace_than_it_recorded_is_a_build_divergence() {
    let dir = bucket();
    let p = dir.path();
    // Every real build re-plans identically.
    let (code, j) = check_json(p, &[]);
    assert_eq!((code, j["kinds"]["build"]["rederived"].as_u64()), (Some(0), Some(1)), "{j}");
    // A session records the workspace as read, but plans from one with a
    // worker more: its decision depends on something it did not record.
    let mut b = open(p, "build");
    let conf = b.conf.clone();
    let paths = b.paths.clone();
    let mut s = b.begin(maand::bucket::session_info("build")).unwrap();
    let id = s.id();
    let raw = maand::workspace::read(&paths, &conf).unwrap();
    let mut other = raw.clone();
    other
        .files
        .insert("workers.json".into(), r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}, {"host": "10.0.0.3"}]"#.into());
    let ca_pem = std::fs::read_to_string(paths.ca_crt()).unwrap();
    let ctx = maand::plan::build::BuildContext {
        bucket_id: s.state().bucket_id().unwrap().to_string(),
        now: 1_800_000_000_000,
        ca_pem: ca_pem.clone(),
        ca_fingerprint: "fp".into(),
        certs_renewal_buffer_days: 30,
        purge_job_kv: false,
        scrape_rendered: BTreeMap::new(),
    };
    let plan = maand::plan::build::plan_build(s.state(), &maand::workspace::assemble(&other).unwrap(), &ctx).unwrap();
    assert!(plan.certs.is_empty());
    let job_files = raw
        .jobs
        .iter()
        .map(|(j, f)| {
            (j.clone(), f.iter().map(|(p, f)| (p.clone(), maand::build::file_digest(&f.content, f.mode))).collect())
        })
        .collect();
    let inputs = maand::event::BuildInputs {
        files: raw.files.clone(),
        job_overrides_file: raw.job_overrides_file.clone(),
        job_files,
        now: ctx.now,
        ca_pem,
        ca_fingerprint: ctx.ca_fingerprint.clone(),
        certs_renewal_buffer_days: 30,
        purge_job_kv: false,
        scrape_rendered: BTreeMap::new(),
    };
    s.record(Event::BuildPlanned(Box::new(inputs))).unwrap();
    for e in plan.events {
        s.record(e).unwrap();
    }
    s.checkpoint("catalog").unwrap();
    s.commit().unwrap();
    let (code, j) = check_json(p, &[]);
    assert_eq!(code, Some(1), "{j}");
    let d = &j["divergence"];
    assert_eq!((d["kind"].as_str(), d["session"].as_u64()), (Some("build"), Some(id)), "{j}");
    let named = ok(&journal(p, &["export", "--jsonl"]))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["seq"] == d["seq"])
        .unwrap();
    assert!(named["event"].get("BuildPlanned").is_some(), "names the build's own record: {named}");
    assert!(d["recorded"].as_str().unwrap().contains("10.0.0.3"), "{j}");
    assert!(d["field"].as_str().unwrap().starts_with("event "), "{j}");
}

#[test]
fn bad_check_arguments_exit_2_naming_what_is_wrong() {
    let dir = bucket();
    let p = dir.path();
    let o = journal(p, &["replay", "--check", "--session", "99"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--session 99: the journal has no session 99"), "{}", stderr(&o));
    let o = journal(p, &["replay", "--check", "--inject-nondeterminism", "bogus"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown decision kind \"bogus\" (one of build, reconcile, staged, rollout, hooks)"));
    let o = journal(p, &["replay", "--json"]);
    assert_eq!(o.status.code(), Some(2), "--json needs --check: {}", stderr(&o));
    // A session's own counts only.
    let (code, j) = check_json(p, &["--session", "1"]);
    assert_eq!(code, Some(0), "{j}");
    assert_eq!((j["kinds"]["build"]["rederived"].as_u64(), j["sessions"].as_u64()), (Some(0), Some(0)), "{j}");
    let (_, j) = check_json(p, &["--session", "2"]);
    assert_eq!(j["kinds"]["build"]["rederived"], 1, "{j}");
}
