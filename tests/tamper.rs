//! `maand-journal verify` detects edited, dropped and reordered events and a
//! projection that disagrees with the journal, naming where.

mod common;
use common::*;
use redb::{ReadableTable, TableDefinition};
use std::path::Path;

const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");

fn bucket_with_history() -> tempfile::TempDir {
    let dir = fresh_bucket();
    write_session(dir.path(), "vars/job/api", 4, "a");
    write_session(dir.path(), "vars/job/web", 3, "b");
    ok(&journal(dir.path(), &["verify"]));
    dir
}

fn edit_events(dir: &Path, f: impl FnOnce(&mut redb::Table<u64, &[u8]>)) {
    let db = redb::Database::create(dir.join("data/journal.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(EVENTS).unwrap();
        f(&mut t);
    }
    txn.commit().unwrap();
}

fn get(t: &redb::Table<u64, &[u8]>, seq: u64) -> Vec<u8> {
    t.get(seq).unwrap().unwrap().value().to_vec()
}

fn verify_fails_at(dir: &Path, seq: u64) -> String {
    let o = journal(dir, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "verify should fail: {}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(&format!("verify failed at event {seq}:")), "{err}");
    err
}

#[test]
fn flipped_byte_in_every_event_is_found_at_its_sequence_number() {
    let dir = bucket_with_history();
    let total = event_count(dir.path()) as u64;
    for seq in 1..=total {
        for pos in [0usize, 5, 20] {
            let copy = tempfile::tempdir().unwrap();
            copy_dir(dir.path(), copy.path());
            let mut flipped = false;
            edit_events(copy.path(), |t| {
                let mut v = get(t, seq);
                // Positions inside the body (never the trailing hash).
                let body_len = v.len() - 32;
                if pos < body_len {
                    v[pos] ^= 0x01;
                    flipped = true;
                }
                t.insert(seq, v.as_slice()).unwrap();
            });
            if flipped {
                verify_fails_at(copy.path(), seq);
            }
        }
    }
}

#[test]
fn flipped_hash_byte_is_found() {
    let dir = bucket_with_history();
    edit_events(dir.path(), |t| {
        let mut v = get(t, 3);
        let n = v.len();
        v[n - 1] ^= 0x80;
        t.insert(3, v.as_slice()).unwrap();
    });
    verify_fails_at(dir.path(), 3);
}

#[test]
fn dropped_event_is_found() {
    let dir = bucket_with_history();
    edit_events(dir.path(), |t| {
        t.remove(6).unwrap();
    });
    let err = verify_fails_at(dir.path(), 6);
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn reordered_events_are_found() {
    let dir = bucket_with_history();
    edit_events(dir.path(), |t| {
        let (a, b) = (get(t, 9), get(t, 10));
        t.insert(9, b.as_slice()).unwrap();
        t.insert(10, a.as_slice()).unwrap();
    });
    verify_fails_at(dir.path(), 9);
}

#[test]
fn rewritten_event_with_recomputed_hash_breaks_the_chain_after_it() {
    // An attacker who re-hashes an edited event still breaks the next link.
    let dir = bucket_with_history();
    edit_events(dir.path(), |t| {
        let env = maand::journal::codec::decode(&get(t, 8)).unwrap();
        let forged = put("vars/job/api", "k0", "forged", 1);
        let (bytes, _) =
            maand::journal::codec::encode(env.seq, env.session_id, env.prev_hash, env.recorded_at, &forged).unwrap();
        t.insert(8, bytes.as_slice()).unwrap();
    });
    let err = verify_fails_at(dir.path(), 9);
    assert!(err.contains("previous-hash link broken"), "{err}");
}

#[test]
fn projection_that_disagrees_with_the_journal_fails_verify() {
    let dir = bucket_with_history();
    let conn = rusqlite::Connection::open(dir.path().join("data/maand.db")).unwrap();
    conn.execute("UPDATE key_value SET value = 'edited' WHERE key = 'k1' AND namespace = 'vars/job/api'", []).unwrap();
    drop(conn);
    let o = journal(dir.path(), &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("data/maand.db disagrees with a fresh projection"), "{}", stderr(&o));
    ok(&journal(dir.path(), &["rebuild-db"]));
    ok(&journal(dir.path(), &["verify"]));
}

/// A record whose hash checks out but whose body does not decode (here: a
/// byte appended to the body, hash recomputed, as a buggy writer could
/// leave it) is refused, naming its sequence number, its format and the
/// maand version that wrote its session.
#[test]
fn an_undecodable_record_names_its_seq_format_and_writer() {
    let dir = bucket_with_history();
    let seq = event_count(dir.path()) as u64;
    edit_events(dir.path(), |t| {
        let stored = get(t, seq);
        let mut body = stored[..stored.len() - 32].to_vec();
        body.push(0);
        let hash = maand_record::body_hash(&body);
        body.extend_from_slice(&hash);
        t.insert(seq, body.as_slice()).unwrap();
    });
    let o = journal(dir.path(), &["export", "--jsonl"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let want = format!("journal event {seq} (format 2, session 3, written by maand {})", env!("CARGO_PKG_VERSION"));
    assert!(err.contains(&want) && err.contains("trailing bytes"), "{err}");
}
