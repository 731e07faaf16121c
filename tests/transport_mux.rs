//! Remote commands over a persistent master without an `ssh` process
//! (`transport::mux`), on a real loopback sshd worker: exit codes, both
//! output streams (large ones too), a command killed by a signal; and no
//! `ssh` started per command once the master is open — only the host-key
//! probe of each new command. Its own test binary: it puts a logging `ssh`
//! first on the PATH.

mod common;
use common::workers::start_or_skip;
use common::*;
use maand::bucket::{BucketPaths, MaandConf};
use maand::transport::Transport;
use std::os::unix::fs::PermissionsExt;

#[test]
fn commands_run_through_the_master_without_an_ssh_process() {
    let Some(workers) = start_or_skip(1) else { return };
    let bucket = fresh_bucket();
    let p = bucket.path();
    workers.configure_bucket(p);
    set_conf(p, "ssh_control_persist", "60");
    let conf = MaandConf::load(&p.join("maand.conf")).unwrap();
    let paths = BucketPaths::new(p);
    let ip = workers.ips[0].clone();

    // Every ssh this process starts is logged (one line each), then run.
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("ssh.log");
    let wrapper = bin.path().join("ssh");
    std::fs::write(&wrapper, format!("#!/bin/sh\necho \"$*\" >> {}\nexec /usr/bin/ssh \"$@\"\n", log.display()))
        .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    // SAFETY: this test binary runs this one test; nothing else reads the
    // environment concurrently.
    unsafe { std::env::set_var("PATH", path) };
    let ssh_lines = || std::fs::read_to_string(&log).unwrap_or_default().lines().count();

    let t = Transport::new(&paths, &conf);
    assert!(t.run(&ip, "true").unwrap().ok(), "opens the master");
    drop(t);
    let opened = ssh_lines();
    assert!(opened >= 1, "the master was opened by ssh");

    // The next command: one probe of the host key, then no ssh at all.
    let t = Transport::new(&paths, &conf);
    let r = t.run(&ip, "echo out; echo err >&2; exit 3").unwrap();
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (Some(3), "out\n", "err\n"));
    let big = t.run(&ip, "head -c 1000000 /dev/zero | tr '\\0' x; head -c 300000 /dev/zero | tr '\\0' y >&2").unwrap();
    assert_eq!(big.stdout.len(), 1_000_000, "all of a large output arrives");
    assert!(big.stdout.bytes().all(|b| b == b'x'));
    assert_eq!(big.stderr.len(), 300_000, "stderr is read while stdout is");
    let quoted = t.run(&ip, "printf '%s|' \"a b\" 'it'\\''s'").unwrap();
    assert_eq!(quoted.stdout, "a b|it's|");
    let lines = std::fs::read_to_string(&log).unwrap();
    let after: Vec<&str> = lines.lines().skip(opened).collect();
    assert_eq!(after.len(), 1, "only the host-key probe starts ssh: {after:#?}");
    assert!(
        after[0].contains("StrictHostKeyChecking=yes") && after[0].contains("PubkeyAuthentication=no"),
        "{after:?}"
    );

    // A command killed by a signal has no exit status: an error, no hang.
    let killed = t.run(&ip, "kill -9 $$");
    assert!(killed.is_err(), "{killed:?}");
    // The master still serves the next command.
    assert_eq!(t.run(&ip, "echo again").unwrap().stdout, "again\n");
}
