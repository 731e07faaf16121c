//! Every writer command starts through the one start-up helper, so every
//! one tells the operator what opening the bucket did: a session cut off
//! by a dead process is marked aborted, and the command says so.

mod common;
use common::*;
use std::process::Command;

#[test]
fn every_writer_command_prints_the_recovery_note() {
    // A bucket whose last session was cut off after its first event.
    let template = fresh_bucket();
    let o = Command::new(maand_bin())
        .arg("build")
        .current_dir(template.path())
        .env("MAAND_FAULT_ABORT_AFTER_EVENTS", "1")
        .output()
        .unwrap();
    assert!(!o.status.success(), "the fault must cut the build: {}", stderr(&o));
    let commands: &[&[&str]] = &[
        &["build"],
        &["deploy"],
        &["hooks", "hook_x"],
        &["job", "start", "web"],
        &["gc"],
        &["health_check"],
        &["run_command", "true"],
        &["worker_facts"],
    ];
    for args in commands {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let o = maand(dir.path(), args);
        let err = stderr(&o);
        assert!(
            err.contains("note: session") && err.contains("(build) was cut off: marked aborted"),
            "maand {args:?} did not print the recovery note:\n{err}"
        );
        // The note is said once, and the aborted session is on record.
        assert_eq!(err.matches("was cut off").count(), 1, "{err}");
        assert!(stdout(&journal(dir.path(), &["sessions"])).contains("aborted"), "maand {args:?}");
    }
}
