//! The SSH/rsync transport against real loopback sshd workers.

mod common;
use common::workers::{PORT, start_or_skip};
use common::*;
use maand::bucket::{BucketPaths, MaandConf};
use maand::transport::Transport;

#[test]
fn commands_rsync_and_pinned_host_keys_on_real_workers() {
    let Some(mut workers) = start_or_skip(3) else { return };
    let bucket = fresh_bucket();
    let p = bucket.path();
    workers.configure_bucket(p);
    let paths = BucketPaths::new(p);
    let conf = MaandConf::load(&paths.conf()).unwrap();
    assert_eq!(conf.ssh_port, PORT);
    let t = Transport::new(&paths, &conf);
    t.check_local().unwrap();
    for ip in &workers.ips {
        let r = t.run(ip, "echo $((40+2)) && ls -d /opt/worker && touch /opt/worker/marker").unwrap();
        assert!(r.ok(), "{r:?}");
        assert_eq!(r.stdout.lines().next(), Some("42"));
        assert!(workers.opt(ip).join("marker").exists(), "each worker has its own /opt/worker");
    }
    // First contact pinned each host key.
    let known = std::fs::read_to_string(p.join("secrets/known_hosts")).unwrap();
    for ip in &workers.ips {
        assert!(known.contains(&format!("[{ip}]:{PORT}")), "{known}");
    }
    // A failing remote command is a result, not a transport error.
    let r = t.run(&workers.ips[0], "exit 7").unwrap();
    assert_eq!(r.code, Some(7));

    // rsync compares content: a same-size edit in the same second is shipped.
    let src = tempfile::tempdir().unwrap();
    write(src.path(), "conf/app.conf", "value=1\n");
    let ip = workers.ips[1].clone();
    t.rsync(&ip, src.path(), "/opt/worker/b1/jobs/web/", &[]).unwrap();
    assert_eq!(std::fs::read_to_string(workers.opt(&ip).join("b1/jobs/web/conf/app.conf")).unwrap(), "value=1\n");
    write(src.path(), "conf/app.conf", "value=2\n");
    t.rsync(&ip, src.path(), "/opt/worker/b1/jobs/web/", &[]).unwrap();
    assert_eq!(std::fs::read_to_string(workers.opt(&ip).join("b1/jobs/web/conf/app.conf")).unwrap(), "value=2\n");

    // A reinstalled worker (new host key) is refused with a clear message.
    workers.reinstall(&ip);
    drop(t);
    let t = Transport::new(&paths, &conf);
    let e = t.run(&ip, "true").unwrap_err();
    assert!(e.message().contains(&format!("worker {ip}: its SSH host key differs from the one pinned")), "{e}");
    // An unreachable worker names the worker.
    let gone = workers.ips[2].clone();
    workers.stop(&gone);
    let e = t.run(&gone, "true").unwrap_err();
    assert!(e.message().starts_with(&format!("worker {gone}: cannot connect over SSH as root@{gone}:{PORT}")), "{e}");
}
