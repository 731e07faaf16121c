//! Writes the journal fixture bucket replayed by `tests/fixture.rs`:
//! `cargo run --example make_fixture -- tests/fixtures/format1/bucket`.
//!
//! Run it once per journal format, check the result in, and never
//! regenerate an old format's fixture: the point is that later binaries keep
//! reading what earlier ones wrote.

use maand::bucket::{Bucket, BucketPaths, OpenOptions, init, session_info};
use maand::event::{Event, KvValue, SessionInfo};
use maand::journal::{JournalWriter, Outcome, SessionRecord};
use std::time::Duration;

fn put(ns: &str, key: &str, v: &str, ttl: u64, at: i64) -> Event {
    Event::KvPut { namespace: ns.into(), key: key.into(), value: KvValue::Plain(v.into()), ttl, at }
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: make_fixture <empty dir>");
    let paths = BucketPaths::new(std::path::Path::new(&dir));
    assert!(!paths.journal().exists(), "{dir} already holds a bucket");
    std::fs::create_dir_all(paths.root()).unwrap();
    init::run(&paths, Duration::ZERO).unwrap();
    let opts = OpenOptions { command: "fixture".into(), lock_wait: Duration::ZERO };

    // Session: plain puts with a TTL, a checkpoint, more puts, commit.
    let mut b = Bucket::open(paths.clone(), &opts).unwrap();
    b.snapshot_every = 8;
    let mut s = b.begin(session_info("fixture")).unwrap();
    s.record_at(1_000, put("vars/bucket", "port_min", "30000", 0, 1_000)).unwrap();
    s.record_at(1_001, put("vars/job/api", "db_url", "postgres://db/api", 3600, 1_001)).unwrap();
    s.checkpoint("first").unwrap();
    s.record_at(1_002, put("vars/job/api", "db_url", "postgres://db2/api", 0, 1_002)).unwrap();
    s.record_at(1_003, Event::UpdateSeqSet { update_seq: 3 }).unwrap();
    s.record_at(
        1_004,
        Event::KvPut {
            namespace: "secrets/job/api".into(),
            key: "password".into(),
            value: KvValue::Sealed { nonce: [9; 12], ciphertext: vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4] },
            ttl: 0,
            at: 1_004,
        },
    )
    .unwrap();
    s.commit().unwrap();

    // Session: a delete, a purge, then a failure (its tail is not state).
    let mut s = b.begin(session_info("fixture")).unwrap();
    s.record_at(2_000, put("vars/job/web", "gone", "x", 0, 2_000)).unwrap();
    s.record_at(2_001, Event::KvPurged { namespace: "vars/job/web".into(), key: "gone".into() }).unwrap();
    s.record_at(2_002, Event::KvDeleted { namespace: "vars/bucket".into(), key: "port_min".into(), at: 2_002 })
        .unwrap();
    s.checkpoint("second").unwrap();
    s.record_at(2_003, put("vars/job/api", "db_url", "never-committed", 0, 2_003)).unwrap();
    s.fail(&maand::error::Error::op("fixture failure")).unwrap();
    drop(b);

    // A session whose process "died": events appended, never ended.
    let mut j = JournalWriter::open(&paths.journal()).unwrap();
    let id = j.next_session_id().unwrap();
    let info = SessionInfo { started_at: 3_000, ..session_info("fixture-crash") };
    let mut rec = SessionRecord {
        id,
        info: info.clone(),
        first_seq: 0,
        last_seq: 0,
        events: 0,
        checkpoint_seq: 0,
        ended_at: None,
        outcome: Outcome::Open,
    };
    j.append(
        &mut rec,
        &[(3_000, Event::SessionOpened(info)), (3_001, put("vars/job/api", "db_url", "lost", 0, 3_001))],
    )
    .unwrap();
    drop(j);

    // The next opener marks it aborted; then a final committed session.
    let mut b = Bucket::open(paths.clone(), &opts).unwrap();
    let mut s = b.begin(session_info("fixture")).unwrap();
    s.record_at(4_000, put("vars/job/web", "replicas", "3", 0, 4_000)).unwrap();
    s.commit().unwrap();
    println!("fixture written to {dir}");
}
