//! `maand-journal verify`: proves a bucket's journal, snapshots, session
//! index and projection agree.
//!
//! - the hash chain: every stored event's hash matches its body, each
//!   `prev_hash` is its predecessor's hash, sequence numbers run from 1
//!   without gaps (edits, drops and reorders all break one of these);
//! - each snapshot equals the state re-folded up to its sequence number;
//! - the session index equals one recomputed from the events;
//! - `maand.db` equals a fresh projection of the re-folded state.

use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::event::{Event, Hash32};
use crate::journal::{self, JournalReader, Outcome, codec};
use crate::projection;
use crate::state::{Fold, State};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// A disagreement found by verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The first journal sequence number concerned, when there is one.
    pub seq: Option<u64>,
    /// What is wrong.
    pub what: String,
}

/// Result of verifying a bucket.
#[derive(Debug, Default)]
pub struct Report {
    /// Events checked.
    pub events: u64,
    /// Sessions checked.
    pub sessions: usize,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Hard failures, first one first.
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not corruption (stale projection).
    pub notes: Vec<String>,
    /// The re-folded committed state.
    pub state: State,
}

impl Report {
    /// Whether everything agreed.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, PartialEq, Eq)]
struct SessionSummary {
    first_seq: u64,
    last_seq: u64,
    events: u64,
    checkpoint_seq: u64,
    outcome: &'static str,
}

/// Verify the bucket at `paths` (read-only).
pub fn verify(paths: &BucketPaths) -> Result<Report> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let meta = journal::reader_meta(&txn)?;
    let mut report = Report::default();
    let snapshots: BTreeMap<u64, _> = journal::reader_snapshots(&txn)?.into_iter().map(|s| (s.seq, s)).collect();
    report.snapshots = snapshots.len();

    let mut fold = Fold::default();
    let mut expected_seq = 1u64;
    let mut prev: Hash32 = [0; 32];
    let mut sessions: BTreeMap<u64, SessionSummary> = BTreeMap::new();
    let mut broken = false;
    journal::for_each_raw(&txn, .., |seq, raw| {
        report.events += 1;
        let fail = |what: String| Problem { seq: Some(seq), what };
        if seq != expected_seq {
            report.problems.push(Problem {
                seq: Some(expected_seq),
                what: format!("event {expected_seq} is missing (next stored is {seq})"),
            });
            broken = true;
            return Ok(ControlFlow::Break(()));
        }
        if !codec::check(raw) {
            report.problems.push(fail("stored hash does not match the event's content (edited or corrupted)".into()));
            broken = true;
            return Ok(ControlFlow::Break(()));
        }
        let env = match codec::decode(raw) {
            Ok(env) => env,
            Err(e) => {
                report.problems.push(fail(format!("cannot decode: {e}")));
                broken = true;
                return Ok(ControlFlow::Break(()));
            }
        };
        if env.seq != seq {
            report.problems.push(fail(format!("stored under {seq} but records sequence number {}", env.seq)));
            broken = true;
            return Ok(ControlFlow::Break(()));
        }
        if env.prev_hash != prev {
            report
                .problems
                .push(fail("previous-hash link broken (an event before it was changed, dropped or moved)".into()));
            broken = true;
            return Ok(ControlFlow::Break(()));
        }
        prev = env.hash;
        expected_seq += 1;
        summarise(&mut sessions, seq, env.session_id, &env.event);
        fold.push(&env);
        if let Some(snap) = snapshots.get(&seq).filter(|s| s.state_version == journal::snapshot::STATE_VERSION) {
            let digest = journal::snapshot::digest(fold.state())?;
            if digest != snap.digest || fold.state().seq != seq {
                report.problems.push(fail("snapshot differs from the state re-folded up to it".into()));
            } else if let Some(bytes) = journal::reader_snapshot_data(&txn, seq, snap.bytes)? {
                let stored = journal::snapshot::decode_state(&bytes).ok();
                if stored.as_ref() != Some(fold.state()) {
                    report.problems.push(fail("stored snapshot state differs from its digest's state".into()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    report.state = fold.finish();
    if broken {
        return Ok(report);
    }
    let stale = snapshots.values().filter(|s| s.state_version != journal::snapshot::STATE_VERSION).count();
    if stale > 0 {
        report.notes.push(format!(
            "{stale} snapshot(s) use an older state encoding; they are ignored and replaced at the next commit of a large session"
        ));
    }
    for snap in snapshots.values() {
        if snap.seq >= expected_seq {
            report
                .problems
                .push(Problem { seq: Some(snap.seq), what: "snapshot points past the end of the journal".into() });
        }
    }

    let index = match journal::reader_sessions(&txn) {
        Ok(index) => index,
        Err(e) => {
            report.problems.push(Problem { seq: None, what: e.message().to_string() });
            return Ok(report);
        }
    };
    report.sessions = index.len();
    for rec in &index {
        let want = sessions.remove(&rec.id);
        let have = SessionSummary {
            first_seq: rec.first_seq,
            last_seq: rec.last_seq,
            events: rec.events,
            checkpoint_seq: rec.checkpoint_seq,
            outcome: rec.outcome.word(),
        };
        if want.as_ref() != Some(&have) {
            report.problems.push(Problem {
                seq: want.as_ref().map(|w| w.first_seq),
                what: format!("session index entry {} disagrees with the journal's events", rec.id),
            });
        }
    }
    if let Some((id, s)) = sessions.into_iter().next() {
        report
            .problems
            .push(Problem { seq: Some(s.first_seq), what: format!("session {id} has events but no index entry") });
    }

    check_projection(paths, &meta.journal_id, &mut report)?;
    Ok(report)
}

fn summarise(sessions: &mut BTreeMap<u64, SessionSummary>, seq: u64, id: u64, ev: &Event) {
    let s = sessions.entry(id).or_insert(SessionSummary {
        first_seq: seq,
        last_seq: seq,
        events: 0,
        checkpoint_seq: 0,
        outcome: Outcome::Open.word(),
    });
    s.last_seq = seq;
    s.events += 1;
    match ev {
        Event::Checkpoint { .. } => s.checkpoint_seq = seq,
        Event::SessionCommitted { .. } => {
            s.checkpoint_seq = seq;
            s.outcome = Outcome::Committed.word();
        }
        Event::SessionFailed { error, .. } => s.outcome = Outcome::Failed(error.clone()).word(),
        Event::SessionAborted { reason, .. } => s.outcome = Outcome::Aborted(reason.clone()).word(),
        _ => {}
    }
}

/// A private in-memory copy of the projection at `db`, taken in one read
/// transaction (SQLite's backup API copies every page in one step), so the
/// mark and the rows checked are one consistent view even while a writer
/// updates the file. `None` when there is no readable database.
fn snapshot_db(db: &std::path::Path) -> Option<rusqlite::Connection> {
    if !db.exists() {
        return None;
    }
    let src = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let mut copy = rusqlite::Connection::open_in_memory().ok()?;
    // A writer holds the file briefly at each checkpoint: retry for a while.
    for _ in 0..500 {
        let backup = rusqlite::backup::Backup::new(&src, &mut copy).ok()?;
        match backup.step(-1) {
            Ok(rusqlite::backup::StepResult::Done) => {
                drop(backup);
                return Some(copy);
            }
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            Err(_) => return None,
        }
    }
    None
}

fn check_projection(paths: &BucketPaths, journal_id: &str, report: &mut Report) -> Result<()> {
    let db = paths.db();
    let on_disk = snapshot_db(&db);
    let Some(mark) = on_disk.as_ref().and_then(projection::mark_of) else {
        report.notes.push(
            "data/maand.db is missing or unreadable; `maand-journal rebuild-db` (or any maand command) recreates it"
                .into(),
        );
        return Ok(());
    };
    let on_disk = on_disk.expect("mark read from it");
    if mark.journal_id != journal_id {
        report.problems.push(Problem { seq: None, what: "data/maand.db was made from another journal".into() });
        return Ok(());
    }
    if mark.seq < report.state.seq {
        report.notes.push(format!(
            "data/maand.db reflects #{} but the committed state is at #{} (a command is running or was interrupted); \
             `maand-journal rebuild-db` or the next maand command refreshes it",
            mark.seq, report.state.seq
        ));
        return Ok(());
    }
    if mark.seq > report.state.seq {
        // A writer may have committed after this verification read the
        // journal: only a mark past the journal's current end is wrong.
        let head =
            JournalReader::open(&paths.journal())?.begin_read().and_then(|txn| journal::reader_event_count(&txn))?;
        if mark.seq <= head {
            report.notes.push(format!(
                "data/maand.db reflects #{} (a writer committed after verification read the journal at #{}); run verify again for a full check",
                mark.seq, report.state.seq
            ));
        } else {
            report.problems.push(Problem {
                seq: None,
                what: format!("data/maand.db claims to reflect #{} but the journal ends at #{head}", mark.seq),
            });
        }
        return Ok(());
    }
    let mut fresh = rusqlite::Connection::open_in_memory()?;
    projection::write_all(&mut fresh, &report.state, journal_id)?;
    let (a, b) = (projection::canonical_dump(&on_disk)?, projection::canonical_dump(&fresh)?);
    if a != b {
        let line = a.lines().zip(b.lines()).find(|(x, y)| x != y).map(|(x, y)| format!("have {x:?}, want {y:?}"));
        report.problems.push(Problem {
            seq: None,
            what: format!(
                "data/maand.db disagrees with a fresh projection of the journal ({})",
                line.unwrap_or_else(|| "different row counts".into())
            ),
        });
    }
    Ok(())
}
