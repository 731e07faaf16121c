//! The hook contract (../shared/seeds/ 000 and 001), row by row, on real
//! sshd workers with real Python and Bun hooks. `seed_conformance/rows.tsv`
//! maps every seed statement to the test that checks it (here or in another
//! test file) or says why it cannot be tested; the first test below fails
//! when a row names neither, or names a test that does not exist.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use serde_json::Value;
use std::path::Path;

// ---------------------------------------------------------------- the table

/// One row of `rows.tsv`: id, seed, statement, test.
fn rows() -> Vec<[String; 4]> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed_conformance/rows.tsv"))
        .expect("tests/seed_conformance/rows.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "rows.tsv: 4 tab-separated fields expected: {l}");
            [f[0], f[1], f[2], f[3]].map(|s| s.trim().to_string())
        })
        .collect()
}

#[test]
fn every_seed_row_names_an_existing_test_or_says_why_not() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rows = rows();
    let mut ids = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for [id, seed, statement, test] in &rows {
        if !ids.insert(id.clone()) {
            problems.push(format!("{id}: duplicate id"));
        }
        if !matches!(seed.as_str(), "000" | "001") || statement.is_empty() {
            problems.push(format!("{id}: seed must be 000 or 001 and the statement non-empty"));
        }
        if let Some(why) = test.strip_prefix("not testable:") {
            if why.trim().len() < 10 {
                problems.push(format!("{id}: \"not testable:\" needs a reason"));
            }
            continue;
        }
        // One or more `path::test_name`, separated by spaces.
        if test.is_empty() {
            problems.push(format!("{id}: names neither a test nor \"not testable: why\""));
        }
        for one in test.split_whitespace() {
            let Some((file, name)) = one.split_once("::") else {
                problems.push(format!("{id}: {one:?} is not path::test_name"));
                continue;
            };
            let src = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            if !src.contains(&format!("fn {name}(")) {
                problems.push(format!("{id}: no test {name} in {file}"));
            }
        }
    }
    assert!(problems.is_empty(), "rows.tsv:\n  {}", problems.join("\n  "));
    let untestable = rows.iter().filter(|r| r[3].starts_with("not testable:")).count();
    println!("seed rows: {} ({} checked by tests, {untestable} not testable)", rows.len(), rows.len() - untestable);
    assert!(rows.len() >= 100, "the table covers both seeds");
}

// ---------------------------------------------------------------- helpers

/// A Makefile whose targets only record themselves (no probes: the gate
/// is the health_check hooks).
const MAKEFILE: &str = "start:\n\t@mkdir -p data && echo start >> data/history\nstop:\n\t@echo stop >> data/history\n\
restart: stop start\nreload:\n\t@echo reload >> data/history\n";

/// Every hook event the test registers: dumps its environment and two API
/// answers as one JSON line into `<EVENT>.jsonl` under the bucket; on
/// pre_deploy, the leader sets the rollout order from `order.txt` and the
/// job variable `seed`.
const DUMP: &str = r#"
import json, os, maand
root = os.environ["BUCKET_ROOT"]
ev = os.environ["EVENT"]
if ev == "pre_deploy" and maand.is_one_shot():
    order = os.path.join(root, "order.txt")
    if os.path.exists(order):
        maand.put_rollout_order(open(order).read().split(",")).raise_for_status()
    maand.put_job_variable("seed", "planted").raise_for_status()
keys = ["ALLOCATION_ID", "ALLOCATION_IP", "ALLOCATION_INDEX", "JOB", "EVENT", "COMMAND", "HOOK", "DISABLED",
        "CURRENT_VERSION", "NEW_VERSION", "BATCH_ALLOCATIONS", "BATCH_INDEX", "BATCH_COUNT", "DEPLOY_PHASE",
        "ROLLOUT_ORDER", "ROLLOUT_ORDER_SOURCE", "NEW_ALLOCATIONS", "UPDATED_ALLOCATIONS"]
rec = {k: os.environ.get(k) for k in keys}
rec["first_batch"] = maand.is_first_batch()
rec["one_shot"] = maand.is_one_shot()
rec["kv_own_job"] = maand.get_store_value("vars/job/" + maand.job_name(), "seed").status_code
rec["kv_own_worker"] = maand.get_store_value("maand/job/%s/worker/%s" % (maand.job_name(), maand.allocation_ip()),
                                             "%s_allocation_index" % maand.job_name()).status_code
with open(os.path.join(root, ev + ".jsonl"), "a") as f:
    f.write(json.dumps(rec) + "\n")
"#;

const EVENTS: &str =
    r#"["pre_deploy", "post_deploy", "health_check", "after_allocation_started", "after_allocation_stopped"]"#;

/// Job `web` on `workers`, every deploy event dumped by `hook_dump`.
fn bucket(w: &TestWorkers, starts: u64, upgrades: u64) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["web"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    manifest(p, "1.0.0", starts, upgrades);
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    write(p, "workspace/jobs/web/index.html", "v1\n");
    write(p, "workspace/jobs/web/_hooks/hook_dump.py", DUMP);
    ok(&maand(p, &["build"]));
    dir
}

fn manifest(p: &Path, version: &str, starts: u64, upgrades: u64) {
    write(
        p,
        "workspace/jobs/web/manifest.json",
        &format!(
            r#"{{"version": "{version}", "selectors": ["web"], "max_concurrent_starts": {starts},
  "max_concurrent_upgrades": {upgrades}, "hooks": {{"hook_dump": {{"executed_on": {EVENTS}}}}}}}"#
        ),
    );
}

/// The records of `event` since the last [`clear`], in the order written.
fn records(p: &Path, event: &str) -> Vec<Value> {
    std::fs::read_to_string(p.join(format!("{event}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn clear(p: &Path) {
    for e in ["pre_deploy", "post_deploy", "health_check", "after_allocation_started", "after_allocation_stopped"] {
        let _ = std::fs::remove_file(p.join(format!("{e}.jsonl")));
    }
}

fn field<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or_else(|| panic!("{k} missing in {r}"))
}

/// Records grouped by `BATCH_INDEX`, each batch's IPs sorted by rollout position.
fn by_batch(recs: &[Value]) -> std::collections::BTreeMap<String, Vec<Value>> {
    let mut m: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for r in recs {
        m.entry(field(r, "BATCH_INDEX").to_string()).or_default().push(r.clone());
    }
    m
}

fn deploy(p: &Path) -> String {
    ok(&maand(p, &["deploy"]))
}

// ---------------------------------------------------------------- deploy rows

/// Seed 001 "Batching" (first starts: `max_concurrent_starts`; N and the
/// lifecycle's own numbering), "Workers included" (after_allocation_started:
/// the current Makefile rollout batch), DEPLOY_PHASE `new`/`update`,
/// ROLLOUT_ORDER/SOURCE of a KV order, CURRENT/NEW_VERSION across a
/// promotion and a version bump, `is_first_batch()` only in the first wave.
#[test]
fn after_allocation_started_runs_once_per_lifecycle_batch_with_that_batchs_context() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = bucket(&w, 2, 1);
    let p = dir.path();
    let order = [w.ips[2].clone(), w.ips[0].clone(), w.ips[1].clone()];
    write(p, "order.txt", &order.join(","));
    let out = deploy(p);
    assert!(out.contains(&format!("order kv {}", order.join(","))), "{out}");
    let started = records(p, "after_allocation_started");
    assert_eq!(started.len(), 3, "one process per started allocation: {started:?}");
    let batches = by_batch(&started);
    assert_eq!(batches.keys().cloned().collect::<Vec<_>>(), ["0", "1"], "two start batches (width 2)");
    for (index, want) in [("0", &order[..2]), ("1", &order[2..])] {
        let mut ips: Vec<&str> = batches[index].iter().map(|r| field(r, "ALLOCATION_IP")).collect();
        ips.sort_by_key(|ip| order.iter().position(|o| o == ip));
        assert_eq!(ips, want, "batch {index} runs on exactly its lifecycle batch");
        for r in &batches[index] {
            assert_eq!(field(r, "BATCH_ALLOCATIONS"), want.join(","), "in rollout order");
            assert_eq!(field(r, "BATCH_COUNT"), "2");
            assert_eq!(field(r, "DEPLOY_PHASE"), "new");
            assert_eq!(field(r, "ROLLOUT_ORDER"), order.join(","));
            assert_eq!(field(r, "ROLLOUT_ORDER_SOURCE"), "kv");
            assert_eq!((field(r, "CURRENT_VERSION"), field(r, "NEW_VERSION")), ("0.0.0", "1.0.0"));
            assert_eq!(r["first_batch"], index == "0", "is_first_batch() only in the first wave");
            assert_eq!(field(r, "EVENT"), "after_allocation_started");
        }
    }
    // A version bump: upgrades in batches of max_concurrent_upgrades (1).
    clear(p);
    manifest(p, "2.0.0", 2, 1);
    write(p, "workspace/jobs/web/index.html", "v2\n");
    ok(&maand(p, &["build"]));
    deploy(p);
    let started = records(p, "after_allocation_started");
    assert_eq!(started.len(), 3, "{started:?}");
    for r in &started {
        let i: usize = field(r, "BATCH_INDEX").parse().unwrap();
        assert_eq!(field(r, "BATCH_ALLOCATIONS"), order[i], "upgrade batch {i}");
        assert_eq!(field(r, "ALLOCATION_IP"), order[i]);
        assert_eq!(field(r, "BATCH_COUNT"), "3");
        assert_eq!(field(r, "DEPLOY_PHASE"), "update");
        assert_eq!(field(r, "ROLLOUT_ORDER_SOURCE"), "kv");
        assert_eq!((field(r, "CURRENT_VERSION"), field(r, "NEW_VERSION")), ("1.0.0", "2.0.0"), "after a promotion");
        assert_eq!(r["first_batch"], i == 0);
    }
    let pre = records(p, "pre_deploy");
    assert_eq!(pre.len(), 3);
    for r in &pre {
        assert_eq!(field(r, "DEPLOY_PHASE"), "pre_deploy");
        assert_eq!((field(r, "CURRENT_VERSION"), field(r, "NEW_VERSION")), ("1.0.0", "2.0.0"));
    }
    for r in &records(p, "post_deploy") {
        assert_eq!(field(r, "DEPLOY_PHASE"), "post_deploy");
    }
}

/// Seed 001: "health_check commands use non-removed allocations (includes
/// disabled) with the same order and batch width" — every gate of a deploy,
/// not only the workers just restarted; pre/post_deploy include disabled;
/// `max_concurrent_starts` 0 is one start batch of all new allocations.
#[test]
fn deploy_health_check_hooks_run_on_all_non_removed_allocations_including_disabled() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = bucket(&w, 0, 1);
    let p = dir.path();
    deploy(p);
    // max_concurrent_starts 0: one start batch of every new allocation.
    let started = records(p, "after_allocation_started");
    assert_eq!(started.len(), 3, "{started:?}");
    for r in &started {
        assert_eq!((field(r, "BATCH_INDEX"), field(r, "BATCH_COUNT")), ("0", "1"));
        assert_eq!(field(r, "BATCH_ALLOCATIONS"), w.ips.join(","));
        assert_eq!(field(r, "DEPLOY_PHASE"), "new");
    }
    // Disable one allocation, then a version bump restarts the other two one by one.
    clear(p);
    write(p, "workspace/disabled.json", &format!(r#"{{"jobs": {{"web": {{"allocations": ["{}"]}}}}}}"#, w.ips[1]));
    manifest(p, "2.0.0", 0, 1);
    ok(&maand(p, &["build"]));
    deploy(p);
    let hc = records(p, "health_check");
    // Two upgrade batches (the disabled one is stopped, not upgraded), each
    // gated by a health_check run over all three allocations, width 1.
    assert_eq!(hc.len(), 6, "{hc:?}");
    for gate in hc.chunks(3) {
        let mut ips: Vec<&str> = gate.iter().map(|r| field(r, "ALLOCATION_IP")).collect();
        ips.sort();
        let mut all: Vec<&str> = w.ips.iter().map(String::as_str).collect();
        all.sort();
        assert_eq!(ips, all, "every non-removed allocation: {gate:?}");
        for r in gate {
            assert_eq!(field(r, "BATCH_COUNT"), "3", "width max_concurrent_upgrades");
            assert_eq!(field(r, "BATCH_ALLOCATIONS"), field(r, "ALLOCATION_IP"));
            assert_eq!(field(r, "DEPLOY_PHASE"), "health_check");
            assert_eq!(field(r, "DISABLED"), if field(r, "ALLOCATION_IP") == w.ips[1] { "1" } else { "0" });
        }
    }
    for event in ["pre_deploy", "post_deploy"] {
        let recs = records(p, event);
        assert_eq!(recs.len(), 3, "{event} includes the disabled allocation: {recs:?}");
        assert!(recs.iter().any(|r| field(r, "DISABLED") == "1"), "{event}");
    }
    let started = records(p, "after_allocation_started");
    assert!(started.iter().all(|r| field(r, "ALLOCATION_IP") != w.ips[1]), "a disabled allocation is not started");
}

/// Seed 001: after_allocation_stopped runs on the stopped allocations with
/// DEPLOY_PHASE `stop`; a hook maand runs for an allocation reads its job's
/// KV (also when the allocation was removed), and a removed allocation's
/// ALLOCATION_INDEX is not a live peer's.
#[test]
fn after_allocation_stopped_of_a_removed_allocation_reads_its_jobs_kv_with_its_own_index() {
    let Some(w) = start_or_skip(3) else { return };
    let dir = bucket(&w, 0, 3);
    let p = dir.path();
    deploy(p);
    clear(p);
    // The first worker stops matching the job: its allocation is removed.
    let relabel: Vec<String> = w
        .ips
        .iter()
        .enumerate()
        .map(|(i, ip)| format!(r#"{{"host": "{ip}", "labels": ["{}"]}}"#, if i == 0 { "other" } else { "web" }))
        .collect();
    write(p, "workspace/workers.json", &format!("[{}]", relabel.join(",")));
    ok(&maand(p, &["build"]));
    deploy(p);
    let stopped = records(p, "after_allocation_stopped");
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    let r = &stopped[0];
    assert_eq!(field(r, "ALLOCATION_IP"), w.ips[0]);
    assert_eq!(field(r, "DEPLOY_PHASE"), "stop");
    assert_eq!(r["kv_own_job"], 200, "its job's KV is readable: {r}");
    assert_ne!(field(r, "ALLOCATION_INDEX"), "0", "not the index of the live peer {}", w.ips[1]);
    assert_eq!(field(r, "ALLOCATION_INDEX"), "2", "numbered after the two live allocations");
    assert_eq!(r["one_shot"], false);
    assert_eq!((field(r, "BATCH_INDEX"), field(r, "BATCH_COUNT")), ("0", "1"));
}

/// Seed 001 "KV persistence by context": `kv.PersistSession()` after each
/// job's deploy. A failed job's hook writes persist at its own post-job
/// checkpoint, whether another job follows (round 1) or not (round 2).
#[test]
fn kv_written_by_a_failing_job_persists_whether_or_not_another_job_follows() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    write(p, "workspace/workers.json", &format!(r#"[{{"host": "{}"}}]"#, w.ips[0]));
    let hook = r#"
import maand, os
root = os.environ["BUCKET_ROOT"]
maand.put_job_variable("mark", open(os.path.join(root, "round")).read()).raise_for_status()
if os.path.exists(os.path.join(root, "fail-" + maand.job_name())):
    raise SystemExit(1)
"#;
    for job in ["alpha", "beta"] {
        write(
            p,
            &format!("workspace/jobs/{job}/manifest.json"),
            r#"{"version": "1.0.0", "selectors": ["worker"], "hooks": {"hook_mark": {"executed_on": ["post_deploy"]}}}"#,
        );
        write(p, &format!("workspace/jobs/{job}/Makefile"), MAKEFILE);
        write(p, &format!("workspace/jobs/{job}/_hooks/hook_mark.py"), hook);
    }
    ok(&maand(p, &["build"]));
    // Round 1: alpha fails first, beta deploys after it.
    write(p, "round", "1");
    write(p, "fail-alpha", "");
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(kv_get(p, "vars/job/alpha", "mark"), "1");
    assert_eq!(kv_get(p, "vars/job/beta", "mark"), "1");
    // Round 2: alpha succeeds, beta (changed) fails last.
    std::fs::remove_file(p.join("fail-alpha")).unwrap();
    write(p, "fail-beta", "");
    write(p, "round", "2");
    write(p, "workspace/jobs/beta/index.html", "changed\n");
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(kv_get(p, "vars/job/alpha", "mark"), "2");
    assert_eq!(kv_get(p, "vars/job/beta", "mark"), "2", "the last, failed job's write is kept");
    ok(&journal(p, &["verify"]));
}

/// Seed 001 "KV persistence by context": pre_deploy writes are persisted
/// after the job's pre_deploy, so a deploy killed with SIGKILL later keeps
/// them; a write after that checkpoint dies with the process. And a secret
/// written in pre_deploy is rendered by the same deploy's templates.
#[test]
fn pre_deploy_kv_survives_kill_9_of_the_deploy_and_later_writes_do_not() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    write(p, "workspace/workers.json", &format!(r#"[{{"host": "{}"}}]"#, w.ips[0]));
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "hooks": {"hook_kv": {"executed_on": ["pre_deploy", "post_deploy"]}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    write(
        p,
        "workspace/jobs/web/_hooks/hook_kv.py",
        "import maand, os, signal\nmaand.put_job_variable(maand.hook_event(), 'written').raise_for_status()\n\
         if maand.hook_event() == 'pre_deploy':\n    maand.put_job_secret('pw', 'from-pre-deploy').raise_for_status()\n\
         if maand.hook_event() == 'post_deploy':\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    );
    // Seed 001: "Use pre_deploy to write secrets consumed by .tpl on the same deploy".
    write(p, "workspace/jobs/web/secret.txt.tpl", "{{ get \"secrets/job/web\" \"pw\" }}\n");
    ok(&maand(p, &["build"]));
    let o = maand(p, &["deploy"]);
    assert_eq!(o.status.signal(), Some(9), "the deploy was killed: {}", stdout(&o));
    assert_eq!(kv_get(p, "vars/job/web", "pre_deploy"), "written");
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let shipped = std::fs::read_to_string(w.opt(&w.ips[0]).join(bid).join("jobs/web/secret.txt")).unwrap();
    assert_eq!(shipped, "from-pre-deploy\n");
    let o = maand(p, &["cat", "kv", "get", "vars/job/web", "post_deploy"]);
    assert_eq!(o.status.code(), Some(1), "not checkpointed: {}", stdout(&o));
}

use std::os::unix::process::ExitStatusExt;

// ---------------------------------------------------------------- cli rows

/// A bucket with three workers (no sshd needed for cli hooks) and job `api`.
fn cli_bucket(width: u64, hooks: &str, scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}, {"host": "10.0.0.3"}]"#);
    write(
        p,
        "workspace/jobs/api/manifest.json",
        &format!(
            r#"{{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": {width}, "hooks": {{{hooks}}}}}"#
        ),
    );
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    for (name, body) in scripts {
        write(p, &format!("workspace/jobs/api/_hooks/{name}"), body);
    }
    dir
}

/// Run `script` (file `file`, hook `hook_<name>` on `cli`) once over job
/// `api` in a one-batch bucket; the JSON it wrote to `<out>` in the bucket.
fn cli_hook_json(hook: &str, file: &str, script: &str, out: &str) -> (tempfile::TempDir, Value) {
    let dir = cli_bucket(8, &format!(r#""{hook}": {{"executed_on": ["cli"]}}"#), &[(file, script)]);
    let p = dir.path();
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["hooks", hook, "api"]));
    let r = serde_json::from_str(&std::fs::read_to_string(p.join(out)).unwrap()).unwrap();
    (dir, r)
}

/// Seed 001 "Workers included": cli runs on all non-removed allocations,
/// disabled included (seed 001 wins over seed 000's "all active"), with
/// DISABLED and `is_allocation_disabled()`.
#[test]
fn cli_hooks_run_on_all_non_removed_allocations_including_disabled() {
    let dir = cli_bucket(8, r#""hook_dump": {"executed_on": ["cli"]}"#, &[("hook_dump.py", DUMP)]);
    let p = dir.path();
    write(p, "workspace/disabled.json", r#"{"jobs": {"api": {"allocations": ["10.0.0.2"]}}}"#);
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["hooks", "hook_dump", "api"]));
    let recs = records(p, "cli");
    let mut ips: Vec<&str> = recs.iter().map(|r| field(r, "ALLOCATION_IP")).collect();
    ips.sort();
    assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    for r in &recs {
        assert_eq!(field(r, "DISABLED"), if field(r, "ALLOCATION_IP") == "10.0.0.2" { "1" } else { "0" });
        assert_eq!((field(r, "BATCH_COUNT"), field(r, "DEPLOY_PHASE")), ("1", "cli"));
        assert_eq!(field(r, "BATCH_ALLOCATIONS"), "10.0.0.1,10.0.0.2,10.0.0.3");
    }
}

/// Seed 001 error table: "408 Timed out waiting for semaphore" while a
/// peer in the same batch holds the slot (no clock in the assertion: the
/// holder keeps it until the waiter has timed out).
#[test]
fn semaphore_acquire_times_out_with_408_while_a_peer_holds_it() {
    let script = r#"
import maand, os, time, json
root = os.environ["BUCKET_ROOT"]
done = os.path.join(root, "waited")
def wait_for(cond):
    for _ in range(600):
        if cond():
            return
        time.sleep(0.1)
    raise SystemExit("gave up waiting")
if maand.allocation_index() == "0":
    maand.acquire_semaphore("lock", capacity=1, timeout_seconds=60).raise_for_status()
    wait_for(lambda: os.path.exists(done))
    maand.release_semaphore("lock").raise_for_status()
elif maand.allocation_index() == "1":
    wait_for(lambda: maand.semaphore_status("lock").json()["holders"])
    r = maand.acquire_semaphore("lock", capacity=1, timeout_seconds=1)
    json.dump([r.status_code, r.json()], open(os.path.join(root, "sem.json"), "w"))
    open(done, "w").close()
"#;
    let (_dir, r) = cli_hook_json("hook_sem", "hook_sem.py", script, "sem.json");
    assert_eq!(r, serde_json::json!([408, {"error": "Timed out waiting for semaphore"}]));
}

/// Seed 001 "Maand uses, in order": `_hooks/.venv`, `_hooks/venv`, then
/// `python3` on PATH; and "`.venv`, `venv`, `node_modules`, and
/// `__pycache__` are skipped during maand build file indexing" (the staged
/// copy a hook runs from has none of them); "Stage tmp/…/<ip>/jobs/<job>/
/// from job_files + certs from KV".
#[test]
fn python_interpreter_order_and_skipped_folders() {
    let script = r#"
import os, json
here = os.path.dirname(os.path.abspath(__file__))
found = [d for d in [".venv", "venv", "node_modules", "__pycache__"] if os.path.exists(os.path.join(here, d))]
job = os.path.dirname(here)
staged = {f: oct(os.stat(os.path.join(job, f)).st_mode & 0o777) for f in ["Makefile", "certs/tls.crt", "certs/tls.key", "certs/ca.crt"]
          if os.path.exists(os.path.join(job, f))}
json.dump([os.environ.get("WHICH_PYTHON", "path"), found, staged, os.path.basename(os.path.dirname(os.path.dirname(job)))], open(os.path.join(os.environ["BUCKET_ROOT"], "interp-" + os.environ["ALLOCATION_IP"]), "w"))
"#;
    let dir = cli_bucket(8, r#""hook_py": {"executed_on": ["cli"]}"#, &[("hook_py.py", script)]);
    let p = dir.path();
    let hooks = p.join("workspace/jobs/api/_hooks");
    for venv in [".venv", "venv"] {
        let py = format!("#!/bin/sh\nWHICH_PYTHON={venv} exec python3 \"$@\"\n");
        write(&hooks, &format!("{venv}/bin/python3"), &py);
        std::fs::set_permissions(
            hooks.join(venv).join("bin/python3"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    // With a certificate: staged from KV beside the job's files.
    let m = std::fs::read_to_string(p.join("workspace/jobs/api/manifest.json")).unwrap().replacen(
        '{',
        r#"{"certs": {"tls": {"subject": {"common_name": "api.internal"}}}, "#,
        1,
    );
    write(p, "workspace/jobs/api/manifest.json", &m);
    write(&hooks, "node_modules/x/index.js", "module.exports = 1;\n");
    write(&hooks, "__pycache__/x.pyc", "junk\n");
    ok(&maand(p, &["build"]));
    let run = || -> Value {
        ok(&maand(p, &["hooks", "hook_py", "api"]));
        serde_json::from_str(&std::fs::read_to_string(p.join("interp-10.0.0.1")).unwrap()).unwrap()
    };
    let staged = serde_json::json!({"Makefile": "0o644", "certs/tls.crt": "0o644", "certs/tls.key": "0o600", "certs/ca.crt": "0o644"});
    assert_eq!(
        run(),
        serde_json::json!([".venv", [], staged, "10.0.0.1"]),
        "the job's .venv first; nothing skipped staged; job files and certificates staged per worker"
    );
    std::fs::remove_dir_all(hooks.join(".venv")).unwrap();
    assert_eq!(run()[0], "venv");
    std::fs::remove_dir_all(hooks.join("venv")).unwrap();
    assert_eq!(run()[0], "path");
}

/// Seed 001 "Bun … `bun install`" in `_hooks/`: a Bun hook imports a
/// package that exists only in the workspace's `_hooks/node_modules` (its
/// source is gone after the install, as with a registry package); a package
/// not installed fails at once, and no hook run contacts a registry.
#[test]
fn bun_hook_imports_a_package_installed_with_bun_install_in_hooks() {
    let ok_script = r#"
import leftpad from "leftpad";
import { allocationIp } from "./maand";
await Bun.write(`${process.env.BUCKET_ROOT}/bun-${allocationIp()}`, leftpad(7, 3));
"#;
    let missing = "import nope from \"not-installed-anywhere\";\nconsole.log(nope);\n";
    let dir = cli_bucket(8, r#""hook_pad": {"executed_on": ["cli"]}"#, &[("hook_pad.ts", ok_script)]);
    let p = dir.path();
    // A job with no node_modules at all (where Bun would auto-install).
    write(
        p,
        "workspace/jobs/plain/manifest.json",
        r#"{"selectors": ["worker"], "hooks": {"hook_missing": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/plain/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/plain/_hooks/hook_missing.ts", missing);
    let hooks = p.join("workspace/jobs/api/_hooks");
    let source = tempfile::tempdir().unwrap();
    let src = source.path();
    write(src, "leftpad/package.json", r#"{"name": "leftpad", "version": "1.0.0", "main": "index.js"}"#);
    write(src, "leftpad/index.js", "module.exports = (s, n) => String(s).padStart(n, \"0\");\n");
    let dep =
        format!(r#"{{"name": "hooks", "dependencies": {{"leftpad": "file:{}"}}}}"#, src.join("leftpad").display());
    write(&hooks, "package.json", &dep);
    let o = std::process::Command::new("bun").arg("install").current_dir(&hooks).output().expect("bun");
    assert!(o.status.success(), "bun install: {}", String::from_utf8_lossy(&o.stderr));
    drop(source);
    ok(&maand(p, &["build"]));
    // A "registry" that records whether anyone connects.
    let registry = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    registry.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", registry.local_addr().unwrap());
    let run = |hook: &str, job: &str| {
        std::process::Command::new(maand_bin())
            .args(["hooks", hook, job])
            .current_dir(p)
            .env("BUN_CONFIG_REGISTRY", &url)
            .env("NPM_CONFIG_REGISTRY", &url)
            .output()
            .unwrap()
    };
    ok(&run("hook_pad", "api"));
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_eq!(std::fs::read_to_string(p.join(format!("bun-{ip}"))).unwrap(), "007");
    }
    let o = run("hook_missing", "plain");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Cannot find package 'not-installed-anywhere'"), "{}", stderr(&o));
    assert!(registry.accept().is_err(), "a hook run contacted the package registry");
}

/// Seed 001: `X-ALLOCATION-ID` must be the running hook's (404 `Invalid
/// allocation ID`) and `EVENT` must match it; a health_check hook cannot
/// write KV by claiming another job's allocation or another event, and the
/// read-only `maand health_check` persists nothing.
#[test]
fn a_hook_cannot_act_as_another_allocation_or_event() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    write(p, "workspace/workers.json", &format!(r#"[{{"host": "{}"}}]"#, w.ips[0]));
    let probe = r#"
import json, os, urllib.request, urllib.error
root = os.environ["BUCKET_ROOT"]
other = open(os.path.join(root, "web-id")).read().strip()
def put(alloc, event, ns):
    h = {"Authorization": "Bearer " + os.environ["HOOK_API_TOKEN"], "X-ALLOCATION-ID": alloc, "EVENT": event,
         "COMMAND": "hook_hc", "Content-Type": "application/json"}
    body = json.dumps({"namespace": ns, "key": "k", "value": "v"}).encode()
    r = urllib.request.Request("http://127.0.0.1:%s/kv" % os.environ["HOOK_API_PORT"], data=body, method="PUT", headers=h)
    try:
        with urllib.request.urlopen(r) as resp:
            return [resp.status, "ok"]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())["error"]]
me = os.environ["ALLOCATION_ID"]
out = {"other_alloc": put(other, "cli", "vars/job/web"), "own_alloc_cli": put(me, "cli", "vars/job/api"),
       "own": put(me, "health_check", "vars/job/api")}
json.dump(out, open(os.path.join(root, "hc.json"), "w"))
"#;
    write(
        p,
        "workspace/jobs/api/manifest.json",
        r#"{"selectors": ["worker"], "hooks": {"hook_hc": {"executed_on": ["health_check"]}}}"#,
    );
    write(p, "workspace/jobs/api/Makefile", MAKEFILE);
    write(p, "workspace/jobs/api/_hooks/hook_hc.py", probe);
    write(p, "workspace/jobs/web/manifest.json", r#"{"selectors": ["worker"]}"#);
    write(p, "workspace/jobs/web/Makefile", MAKEFILE);
    ok(&maand(p, &["build"]));
    let allocs: Vec<Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "allocations", "--json", "--jobs", "web"]))).unwrap();
    write(p, "web-id", allocs[0]["alloc_id"].as_str().unwrap());
    ok(&maand(p, &["health_check", "--jobs", "api"]));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(p.join("hc.json")).unwrap()).unwrap();
    assert_eq!(r["other_alloc"], serde_json::json!([404, "Invalid allocation ID"]));
    assert_eq!(r["own_alloc_cli"], serde_json::json!([400, "EVENT header does not match the running hook"]));
    assert_eq!(r["own"], serde_json::json!([400, "KV writes are not allowed during health_check"]));
    assert_eq!(maand(p, &["cat", "kv", "get", "vars/job/web", "k"]).status.code(), Some(1));
    let events = session_events(p, last_session(p));
    assert!(events.iter().any(|e| e.to_string().contains("HookInvoked")), "{events:?}");
    assert!(!events.iter().any(|e| e.to_string().contains("vars/job/")), "health_check wrote KV: {events:?}");
}

/// Seed 001 "KV read vs write", the cells that need two jobs: an upstream
/// job declared in `demands` is readable (maand/job, vars/job, secrets/job)
/// and never writable; a job not demanded is neither; `/kv/keys` lists an
/// upstream's vars and secrets by name only.
#[test]
fn kv_matrix_upstream_demand_is_readable_and_other_jobs_are_not() {
    let script = r#"
import maand, os, json
if maand.is_one_shot():
    maand.put_job_variable("up_var", "u").raise_for_status()
    maand.put_job_secret("up_secret", "s").raise_for_status()
"#;
    let reader = r#"
import maand, os, json, sys
if not maand.is_one_shot():
    sys.exit(0)
g = lambda ns, k: maand.get_store_value(ns, k)
out = {
    "up_vars": g("vars/job/api", "up_var").json(),
    "up_secret": g("secrets/job/api", "up_secret").json(),
    "up_maand": g("maand/job/api", "version").status_code,
    "up_keys": maand.list_job_keys("vars/job/api").json(),
    "up_secret_keys": maand.list_job_keys("secrets/job/api").json(),
    "other_vars": g("vars/job/other", "x").json(),
    "other_alloc_ns": g("maand/job/api/worker/" + maand.allocation_ip(), "api_allocation_index").json(),
    "put_up": maand._call("PUT", "/kv", {"namespace": "vars/job/api", "key": "k", "value": "v"}).json(),
    "put_up_secret": maand._call("PUT", "/kv/secret", {"namespace": "secrets/job/api", "key": "k", "value": "v"}).json(),
    "put_up_order": maand._call("PUT", "/kv", {"namespace": "maand/job/api", "key": "rollout_order", "value": "10.0.0.1"}).json(),
}
json.dump(out, open(os.path.join(os.environ["BUCKET_ROOT"], "matrix.json"), "w"))
"#;
    let dir = cli_bucket(8, r#""hook_up": {"executed_on": ["cli"]}"#, &[("hook_up.py", script)]);
    let p = dir.path();
    for (job, hooks) in [
        ("web", r#"{"hook_read": {"executed_on": ["cli"], "demands": {"job": "api", "hook": "hook_up"}}}"#),
        ("other", "{}"),
    ] {
        write(
            p,
            &format!("workspace/jobs/{job}/manifest.json"),
            &format!(r#"{{"version": "1.0.0", "selectors": ["worker"], "hooks": {hooks}}}"#),
        );
        write(p, &format!("workspace/jobs/{job}/Makefile"), "start:\n\ttrue\n");
    }
    write(p, "workspace/jobs/web/_hooks/hook_read.py", reader);
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["hooks", "hook_up", "api"]));
    ok(&maand(p, &["hooks", "hook_read", "web"]));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(p.join("matrix.json")).unwrap()).unwrap();
    let denied = serde_json::json!({"error": "Invalid or unauthorized namespace"});
    assert_eq!(r["up_vars"]["value"], "u");
    assert_eq!(r["up_secret"]["value"], "s", "an upstream secret is readable, decrypted");
    assert_eq!(r["up_maand"], 200);
    assert_eq!(r["up_keys"], serde_json::json!({"vars/job/api": ["up_var"]}));
    assert_eq!(r["up_secret_keys"], serde_json::json!({"secrets/job/api": ["up_secret"]}), "names only");
    for k in ["other_vars", "other_alloc_ns", "put_up", "put_up_secret", "put_up_order"] {
        assert_eq!(r[k], denied, "{k}");
    }
}

/// Seed 001 PUT /kv "optional ttl in seconds, 0 = no expiry" and the
/// semaphore defaults (capacity 1): a key with a TTL stops being readable,
/// one with 0 does not; deleting a missing or expired key is the seed's
/// `404 KV get operation failed`.
#[test]
fn kv_ttl_expires_and_zero_never_does_and_semaphore_capacity_defaults_to_one() {
    let script = r#"
import maand, os, json, time, sys
if not maand.is_one_shot():
    sys.exit(0)
ns = "vars/job/api"
maand._call("PUT", "/kv", {"namespace": ns, "key": "short", "value": "v", "ttl": 1}).raise_for_status()
maand._call("PUT", "/kv", {"namespace": ns, "key": "forever", "value": "v", "ttl": 0}).raise_for_status()
first = maand.get_store_value(ns, "short").status_code
for _ in range(100):
    if maand.get_store_value(ns, "short").status_code == 404:
        break
    time.sleep(0.1)
out = {"first": first, "later": maand.get_store_value(ns, "short").json(), "forever": maand.get_store_value(ns, "forever").status_code,
       "keys": maand.list_job_keys(ns).json(), "sem": maand._call("POST", "/semaphore/acquire", {"name": "d"}).json(),
       "delete_missing": maand.delete_job_variable("never-set").json(), "delete_expired": maand.delete_job_variable("short").json()}
json.dump(out, open(os.path.join(os.environ["BUCKET_ROOT"], "ttl.json"), "w"))
"#;
    let (_dir, r) = cli_hook_json("hook_ttl", "hook_ttl.py", script, "ttl.json");
    assert_eq!(r["first"], 200);
    assert_eq!(r["later"], serde_json::json!({"error": "KV get operation failed"}));
    assert_eq!(r["forever"], 200);
    assert_eq!(r["keys"], serde_json::json!({"vars/job/api": ["forever"]}), "an expired key is not listed");
    // The seed's table has no delete message: a missing key answers the get one.
    for k in ["delete_missing", "delete_expired"] {
        assert_eq!(r[k], serde_json::json!({"error": "KV get operation failed"}), "{k}");
    }
    assert_eq!((r["sem"]["capacity"].clone(), r["sem"]["acquired"].clone()), (1.into(), true.into()));
}

/// Seed 001 "Python and Bun helpers" (Bun column) and seed 000's
/// `isOneShot` / per-wave helpers: every name exists and the context ones
/// return the seed's values.
#[test]
fn bun_helpers_of_the_seed_tables_all_exist() {
    let script = r#"
import * as m from "./maand";
const names = ["allocationId", "allocationIp", "allocationIndex", "jobName", "hookEvent", "hookName",
  "isAllocationDisabled", "isOneShot", "isSingleBatch", "isFirstBatch", "getStoreValue", "getKvValue",
  "putRolloutOrder", "getRolloutOrder", "putJobVariable", "putJobSecret", "deleteJobVariable", "deleteJobSecret",
  "listJobKeys", "listHookDemands", "acquireSemaphore", "releaseSemaphore", "semaphoreStatus",
  "getAllocationId", "getJob", "kvGet"];
const missing = names.filter((n) => typeof (m as any)[n] !== "function");
(await m.putJobVariable("k_" + m.allocationIndex(), "v")).raiseForStatus();
(await m.putJobSecret("s_" + m.allocationIndex(), "v")).raiseForStatus();
const keys = await (await m.listJobKeys()).json();
(await m.deleteJobVariable("k_" + m.allocationIndex())).raiseForStatus();
(await m.deleteJobSecret("s_" + m.allocationIndex())).raiseForStatus();
const ctx = [m.allocationId() === process.env.ALLOCATION_ID, m.allocationIp(), m.allocationIndex(), m.jobName(),
  m.hookEvent(), m.hookName(), m.isAllocationDisabled(), m.isOneShot(), m.isSingleBatch(), m.isFirstBatch(),
  (await (await m.getRolloutOrder()).json()).value.split(","), (await (await m.semaphoreStatus("none")).json()).available];
await Bun.write(`${process.env.BUCKET_ROOT}/bunctx-${m.allocationIp()}.json`, JSON.stringify({ missing, keys, ctx }));
"#;
    let dir = cli_bucket(1, r#""hook_ctx": {"executed_on": ["cli"]}"#, &[("hook_ctx.ts", script)]);
    let p = dir.path();
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["hooks", "hook_ctx", "api"]));
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let r: Value =
            serde_json::from_str(&std::fs::read_to_string(p.join(format!("bunctx-{ip}.json"))).unwrap()).unwrap();
        assert_eq!(r["missing"], serde_json::json!([]));
        assert_eq!(r["keys"]["vars/job/api"], serde_json::json!([format!("k_{i}")]), "batches run one after another");
        let order = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
        assert_eq!(
            r["ctx"],
            // allocationIndex() is the environment's string, as the original's.
            serde_json::json!([
                true,
                ip,
                i.to_string(),
                "api",
                "cli",
                "hook_ctx",
                false,
                i == 0,
                false,
                i == 0,
                order,
                1
            ])
        );
    }
}

/// Seed 001 "Aliases: get_allocation_id, get_job, kv_get, etc. (both
/// runtimes)": maand.ts answers to every Python spelling of its helpers,
/// each the very function of the camelCase name, and each works against
/// the runtime API from a real Bun hook.
#[test]
fn bun_snake_case_aliases_call_the_runtime_api() {
    let script = r#"
import * as m from "./maand";
const a: Record<string, any> = m;
if (m.allocation_ip() !== "10.0.0.2") process.exit(0);
const pairs = [["allocation_id", "allocationId"], ["allocation_ip", "allocationIp"], ["allocation_index", "allocationIndex"],
  ["is_allocation_disabled", "isAllocationDisabled"], ["command_event", "commandEvent"], ["command_name", "commandName"],
  ["job_name", "jobName"], ["hook_event", "hookEvent"], ["hook_name", "hookName"], ["is_one_shot", "isOneShot"],
  ["is_single_batch", "isSingleBatch"], ["is_first_batch", "isFirstBatch"], ["get_store_value", "getStoreValue"],
  ["get_kv_value", "getKvValue"], ["kv_value_or_none", "kvValueOrNull"], ["put_rollout_order", "putRolloutOrder"],
  ["get_rollout_order", "getRolloutOrder"], ["rollout_order", "rolloutOrder"], ["put_job_variable", "putJobVariable"],
  ["put_job_secret", "putJobSecret"], ["list_job_keys", "listJobKeys"], ["delete_job_variable", "deleteJobVariable"],
  ["delete_job_secret", "deleteJobSecret"], ["list_command_demands", "listCommandDemands"],
  ["list_hook_demands", "listHookDemands"], ["acquire_semaphore", "acquireSemaphore"],
  ["release_semaphore", "releaseSemaphore"], ["semaphore_status", "semaphoreStatus"],
  ["get_allocation_id", "getAllocationId"], ["get_allocation_ip", "getAllocationIp"],
  ["get_allocation_index", "getAllocationIndex"], ["get_event", "getEvent"], ["get_command", "getCommand"],
  ["get_job", "getJob"], ["kv_get", "kvGet"], ["kv_put", "kvPut"], ["kv_put_secret", "kvPutSecret"],
  ["get_demands", "getDemands"], ["get_job_name", "jobName"], ["kv_get_response", "getStoreValue"],
  ["kv_delete", "deleteJobVariable"], ["secret_put", "putJobSecret"], ["secret_delete", "deleteJobSecret"]];
const notSame = pairs.filter(([s, c]) => typeof a[s] !== "function" || a[s] !== a[c]).map(([s]) => s);
const st = (r: Response) => r.status;
const value = async (r: Promise<Response>) => (await (await r).json()).value;
const ctx = [m.allocation_id() === process.env.ALLOCATION_ID, m.allocation_ip(), m.allocation_index(),
  m.is_allocation_disabled(), m.command_event(), m.command_name(), m.job_name(), m.hook_event(), m.hook_name(),
  m.is_one_shot(), m.is_single_batch(), m.is_first_batch(), m.get_allocation_id() === process.env.ALLOCATION_ID,
  m.get_allocation_ip(), m.get_allocation_index(), m.get_event(), m.get_command(), m.get_job(), m.get_job_name()];
const puts = [st(await m.put_job_variable("a", "1")), st(await m.kv_put("b", "2")), st(await m.put_job_secret("s", "x")),
  st(await m.kv_put_secret("t", "y")), st(await m.secret_put("u", "z"))];
const keys = await (await m.list_job_keys()).json();
let missingThrows = false;
try { await m.get_kv_value("vars/job/api", "nope"); } catch { missingThrows = true; }
const reads = [await m.get_kv_value("vars/job/api", "a"), await value(m.get_store_value("vars/job/api", "b")),
  await value(m.kv_get("secrets/job/api", "s")), await value(m.kv_get_response("secrets/job/api", "t")),
  await m.kv_value_or_none("vars/job/api", "nope"), missingThrows];
const deletes = [st(await m.delete_job_variable("a")), st(await m.kv_delete("b")), st(await m.delete_job_secret("s")),
  st(await m.secret_delete("t"))];
const keysAfter = await (await m.list_job_keys()).json();
const order = [st(await m.put_rollout_order(["10.0.0.3", "10.0.0.2", "10.0.0.1"])), await value(m.get_rollout_order()),
  await m.rollout_order()];
const demands = [await (await m.list_command_demands()).json(), await (await m.list_hook_demands()).json(),
  await (await m.get_demands()).json()];
const sem = [st(await m.acquire_semaphore("snake", 1, 30)), (await (await m.semaphore_status("snake")).json()).available,
  st(await m.release_semaphore("snake")), (await (await m.semaphore_status("snake")).json()).available];
await Bun.write(`${process.env.BUCKET_ROOT}/snake.json`,
  JSON.stringify({ notSame, checked: pairs.length, ctx, puts, keys, reads, deletes, keysAfter, order, demands, sem }));
"#;
    let (dir, r) = cli_hook_json("hook_snake", "hook_snake.ts", script, "snake.json");
    let p = dir.path();
    assert_eq!(r["notSame"], serde_json::json!([]), "every snake_case name is the camelCase function");
    assert_eq!(r["checked"], 43);
    let (ip, cli, hook) = ("10.0.0.2", "cli", "hook_snake");
    let ctx = serde_json::json!([
        true, ip, "1", false, cli, hook, "api", cli, hook, false, true, true, true, ip, "1", cli, hook, "api", "api"
    ]);
    assert_eq!(r["ctx"], ctx);
    assert_eq!(r["puts"], serde_json::json!([200, 200, 200, 200, 200]));
    assert_eq!(r["keys"], serde_json::json!({"vars/job/api": ["a", "b"], "secrets/job/api": ["s", "t", "u"]}));
    assert_eq!(r["reads"], serde_json::json!(["1", "2", "x", "y", null, true]));
    assert_eq!(r["deletes"], serde_json::json!([200, 200, 200, 200]));
    assert_eq!(r["keysAfter"], serde_json::json!({"vars/job/api": [], "secrets/job/api": ["u"]}));
    let order = ["10.0.0.3", "10.0.0.2", "10.0.0.1"];
    assert_eq!(r["order"], serde_json::json!([200, order.join(","), order]));
    assert_eq!(r["demands"], serde_json::json!([[], [], []]));
    assert_eq!(r["sem"], serde_json::json!([200, 0, 200, 1]));
    // The writes went through the API into the journal.
    assert_eq!(kv_get(p, "maand/job/api", "rollout_order"), order.join(","));
    assert_eq!(kv_get(p, "secrets/job/api", "u"), "[encrypted]");
}

/// Seed 001 "Batch width": `max_concurrent_upgrades` (minimum 1) — 0 in a
/// manifest is bad input (exit 2, naming file and field, nothing recorded),
/// so no hook run can be one batch of everything by accident.
#[test]
fn max_concurrent_upgrades_below_one_is_refused_at_build() {
    let dir = cli_bucket(0, r#""hook_dump": {"executed_on": ["cli"]}"#, &[("hook_dump.py", DUMP)]);
    let p = dir.path();
    let before = event_count(p);
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("workspace/jobs/api/manifest.json: field `max_concurrent_upgrades`: must be at least 1"),
        "{}",
        stderr(&o)
    );
    assert_eq!(event_count(p), before);
}
