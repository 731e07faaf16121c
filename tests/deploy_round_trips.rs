//! What a warm deploy costs each worker, counted on real loopback sshd
//! workers through logging `ssh` and `rsync` wrappers first on maand's PATH:
//! a one-file upgrade with persistent masters starts, per worker, one `ssh`
//! (the host-key probe) and one `rsync` (with its `ssh` transport) — the
//! checks, `worker.json` and the lifecycle go over the master with no
//! process of their own, and the lifecycle runs `make` without Python. And
//! the staging area deploy keeps between runs (directories, no files) never
//! leaks an old layout onto a worker.

mod common;
use common::workers::start_or_skip;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const MAKEFILE: &str = "start:\n\t@echo started >> data/history\nstop:\n\t@true\nrestart: stop start\n";

/// A directory holding `ssh` and `rsync` wrappers that log their arguments
/// (one line per call, to `<name>.log` beside them) and run the real tool.
fn wrappers() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for tool in ["ssh", "rsync"] {
        let w = d.path().join(tool);
        let real = String::from_utf8(Command::new("which").arg(tool).output().unwrap().stdout).unwrap();
        let log = d.path().join(format!("{tool}.log"));
        std::fs::write(&w, format!("#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n", log.display(), real.trim()))
            .unwrap();
        std::fs::set_permissions(&w, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

fn logged(d: &Path, tool: &str) -> Vec<String> {
    std::fs::read_to_string(d.join(format!("{tool}.log"))).unwrap_or_default().lines().map(String::from).collect()
}

#[test]
fn a_warm_upgrade_costs_one_probe_and_one_rsync_per_worker() {
    let Some(w) = start_or_skip(2) else { return };
    let dir = w.bucket();
    let p = dir.path();
    set_conf(p, "ssh_control_persist", "60");
    write(
        p,
        "workspace/jobs/app/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": 1}"#,
    );
    write(p, "workspace/jobs/app/Makefile", MAKEFILE);
    write(p, "workspace/jobs/app/config.txt", "v1\n");
    for i in 0..5 {
        write(p, &format!("workspace/jobs/app/static/f{i}.txt"), "same on every worker\n");
    }
    ok(&maand(p, &["deploy", "--build"]));

    write(p, "workspace/jobs/app/config.txt", "v2\n");
    let bin = wrappers();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(maand_bin()).args(["deploy", "--build"]).current_dir(p).env("PATH", path).output().unwrap();
    ok(&out);

    let ssh = logged(bin.path(), "ssh");
    let rsync = logged(bin.path(), "rsync");
    let probes: Vec<&String> = ssh.iter().filter(|l| l.contains("StrictHostKeyChecking=yes")).collect();
    let transports: Vec<&String> = ssh.iter().filter(|l| l.contains("rsync --server")).collect();
    assert_eq!(probes.len(), 2, "one host-key probe per worker: {ssh:#?}");
    assert_eq!(transports.len(), 2, "one rsync transport per worker: {ssh:#?}");
    assert_eq!(ssh.len(), 4, "no other ssh (checks, worker.json, lifecycle go over the master): {ssh:#?}");
    assert_eq!(rsync.len(), 2, "one rsync per worker ships the top files and the job: {rsync:#?}");
    for ip in &w.ips {
        let bid = kv_get(p, "maand/bucket", "bucket_id");
        let root = w.opt(ip).join(&bid);
        assert_eq!(std::fs::read_to_string(root.join("jobs/app/config.txt")).unwrap(), "v2\n");
        assert_eq!(std::fs::read_to_string(root.join("jobs/app/data/history")).unwrap(), "started\nstarted\n");
        let wj: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("worker.json")).unwrap()).unwrap();
        assert_eq!(wj["update_seq"], 2, "worker.json written in this deploy");
        assert!(root.join("bin/runner.py").is_file(), "runner.py stays for the original's interface");
    }
    replay_checks(p, &["build", "reconcile", "staged", "rollout"]);
}

#[test]
fn the_kept_staging_directories_never_reach_a_worker() {
    let Some(w) = start_or_skip(1) else { return };
    let dir = w.bucket();
    let p = dir.path();
    write(p, "workspace/jobs/app/manifest.json", r#"{"version": "1.0.0", "selectors": ["worker"]}"#);
    write(p, "workspace/jobs/app/Makefile", MAKEFILE);
    write(p, "workspace/jobs/app/conf/old/deep.txt", "old layout\n");
    write(p, "workspace/jobs/app/keep.txt", "1\n");
    ok(&maand(p, &["deploy", "--build"]));
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let job = w.opt(&w.ips[0]).join(&bid).join("jobs/app");
    assert!(job.join("conf/old/deep.txt").is_file());
    let staged = p.join("tmp/workers").join(&w.ips[0]).join("jobs/app");
    assert!(staged.join("conf/old").is_dir(), "directories stay for the next deploy");
    assert!(!staged.join("keep.txt").exists(), "files do not");

    // The subdirectory leaves the job: gone on the worker (rsync --delete),
    // not recreated from the staging area's old directories.
    std::fs::remove_dir_all(p.join("workspace/jobs/app/conf")).unwrap();
    write(p, "workspace/jobs/app/keep.txt", "2\n");
    ok(&maand(p, &["deploy", "--build"]));
    assert!(!job.join("conf").exists(), "the old layout is gone from the worker");
    assert_eq!(std::fs::read_to_string(job.join("keep.txt")).unwrap(), "2\n");
    assert!(!staged.join("conf").exists(), "and pruned from staging");
}
