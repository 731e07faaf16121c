//! The control host's own robustness: output into a closed pipe, a
//! projection someone else wrote to, `verify` beside a running writer.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// `maand cat … | head -1` and `maand-journal export | head -1` end quietly
/// when the reader goes away, like other Unix tools: no panic message.
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let dir = fresh_bucket();
    write_session(dir.path(), "vars/job/web", 20_000, "v");
    for (bin, args) in [(maand_bin(), &["cat", "kv"][..]), (journal_bin(), &["export", "--jsonl"][..])] {
        let mut child = Command::new(&bin)
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        // The reader is gone (dropped above); the rest of the output has nowhere to go.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.signal() == Some(libc::SIGPIPE) || out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// `data/maand.db` is disposable: one whose rows were edited behind maand's
/// back (its mark still right) is rebuilt by the next command that writes.
#[test]
fn an_edited_projection_is_rebuilt_by_the_next_command() {
    let dir = fresh_bucket();
    let p = dir.path();
    write_session(p, "vars/job/api", 3, "a");
    let db = p.join("data/maand.db");
    let value = || -> String {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT value FROM key_value WHERE namespace = 'vars/job/api' AND key = 'k1'", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(value(), "a-1");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE key_value SET value = 'edited' WHERE namespace = 'vars/job/api' AND key = 'k1'", []).unwrap();
    drop(conn);
    let o = journal(p, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    ok(&maand(p, &["build"]));
    assert_eq!(value(), "a-1", "the next command rebuilt the projection");
    ok(&journal(p, &["verify"]));
}

/// `verify` in a loop beside a loop of builds never reports corruption
/// that is not there (bounded: 40 builds).
#[test]
fn verify_beside_running_builds_never_cries_wolf() {
    let dir = fresh_bucket();
    let p = dir.path().to_path_buf();
    acceptance_workspace(&p);
    ok(&maand(&p, &["build"]));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (p, done) = (p.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..40 {
                write(&p, "workspace/jobs/api/vars.toml", &format!("cluster_name = \"c{i}\"\nreplicas = {i}\n"));
                ok(&maand(&p, &["build"]));
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let (mut runs, mut notes) = (0, 0);
    while !done.load(std::sync::atomic::Ordering::SeqCst) {
        let o = journal(&p, &["verify"]);
        assert_eq!(o.status.code(), Some(0), "verify beside a writer (run {runs}): {}{}", stdout(&o), stderr(&o));
        notes += stdout(&o).contains("note:") as usize;
        runs += 1;
    }
    writer.join().unwrap();
    eprintln!("{runs} verifies beside 40 builds, {notes} with a note");
    assert!(runs >= 10, "{runs}");
    ok(&journal(&p, &["verify"]));
}
