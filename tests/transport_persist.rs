//! SSH masters that outlive a command (`ssh_control_persist`), on real
//! loopback sshd workers: reused by the next command, never past the
//! configured idle time, refused when the worker's host key changed, closed
//! when the key changes or the worker leaves, in a 0700 directory.

mod common;
use common::workers::{self, start_or_skip};
use common::*;
use maand::bucket::{BucketPaths, MaandConf};
use maand::transport::{Transport, control, persist};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn set_persist(bucket: &Path, secs: u32) -> MaandConf {
    set_conf(bucket, "ssh_control_persist", &secs.to_string());
    MaandConf::load(&bucket.join("maand.conf")).unwrap()
}

fn socket(p: &Path, conf: &MaandConf, ip: &str) -> PathBuf {
    let t = Transport::new(&BucketPaths::new(p), conf);
    let key = persist::key_hash(&p.join("secrets").join(&conf.ssh_key));
    persist::socket_path(&t.control_dir().unwrap(), p, &conf.ssh_user, ip, conf.ssh_port, &key)
}

/// The pid `ssh -O check` reports for the master on `socket`.
fn master_pid(socket: &Path) -> Option<u32> {
    let o = Command::new("ssh")
        .args(["-o", "ControlMaster=no", "-o"])
        .arg(format!("ControlPath={}", socket.display()))
        .args(["-O", "check", "root@x"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    let at = text.find("pid=")? + 4;
    text[at..].trim_end_matches(|c: char| !c.is_ascii_digit()).split(')').next()?.parse().ok()
}

#[test]
fn a_master_is_reused_by_the_next_command_and_pinning_still_holds() {
    let Some(mut workers) = start_or_skip(2) else { return };
    let bucket = fresh_bucket();
    let p = bucket.path();
    workers.configure_bucket(p);
    let conf = set_persist(p, 60);
    let paths = BucketPaths::new(p);
    let ip = workers.ips[0].clone();

    let t = Transport::new(&paths, &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    let dir = t.control_dir().unwrap();
    drop(t);
    // The directory holding live connections is the owner's alone.
    let m = std::fs::symlink_metadata(&dir).unwrap();
    assert_eq!(m.mode() & 0o777, 0o700);
    control::check_private(&dir).unwrap();

    let s = socket(p, &conf, &ip);
    let first = master_pid(&s).expect("the master outlives the command that opened it");
    let t = Transport::new(&paths, &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    drop(t);
    assert_eq!(master_pid(&s), Some(first), "the next command joins the same master");

    // Reinstalled worker, old connection still alive: the master is not
    // reused, and the fresh connection is refused by the pin.
    workers.reinstall(&ip);
    let t = Transport::new(&paths, &conf);
    let e = t.run(&ip, "true").unwrap_err();
    assert!(e.message().contains(&format!("worker {ip}: its SSH host key differs from the one pinned")), "{e}");
    assert_eq!(master_pid(&s), None, "the master to the old host was closed");
}

#[test]
fn masters_end_after_the_persist_time_or_with_the_command() {
    let Some(workers) = start_or_skip(1) else { return };
    let bucket = fresh_bucket();
    let p = bucket.path();
    workers.configure_bucket(p);
    let ip = workers.ips[0].clone();

    // 0: nothing outlives the command.
    let conf = set_persist(p, 0);
    let t = Transport::new(&BucketPaths::new(p), &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    let dir = t.control_dir().unwrap();
    drop(t);
    let ours = |d: &Path| {
        let (bucket, _) = control::name_parts(p, "root", &ip, workers::PORT);
        std::fs::read_dir(d).unwrap().filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name().into_string().unwrap();
            n.starts_with(&bucket) && !n.ends_with(".lock")
        })
    };
    assert!(!ours(&dir), "persist 0 leaves no socket behind");

    // 1 s: up right after the command, gone once idle that long.
    let conf = set_persist(p, 1);
    let t = Transport::new(&BucketPaths::new(p), &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    drop(t);
    let s = socket(p, &conf, &ip);
    assert!(s.exists(), "the master is up after the command");
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.exists() {
        assert!(Instant::now() < deadline, "the master outlived ssh_control_persist = 1");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(master_pid(&s), None);
}

#[test]
fn a_changed_key_or_a_retired_worker_closes_the_master() {
    let Some(workers) = start_or_skip(1) else { return };
    let bucket = fresh_bucket();
    let p = bucket.path();
    workers.configure_bucket(p);
    let conf = set_persist(p, 60);
    let ip = workers.ips[0].clone();
    let t = Transport::new(&BucketPaths::new(p), &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    drop(t);
    let old = socket(p, &conf, &ip);
    assert!(master_pid(&old).is_some());

    // Same key content under a rewritten file: same master. Another key:
    // the old master exits before a new one opens.
    let key = p.join("secrets/worker.key");
    let other = tempfile::tempdir().unwrap();
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(other.path().join("k"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(other.path().join("k"), &key).unwrap();
    let t = Transport::new(&BucketPaths::new(p), &conf);
    assert!(t.run(&ip, "true").is_err(), "the new key is not authorized on the worker");
    drop(t);
    assert_eq!(master_pid(&old), None, "the master of the old key was closed");

    std::fs::copy(workers.client_key(), &key).unwrap();
    let t = Transport::new(&BucketPaths::new(p), &conf);
    assert!(t.run(&ip, "true").unwrap().ok());
    assert!(master_pid(&old).is_some());
    t.retire(&ip);
    assert_eq!(master_pid(&old), None, "a retired worker's master is closed");
}
