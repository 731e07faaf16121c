//! One writer per bucket; readers never block (nor are blocked by) it.

mod common;
use common::*;
use maand::bucket::BucketLock;
use std::time::Duration;

#[test]
fn second_writer_fails_with_busy_message_and_nothing_is_corrupted() {
    let dir = fresh_bucket();
    let before = event_count(dir.path());
    // Another process (this test) holds the bucket as a writer.
    let held = open(dir.path(), "deploy");
    let o = maand(dir.path(), &["init"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let want = format!("bucket is busy (pid {}, deploy, since ", std::process::id());
    assert!(err.contains(&want), "{err}");
    // Readers work while the writer holds the bucket.
    ok(&maand(dir.path(), &["info"]));
    ok(&journal(dir.path(), &["sessions"]));
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.starts_with("ok: "), "{v}");
    drop(held);
    assert_eq!(event_count(dir.path()), before, "the refused writer wrote events");
    ok(&maand(dir.path(), &["init"]));
    ok(&journal(dir.path(), &["verify"]));
}

#[test]
fn two_real_maand_writers_race_and_exactly_the_loser_is_refused() {
    let dir = fresh_bucket();
    let spawn = || std::process::Command::new(maand_bin()).arg("init").current_dir(dir.path()).output();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    for o in [&a, &b] {
        assert!(o.status.success() || stderr(o).contains("bucket is busy (pid "), "{}", stderr(o));
    }
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.starts_with("ok: "), "{v}");
}

#[test]
fn lock_wait_queues_behind_a_writer() {
    let dir = fresh_bucket();
    let lock = BucketLock::acquire(&dir.path().join("data/maand.lock"), "build", Duration::ZERO).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        drop(lock);
    });
    let o = maand(dir.path(), &["--lock-wait", "20", "init"]);
    releaser.join().unwrap();
    ok(&o);
}

#[test]
fn lock_left_by_a_dead_process_is_taken_over_with_a_note() {
    let dir = fresh_bucket();
    std::fs::write(
        dir.path().join("data/maand.lock"),
        r#"{"pid":4194303,"command":"deploy","since":"2026-01-01T00:00:00.000Z"}"#,
    )
    .unwrap();
    let o = maand(dir.path(), &["init"]);
    ok(&o);
    assert!(stderr(&o).contains("took over the bucket lock left by pid 4194303 (deploy"), "{}", stderr(&o));
}
