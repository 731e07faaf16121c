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
