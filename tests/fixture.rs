//! The checked-in format-1 journal stays readable: it verifies, folds to the
//! exact expected state (with and without its snapshot), and accepts new
//! sessions.

mod common;
use common::*;
use maand::event::KvValue;
use maand::journal::{self, JournalReader, Outcome};
use maand::state::Fold;
use std::ops::ControlFlow;
use std::path::Path;

fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1/bucket"),
        tmp.path(),
    );
    tmp
}

#[test]
fn format1_fixture_folds_to_the_expected_state() {
    let dir = fixture_copy();
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.contains("ok: 26 events in 5 sessions"), "{v}");

    let reader = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let loaded = journal::load_state(&txn).unwrap();
    assert_eq!(
        loaded.snapshot_seq,
        Some(13),
        "the fixture's snapshot is used"
    );
    let mut full = Fold::default();
    journal::for_each_event(&txn, .., |e| {
        full.push(&e);
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    let full = full.finish();
    assert_eq!(loaded.state, full, "snapshot + tail equals a full re-fold");
    assert_eq!(loaded.state.digest().unwrap(), full.digest().unwrap());

    let s = &loaded.state;
    assert_eq!(s.seq, 26);
    assert_eq!(s.update_seq, 3);
    assert!(uuid::Uuid::parse_str(s.bucket_id().unwrap()).is_ok());
    let plain = |ns: &str, k: &str| match s.kv.get(ns, k) {
        Some(KvValue::Plain(v)) => Some(v.clone()),
        Some(other) => panic!("{other:?}"),
        None => None,
    };
    assert_eq!(
        plain("vars/job/api", "db_url").as_deref(),
        Some("postgres://db2/api")
    );
    let h = s.kv.history("vars/job/api", "db_url");
    assert_eq!(h.len(), 2, "failed and aborted tails are not state");
    assert_eq!((h[0].ttl, h[0].created_at), (3600, 1_001));
    assert_eq!(plain("vars/bucket", "port_min"), None);
    assert_eq!(
        s.kv.history("vars/bucket", "port_min").len(),
        2,
        "delete is a tombstone version"
    );
    assert_eq!(s.kv.history("vars/job/web", "gone").len(), 0, "purged");
    assert_eq!(plain("vars/job/web", "replicas").as_deref(), Some("3"));
    assert_eq!(
        s.kv.get("secrets/job/api", "password"),
        Some(&KvValue::Sealed {
            nonce: [9; 12],
            ciphertext: vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
        })
    );
    let outcomes: Vec<&str> = journal::reader_sessions(&txn)
        .unwrap()
        .iter()
        .map(|r| r.outcome.word())
        .collect();
    assert_eq!(
        outcomes,
        ["committed", "committed", "failed", "aborted", "committed"]
    );
    assert!(matches!(
        journal::reader_sessions(&txn).unwrap()[3].outcome,
        Outcome::Aborted(_)
    ));
}

#[test]
fn format1_fixture_accepts_new_sessions_and_rebuilds_its_projection() {
    let dir = fixture_copy();
    assert!(!dir.path().join("data/maand.db").exists());
    write_session(dir.path(), "vars/job/new", 3, "x");
    assert!(dir.path().join("data/maand.db").exists());
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.contains("ok: 31 events in 6 sessions"), "{v}");
    let info: serde_json::Value =
        serde_json::from_str(&ok(&maand(dir.path(), &["info", "--json"]))).unwrap();
    assert_eq!(info["kv_keys"], 7);
}
