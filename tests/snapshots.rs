//! Snapshots: loading = newest snapshot + tail, equal to a full re-fold; a
//! damaged snapshot is ignored on load and reported by verify.

mod common;
use common::*;
use maand::bucket::session_info;
use maand::journal::{self, JournalReader, snapshot};
use maand::state::Fold;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::ops::ControlFlow;
use std::path::Path;

fn full_fold(dir: &Path) -> maand::state::State {
    let r = JournalReader::open(&dir.join("data/journal.redb")).unwrap();
    let t = r.begin_read().unwrap();
    let mut f = Fold::default();
    journal::for_each_event(&t, .., |e| {
        f.push(&e);
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    f.finish()
}

fn bucket_with_snapshots() -> tempfile::TempDir {
    let dir = fresh_bucket();
    for round in 0..6 {
        let mut b = open(dir.path(), "test");
        b.snapshot_every = 10;
        let mut s = b.begin(session_info("test")).unwrap();
        for i in 0..7 {
            s.record_at(i, put(&format!("vars/job/j{}", i % 3), &format!("k{i}"), &format!("r{round}"), i)).unwrap();
        }
        s.checkpoint("mid").unwrap();
        s.record_at(9, put("vars/job/x", "round", &round.to_string(), 9)).unwrap();
        s.commit().unwrap();
    }
    dir
}

#[test]
fn snapshot_load_equals_full_refold() {
    let dir = bucket_with_snapshots();
    let r = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let t = r.begin_read().unwrap();
    let snaps = journal::reader_snapshots(&t).unwrap();
    assert_eq!(snaps.len(), journal::SNAPSHOTS_KEPT, "old snapshots are pruned");
    let loaded = journal::load_state(&t).unwrap();
    assert_eq!(loaded.snapshot_seq, Some(snaps.last().unwrap().seq));
    assert!(loaded.folded < 15, "only the tail is folded: {}", loaded.folded);
    let full = full_fold(dir.path());
    assert_eq!(loaded.state, full);
    assert_eq!(snapshot::digest(&loaded.state).unwrap(), snapshot::digest(&full).unwrap());
    assert_eq!(full.kv.history("vars/job/x", "round").len(), 6);
    let report = maand::verify::verify(&maand::bucket::BucketPaths::new(dir.path())).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.snapshots, 2);
}

#[test]
fn damaged_snapshot_is_ignored_on_load_and_reported_by_verify() {
    let dir = bucket_with_snapshots();
    let latest = {
        let r = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
        let t = r.begin_read().unwrap();
        journal::reader_snapshots(&t).unwrap().last().unwrap().seq
    };
    {
        const CHUNKS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("snapshot_chunks");
        let db = redb::Database::create(dir.path().join("data/journal.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(CHUNKS).unwrap();
            let mut v = t.get((latest, 0)).unwrap().unwrap().value().to_vec();
            let mid = v.len() / 2;
            v[mid] ^= 0xff;
            t.insert((latest, 0), v.as_slice()).unwrap();
        }
        txn.commit().unwrap();
        let _ = db.begin_read();
    }
    let r = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let t = r.begin_read().unwrap();
    let loaded = journal::load_state(&t).unwrap();
    assert_ne!(loaded.snapshot_seq, Some(latest), "damaged snapshot must not be used");
    assert_eq!(loaded.state, full_fold(dir.path()));
    let o = journal(dir.path(), &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("verify failed at event {latest}: stored snapshot")), "{}", stderr(&o));
}
