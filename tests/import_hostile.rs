//! Hostile and damaged files where `maand init` imports the original
//! maand's bucket: links out of the bucket, oversized, cut short or foreign
//! databases, rows of the wrong type or size, a shared or linked kv.key.
//! Each is refused with a message naming file, table or field and why,
//! exit 2, no panic, and nothing written: the bucket's files (and whatever
//! a link points at) are as they were, no journal is made.

mod common;

use common::legacy::{original_bucket, tree};
use common::*;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// An original bucket with job `api` on two workers.
fn bucket() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    original_bucket(dir.path(), &["10.0.0.1", "10.0.0.2"], &[("10.0.0.1", "a1b2c3")], false);
    dir
}

/// `maand init` refuses with `want` in its message and changes nothing;
/// the message.
fn refused(d: &Path, want: &str) -> String {
    let before = tree(d);
    let o = maand(d, &["init"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(want), "want {want:?} in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(tree(d), before, "init wrote something: {err}");
    assert!(!d.join("data/journal.redb").exists());
    err
}

/// Move the bucket's file `rel` out of it, a link to it in its place;
/// the folder it went to and its path there.
fn moved_out(d: &Path, rel: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let outside = tempfile::tempdir().unwrap();
    let to = outside.path().join(Path::new(rel).file_name().unwrap());
    std::fs::rename(d.join(rel), &to).unwrap();
    symlink(&to, d.join(rel)).unwrap();
    (outside, to)
}

fn sql(d: &Path, statement: &str) {
    rusqlite::Connection::open(d.join("data/maand.db")).unwrap().execute_batch(statement).unwrap();
}

#[test]
fn a_linked_maand_db_is_refused_whatever_it_points_at() {
    // At a system file.
    let dir = bucket();
    let d = dir.path();
    let passwd = std::fs::read("/etc/passwd").unwrap();
    std::fs::remove_file(d.join("data/maand.db")).unwrap();
    symlink("/etc/passwd", d.join("data/maand.db")).unwrap();
    refused(d, "data/maand.db is a symbolic link (to \"/etc/passwd\")");
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd);

    // At a real original database outside the bucket.
    let dir = bucket();
    let d = dir.path();
    let (outside, db) = moved_out(d, "data/maand.db");
    let bytes = std::fs::read(&db).unwrap();
    refused(d, "data/maand.db is a symbolic link");
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "the file outside is untouched");
    assert!(!outside.path().join("maand.db.original").exists());
}

#[test]
fn a_linked_backup_is_refused_and_a_planted_temporary_link_is_never_written_through() {
    let dir = bucket();
    let d = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let copy = outside.path().join("copy.db");
    std::fs::copy(d.join("data/maand.db"), &copy).unwrap();
    symlink(&copy, d.join("data/maand.db.original")).unwrap();
    refused(d, "data/maand.db.original is a symbolic link");

    // The backup's temporary name planted as a link: the import goes on
    // and replaces the link, never writing where it points.
    std::fs::remove_file(d.join("data/maand.db.original")).unwrap();
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "keep me\n").unwrap();
    symlink(&victim, d.join("data/maand.db.original.tmp")).unwrap();
    ok(&maand(d, &["init"]));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    assert!(std::fs::symlink_metadata(d.join("data/maand.db.original")).unwrap().is_file());
}

#[test]
fn huge_cut_short_and_foreign_databases_are_refused() {
    // Oversized (sparse: no disk used).
    let dir = bucket();
    let d = dir.path();
    let f = std::fs::OpenOptions::new().write(true).open(d.join("data/maand.db")).unwrap();
    f.set_len((1 << 30) + 1).unwrap();
    refused(d, "data/maand.db holds 1073741825 bytes, more than the 1073741824 an original maand's database can be");

    // Cut short: half of it.
    let dir = bucket();
    let d = dir.path();
    let len = std::fs::metadata(d.join("data/maand.db")).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(d.join("data/maand.db")).unwrap().set_len(len / 2).unwrap();
    refused(d, "data/maand.db is a SQLite database that is damaged or cut short (database disk image is malformed)");

    // Not SQLite at all.
    let dir = bucket();
    let d = dir.path();
    std::fs::write(d.join("data/maand.db"), "id,name\n1,not a database\n").unwrap();
    refused(
        d,
        "data/maand.db is not a SQLite database: it is neither a database of the original maand nor this maand's projection",
    );

    // SQLite, but someone else's.
    let dir = bucket();
    let d = dir.path();
    std::fs::remove_file(d.join("data/maand.db")).unwrap();
    sql(d, "CREATE TABLE invoices (id INTEGER)");
    refused(d, "data/maand.db is a SQLite database without the original maand's tables (bucket, key_value)");
}

#[test]
fn rows_of_the_wrong_type_or_an_absurd_size_are_refused_naming_table_and_field() {
    let cases: [(&str, &str); 7] = [
        (
            "UPDATE worker SET worker_ip = x'00ff' WHERE worker_ip = '10.0.0.2'",
            "table worker: Invalid column type Blob at index: 1, name: worker_ip",
        ),
        ("UPDATE worker SET position = 'first'", "table worker: Invalid column type Text at index: 4, name: position"),
        (
            "UPDATE worker SET worker_ip = '../../etc' WHERE worker_ip = '10.0.0.2'",
            "table worker (worker_ip \"../../etc\"): worker_ip: \"../../etc\" is not an IP address or host name",
        ),
        ("UPDATE job SET name = 'api;rm -rf /'", "table job (name \"api;rm -rf /\"): name: job name"),
        (
            "UPDATE allocations SET job = '../api' WHERE worker_ip = '10.0.0.1'",
            "table allocations (job \"../api\", worker_ip \"10.0.0.1\"): job: job name",
        ),
        (
            "UPDATE key_value SET value = printf('%.*c', 2097152, 'x') WHERE key = 'mode'",
            "table key_value (namespace \"vars/job/api\", key \"mode\", version 1): value holds 2097152 bytes, more than the 1048576 maand accepts",
        ),
        (
            "UPDATE key_value SET namespace = printf('%.*c', 5000, 'n') WHERE key = 'mode'",
            "namespace holds 5000 bytes, more than the 1024 maand accepts",
        ),
    ];
    for (statement, want) in cases {
        let dir = bucket();
        let d = dir.path();
        sql(d, statement);
        let err = refused(d, want);
        assert!(err.contains("maand: error: data/maand.db (the original maand's database): table "), "{err}");
    }
}

#[test]
fn a_linked_or_shared_kv_key_is_refused() {
    let dir = bucket();
    let d = dir.path();
    let (_outside, key) = moved_out(d, "secrets/kv.key");
    refused(d, "secrets/kv.key is a symbolic link");
    assert_eq!(std::fs::metadata(&key).unwrap().len(), 32, "the key outside is untouched");

    let dir = bucket();
    let d = dir.path();
    std::fs::set_permissions(d.join("secrets/kv.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(d, "secrets/kv.key is readable or writable by others (mode 0644)");
    // Made private, the same bucket imports.
    std::fs::set_permissions(d.join("secrets/kv.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&maand(d, &["init"]));
}
