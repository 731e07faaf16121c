//! Bad input never hurts: clear message naming file, line and key; exit 2;
//! no journal change.

mod common;
use common::*;

fn assert_rejected(dir: &std::path::Path, args: &[&str], must_contain: &[&str]) {
    let before = event_count(dir);
    let o = maand(dir, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    for m in must_contain {
        assert!(err.contains(m), "{args:?}: expected {m:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(event_count(dir), before, "journal changed on bad input");
}

#[test]
fn corrupt_maand_conf_names_file_line_and_key() {
    let dir = fresh_bucket();
    let conf = dir.path().join("maand.conf");
    let cases: &[(&str, &[&str])] = &[
        ("ssh_user = \"agent\"\nssh_port = [\n", &["maand.conf: line 2", "ssh_port"]),
        ("ssh_user = \"agent\"\n\nssh_prot = 22\n", &["maand.conf: line 3, key `ssh_prot`", "unknown field"]),
        ("ssh_port = \"twenty\"\n", &["maand.conf: line 1, key `ssh_port`", "invalid type"]),
        ("use_sudo = 1\n", &["maand.conf: line 1, key `use_sudo`"]),
        ("log_format = \"xml\"\n", &["maand.conf: line 1, key `log_format`", "xml"]),
        ("ssh_key = \"../id_rsa\"\n", &["maand.conf: line 1, key `ssh_key`"]),
        ("certs_ttl = 5\ncerts_renewal_buffer = 9\n", &["maand.conf: line 2, key `certs_renewal_buffer`"]),
    ];
    for (text, want) in cases {
        std::fs::write(&conf, text).unwrap();
        assert_rejected(dir.path(), &["info"], want);
        assert_rejected(dir.path(), &["init"], want);
    }
    std::fs::write(&conf, maand::bucket::DEFAULT_CONF).unwrap();
    ok(&maand(dir.path(), &["info"]));
    ok(&journal(dir.path(), &["verify"]));
}

#[test]
fn uninitialised_directory_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let o = maand(dir.path(), &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("run `maand init`"), "{}", stderr(&o));
    let o = journal(dir.path(), &["sessions"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.path().join("data").exists(), "a reader created files");
}

#[test]
fn half_a_ca_is_refused() {
    let dir = fresh_bucket();
    std::fs::remove_file(dir.path().join("secrets/ca.key")).unwrap();
    assert_rejected(dir.path(), &["init"], &["secrets/ca.crt exists but secrets/ca.key does not"]);
}

#[test]
fn wrong_kv_key_size_is_refused() {
    let dir = fresh_bucket();
    std::fs::write(dir.path().join("secrets/kv.key"), b"short").unwrap();
    assert_rejected(dir.path(), &["init"], &["secrets/kv.key must hold exactly 32 bytes"]);
}

#[test]
fn bad_flags_exit_2() {
    let dir = fresh_bucket();
    let o = maand(dir.path(), &["info", "--nope"]);
    assert_eq!(o.status.code(), Some(2));
    let o = maand(dir.path(), &["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = journal(dir.path(), &["show", "abc"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("session id"), "{}", stderr(&o));
    let o = journal(dir.path(), &["show", "99"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn journal_format_newer_or_older_than_binary_is_refused() {
    let dir = fresh_bucket();
    let set_format = |v: u16| {
        let mut w = maand::journal::JournalWriter::open(&dir.path().join("data/journal.redb")).unwrap();
        w.set_format_version(v).unwrap();
    };
    set_format(maand::journal::codec::FORMAT_VERSION + 1);
    let o = maand(dir.path(), &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("upgrade maand"), "{}", stderr(&o));
    let o = maand(dir.path(), &["init"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("upgrade maand"), "{}", stderr(&o));
    set_format(0);
    let o = maand(dir.path(), &["info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("run `maand init` to upgrade"), "{}", stderr(&o));
    // ... and `maand init` does upgrade it, recording the upgrade.
    ok(&maand(dir.path(), &["init"]));
    ok(&maand(dir.path(), &["info"]));
    let last_init = stdout(&journal(dir.path(), &["show", "2"]));
    assert!(last_init.contains("format_upgraded"), "{last_init}");
    ok(&journal(dir.path(), &["verify"]));
}

/// A control host without a tool deploy needs is told which one, before
/// anything is recorded; a file of that name that cannot be executed does
/// not count (PATH lookup through the `which` crate, not a bare `is_file`).
#[test]
fn deploy_names_a_missing_control_host_tool() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "127.0.0.1"}]"#);
    ok(&maand(p, &["job", "create", "web"]));
    ok(&maand(p, &["build"]));
    write(p, "secrets/worker.key", "not a real key\n");
    let bin = tempfile::tempdir().unwrap();
    for tool in ["ssh", "rsync"] {
        std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bin.path().join(tool)).unwrap();
    }
    std::fs::write(bin.path().join("python3"), "").unwrap(); // not executable
    let before = event_count(p);
    let o = std::process::Command::new(maand_bin())
        .args(["deploy"])
        .current_dir(p)
        .env("PATH", bin.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("python3 is not installed on this control host"), "{}", stderr(&o));
    assert_eq!(event_count(p), before, "nothing recorded");
}
