//! Hooks end to end: real Python (and Bun) processes, the real runtime API,
//! `maand hooks` and `post_build` as an operator runs them.

mod common;
use common::*;
use std::path::Path;

/// A bucket with three workers and job `api` with `manifest` and hook scripts.
fn hook_bucket(manifest: &str, scripts: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    // Parallel tests: any free port for the runtime API.
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}, {"host": "10.0.0.3"}]"#);
    write(p, "workspace/jobs/api/manifest.json", manifest);
    write(p, "workspace/jobs/api/Makefile", "start:\n\ttrue\n");
    for (name, body) in scripts {
        write(p, &format!("workspace/jobs/api/_hooks/{name}"), body);
    }
    ok(&maand(p, &["build"]));
    dir
}

fn manifest(width: u64, hooks: &str) -> String {
    format!(
        r#"{{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": {width}, "hooks": {{{hooks}}}}}"#
    )
}

const ENV_DUMP: &str = r#"
import json, os, maand
keys = ["ALLOCATION_ID", "ALLOCATION_IP", "ALLOCATION_INDEX", "JOB", "EVENT", "COMMAND", "HOOK", "DISABLED",
        "CURRENT_VERSION", "NEW_VERSION", "HOOK_API_HOST", "HOOK_API_PORT", "BUCKET_ROOT", "BATCH_ALLOCATIONS",
        "BATCH_INDEX", "BATCH_COUNT", "DEPLOY_PHASE", "ROLLOUT_ORDER", "ROLLOUT_ORDER_SOURCE"]
out = {k: os.environ.get(k) for k in keys}
out["token_set"] = len(os.environ.get("HOOK_API_TOKEN", "")) == 64
out["one_shot"] = maand.is_one_shot()
out["cwd"] = os.getcwd()
path = os.path.join(os.environ["BUCKET_ROOT"], "env-%s.json" % maand.allocation_ip())
with open(path, "w") as f:
    json.dump(out, f)
if maand.is_one_shot():
    print("BATCH_COUNT=" + os.environ["BATCH_COUNT"])
"#;

fn env_of(p: &Path, ip: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p.join(format!("env-{ip}.json"))).unwrap()).unwrap()
}

#[test]
fn width_one_runs_three_batches_with_every_seed_variable() {
    let dir = hook_bucket(&manifest(1, r#""hook_env": {"executed_on": ["cli"]}"#), &[("hook_env.py", ENV_DUMP)]);
    let p = dir.path();
    ok(&maand(p, &["hooks", "hook_env", "api"]));
    for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
        let e = env_of(p, ip);
        assert_eq!(e["BATCH_COUNT"], "3");
        assert_eq!(e["BATCH_INDEX"], i.to_string());
        assert_eq!(e["BATCH_ALLOCATIONS"], *ip);
        assert_eq!(e["ALLOCATION_INDEX"], i.to_string());
        assert_eq!(e["ALLOCATION_IP"], *ip);
        assert_eq!(e["JOB"], "api");
        assert_eq!(e["EVENT"], "cli");
        assert_eq!(e["COMMAND"], "hook_env");
        assert_eq!(e["HOOK"], "hook_env");
        assert_eq!(e["DISABLED"], "0");
        assert_eq!(e["CURRENT_VERSION"], "0.0.0");
        assert_eq!(e["NEW_VERSION"], "1.0.0");
        assert_eq!(e["HOOK_API_HOST"], "127.0.0.1");
        assert_eq!(e["DEPLOY_PHASE"], "cli");
        assert_eq!(e["ROLLOUT_ORDER"], "10.0.0.1,10.0.0.2,10.0.0.3");
        // build writes rollout_order = catalog order of active workers, which names this set exactly.
        assert_eq!(e["ROLLOUT_ORDER_SOURCE"], "kv");
        assert_eq!(e["token_set"], true);
        assert_eq!(e["cwd"], std::fs::canonicalize(p).unwrap().display().to_string(), "working dir = bucket root");
        assert_eq!(e["BUCKET_ROOT"], p.display().to_string());
        assert_eq!(e["ALLOCATION_ID"], kv_alloc_id(p, ip));
        assert!(e["HOOK_API_PORT"].as_str().unwrap().parse::<u16>().unwrap() > 0);
    }
    let ones = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().filter(|ip| env_of(p, ip)["one_shot"] == true).count();
    assert_eq!(ones, 1);
}

/// The `hook_run_planned` events of the bucket's journal (JSON records).
fn hook_plans(p: &Path) -> Vec<serde_json::Value> {
    ok(&journal(p, &["export", "--jsonl"]))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|e| e["event"].get("HookRunPlanned").cloned())
        .collect()
}

#[test]
fn a_hook_run_is_recorded_as_it_ran_and_replay_check_plans_it_again() {
    let dir = hook_bucket(&manifest(1, r#""hook_env": {"executed_on": ["cli"]}"#), &[("hook_env.py", ENV_DUMP)]);
    let p = dir.path();
    ok(&maand(p, &["hooks", "hook_env", "api"]));
    let plans = hook_plans(p);
    assert_eq!(plans.len(), 1, "{plans:?}");
    let batches = plans[0]["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 3, "width 1: one batch per worker");
    // Every recorded variable is the one the process saw (the API port and
    // token are per run and not recorded).
    for inv in batches.iter().flat_map(|b| b.as_array().unwrap()) {
        let seen = env_of(p, inv["ip"].as_str().unwrap());
        let env = inv["env"].as_object().unwrap();
        assert!(env.len() >= 18 && !env.contains_key("HOOK_API_PORT") && !env.contains_key("HOOK_API_TOKEN"));
        for (k, v) in env {
            assert_eq!(&seen[k], v, "{k}");
        }
    }
    replay_checks(p, &["build", "hooks"]);
    // The divergence names the allocation and the variable.
    let o = journal(p, &["replay", "--check", "--inject-nondeterminism", "hooks"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the hooks decision recorded at event")
            && stderr(&o).contains("for job api on 10.0.0.1 differs when derived again: hook hook_env env INJECTED"),
        "{}",
        stderr(&o)
    );
}

fn kv_alloc_id(p: &Path, ip: &str) -> String {
    let allocs: Vec<serde_json::Value> =
        serde_json::from_str(&ok(&maand(p, &["cat", "allocations", "--json", "--workers", ip]))).unwrap();
    allocs[0]["alloc_id"].as_str().unwrap().to_string()
}

#[test]
fn seed_example_one_shot_prints_batch_count_once() {
    // Seed 000: max_concurrent_upgrades >= active count → one batch, all IPs, one leader.
    let script = r#"
import maand
if maand.is_one_shot():
    import os
    print("BATCH_ALLOCATIONS=" + os.environ.get("BATCH_ALLOCATIONS", ""))
    print("BATCH_COUNT=" + os.environ.get("BATCH_COUNT", ""))
    print("BATCH_INDEX=" + os.environ.get("BATCH_INDEX", ""))
"#;
    let dir = hook_bucket(
        &manifest(8, r#""hook_cluster_status": {"executed_on": ["cli"]}"#),
        &[("hook_cluster_status.py", script)],
    );
    let out = ok(&maand(dir.path(), &["hooks", "hook_cluster_status", "api", "--verbose"]));
    assert_eq!(out.matches("BATCH_COUNT=1").count(), 1, "{out}");
    assert!(out.contains("api@10.0.0.1 | BATCH_ALLOCATIONS=10.0.0.1,10.0.0.2,10.0.0.3"), "{out}");
    assert!(out.contains("api@10.0.0.1 | BATCH_INDEX=0"), "{out}");
    // Without --verbose the output goes to logs only.
    let quiet = ok(&maand(dir.path(), &["hooks", "hook_cluster_status", "api"]));
    assert!(!quiet.contains("BATCH_COUNT"), "{quiet}");
    let logs = std::fs::read_to_string(dir.path().join("logs/runs/3/api/hook_cluster_status/10.0.0.1.log")).unwrap();
    assert!(logs.contains("api@10.0.0.1 | BATCH_COUNT=1"), "{logs}");
}

#[test]
fn put_rollout_order_in_cli_changes_the_order_of_the_next_run() {
    let script = r#"
import maand, os
if maand.is_one_shot():
    maand.put_rollout_order(["10.0.0.3", "10.0.0.1", "10.0.0.2"]).raise_for_status()
with open(os.path.join(os.environ["BUCKET_ROOT"], "order-%s" % maand.allocation_ip()), "w") as f:
    f.write(os.environ["ROLLOUT_ORDER_SOURCE"] + " " + os.environ["ROLLOUT_ORDER"] + " " + os.environ["BATCH_INDEX"])
"#;
    let dir = hook_bucket(&manifest(1, r#""hook_order": {"executed_on": ["cli"]}"#), &[("hook_order.py", script)]);
    let p = dir.path();
    ok(&maand(p, &["hooks", "hook_order", "api"]));
    assert_eq!(kv_get(p, "maand/job/api", "rollout_order"), "10.0.0.3,10.0.0.1,10.0.0.2");
    ok(&maand(p, &["hooks", "hook_order", "api"]));
    let read = |ip: &str| std::fs::read_to_string(p.join(format!("order-{ip}"))).unwrap();
    assert_eq!(read("10.0.0.3"), "kv 10.0.0.3,10.0.0.1,10.0.0.2 0");
    assert_eq!(read("10.0.0.2"), "kv 10.0.0.3,10.0.0.1,10.0.0.2 2");
    // A build resets it to catalog order.
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "maand/job/api", "rollout_order"), "10.0.0.1,10.0.0.2,10.0.0.3");
    let shown = ok(&journal(p, &["show", "3"]));
    assert!(shown.contains("maand/job/api rollout_order = \"10.0.0.3,10.0.0.1,10.0.0.2\""), "{shown}");
    assert!(shown.contains("hook_invoked"), "{shown}");
    ok(&journal(p, &["verify"]));
    // The second run's order came from the KV the first run wrote: replay
    // plans it from the state at that point and agrees.
    let orders: Vec<serde_json::Value> = hook_plans(p).iter().map(|h| h["batches"][0][0]["ip"].clone()).collect();
    assert_eq!(orders, ["10.0.0.1", "10.0.0.3"], "recorded first workers of the two runs");
    replay_checks(p, &["build", "hooks"]);
}

const PROBE: &str = r#"
import json, os, sys, urllib.request, urllib.error, maand
if maand.allocation_ip() != "10.0.0.1":
    sys.exit(0)
root = os.environ["BUCKET_ROOT"]
ids = json.load(open(os.path.join(root, "ids.json")))
base = "http://127.0.0.1:%s" % os.environ["HOOK_API_PORT"]
me = os.environ["ALLOCATION_ID"]
std = {"Authorization": "Bearer " + os.environ["HOOK_API_TOKEN"], "X-ALLOCATION-ID": me, "EVENT": "cli", "COMMAND": "hook_probe"}

def req(method, path, body=None, headers=None, raw=None, ctype="application/json"):
    h = dict(std if headers is None else headers)
    data = None
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body).encode()
    if data is not None and ctype:
        h["Content-Type"] = ctype
    r = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r) as resp:
            return [resp.status, json.loads(resp.read() or b"null")]
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return [e.code, json.loads(text).get("error", text)]
        except Exception:
            return [e.code, text]

def without(k):
    h = dict(std); h.pop(k); return h

vars_ns = "vars/job/api"
out = {}
out["no_token"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=without("Authorization"))
out["bad_token"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=dict(std, Authorization="Bearer nope"))
out["no_alloc"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=without("X-ALLOCATION-ID"))
out["bad_alloc"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=dict(std, **{"X-ALLOCATION-ID": "0000"}))
out["no_event"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=without("EVENT"))
out["no_command"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=without("COMMAND"))
out["wrong_event"] = req("GET", "/kv", {"namespace": vars_ns, "key": "a"}, headers=dict(std, EVENT="pre_deploy"))
out["no_key"] = req("GET", "/kv", {"namespace": vars_ns})
out["missing"] = req("GET", "/kv", {"namespace": vars_ns, "key": "nope"})
out["text_plain"] = req("PUT", "/kv", raw=b"namespace=x", ctype="text/plain")
out["bad_json"] = req("PUT", "/kv", raw=b"{not json", ctype="application/json")
out["array_json"] = req("PUT", "/kv", raw=b"[1,2]", ctype="application/json")
out["huge"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "big", "value": "x" * (2 << 20)})
out["bad_ttl"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "t", "value": "v", "ttl": "soon"})
out["ttl_overflow"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "t", "value": "v", "ttl": 2**64 - 1})
out["ttl_over_cap"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "t", "value": "v", "ttl": 315360001})
out["ttl_cap"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "long", "value": "v", "ttl": 315360000})
out["ttl_cap_get"] = req("GET", "/kv", {"namespace": vars_ns, "key": "long"})
out["no_value"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "t"})
out["put_other_job"] = req("PUT", "/kv", {"namespace": "vars/job/web", "key": "k", "value": "v"})
out["put_bucket"] = req("PUT", "/kv", {"namespace": "vars/bucket", "key": "k", "value": "v"})
out["put_secret_via_kv"] = req("PUT", "/kv", {"namespace": "secrets/job/api", "key": "k", "value": "v"})
out["read_other_worker"] = req("GET", "/kv", {"namespace": "maand/worker/10.0.0.2", "key": "worker_ip"})
out["read_own_worker"] = req("GET", "/kv", {"namespace": "maand/worker/10.0.0.1", "key": "worker_ip"})
out["read_query"] = req("GET", "/kv?namespace=maand/bucket&key=jobs")
out["put"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "db_url", "value": "postgres://x", "ttl": 3600})
out["get"] = req("GET", "/kv", {"namespace": vars_ns, "key": "db_url"})
out["put_secret"] = req("PUT", "/kv/secret", {"namespace": "secrets/job/api", "key": "pw", "value": os.environ["PROBE_SECRET"]})
out["get_secret"] = req("GET", "/kv", {"namespace": "secrets/job/api", "key": "pw"})
out["keys"] = req("GET", "/kv/keys")
out["keys_vars"] = req("GET", "/kv/keys", {"namespace": vars_ns})
out["keys_forbidden"] = req("GET", "/kv/keys", {"namespace": "vars/job/web"})
out["delete"] = req("DELETE", "/kv", {"namespace": vars_ns, "key": "db_url"})
out["get_deleted"] = req("GET", "/kv", {"namespace": vars_ns, "key": "db_url"})
out["delete_secret"] = req("DELETE", "/kv/secret", {"namespace": "secrets/job/api", "key": "gone"})
out["demands"] = req("GET", "/demands")
out["release_unheld"] = req("POST", "/semaphore/release", {"name": "lock"})
out["acquire"] = req("POST", "/semaphore/acquire", {"name": "lock", "capacity": 1, "timeout_seconds": 5})
other = dict(std, **{"X-ALLOCATION-ID": ids["10.0.0.2"]})
out["acquire_as_other"] = req("POST", "/semaphore/acquire", {"name": "lock", "capacity": 1, "timeout_seconds": 1}, headers=other)
out["put_as_other"] = req("PUT", "/kv", {"namespace": vars_ns, "key": "k", "value": "v"}, headers=other)
out["status"] = req("GET", "/semaphore/status?name=lock")
out["bad_capacity"] = req("POST", "/semaphore/acquire", {"name": "x", "capacity": 65})
out["bad_timeout"] = req("POST", "/semaphore/acquire", {"name": "x", "timeout_seconds": 3601})
out["release"] = req("POST", "/semaphore/release", {"name": "lock"})
out["helpers"] = [maand.get_kv_value("maand/bucket", "jobs"), maand.kv_value_or_none(vars_ns, "missing"),
                  maand.list_hook_demands().json(), maand.semaphore_status("lock").json()["available"]]
json.dump(out, open(os.path.join(root, "probe.json"), "w"))
"#;

#[test]
fn every_endpoint_and_every_error_row_of_the_seed() {
    let web = r#"{"version": "2.0.0", "selectors": ["worker"], "hooks": {"hook_use": {"executed_on": ["pre_deploy"], "demands": {"job": "api", "hook": "hook_probe", "config": {"min_version": "1", "feature": "x"}}}}}"#;
    let dir = hook_bucket(&manifest(1, r#""hook_probe": {"executed_on": ["cli"]}"#), &[("hook_probe.py", PROBE)]);
    let p = dir.path();
    write(p, "workspace/jobs/web/manifest.json", web);
    write(p, "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/web/_hooks/hook_use.py", "pass\n");
    ok(&maand(p, &["build"]));
    let ids: serde_json::Map<String, serde_json::Value> = ["10.0.0.1", "10.0.0.2"]
        .iter()
        .map(|ip| (ip.to_string(), serde_json::Value::String(kv_alloc_id(p, ip))))
        .collect();
    write(p, "ids.json", &serde_json::Value::Object(ids).to_string());
    let secret = format!("s3cret-{}", uuid::Uuid::new_v4().simple());
    let o = std::process::Command::new(maand_bin())
        .args(["hooks", "hook_probe", "api"])
        .current_dir(p)
        .env("PROBE_SECRET", &secret)
        .output()
        .unwrap();
    ok(&o);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p.join("probe.json")).unwrap()).unwrap();
    let is = |name: &str, status: u64, msg: &str| {
        assert_eq!(r[name][0], status, "{name}: {}", r[name]);
        assert_eq!(r[name][1], msg, "{name}");
    };
    assert_eq!(r["no_token"][0], 401);
    assert_eq!(r["bad_token"][0], 401);
    is("no_alloc", 400, "X-ALLOCATION-ID header is missing");
    is("bad_alloc", 404, "Invalid allocation ID");
    is("no_event", 400, "EVENT header is missing");
    is("no_command", 400, "COMMAND header is missing");
    is("wrong_event", 400, "EVENT header does not match the running hook");
    is("no_key", 400, "Both namespace and key are required");
    is("missing", 404, "KV get operation failed");
    is("text_plain", 415, "Content-Type must be application/json");
    is("bad_json", 400, "Invalid JSON format");
    is("array_json", 400, "Invalid JSON format");
    assert_eq!(r["huge"][0], 413, "bounded body");
    is("bad_ttl", 400, "ttl must be a whole number of seconds");
    is("ttl_overflow", 400, "ttl must be at most 315360000 seconds (10 years)");
    is("ttl_over_cap", 400, "ttl must be at most 315360000 seconds (10 years)");
    assert_eq!(r["ttl_cap"][1]["ttl"], 315360000);
    assert_eq!(r["ttl_cap_get"][1]["value"], "v", "a ten-year ttl has not expired at once");
    is("no_value", 400, "value is required");
    for n in ["put_other_job", "put_bucket", "put_secret_via_kv", "read_other_worker", "keys_forbidden"] {
        is(n, 400, "Invalid or unauthorized namespace");
    }
    assert_eq!(r["read_own_worker"][1]["value"], "10.0.0.1");
    assert_eq!(r["read_query"][1]["value"], "api,web");
    assert_eq!(r["put"][0], 200);
    assert_eq!(r["get"][1], serde_json::json!({"namespace": "vars/job/api", "key": "db_url", "value": "postgres://x"}));
    assert_eq!(r["get_secret"][1]["value"], secret.as_str(), "secrets come back decrypted");
    assert_eq!(r["keys"][1]["secrets/job/api"], serde_json::json!(["pw"]));
    assert_eq!(r["keys_vars"][1]["vars/job/api"], serde_json::json!(["db_url", "long"]));
    assert_eq!(r["delete"][1]["deleted"], true);
    is("get_deleted", 404, "KV get operation failed");
    // Deleting a missing key answers the seed's get message (the original's).
    is("delete_secret", 404, "KV get operation failed");
    assert_eq!(
        r["demands"][1],
        serde_json::json!([{"job": "web", "hook": "hook_use", "demand_config": {"min_version": "1", "feature": "x"}}])
    );
    is("release_unheld", 409, "Semaphore acquire or release failed");
    assert_eq!(r["acquire"][1]["acquired"], true);
    assert_eq!(r["acquire"][1]["capacity"], 1);
    // A process speaks only for its own allocation (its token binds it).
    is("acquire_as_other", 404, "Invalid allocation ID");
    is("put_as_other", 404, "Invalid allocation ID");
    assert_eq!(r["status"][1]["holders"], serde_json::json!([kv_alloc_id(p, "10.0.0.1")]));
    assert_eq!((r["status"][1]["available"].clone(), r["status"][1]["waiting"].clone()), (0.into(), 0.into()));
    assert_eq!(r["bad_capacity"][0], 400);
    assert_eq!(r["bad_timeout"][0], 400);
    assert_eq!(r["release"][1]["released"], true);
    assert_eq!(
        r["helpers"],
        serde_json::json!(["api,web", null, [{"job": "web", "hook": "hook_use", "demand_config": {"min_version": "1", "feature": "x"}}], 1])
    );

    // Committed: the secret is readable with --reveal, and nowhere in plaintext.
    assert_eq!(
        maand(p, &["cat", "kv", "get", "vars/job/api", "big"]).status.code(),
        Some(1),
        "rejected write left nothing"
    );
    let revealed = ok(&maand(p, &["cat", "kv", "get", "--reveal", "secrets/job/api", "pw"]));
    assert_eq!(revealed.trim(), secret);
    let mut haystacks = vec![p.join("data/journal.redb"), p.join("data/maand.db")];
    for e in walk(&p.join("logs")) {
        haystacks.push(e);
    }
    for f in haystacks {
        let raw = std::fs::read(&f).unwrap();
        assert!(
            !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the plaintext secret",
            f.display()
        );
    }
    for out in [
        ok(&journal(p, &["export", "--jsonl"])),
        ok(&maand(p, &["cat", "kv", "--json"])),
        ok(&journal(p, &["show", "3", "--json"])),
    ] {
        assert!(!out.contains(&secret));
    }
    ok(&journal(p, &["verify"]));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn eight_workers(p: &Path) {
    let ws: Vec<String> = (1..=8).map(|i| format!(r#"{{"host": "10.0.1.{i}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    ok(&maand(p, &["build"]));
}

#[test]
fn semaphore_capacity_one_serialises_eight_parallel_hooks() {
    let script = r#"
import maand, os, time, json
maand.acquire_semaphore("migrate", capacity=1, timeout_seconds=60).raise_for_status()
try:
    start = time.time_ns()
    time.sleep(0.05)
    end = time.time_ns()
finally:
    maand.release_semaphore("migrate").raise_for_status()
with open(os.path.join(os.environ["BUCKET_ROOT"], "crit-%s" % maand.allocation_ip()), "w") as f:
    json.dump([start, end, os.environ["BATCH_COUNT"]], f)
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_crit": {"executed_on": ["cli"]}"#), &[("hook_crit.py", script)]);
    let p = dir.path();
    eight_workers(p);
    ok(&maand(p, &["hooks", "hook_crit", "api"]));
    let mut spans: Vec<(u64, u64)> = (1..=8)
        .map(|i| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p.join(format!("crit-10.0.1.{i}"))).unwrap()).unwrap();
            assert_eq!(v[2], "1", "all eight in one batch");
            (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "critical sections overlap: {w:?}");
    }
}

#[test]
fn a_hook_that_dies_holding_a_semaphore_does_not_wedge_the_others() {
    let script = r#"
import maand, os, time
if maand.allocation_index() == 0:
    maand.acquire_semaphore("lock", timeout_seconds=5).raise_for_status()
    os._exit(0)          # dies without releasing
time.sleep(0.3)
r = maand.acquire_semaphore("lock", timeout_seconds=10)
r.raise_for_status()
maand.release_semaphore("lock").raise_for_status()
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_lock": {"executed_on": ["cli"]}"#), &[("hook_lock.py", script)]);
    ok(&maand(dir.path(), &["hooks", "hook_lock", "api"]));
}

/// A hook that explains itself on stdout and exits 1 shows that
/// explanation in the failure, not only `exit 1`.
#[test]
fn a_failing_hook_shows_the_end_of_its_output() {
    let script = r#"
import sys
print("checking the schema")
print("schema v7 is newer than this job understands")
sys.exit(1)
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_says": {"executed_on": ["cli"]}"#), &[("hook_says.py", script)]);
    let o = maand(dir.path(), &["hooks", "hook_says", "api"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("exit 1 — schema v7 is newer than this job understands"), "{err}");
    assert!(err.contains("      | checking the schema"), "the last lines follow: {err}");
}

#[test]
fn failing_hooks_fail_the_run_listing_each_worker_and_commit_nothing() {
    let script = r#"
import maand, sys
maand.put_job_variable("partial", "yes").raise_for_status()
if maand.allocation_ip() != "10.0.0.1":
    print("boom on " + maand.allocation_ip(), file=sys.stderr)
    sys.exit(3)
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_fail": {"executed_on": ["cli"]}"#), &[("hook_fail.py", script)]);
    let p = dir.path();
    let o = maand(p, &["hooks", "hook_fail", "api"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("hook hook_fail of job api (cli) failed in batch 1/1 on 2 worker(s)"), "{err}");
    assert!(err.contains("10.0.0.2: exit 3 — boom on 10.0.0.2"), "{err}");
    assert!(err.contains("10.0.0.3: exit 3 — boom on 10.0.0.3"), "{err}");
    assert_eq!(
        maand(p, &["cat", "kv", "get", "vars/job/api", "partial"]).status.code(),
        Some(1),
        "KV of a failed cli run is not committed"
    );
    let shown = ok(&journal(p, &["show", "3"]));
    assert!(shown.contains("session_failed"), "{shown}");
    assert!(shown.contains("hook_fail on 10.0.0.2 (cli) batch 1/1 [10.0.0.1,10.0.0.2,10.0.0.3]: exit 3"), "{shown}");
    ok(&journal(p, &["verify"]));
}

#[test]
fn post_build_runs_in_deployment_seq_order_and_a_failure_fails_build_but_keeps_the_catalog() {
    let script = r#"
import maand, os
with open(os.path.join(os.environ["BUCKET_ROOT"], "post_build.log"), "a") as f:
    f.write(maand.job_name() + "\n")
maand.put_job_variable("built", "yes").raise_for_status()
if os.path.exists(os.path.join(os.environ["BUCKET_ROOT"], "fail")):
    raise SystemExit(5)
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_pb": {"executed_on": ["post_build"]}"#), &[("hook_pb.py", script)]);
    let p = dir.path();
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "hooks": {"hook_pb": {"executed_on": ["post_build"], "demands": {"job": "api", "hook": "hook_pb"}}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/web/_hooks/hook_pb.py", script);
    std::fs::remove_file(p.join("post_build.log")).unwrap();
    ok(&maand(p, &["build"]));
    let order: Vec<String> =
        std::fs::read_to_string(p.join("post_build.log")).unwrap().lines().map(String::from).collect();
    assert_eq!(order[..3], ["api", "api", "api"], "deployment_seq 0 first");
    assert_eq!(order[3..], ["web", "web", "web"]);
    assert_eq!(kv_get(p, "vars/job/web", "built"), "yes");

    write(p, "fail", "");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2"}]"#);
    let o = maand(p, &["build"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("hook hook_pb of job api (post_build) failed"), "{}", stderr(&o));
    // The catalog checkpoint stands: 10.0.0.3 is gone from the catalog.
    let workers: Vec<serde_json::Value> = serde_json::from_str(&ok(&maand(p, &["cat", "workers", "--json"]))).unwrap();
    assert_eq!(workers.len(), 2);
    ok(&journal(p, &["verify"]));
}

#[test]
fn kv_writes_during_health_check_are_refused_with_the_seed_message() {
    // `maand health_check` lands with the day-2 commands; the runner and
    // API are driven here through the library, exactly as that command will.
    let script = r#"
import maand, os, json
r = maand.put_job_variable("x", "y")
g = maand.get_store_value("maand/bucket", "jobs")
json.dump([r.status_code, r.json()["error"], g.status_code], open(os.path.join(os.environ["BUCKET_ROOT"], "hc.json"), "w"))
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_hc": {"executed_on": ["health_check"]}"#), &[("hook_hc.py", script)]);
    let p = dir.path();
    let mut b = open(p, "health_check");
    let mut s = b.begin(maand::bucket::session_info("health_check")).unwrap();
    let req = maand::hooks::HookRequest {
        event: maand::workspace::manifest::HookEvent::HealthCheck,
        hook: None,
        jobs: vec!["api".into()],
        filter: None,
        phase: "health_check",
        verbose: false,
        extra: Default::default(),
        lifecycle: None,
    };
    assert_eq!(maand::hooks::run_hooks(&mut s, &req).unwrap(), 1);
    s.commit().unwrap();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p.join("hc.json")).unwrap()).unwrap();
    assert_eq!(r, serde_json::json!([400, "KV writes are not allowed during health_check", 200]));
}

#[test]
fn maand_hooks_bad_usage_exits_2_before_running_anything() {
    let dir = hook_bucket(
        &manifest(8, r#""hook_x": {"executed_on": ["cli", "pre_deploy"]}, "hook_y": {"executed_on": ["pre_deploy"]}"#),
        &[("hook_x.py", "raise SystemExit(9)\n"), ("hook_y.py", "pass\n")],
    );
    let p = dir.path();
    let before = event_count(p);
    for (args, want) in [
        (vec!["hooks", "x"], "must start with \"hook_\""),
        (vec!["hooks", "hook_x", "nope"], "unknown job \"nope\""),
        (vec!["hooks", "hook_y", "api"], "job api has no hook hook_y registered for \"cli\""),
        (vec!["hooks", "hook_zz"], "no job registers hook hook_zz"),
        (vec!["hooks", "hook_x", "api", "--allocations", "10.0.0.1"], "maand hooks has no worker filter"),
        (
            vec!["hooks", "hook_x", "api", "--allocations", "10.0.0.1"],
            "maand job run <job> --target <target> --allocations",
        ),
    ] {
        let o = maand(p, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(event_count(p), before);
}

/// Bun runs `.ts` hooks; scripts/test.sh installs it (npm). Outside CI a
/// machine without bun skips these tests, saying so; in CI they must run.
fn have_bun() -> bool {
    let found = std::process::Command::new("bun").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "bun is required in CI (scripts/test.sh installs it)");
        eprintln!("SKIPPED: bun is not installed (npm install -g bun)");
    }
    found
}

#[test]
fn bun_hooks_use_the_typescript_helpers() {
    if !have_bun() {
        return;
    }
    let script = r#"
import { isOneShot, putJobVariable, putJobSecret, getKvValue, getStoreValue, acquireSemaphore, releaseSemaphore, putRolloutOrder, allocationIp, listHookDemands, hookEvent } from "./maand";
const root = process.env.BUCKET_ROOT!;
if (isOneShot()) {
  console.log("BATCH_COUNT=" + process.env.BATCH_COUNT);
  (await putRolloutOrder(["10.0.0.2", "10.0.0.1", "10.0.0.3"])).raiseForStatus();
}
(await acquireSemaphore("ts", 1, 30)).raiseForStatus();
(await putJobVariable("ts_" + allocationIp().replaceAll(".", "_"), hookEvent())).raiseForStatus();
(await releaseSemaphore("ts")).raiseForStatus();
(await putJobSecret("token", "bun-" + process.env.BATCH_INDEX)).raiseForStatus();
const back = await getKvValue("secrets/job/api", "token");
const missing = await getStoreValue("vars/job/api", "nope");
const demands = await (await listHookDemands()).json();
// The original's names, return types (a fetch Response; env strings).
const m: Record<string, any> = await import("./maand");
const original = ["allocationId", "allocationIp", "allocationIndex", "isAllocationDisabled", "commandEvent", "commandName",
  "jobName", "getStoreValue", "putRolloutOrder", "getRolloutOrder", "putJobVariable", "putJobSecret", "listJobKeys",
  "deleteJobVariable", "deleteJobSecret", "listCommandDemands", "acquireSemaphore", "releaseSemaphore", "semaphoreStatus",
  "getAllocationId", "getAllocationIp", "getAllocationIndex", "getEvent", "getCommand", "getJob", "kvGet", "kvPut",
  "kvPutSecret", "getDemands"];
const absent = original.filter((n) => typeof m[n] !== "function");
const kv = await m.kvGet("maand/bucket", "bucket_id");
const compat = { absent, index: typeof m.allocationIndex(), kvGetIsResponse: kv instanceof Response, status: kv.status,
  value: (await kv.json()).value.length > 0, again: (await kv.text()).length > 0,
  order: (await m.getRolloutOrder()) instanceof Response };
await Bun.write(`${root}/ts-${allocationIp()}.json`, JSON.stringify({ back, missing: missing.statusCode, demands, compat }));
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_ts": {"executed_on": ["cli"]}"#), &[("hook_ts.ts", script)]);
    let p = dir.path();
    let out = ok(&maand(p, &["hooks", "hook_ts", "api", "--verbose"]));
    assert_eq!(out.matches("BATCH_COUNT=1").count(), 1, "{out}");
    for ip in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
        assert_eq!(kv_get(p, "vars/job/api", &format!("ts_{}", ip.replace('.', "_"))), "cli");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join(format!("ts-{ip}.json"))).unwrap()).unwrap();
        assert_eq!(r["back"], "bun-0");
        assert_eq!(r["missing"], 404);
        assert_eq!(r["demands"], serde_json::json!([]));
        let want = serde_json::json!({"absent": [], "index": "string", "kvGetIsResponse": true, "status": 200,
                                      "value": true, "again": true, "order": true});
        assert_eq!(r["compat"], want, "the original's maand.ts names and return types");
    }
    assert_eq!(kv_get(p, "maand/job/api", "rollout_order"), "10.0.0.2,10.0.0.1,10.0.0.3");
}

#[test]
fn python_helpers_cover_the_seed_tables() {
    // Every function of seed 001's Python table and seed 000 exists with the
    // documented behaviour where it can run without a worker.
    let script = r#"
import maand, os, json, sys
if maand.allocation_ip() != "10.0.0.2":
    sys.exit(0)
names = ["allocation_id", "allocation_ip", "allocation_index", "job_name", "hook_event", "hook_name",
         "is_allocation_disabled", "is_one_shot", "is_single_batch", "is_first_batch", "get_store_value", "get_kv_value",
         "put_rollout_order", "get_rollout_order", "put_job_variable", "put_job_secret", "delete_job_variable",
         "delete_job_secret", "list_job_keys", "list_hook_demands", "acquire_semaphore", "release_semaphore",
         "semaphore_status", "load_ssh", "run_ssh", "run_runner_target", "run_make_target",
         "get_allocation_id", "get_job", "kv_get"]
missing = [n for n in names if not callable(getattr(maand, n, None))]
maand.put_job_variable("a", 1).raise_for_status()
maand.put_job_secret("s", "v").raise_for_status()
keys = maand.list_job_keys().json()
maand.delete_job_variable("a").raise_for_status()
maand.delete_job_secret("s").raise_for_status()
r = maand.get_store_value("vars/job/api", "a")
try:
    r.raise_for_status()
    raised = False
except maand.HTTPError:
    raised = True
out = {"missing": missing, "keys": keys, "status": r.status_code, "raised": raised, "text": r.text,
       "ctx": [maand.allocation_index(), maand.job_name(), maand.hook_event(), maand.hook_name(),
               maand.is_allocation_disabled(), maand.is_single_batch(), maand.is_first_batch()],
       "ssh": [str(x) if i == 1 else x for i, x in enumerate(maand.load_ssh())], "order": maand.rollout_order()}
json.dump(out, open(os.path.join(os.environ["BUCKET_ROOT"], "py.json"), "w"))
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_py": {"executed_on": ["cli"]}"#), &[("hook_py.py", script)]);
    let p = dir.path();
    // load_ssh() raises without the key, as the original.
    std::fs::write(p.join("secrets/worker.key"), "not used without a worker\n").unwrap();
    ok(&maand(p, &["hooks", "hook_py", "api"]));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p.join("py.json")).unwrap()).unwrap();
    assert_eq!(r["missing"], serde_json::json!([]));
    assert_eq!(r["keys"], serde_json::json!({"vars/job/api": ["a"], "secrets/job/api": ["s"]}));
    assert_eq!((r["status"].clone(), r["raised"].clone()), (404.into(), true.into()));
    assert_eq!(r["ctx"], serde_json::json!(["1", "api", "cli", "hook_py", false, true, true]), "index: the env string");
    assert_eq!(r["ssh"], serde_json::json!(["agent", format!("{}/secrets/worker.key", p.display()), true]));
    assert_eq!(r["order"], serde_json::json!(["10.0.0.1", "10.0.0.2", "10.0.0.3"]));
}

/// Every helper of the original's maand.py: name, signature and return
/// type (tests/helpers/contract.py holds the table; docs/hooks.md shows it).
#[test]
fn python_helpers_match_the_originals_table() {
    let script = include_str!("helpers/contract.py");
    let dir =
        hook_bucket(&manifest(8, r#""hook_contract": {"executed_on": ["cli"]}"#), &[("hook_contract.py", script)]);
    let p = dir.path();
    std::fs::write(p.join("secrets/worker.key"), "not used without a worker\n").unwrap();
    ok(&maand(p, &["hooks", "hook_contract", "api"]));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.join("contract-10.0.0.2.json")).unwrap()).unwrap();
    assert_eq!(r["problems"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["checked"], 35);
    let res = &r["results"];
    assert_eq!(res["allocation_index"], "1", "the env string, as the original");
    assert_eq!(res["kv_get"], 200, "kv_get is the response, as the original");
    assert_eq!(res["get_kv_value"], kv_get(p, "maand/bucket", "bucket_id"));
    assert_eq!(res["get_kv_value_missing"], 404, "get_kv_value raises on a missing key");
    assert_eq!(res["command_event"], "cli");
    assert_eq!(res["command_name"], "hook_contract");
    assert_eq!(res["find_bucket_root"], std::fs::canonicalize(p).unwrap().display().to_string());
    assert_eq!(res["ns_keyword"], serde_json::json!([200, 200]), "ns= is accepted as well as namespace=");
}

/// A build whose only changes are a post_build hook's KV writes says so.
#[test]
fn post_build_kv_writes_count_as_changes_of_the_build() {
    let script = r#"
import os, maand
path = os.path.join(os.environ["BUCKET_ROOT"], "generation")
gen = open(path).read().strip() if os.path.exists(path) else "1"
if maand.is_one_shot():
    maand.put_job_variable("generation", gen).raise_for_status()
"#;
    let dir = hook_bucket(&manifest(8, r#""hook_gen": {"executed_on": ["post_build"]}"#), &[("hook_gen.py", script)]);
    let p = dir.path();
    assert_eq!(kv_get(p, "vars/job/api", "generation"), "1");
    // Same workspace, same value: nothing changed.
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("nothing changed"), "{out}");
    // Same workspace, the hook writes a new value: one change.
    write(p, "generation", "2");
    let out = ok(&maand(p, &["build"]));
    assert!(out.contains("recorded 1 change(s)"), "{out}");
    assert_eq!(kv_get(p, "vars/job/api", "generation"), "2");
}

#[test]
fn the_first_failing_batch_stops_the_run() {
    let script = r#"
import maand, os
open(os.path.join(os.environ["BUCKET_ROOT"], "ran-" + maand.allocation_ip()), "w").close()
if os.environ["BATCH_INDEX"] == "1":
    raise SystemExit(2)
"#;
    let dir = hook_bucket(&manifest(1, r#""hook_stop": {"executed_on": ["cli"]}"#), &[("hook_stop.py", script)]);
    let p = dir.path();
    let o = maand(p, &["hooks", "hook_stop", "api"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("failed in batch 2/3 on 1 worker(s):\n  10.0.0.2: exit 2"), "{}", stderr(&o));
    assert!(p.join("ran-10.0.0.1").exists() && p.join("ran-10.0.0.2").exists());
    assert!(!p.join("ran-10.0.0.3").exists(), "batch 3 must not run after batch 2 failed");
}

#[test]
fn logs_show_reconstructs_a_run_in_kv_and_json() {
    let script = "import maand, sys\nprint('hello from ' + maand.allocation_ip())\nprint('careful', file=sys.stderr)\n";
    let dir = hook_bucket(&manifest(8, r#""hook_log": {"executed_on": ["cli"]}"#), &[("hook_log.py", script)]);
    let p = dir.path();
    ok(&maand(p, &["hooks", "hook_log", "api"]));
    let run = last_session(p).to_string();
    let human = ok(&maand(p, &["logs", "show", "--run", &run, "--format", "human"]));
    assert!(human.starts_with(&format!("=== run {run} · hooks · ")), "{human}");
    assert!(
        human.trim_end().ends_with("committed (") || human.contains(&format!("=== end of run {run}: committed")),
        "{human}"
    );
    assert!(human.contains("api@10.0.0.2 [cli] hook_output | hello from 10.0.0.2"), "{human}");
    assert!(human.contains("api@10.0.0.3 [cli] hook_output ! careful"), "{human}");
    let raw =
        ok(&maand(p, &["logs", "show", "--run", &run, "--format", "raw", "--event", "hook_output", "--tail", "2"]));
    assert_eq!(raw.lines().count(), 2, "{raw}");
    assert!(raw.lines().all(|l| l.starts_with("ts=") && l.contains("event=hook_output")), "{raw}");
    let worker = ok(&maand(p, &["logs", "show", "--worker", "10.0.0.1"]));
    assert!(worker.contains("hello from 10.0.0.1") && !worker.contains("hello from 10.0.0.2"), "{worker}");
    // JSON lines when log_format says so; the failed run's end says failed.
    write(p, "maand.conf", "hook_api_port = 0\nlog_format = \"jsonl\"\n");
    write(p, "workspace/jobs/api/_hooks/hook_log.py", "raise SystemExit(3)\n");
    ok(&maand(p, &["build"]));
    assert_eq!(maand(p, &["hooks", "hook_log", "api"]).status.code(), Some(1));
    let run = last_session(p).to_string();
    let raw = ok(&maand(p, &["logs", "show", "--run", &run, "--format", "raw"]));
    for l in raw.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["run"], run.as_str());
    }
    let human = ok(&maand(p, &["logs", "show", "--run", &run]));
    assert!(human.contains(&format!("=== end of run {run}: failed: hook hook_log of job api (cli) failed")), "{human}");
    let o = maand(p, &["logs", "show", "--run", "999"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Hooks see each allocation's promoted version as `CURRENT_VERSION`
/// (0.0.0 only before its first promotion), not always 0.0.0.
#[test]
fn hooks_see_the_promoted_version_as_current_version() {
    let dir = hook_bucket(&manifest(3, r#""hook_env": {"executed_on": ["cli"]}"#), &[("hook_env.py", ENV_DUMP)]);
    let p = dir.path();
    {
        let mut b = open(p, "test");
        let alloc_id = b.state.catalog.allocations[&("api".to_string(), "10.0.0.1".to_string())].alloc_id.clone();
        let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
        s.record(maand::event::Event::AllocationPromoted {
            job: "api".into(),
            ip: "10.0.0.1".into(),
            alloc_id,
            hash: "h".into(),
            files: Default::default(),
            version: "0.9.0".into(),
            running: true,
        })
        .unwrap();
        s.commit().unwrap();
    }
    ok(&maand(p, &["hooks", "hook_env", "api"]));
    assert_eq!(env_of(p, "10.0.0.1")["CURRENT_VERSION"], "0.9.0");
    assert_eq!(env_of(p, "10.0.0.2")["CURRENT_VERSION"], "0.0.0");
    assert_eq!(env_of(p, "10.0.0.1")["NEW_VERSION"], "1.0.0");
}
