//! SSH on the control host against another local user (docs/security.md):
//! maand never uses a control-socket directory someone else prepared, and a
//! killed maand leaves no SSH connection behind. Real loopback sshd
//! workers; the attacker is a real unprivileged account.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bucket_for(w: &TestWorkers) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["web"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    ok(&maand(p, &["build"]));
    dir
}

/// `maand <args>` in `dir` with environment overrides (`None` removes).
fn maand_env(dir: &Path, args: &[&str], env: &[(&str, Option<&Path>)]) -> Output {
    let mut c = Command::new(maand_bin());
    c.args(args).current_dir(dir).env_remove("MAAND_BUCKET");
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.output().unwrap()
}

/// Names below `dir`, recursively (as root: whatever the attacker made).
fn listing(dir: &Path) -> Vec<String> {
    let o = Command::new("find").arg(dir).arg("-printf").arg("%p %u %m %y\n").output().unwrap();
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn control_socket_directory_prepared_by_another_user_is_avoided_or_refused() {
    let Some(w) = start_or_skip(1) else { return };
    if hostile::attacker().is_none() {
        return;
    }
    let dir = bucket_for(&w);
    let p = dir.path();
    let ip = &w.ips[0];
    let secret = format!("genuine-{}", std::process::id());
    std::fs::write(w.opt(ip).join("marker"), &secret).unwrap();
    let area = tempfile::tempdir().unwrap();
    std::fs::set_permissions(area.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let a = area.path().display().to_string();

    // 1. $XDG_RUNTIME_DIR points at a directory the attacker owns, with a
    //    world-writable `maand/` and a listening socket in it: avoided.
    hostile::sh(&format!(
        "mkdir -m 700 {a}/xdg && mkdir -m 777 {a}/xdg/maand && \
         (python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(20); s.bind(sys.argv[1]); s.listen(64); \
          c,_=s.accept(); open(sys.argv[2],\"w\").write(\"hijacked\")' {a}/xdg/maand/trap {a}/xdg/maand/caught \
          >/dev/null 2>&1 & ) && sleep 0.3"
    ));
    let before = listing(&area.path().join("xdg"));
    assert!(before.iter().any(|l| l.ends_with(&format!("/maand/trap {} 755 s", hostile::USER))), "{before:?}");
    let xdg = area.path().join("xdg");
    let o = maand_env(p, &["run_command", "cat /opt/worker/marker", "-w", ip], &[("XDG_RUNTIME_DIR", Some(&xdg))]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains(&secret), "the real worker answered: {}", stdout(&o));
    assert!(stderr(&o).contains("SSH control sockets: not using"), "{}", stderr(&o));
    assert_eq!(listing(&xdg), before, "maand created nothing in the attacker's directory");
    assert!(!xdg.join("maand/caught").exists());

    // 2. No runtime dir, no usable home: the fallback `$TMPDIR/maand-<uid>`
    //    was pre-created by the attacker: refused, naming it and its owner.
    let (uid, _) = hostile::attacker().unwrap();
    std::fs::create_dir(area.path().join("tmp")).unwrap();
    std::fs::set_permissions(area.path().join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    // (A sticky, world-writable place like /tmp, owned by root.)
    hostile::sh(&format!("mkdir -m 700 {a}/tmp/maand-0"));
    let tmp = area.path().join("tmp");
    let env: [(&str, Option<&Path>); 3] =
        [("XDG_RUNTIME_DIR", None), ("HOME", Some(Path::new("/nonexistent"))), ("TMPDIR", Some(&tmp))];
    let o = maand_env(p, &["run_command", "cat /opt/worker/marker", "-w", ip], &env);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("no private directory for SSH control sockets"), "{err}");
    assert!(err.contains(&format!("{a}/tmp/maand-0 belongs to uid {uid}, not to you (uid 0)")), "{err}");
    assert!(!stdout(&o).contains(&secret));

    // 3. ... or a symbolic link to the attacker's directory: refused too.
    hostile::sh(&format!("rmdir {a}/tmp/maand-0 && mkdir -m 700 {a}/tmp/mine && ln -s {a}/tmp/mine {a}/tmp/maand-0"));
    let o = maand_env(p, &["run_command", "true", "-w", ip], &env);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("maand-0 is a symbolic link"), "{}", stderr(&o));
    assert_eq!(listing(&tmp.join("mine")), vec![format!("{a}/tmp/mine {} 700 d", hostile::USER)]);

    // 4. Our own fallback directory, created by maand, works.
    std::fs::remove_file(tmp.join("maand-0")).unwrap();
    let o = maand_env(p, &["run_command", "cat /opt/worker/marker", "-w", ip], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(&secret));
    assert!(listing(&tmp).contains(&format!("{a}/tmp/maand-0 root 700 d")), "{:?}", listing(&tmp));
    // Its master stays up for the next command (ssh_control_persist), in
    // there and private: the socket and its lock file, nothing else, none
    // open to group or others.
    let left: Vec<String> = listing(&tmp.join("maand-0")).into_iter().skip(1).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    for l in &left {
        assert!(l.ends_with(" root 600 f") || l.ends_with(" root 600 s"), "{l}");
    }
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

#[test]
fn a_killed_deploy_leaves_no_ssh_connection_running() {
    killed_deploy_leaves(0, "no ssh at all");
}

#[test]
fn a_killed_deploy_with_persistent_masters_leaves_only_idle_masters() {
    killed_deploy_leaves(60, "only the idle masters");
}

/// Kill a deploy while `make start` runs on every worker; with
/// `ssh_control_persist = persist` what may stay behind is `expected`.
fn killed_deploy_leaves(persist: u32, expected: &str) {
    let Some(w) = start_or_skip(2) else { return };
    let dir = bucket_for(&w);
    let p = dir.path();
    set_conf(p, "ssh_control_persist", &persist.to_string());
    write(p, "workspace/jobs/slow/manifest.json", r#"{"version": "1", "selectors": ["web"]}"#);
    write(
        p,
        "workspace/jobs/slow/Makefile",
        "start:\n\t@mkdir -p data && touch data/started && sleep 20\nstop:\n\ttrue\n",
    );
    ok(&maand(p, &["build"]));
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let key = p.join("secrets/worker.key").display().to_string();
    let mut child = Command::new(maand_bin())
        .arg("deploy")
        .current_dir(p)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = |ip: &String| w.opt(ip).join(&bid).join("jobs/slow/data/started").exists();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !w.ips.iter().all(started) {
        assert!(Instant::now() < deadline, "deploy never reached make start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!processes_mentioning(&key).is_empty(), "ssh is running while the deploy runs");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // A persistent master runs no session: it is `ssh -N -f` waiting
        // for the next command, and ends after `persist` idle seconds.
        let left: Vec<String> = processes_mentioning(&key)
            .into_iter()
            .filter(|c| persist == 0 || !c.contains(&format!("ControlPersist={persist}s")))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{expected} should be left 5 s after maand was killed, but:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
