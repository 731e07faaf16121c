//! Journal, fold, open and projection benchmarks (issue targets in
//! docs/performance.md). Run: `cargo bench --bench journal`.
//!
//! A plain timing harness: each scenario is a few large operations where
//! criterion's many-iteration sampling would take too long; each is run
//! several times and the median reported.

use maand::bucket::{Bucket, BucketPaths, OpenOptions, init, session_info};
use maand::event::{Event, KvValue, SessionInfo};
use maand::journal::{self, JournalReader, JournalWriter, Outcome, SessionRecord};
use maand::state::{Fold, Touched};
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const MILLION: u64 = 1_000_000;

fn kv_event(n: u64) -> Event {
    Event::KvPut {
        namespace: format!("vars/job/j{}", n % 100),
        key: format!("k{}", (n / 100) % 100),
        value: KvValue::Plain(format!("value-{n}-of-the-benchmark")),
        ttl: 0,
        at: 1_700_000_000_000 + n as i64,
    }
}

fn record(id: u64) -> SessionRecord {
    SessionRecord {
        id,
        info: maand::journal::session_index_info(&SessionInfo { started_at: 0, ..session_info("bench") }),
        first_seq: 0,
        last_seq: 0,
        events: 0,
        checkpoint_seq: 0,
        ended_at: None,
        outcome: Outcome::Open,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fresh_bucket() -> (tempfile::TempDir, BucketPaths) {
    let dir = tempfile::tempdir().unwrap();
    let paths = BucketPaths::new(dir.path());
    init::run(&paths, Duration::ZERO).unwrap();
    (dir, paths)
}

/// Append `total` KV events to the bucket's journal in one session, `batch`
/// per durable transaction, with a checkpoint at the end.
fn fill(paths: &BucketPaths, total: u64, batch: u64) -> Duration {
    let mut w = JournalWriter::open(&paths.journal()).unwrap();
    let mut rec = record(w.next_session_id().unwrap());
    let opened = Event::SessionOpened(maand::journal::session_info_from_index(&rec));
    w.append(&mut rec, &[(0, opened)]).unwrap();
    let start = Instant::now();
    let mut n = 0;
    while n < total {
        let events: Vec<_> = (n..(n + batch).min(total)).map(|i| (i as i64, kv_event(i))).collect();
        n += events.len() as u64;
        w.append(&mut rec, &events).unwrap();
    }
    let took = start.elapsed();
    w.append(&mut rec, &[(0, Event::SessionCommitted { ended_at: 0 })]).unwrap();
    took
}

fn bench_append() {
    let mut rates = Vec::new();
    for _ in 0..3 {
        let (_d, paths) = fresh_bucket();
        let took = fill(&paths, 200_000, 1_000);
        rates.push(Duration::from_secs_f64(took.as_secs_f64() / 200_000.0));
    }
    let per = median(rates);
    println!("append, 1,000 events per durable commit: {:.0} events/s", 1.0 / per.as_secs_f64());

    let (_d, paths) = fresh_bucket();
    let mut w = JournalWriter::open(&paths.journal()).unwrap();
    let mut rec = record(w.next_session_id().unwrap());
    let mut lat = Vec::new();
    for i in 0..300 {
        let ev = [(0, kv_event(i))];
        let t = Instant::now();
        w.append(&mut rec, &ev).unwrap();
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "append, one event per durable commit: p50 {:.2} ms, p99 {:.2} ms",
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1e3
    );
}

fn bench_fold_open_projection() {
    let (_d, paths) = fresh_bucket();
    let t = Instant::now();
    fill(&paths, MILLION, 10_000);
    println!("setup: wrote 1,000,000 events in {:.1} s", t.elapsed().as_secs_f64());

    // Full fold from the stored journal (no snapshot yet).
    let mut times = Vec::new();
    for _ in 0..3 {
        let r = JournalReader::open(&paths.journal()).unwrap();
        let txn = r.begin_read().unwrap();
        let t = Instant::now();
        let mut fold = Fold::default();
        let mut n = 0u64;
        journal::for_each_event(&txn, .., |env| {
            fold.push(&env);
            n += 1;
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        let state = fold.finish();
        times.push(t.elapsed());
        assert_eq!(state.kv.version_count() as u64, MILLION);
    }
    let fold_t = median(times);
    println!(
        "fold: {} events from the stored journal in {:.0} ms = {:.0} events/s",
        MILLION + 7,
        fold_t.as_secs_f64() * 1e3,
        (MILLION + 7) as f64 / fold_t.as_secs_f64()
    );

    // A writer opens (full fold, projection of 1M KV versions), then a
    // session commits, which writes a snapshot; then 1,000 more events form
    // the tail a later open folds.
    let opts = OpenOptions { command: "bench".into(), lock_wait: Duration::ZERO };
    let _ = std::fs::remove_file(paths.db());
    let t = Instant::now();
    let mut b = Bucket::open(paths.clone(), &opts).unwrap();
    println!(
        "first open without snapshot (full fold + initial projection of 1,000,000 KV versions): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let state = b.state.clone();
    let mut times = Vec::new();
    for _ in 0..3 {
        let tmp = paths.data().join("bench.db");
        let _ = std::fs::remove_file(&tmp);
        let t = Instant::now();
        maand::projection::rebuild(&tmp, &state, "bench").unwrap();
        times.push(t.elapsed());
    }
    println!("projection: initial write of 1,000,000 KV versions: {:.2} s", median(times).as_secs_f64());

    b.snapshot_every = 1;
    let s = b.begin(session_info("bench")).unwrap();
    let t = Instant::now();
    s.commit().unwrap();
    println!("commit writing a snapshot of that state: {:.0} ms", t.elapsed().as_secs_f64() * 1e3);

    // Checkpoints that change 10 keys: projection update alone, and the
    // whole session checkpoint (journal append + projection update).
    let mut proj = Vec::new();
    let mut whole = Vec::new();
    for round in 0..20u64 {
        let mut s = b.begin(session_info("bench")).unwrap();
        let mut touched = BTreeSet::new();
        for i in 0..10 {
            let ev = kv_event(round * 1000 + i * 7);
            if let Event::KvPut { namespace, key, .. } = &ev {
                touched.insert(Touched::Kv { namespace: namespace.clone(), key: key.clone() });
            }
            s.record(ev).unwrap();
        }
        let t = Instant::now();
        s.checkpoint("bench").unwrap();
        whole.push(t.elapsed());
        s.commit().unwrap();
        // The projection update alone, re-applied for the same keys at the
        // current mark (so the next checkpoint still updates incrementally).
        let journal_id = b.journal_meta().journal_id.clone();
        let t = Instant::now();
        maand::projection::update(&paths.db(), &b.state, &journal_id, &touched).unwrap();
        proj.push(t.elapsed());
    }
    println!(
        "checkpoint changing 10 keys in that bucket: projection update {:.1} ms, whole checkpoint (journal + projection) {:.1} ms (medians of 20)",
        median(proj).as_secs_f64() * 1e3,
        median(whole).as_secs_f64() * 1e3
    );
    drop(b);

    // Tail of 1,000 events after the snapshot.
    fill(&paths, 1_000, 1_000);
    let mut times = Vec::new();
    let mut folded = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let r = JournalReader::open(&paths.journal()).unwrap();
        let txn = r.begin_read().unwrap();
        let loaded = journal::load_state(&txn).unwrap();
        times.push(t.elapsed());
        folded = loaded.folded;
        assert!(loaded.snapshot_seq.is_some());
    }
    {
        let r = JournalReader::open(&paths.journal()).unwrap();
        let txn = r.begin_read().unwrap();
        let snaps = journal::reader_snapshots(&txn).unwrap();
        let t = Instant::now();
        let last = snaps.last().unwrap();
        let bytes = journal::reader_snapshot_data(&txn, last.seq, last.bytes).unwrap().unwrap();
        let read = t.elapsed();
        let t = Instant::now();
        let _digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
        let hash = t.elapsed();
        let t = Instant::now();
        let state = maand::journal::snapshot::decode_state(&bytes).unwrap();
        let decode = t.elapsed();
        println!(
            "  snapshot of {} MB: read {:.0} ms, sha256 {:.0} ms, decode {:.0} ms ({} KV versions)",
            bytes.len() / 1_000_000,
            read.as_secs_f64() * 1e3,
            hash.as_secs_f64() * 1e3,
            decode.as_secs_f64() * 1e3,
            state.kv.version_count()
        );
    }
    println!(
        "open: journal of {} events, snapshot + {} tail events: {:.0} ms",
        MILLION + 1_000 + 260,
        folded,
        median(times).as_secs_f64() * 1e3
    );
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let b = Bucket::open(paths.clone(), &opts).unwrap();
        times.push(t.elapsed());
        drop(b);
    }
    println!(
        "open for writing (lock + recovery check + snapshot + tail + projection mark check): {:.0} ms",
        median(times).as_secs_f64() * 1e3
    );
    let events = {
        let r = JournalReader::open(&paths.journal()).unwrap();
        journal::reader_event_count(&r.begin_read().unwrap()).unwrap()
    };
    println!(
        "(journal holds {events} events; file {} MB)",
        std::fs::metadata(paths.journal()).unwrap().len() / 1_000_000
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: only run on --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    bench_append();
    bench_fold_open_projection();
}
