//! Shared helpers for the integration tests: run the real binaries on real
//! buckets in temporary directories.
#![allow(dead_code)]

use maand::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use maand::event::{Event, KvValue};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Path of the `maand` binary under test.
pub fn maand_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_maand"))
}

/// Path of the `maand-journal` binary (built by `cargo test --workspace`).
pub fn journal_bin() -> PathBuf {
    let p = maand_bin().with_file_name("maand-journal");
    assert!(
        p.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        p.display()
    );
    p
}

/// Run `maand <args>` in `dir`.
pub fn maand(dir: &Path, args: &[&str]) -> Output {
    Command::new(maand_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MAAND_BUCKET")
        .output()
        .unwrap()
}

/// Run `maand-journal <args>` in `dir`.
pub fn journal(dir: &Path, args: &[&str]) -> Output {
    Command::new(journal_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("MAAND_BUCKET")
        .output()
        .unwrap()
}

/// Stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert success, showing output otherwise.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// A fresh bucket made by `maand init` in a new temp dir.
pub fn fresh_bucket() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&maand(dir.path(), &["init"]));
    dir
}

/// Open a bucket for writing through the library.
pub fn open(dir: &Path, command: &str) -> Bucket {
    Bucket::open(
        BucketPaths::new(dir),
        &OpenOptions {
            command: command.into(),
            lock_wait: Duration::from_secs(5),
        },
    )
    .unwrap()
}

/// A plain KV put event.
pub fn put(ns: &str, key: &str, value: &str, at: i64) -> Event {
    Event::KvPut {
        namespace: ns.into(),
        key: key.into(),
        value: KvValue::Plain(value.into()),
        ttl: 0,
        at,
    }
}

/// One committed session writing `keys` puts (key names `k<i>`) into `ns`.
pub fn write_session(dir: &Path, ns: &str, keys: usize, tag: &str) {
    let mut b = open(dir, "test");
    let mut s = b.begin(session_info("test")).unwrap();
    for i in 0..keys {
        s.record_at(
            1_000 + i as i64,
            put(
                ns,
                &format!("k{i}"),
                &format!("{tag}-{i}"),
                1_000 + i as i64,
            ),
        )
        .unwrap();
    }
    s.commit().unwrap();
}

/// `sqlite3 <db> .dump` output (the real CLI, as an operator would compare).
pub fn sqlite_dump(db: &Path) -> String {
    let o = Command::new("sqlite3")
        .arg(db)
        .arg(".dump")
        .output()
        .expect("sqlite3 CLI (apt-get install sqlite3)");
    ok(&o)
}

/// Number of events in the bucket's journal, read through `maand-journal export`.
pub fn event_count(dir: &Path) -> usize {
    stdout(&journal(dir, &["export", "--jsonl"]))
        .lines()
        .count()
}

/// Recursively copy a directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}
