//! Hook runtime API throughput and hook fan-out (figures in
//! docs/performance.md). Run: `cargo bench --bench hooks` (needs `wrk`,
//! Debian package `wrk`, for the API part).
//!
//! 1. `GET /kv` through the real runtime API with 64 keep-alive connections
//!    (wrk, 2 threads), next to a trivial axum handler on the same machine
//!    as the ceiling.
//! 2. One batch of 100 allocations of a trivial Python hook through the real
//!    `maand hooks`, next to 100 bare `python3 -c pass` started in parallel.

use maand::event::{Event, KvValue};
use maand::hooks::api::{ApiServer, Running, Shared};
use maand::hooks::kv_session::KvSession;
use maand::kv::seal::KvKey;
use maand::state::{Allocation, JobSpec, State, Worker};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn wrk(url: &str, headers: &[String]) -> Option<(f64, String)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", "-d6s", "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text.lines().find(|l| l.starts_with("Requests/sec:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let p99 = text.lines().find(|l| l.trim_start().starts_with("99%"))?.split_whitespace().nth(1)?.to_string();
    let non2xx = text.lines().find(|l| l.contains("Non-2xx"));
    assert!(non2xx.is_none(), "errors during the run:\n{text}");
    Some((rps, p99))
}

fn api() {
    let mut state = State::default();
    state.apply(&Event::WorkerUpserted(Worker { ip: "10.0.0.1".into(), worker_id: "w".into(), ..Default::default() }));
    state.apply(&Event::JobUpserted(Box::new(JobSpec {
        name: "api".into(),
        version: "1.0.0".into(),
        ..Default::default()
    })));
    let alloc = Allocation {
        alloc_id: "alloc-1".into(),
        job: "api".into(),
        worker_ip: "10.0.0.1".into(),
        ..Default::default()
    };
    state.apply(&Event::AllocationUpserted(alloc));
    state.apply(&Event::KvPut {
        namespace: "vars/job/api".into(),
        key: "db_url".into(),
        value: KvValue::Plain("postgres://db/api".into()),
        ttl: 0,
        at: 0,
    });
    // One "running" process holding the token the client sends.
    let running = Running {
        alloc_id: "alloc-1".into(),
        job: "api".into(),
        ip: "10.0.0.1".into(),
        event: maand::workspace::manifest::HookEvent::Cli,
        hook: "hook_x".into(),
    };
    let shared = Arc::new(Shared {
        kv_key: KvKey::from_bytes(&[7; 32]).unwrap(),
        kv: Mutex::new(KvSession::new(Arc::new(state))),
        running: Mutex::new([("t".repeat(64), running)].into_iter().collect()),
        semaphores: Default::default(),
    });
    let server = ApiServer::start(0, shared).unwrap();
    let headers = vec![
        format!("Authorization: Bearer {}", "t".repeat(64)),
        "X-ALLOCATION-ID: alloc-1".to_string(),
        "EVENT: cli".to_string(),
        "COMMAND: hook_x".to_string(),
    ];
    let url = format!("http://127.0.0.1:{}/kv?namespace=vars/job/api&key=db_url", server.port);
    let Some((rps, p99)) = wrk(&url, &headers) else {
        println!("runtime API: wrk not installed (apt-get install wrk); skipped");
        return;
    };
    println!("runtime API GET /kv, 64 keep-alive connections: {rps:.0} req/s, p99 {p99}");

    // Ceiling: a trivial axum handler on the same machine, same client.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        axum::serve(listener, app).await.unwrap();
    });
    let (rps, p99) = wrk(&format!("http://127.0.0.1:{port}/"), &[]).unwrap();
    println!("trivial axum handler (ceiling), same client: {rps:.0} req/s, p99 {p99}");
    rt.shutdown_background();
}

fn write(p: &Path, rel: &str, body: &str) {
    let f = p.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, body).unwrap();
}

fn maand(p: &Path, args: &[&str]) {
    let st = Command::new(env!("CARGO_BIN_EXE_maand"))
        .args(args)
        .current_dir(p)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "maand {args:?}");
}

fn fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    maand(p, &["init"]);
    write(p, "maand.conf", "hook_api_port = 0\n");
    let ws: Vec<String> = (0..100).map(|i| format!(r#"{{"host": "10.8.0.{i}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(
        p,
        "workspace/jobs/fan/manifest.json",
        r#"{"selectors": ["worker"], "max_concurrent_upgrades": 100, "hooks": {"hook_nop": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/fan/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/fan/_hooks/hook_nop.py", "pass\n");
    maand(p, &["build"]);
    let mut hooks = Vec::new();
    let mut bare = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        maand(p, &["hooks", "hook_nop", "fan"]);
        hooks.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let children: Vec<_> =
            (0..100).map(|_| Command::new("python3").args(["-c", "pass"]).spawn().unwrap()).collect();
        for mut c in children {
            c.wait().unwrap();
        }
        bare.push(t.elapsed().as_secs_f64());
    }
    hooks.sort_by(f64::total_cmp);
    bare.sort_by(f64::total_cmp);
    println!(
        "fan-out, 100 allocations of a trivial Python hook in one batch: maand hooks {:.2} s vs 100 bare `python3 -c pass` in parallel {:.2} s ({:.2}x; medians of 3)",
        hooks[1],
        bare[1],
        hooks[1] / bare[1]
    );
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    api();
    fan_out();
}
