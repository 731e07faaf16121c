//! Crash safety: a session killed (`abort()`, as kill -9 would) after each
//! possible number of durable events leaves a journal that verifies, whose
//! state equals the last checkpoint, that the next opener marks aborted, and
//! on which the next command works.
//!
//! Runs without the libtest harness: the same executable is the crashing
//! child when `CRASH_CHILD_BUCKET` is set.

mod common;
use common::*;
use maand::bucket::session_info;
use maand::event::Event;
use maand::journal::Outcome;
use maand::state::State;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

enum Step {
    Record(Event),
    Flush,
    Checkpoint,
}

fn script() -> Vec<Step> {
    use Step::*;
    let del = |k: &str| Event::KvDeleted { namespace: "vars/job/a".into(), key: k.into(), at: 9 };
    vec![
        Record(put("vars/job/a", "a1", "1", 1)),
        Record(put("vars/job/a", "a2", "2", 2)),
        Checkpoint,
        Record(put("vars/job/a", "b1", "3", 3)),
        Record(del("a1")),
        Flush,
        Record(put("vars/job/a", "b2", "4", 4)),
        Checkpoint,
        Record(Event::UpdateSeqSet { update_seq: 5 }),
        Record(put("vars/job/b", "c1", "5", 5)),
    ]
}

/// Events the child appends: open + records + checkpoints + commit.
fn total_events() -> u64 {
    1 + script().iter().filter(|s| !matches!(s, Step::Flush)).count() as u64 + 1
}

fn child(dir: &Path) {
    let mut b = open(dir, "crashtest");
    let mut s = b.begin(session_info("crashtest")).unwrap();
    for step in script() {
        match step {
            Step::Record(e) => s.record(e).unwrap(),
            Step::Flush => s.flush().unwrap(),
            Step::Checkpoint => s.checkpoint("step").unwrap(),
        }
    }
    s.commit().unwrap();
}

/// State expected when the first `n` child events are durable: base plus
/// every record up to the last checkpoint among them.
fn expected(base: &State, n: u64) -> State {
    let mut state = base.clone();
    let mut pending = Vec::new();
    let mut count = 1; // SessionOpened
    let mut steps = script().into_iter().filter(|s| !matches!(s, Step::Flush)).peekable();
    let commit_at = total_events();
    while count < n {
        count += 1;
        match steps.next() {
            Some(Step::Record(e)) => pending.push(e),
            Some(Step::Checkpoint) => pending.drain(..).for_each(|e| state.apply(&e)),
            Some(Step::Flush) => unreachable!(),
            None => {
                assert_eq!(count, commit_at);
                pending.drain(..).for_each(|e| state.apply(&e));
            }
        }
    }
    state
}

fn check(name: &str, f: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => {
            println!("test {name} ... ok");
            true
        }
        Err(_) => {
            println!("test {name} ... FAILED");
            false
        }
    }
}

fn library_session_cut_at_every_event() {
    let template = fresh_bucket();
    let base = open(template.path(), "t").state.clone();
    let total = total_events();
    for n in 1..=total + 1 {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(template.path(), tmp.path());
        let status = Command::new(std::env::current_exe().unwrap())
            .env("CRASH_CHILD_BUCKET", tmp.path())
            .env("MAAND_FAULT_ABORT_AFTER_EVENTS", n.to_string())
            .status()
            .unwrap();
        if n <= total {
            assert_eq!(status.signal(), Some(libc::SIGABRT), "n={n}: child should abort, got {status:?}");
        } else {
            assert!(status.success(), "n={n}: {status:?}");
        }
        let want = expected(&base, n.min(total));
        let want_seq_known = want.kv != base.kv || want.update_seq != base.update_seq;

        // Right after the crash, before anyone reopens: verify accepts it.
        let report = maand::verify::verify(&maand::bucket::BucketPaths::new(tmp.path())).unwrap();
        assert!(report.ok(), "n={n}: {:?}", report.problems);
        assert_eq!(report.state.kv, want.kv, "n={n}: folded state is not the last checkpoint");
        assert_eq!(report.state.update_seq, want.update_seq, "n={n}");
        let cli = journal(tmp.path(), &["verify"]);
        assert!(cli.status.success(), "n={n}: {}", stderr(&cli));

        // Reopen: the session is marked aborted (unless it committed).
        let reopened = open(tmp.path(), "after");
        assert_eq!(reopened.state.kv, want.kv, "n={n}");
        if want_seq_known {
            assert!(reopened.state.seq > base.seq, "n={n}");
        }
        drop(reopened);
        let txn = maand::journal::JournalReader::open(&tmp.path().join("data/journal.redb")).unwrap();
        let t = txn.begin_read().unwrap();
        let sessions = maand::journal::reader_sessions(&t).unwrap();
        let crashed = sessions.iter().find(|s| s.info.command == "crashtest").unwrap();
        if n < total {
            assert!(matches!(crashed.outcome, Outcome::Aborted(_)), "n={n}: {:?}", crashed.outcome);
        } else {
            assert_eq!(crashed.outcome, Outcome::Committed, "n={n}");
        }
        drop(t);
        drop(txn);

        // The next command works and everything still verifies, projection included.
        write_session(tmp.path(), "vars/job/z", 2, "after");
        let report = maand::verify::verify(&maand::bucket::BucketPaths::new(tmp.path())).unwrap();
        assert!(report.ok() && report.notes.is_empty(), "n={n}: {:?} {:?}", report.problems, report.notes);
        ok(&journal(tmp.path(), &["verify"]));
    }
}

fn cli_init_cut_at_every_event() {
    for n in 1..=5u64 {
        let tmp = tempfile::tempdir().unwrap();
        let o = Command::new(maand_bin())
            .arg("init")
            .current_dir(tmp.path())
            .env("MAAND_FAULT_ABORT_AFTER_EVENTS", n.to_string())
            .output()
            .unwrap();
        assert_eq!(o.status.signal(), Some(libc::SIGABRT), "n={n}: {}", stderr(&o));
        let v = journal(tmp.path(), &["verify"]);
        assert!(v.status.success(), "n={n}: {}", stderr(&v));
        ok(&maand(tmp.path(), &["init"]));
        let info: serde_json::Value = serde_json::from_str(&ok(&maand(tmp.path(), &["info", "--json"]))).unwrap();
        // The CA (if the crashed run wrote it) and the bucket id agree.
        let (cn, _) =
            maand::certs::inspect_ca(&std::fs::read_to_string(tmp.path().join("secrets/ca.crt")).unwrap()).unwrap();
        assert_eq!(info["bucket_id"].as_str().unwrap(), cn, "n={n}");
        // init appends 5 events; the 5th is its commit, so only a cut before
        // it leaves an aborted session.
        let sessions = stdout(&journal(tmp.path(), &["sessions"]));
        assert_eq!(sessions.contains("aborted"), n < 5, "n={n}: {sessions}");
        // The armed fault is on the record of the session it cut.
        let first = stdout(&journal(tmp.path(), &["show", "1"]));
        assert!(first.contains(&format!("TEST SWITCHES: MAAND_FAULT_ABORT_AFTER_EVENTS={n}")), "n={n}: {first}");
        let second = stdout(&journal(tmp.path(), &["show", "2"]));
        assert!(!second.contains("TEST SWITCHES"), "n={n}: a normal run records none: {second}");
        ok(&journal(tmp.path(), &["verify"]));
    }
}

fn main() {
    if let Ok(dir) = std::env::var("CRASH_CHILD_BUCKET") {
        child(Path::new(&dir));
        return;
    }
    let results = [
        check("library_session_cut_at_every_event", library_session_cut_at_every_event),
        check("cli_init_cut_at_every_event", cli_init_cut_at_every_event),
    ];
    let passed = results.iter().filter(|r| **r).count();
    println!("\ncrash: {} passed, {} failed", passed, results.len() - passed);
    if passed != results.len() {
        std::process::exit(1);
    }
}
