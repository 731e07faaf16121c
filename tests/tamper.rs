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

/// Every stored event and session index entry, raw.
fn stored(dir: &Path) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
    let db = redb::ReadOnlyDatabase::open(dir.join("data/journal.redb")).unwrap();
    let txn = redb::ReadableDatabase::begin_read(&db).unwrap();
    let all = |def: TableDefinition<u64, &[u8]>| -> Vec<Vec<u8>> {
        let t = txn.open_table(def).unwrap();
        t.iter().unwrap().map(|r| r.unwrap().1.value().to_vec()).collect()
    };
    (all(EVENTS), all(SESSIONS))
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

/// Every command that folds the journal checks the chain of what it folds:
/// a flipped byte in any stored event makes `info`, `cat`, `build`,
/// `deploy` and `export` refuse, naming that event (exit 1), and records
/// nothing.
#[test]
fn a_flipped_byte_in_any_event_makes_every_command_refuse_naming_it() {
    let dir = bucket_with_history();
    let total = event_count(dir.path()) as u64;
    let commands: &[&[&str]] = &[&["info"], &["cat", "kv"], &["build"], &["deploy"], &["job", "start", "web"]];
    for seq in 1..=total {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir.path(), copy.path());
        edit_events(copy.path(), |t| {
            let mut v = get(t, seq);
            v[5] ^= 0x01;
            t.insert(seq, v.as_slice()).unwrap();
        });
        let stored_before = stored(copy.path());
        let want = format!("journal event {seq}:");
        for args in commands {
            let o = maand(copy.path(), args);
            assert_eq!(o.status.code(), Some(1), "{args:?} with event {seq} flipped: {}{}", stdout(&o), stderr(&o));
            assert!(stderr(&o).contains(&want), "{args:?}: {}", stderr(&o));
        }
        let o = journal(copy.path(), &["export", "--jsonl"]);
        assert_eq!(o.status.code(), Some(1), "export with event {seq} flipped");
        assert!(stderr(&o).contains(&want), "export: {}", stderr(&o));
        assert!(stored(copy.path()) == stored_before, "event {seq} flipped: something was recorded");
    }
}

/// Flip bytes of a small journal file (every `stride`-th byte of every page
/// holding data: redb's header, B-tree pages, the events, the session index;
/// `MAAND_FLIP_STRIDE=1` flips every one) and run the commands that read
/// it: none may panic (exit 101) or print a backtrace; a damaged file is an
/// error naming it; when `export` still succeeds it shows the history
/// unchanged (a flip never silently rewrites history).
#[test]
fn flipping_bytes_of_a_small_journal_never_panics_or_changes_history() {
    let stride: usize = std::env::var("MAAND_FLIP_STRIDE").ok().and_then(|s| s.parse().ok()).unwrap_or(173);
    let src = fresh_bucket();
    write(src.path(), "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    write(src.path(), "workspace/jobs/web/manifest.json", r#"{"version": "1"}"#);
    write(src.path(), "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    ok(&maand(src.path(), &["build"]));
    write_session(src.path(), "vars/job/web", 3, "x");
    let journal_path = src.path().join("data/journal.redb");
    let original = std::fs::read(&journal_path).unwrap();
    let history = ok(&journal(src.path(), &["export", "--jsonl"]));
    let db = std::fs::read(src.path().join("data/maand.db")).unwrap();
    const PAGE: usize = 4096;
    let positions: Vec<usize> = (0..original.len())
        .step_by(PAGE)
        .filter(|p| original[*p..(*p + PAGE).min(original.len())].iter().any(|b| *b != 0))
        .flat_map(|p| (p..(p + PAGE).min(original.len())).step_by(stride))
        .collect();
    let work = tempfile::tempdir().unwrap();
    copy_dir(src.path(), work.path());
    let w = work.path();
    let readers: &[(&str, &[&str])] = &[
        ("maand", &["info"]),
        ("maand", &["cat", "kv"]),
        ("journal", &["export", "--jsonl"]),
        ("journal", &["verify"]),
    ];
    let (mut refused, mut flips) = (0, 0);
    for pos in &positions {
        let mut bytes = original.clone();
        bytes[*pos] ^= 0x01;
        flips += 1;
        for (bin, args) in readers.iter().chain(std::iter::once(&("maand", &["build"][..]))) {
            std::fs::write(w.join("data/journal.redb"), &bytes).unwrap();
            std::fs::write(w.join("data/maand.db"), &db).unwrap();
            let o = if *bin == "maand" { maand(w, args) } else { journal(w, args) };
            let err = stderr(&o);
            assert!(
                matches!(o.status.code(), Some(0..=2)) && !err.contains("panicked") && !err.contains("stack backtrace"),
                "byte {pos} flipped: {bin} {args:?} -> {:?}\n{err}",
                o.status
            );
            if o.status.code() == Some(1) {
                refused += 1;
                assert!(
                    err.contains("journal") || err.contains("verify failed at event"),
                    "byte {pos}: {bin} {args:?}: the error names the journal or the event: {err}"
                );
            }
            if *args == ["export", "--jsonl"] && o.status.success() {
                assert_eq!(stdout(&o), history, "byte {pos} flipped: export succeeded with a different history");
            }
        }
    }
    eprintln!("{flips} flips (stride {stride}) x 5 commands: {refused} refusals, no panic");
    assert!(flips > 100 && refused > 0, "{flips} flips, {refused} refusals");
}

/// A damaged session index entry is named, not reported as a bare decoding
/// error, by the listing and by the next writer.
#[test]
fn a_damaged_session_index_entry_is_named() {
    let dir = bucket_with_history();
    const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
    let db = redb::Database::create(dir.path().join("data/journal.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut t = txn.open_table(SESSIONS).unwrap();
        let mut v = t.get(2).unwrap().unwrap().value().to_vec();
        // The command name's bytes: no longer UTF-8.
        let at = v.iter().position(|b| *b == b't').unwrap();
        v[at] = 0xff;
        t.insert(2, v.as_slice()).unwrap();
    }
    txn.commit().unwrap();
    drop(db);
    for o in [journal(dir.path(), &["sessions"]), maand(dir.path(), &["build"]), journal(dir.path(), &["verify"])] {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("journal session index entry 2 cannot be decoded"), "{}", stderr(&o));
    }
}
