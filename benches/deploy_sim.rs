//! Control-plane cost of a deploy at scale: the real deploy (machine,
//! executor, staging, templates, journal, projection) onto the simulated
//! fleet of the tests (no SSH: what remains is maand's own work), for
//! 1,000, 3,000 and 10,000 workers (100 jobs, each on its own 1/100 of the
//! fleet, so every worker runs one allocation), first deploy (start
//! batches, a health gate, promotion). Side by side with the floor: the
//! same number of events recorded in one session with as many checkpoints.
//!
//! Run: `cargo bench --bench deploy_sim` (results on stderr; the deploy's
//! own output goes to stdout: redirect it); `MAAND_BENCH_WORKERS=3000` for
//! one size.

#[path = "../tests/sim/mod.rs"]
mod sim;

use maand::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use maand::event::{Event, KvValue};
use std::path::Path;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JOBS: usize = 100;

/// CPU time (user + system) of this process so far.
fn cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn write(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn workspace(dir: &Path, workers: usize) {
    let ws: Vec<String> = (0..workers)
        .map(|i| {
            format!(r#"{{"host": "10.{}.{}.{}", "labels": ["g{}"]}}"#, i / 65536, (i / 256) % 256, i % 256, i % JOBS)
        })
        .collect();
    write(dir, "workspace/workers.json", &format!("[{}]\n", ws.join(",\n")));
    write(dir, "workspace/bucket.conf", "port_min = \"30000\"\nport_max = \"30999\"\n");
    for j in 0..JOBS {
        write(
            dir,
            &format!("workspace/jobs/j{j}/manifest.json"),
            &format!(
                r#"{{"version": "1.0.0", "selectors": ["g{j}"], "max_concurrent_upgrades": 10, "max_concurrent_starts": 0,
 "resources": {{"ports": {{"p{j}": {{}}}}}},
 "health_check": {{"checks": [{{"type": "tcp", "port": "p{j}"}}], "timeout_seconds": 1, "wait": {{"attempts": 2, "interval_seconds": 1}}}}}}"#
            ),
        );
        write(dir, &format!("workspace/jobs/j{j}/Makefile"), "start:\n\ttrue\nstop:\n\ttrue\nrestart: stop start\n");
        write(dir, &format!("workspace/jobs/j{j}/index.html"), "<h1>hello</h1>\n");
        write(dir, &format!("workspace/jobs/j{j}/config.env.tpl"), "IP={{ .WorkerIP }}\nVERSION={{ .NewVersion }}\n");
    }
}

/// Events of session `id`, and how many of them are checkpoints.
fn session_events(dir: &Path, id: u64) -> (u64, u64) {
    let reader = maand::journal::JournalReader::open(&dir.join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let (mut n, mut c) = (0, 0);
    maand::journal::for_each_event(&txn, .., |env| {
        if env.session_id == id {
            n += 1;
            c += matches!(env.event, Event::Checkpoint { .. }) as u64;
        }
        Ok(std::ops::ControlFlow::Continue(()))
    })
    .unwrap();
    (n, c)
}

/// The floor: `events` KV puts in one session with `checkpoints` checkpoints.
fn floor(events: u64, checkpoints: u64) -> (Duration, Duration) {
    let dir = sim::sim_tempdir();
    sim::copy_dir(sim::template(), dir.path());
    let mut b =
        Bucket::open(BucketPaths::new(dir.path()), &OpenOptions { command: "bench".into(), lock_wait: Duration::ZERO })
            .unwrap();
    let (c0, w0) = (cpu(), Instant::now());
    let mut s = b.begin(session_info("bench")).unwrap();
    let every = (events / checkpoints.max(1)).max(1);
    for i in 0..events {
        s.record(Event::KvPut {
            namespace: format!("vars/job/j{}", i % JOBS as u64),
            key: format!("k{i}"),
            value: KvValue::Plain(format!("value-{i}")),
            ttl: 0,
            at: 0,
        })
        .unwrap();
        if (i + 1) % every == 0 {
            s.checkpoint("floor").unwrap();
        }
    }
    s.commit().unwrap();
    (cpu() - c0, w0.elapsed())
}

fn main() {
    eprintln!(
        "| workers | build (wall) | open CPU | deploy CPU (incl. open) | deploy wall | events | checkpoints | floor CPU | floor wall |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|");
    let sizes: Vec<usize> = match std::env::var("MAAND_BENCH_WORKERS") {
        Ok(v) => v.split(',').map(|n| n.trim().parse().expect("MAAND_BENCH_WORKERS: numbers")).collect(),
        Err(_) => vec![1_000, 3_000, 10_000],
    };
    for workers in sizes {
        let dir = sim::sim_tempdir();
        let d = dir.path();
        sim::copy_dir(sim::template(), d);
        workspace(d, workers);
        let t = Instant::now();
        sim::build(d).unwrap();
        let build = t.elapsed();
        // Opening the bucket (lock, chain check of the folded tail, state,
        // projection mark) is part of every deploy; measured alone too.
        let c = cpu();
        drop(
            Bucket::open(BucketPaths::new(d), &OpenOptions { command: "bench".into(), lock_wait: Duration::ZERO })
                .unwrap(),
        );
        let open_cpu = cpu() - c;
        let fleet = sim::SimFleet::new(1);
        let (c0, w0) = (cpu(), Instant::now());
        let report = sim::deploy(d, &fleet, None, false).unwrap();
        let (deploy_cpu, deploy_wall) = (cpu() - c0, w0.elapsed());
        assert_eq!(report.promoted.len(), JOBS);
        let (events, checkpoints) = session_events(d, report.session);
        let (floor_cpu, floor_wall) = floor(events, checkpoints);
        eprintln!(
            "| {workers} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {events} | {checkpoints} | {:.2} s | {:.2} s |",
            build.as_secs_f64(),
            open_cpu.as_secs_f64(),
            deploy_cpu.as_secs_f64(),
            deploy_wall.as_secs_f64(),
            floor_cpu.as_secs_f64(),
            floor_wall.as_secs_f64()
        );
    }
}
