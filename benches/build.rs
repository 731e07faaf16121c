//! `maand build` at scale, through the real release binary (as operators
//! run it): 300 and 1,000 workers x 100 jobs (up to 100,000 allocations),
//! 2 ports and 5 vars per job, no certs. Cold builds, no-op rebuild, peak
//! RSS, adding one worker (time and journal growth); then 100 allocations
//! with per-worker RSA certificates. Figures go to
//! docs/performance.md. Run: `cargo bench --bench build`.
//!
//! To run one part: `MAAND_BENCH_WORKERS=N` sets the large fleet size
//! (default 1,000); `MAAND_BENCH_ONLY=cold|noop|add|certs` runs only that
//! phase (`noop` and `add` still build the large bucket cold first, and
//! skip the 300-worker build).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn write(p: &Path, rel: &str, body: &str) {
    let f = p.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, body).unwrap();
}

/// Run `maand args` in `dir`; returns wall time and the child's peak RSS (MB).
// The child is reaped by wait4 (for its rusage), not by Child::wait.
#[allow(clippy::zombie_processes)]
fn maand(dir: &Path, args: &[&str]) -> (Duration, f64) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_maand")).args(args).current_dir(dir).spawn().unwrap();
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "maand {args:?} failed");
    (took, usage.ru_maxrss as f64 / 1024.0)
}

fn worker_line(i: usize) -> String {
    format!(
        r#"{{"host": "10.{}.{}.{}", "labels": ["worker"], "memory": "64 gb", "cpu": "32 ghz"}}"#,
        i / 65536,
        (i / 256) % 256,
        i % 256
    )
}

fn write_workers(p: &Path, n: usize) {
    let workers: Vec<String> = (0..n).map(worker_line).collect();
    write(p, "workspace/workers.json", &format!("[\n{}\n]\n", workers.join(",\n")));
}

fn journal_mb(p: &Path) -> f64 {
    std::fs::metadata(p.join("data/journal.redb")).unwrap().len() as f64 / 1_048_576.0
}

/// Whether phase `name` runs (`MAAND_BENCH_ONLY` unset, or naming it).
fn runs(name: &str) -> bool {
    std::env::var("MAAND_BENCH_ONLY").map_or(true, |only| only == name)
}

/// `n` workers x 100 jobs (2 pool ports and 5 vars each): cold build; with
/// `full`, also no-op rebuilds, peak memory and adding one worker.
fn scale(n: usize, full: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    maand(p, &["init"]);
    write_workers(p, n);
    for j in 0..100 {
        write(
            p,
            &format!("workspace/jobs/job{j:03}/manifest.json"),
            &format!(
                r#"{{"version": "1.0.0", "selectors": ["worker"], "resources": {{"ports": {{"job{j:03}_http": {{}}, "job{j:03}_admin": {{}}}}}}}}"#
            ),
        );
        write(p, &format!("workspace/jobs/job{j:03}/Makefile"), "start:\n\ttrue\nstop:\n\ttrue\nrestart: stop start\n");
        write(
            p,
            &format!("workspace/jobs/job{j:03}/vars.toml"),
            &(0..5).map(|v| format!("var{v} = \"value {v} of job {j}\"\n")).collect::<String>(),
        );
    }
    let (cold, cold_rss) = maand(p, &["build"]);
    println!(
        "| cold build, {n} workers ({} allocations) | {:.2} s | peak {:.0} MiB |",
        n * 100,
        cold.as_secs_f64(),
        cold_rss
    );
    if !full {
        return cold.as_secs_f64();
    }
    if runs("noop") {
        let mut noops: Vec<(Duration, f64)> = (0..3).map(|_| maand(p, &["build"])).collect();
        noops.sort_by_key(|x| x.0);
        println!(
            "| unchanged rebuild, {n} workers (median of 3) | {:.2} s | peak {:.0} MiB |",
            noops[1].0.as_secs_f64(),
            noops[1].1
        );
    }
    if !runs("add") {
        return cold.as_secs_f64();
    }
    let before = journal_mb(p);
    write_workers(p, n + 1);
    let (add, add_rss) = maand(p, &["build"]);
    println!(
        "| add one worker, rebuild | {:.2} s | peak {:.0} MiB, journal +{:.1} MiB |",
        add.as_secs_f64(),
        add_rss,
        journal_mb(p) - before
    );
    let out = Command::new(env!("CARGO_BIN_EXE_maand")).args(["info", "--json"]).current_dir(p).output().unwrap();
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    println!(
        "state: {} allocations, {} KV keys, {} journal events; journal {:.0} MiB, maand.db {} MB",
        info["allocations"],
        info["kv_keys"],
        info["journal_events"],
        journal_mb(p),
        std::fs::metadata(p.join("data/maand.db")).unwrap().len() / 1_000_000
    );
    cold.as_secs_f64()
}

fn certs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    maand(p, &["init"]);
    let workers: Vec<String> = (0..100).map(|i| format!(r#"{{"host": "10.9.0.{i}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", workers.join(",")));
    write(
        p,
        "workspace/jobs/tls/manifest.json",
        r#"{"selectors": ["worker"], "certs": {"server": {"subject": {"common_name": "tls.internal"}}}}"#,
    );
    write(p, "workspace/jobs/tls/Makefile", "start:\n\ttrue\n");
    let (t, rss) = maand(p, &["build"]);
    println!(
        "build, 100 allocations with per-worker RSA-2048 certs: {:.2} s on {} cores (peak RSS {:.0} MB)",
        t.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        rss
    );
    let (t, _) = maand(p, &["build"]);
    println!("  rebuild with all certs current: {:.2} s", t.as_secs_f64());
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| workload: 100 jobs on every worker, 2 pool ports + 5 vars each | time | memory, journal |");
    println!("|---|---:|---|");
    let n: usize = std::env::var("MAAND_BENCH_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let only = std::env::var("MAAND_BENCH_ONLY").ok();
    if only.is_none() || only.as_deref() == Some("cold") {
        let small = scale(300, false);
        let big = scale(n, only.is_none());
        println!(
            "{n}-worker cold build / 300-worker cold build = {:.1}x ({:.1}x the work)",
            big / small,
            n as f64 / 300.0
        );
    } else if only.as_deref() != Some("certs") {
        scale(n, true);
    }
    if runs("certs") {
        certs();
    }
}
