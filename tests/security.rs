//! The control host against another local user (docs/security.md): the
//! hook API keeps serving maand's hooks under a connection flood, and after
//! a deploy no secret or private key is readable outside `secrets/` (nor by
//! the other user at all). The attacker is a real unprivileged account;
//! the workers are real loopback sshd.

mod common;
use common::workers::{TestWorkers, start_or_skip};
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The hook: tells the test its API port, waits for the flood, makes 30 API
/// calls (each must succeed within 20 s), then waits while the test probes
/// the server's timeouts.
const CALLS: &str = r#"
import json, os, time, maand
area = os.environ["AREA"]
open(os.path.join(area, "port"), "w").write(os.environ["HOOK_API_PORT"])
def wait(name):
    t = time.time()
    while not os.path.exists(os.path.join(area, name)):
        if time.time() - t > 90:
            raise SystemExit("gave up waiting for " + name)
        time.sleep(0.05)
wait("flood.ready")
lat = []
for i in range(30):
    t = time.time()
    maand.put_job_variable("k%d" % i, str(i)).raise_for_status()
    assert maand.get_kv_value("vars/job/web", "k%d" % i) == str(i)
    lat.append(time.time() - t)
json.dump({"calls": len(lat), "max_s": max(lat), "total_s": sum(lat)}, open(os.path.join(area, "calls.json"), "w"))
open(os.path.join(area, "calls.done"), "w").write("1")
wait("probes.done")
"#;

/// The attacker: 1,100 idle connections to the API (re-opened when the
/// server closes them), for at most 60 s, loopback only.
const FLOOD: &str = r#"
import json, os, resource, socket, sys, time
area, port = sys.argv[1], int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
N, start, opened, closed_by_server, failed = 1100, time.time(), 0, 0, 0
def connect():
    # One at a time, each completed: every one costs the server a descriptor.
    global opened, failed
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        failed += 1
        s.close()
        return None
    s.setblocking(False)
    opened += 1
    return s
socks = [connect() for _ in range(N)]
open(os.path.join(area, "flood.ready"), "w").write(str(sum(1 for s in socks if s)))
while time.time() - start < 60 and not os.path.exists(os.path.join(area, "calls.done")):
    for i, s in enumerate(socks):
        if s is not None:
            try:
                if s.recv(1, socket.MSG_PEEK) != b"":
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            closed_by_server += 1
            s.close()
        socks[i] = connect()
    time.sleep(0.05)
json.dump({"opened": opened, "closed_by_server": closed_by_server, "failed": failed}, open(os.path.join(area, "flood.json"), "w"))
"#;

/// A child process killed if the test fails before waiting for it.
struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(path: &Path, limit: Duration) {
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Seconds until the server closes `s` (reads until EOF or error).
fn seconds_until_closed(mut s: TcpStream) -> (f64, String) {
    let t = Instant::now();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (t.elapsed().as_secs_f64(), String::from_utf8_lossy(&got).into_owned())
}

#[test]
fn the_hook_api_serves_its_hooks_under_a_flood_and_closes_slow_clients() {
    if hostile::attacker().is_none() {
        return;
    }
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "hooks": {"hook_calls": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    write(p, "workspace/jobs/web/_hooks/hook_calls.py", CALLS);
    ok(&maand(p, &["build"]));
    let area = tempfile::tempdir().unwrap();
    std::fs::set_permissions(area.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let a = area.path();

    // maand with at most 1,024 open files, as the acceptance asks.
    let maand_run = Command::new("prlimit")
        .arg("--nofile=1024:1024")
        .arg("--")
        .arg(maand_bin())
        .args(["hooks", "hook_calls", "web"])
        .current_dir(p)
        .env("AREA", a)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut maand_run = KillOnDrop(Some(maand_run));
    wait_for(&a.join("port"), Duration::from_secs(30));
    let port: u16 = std::fs::read_to_string(a.join("port")).unwrap().trim().parse().unwrap();
    std::fs::write(a.join("flood.py"), FLOOD).unwrap();
    let flood = hostile::command("python3").arg(a.join("flood.py")).arg(a).arg(port.to_string()).spawn().unwrap();
    let mut flood = KillOnDrop(Some(flood));
    wait_for(&a.join("calls.done"), Duration::from_secs(90));
    assert!(flood.0.take().unwrap().wait().unwrap().success(), "the flood ran");
    let calls: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("calls.json")).unwrap()).unwrap();
    let floods: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("flood.json")).unwrap()).unwrap();
    let ready: usize = std::fs::read_to_string(a.join("flood.ready")).unwrap().parse().unwrap();
    eprintln!("flood: {ready} connections at start, {floods}; hook: {calls}");
    assert!(ready >= 1000, "the flood held {ready} connections");
    assert_eq!(calls["calls"], 30);
    assert!(calls["max_s"].as_f64().unwrap() < 10.0, "{calls}");

    // The flood is over; the hook still runs. A client that never finishes
    // its headers is closed after the header timeout (5 s) ...
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /kv HTTP/1.1\r\nHost: x\r\n").unwrap();
    let (secs, _) = seconds_until_closed(slow);
    assert!((4.0..12.0).contains(&secs), "slow headers closed after {secs:.1} s");
    // ... one announcing 10^12 bytes is refused before any is read ...
    let mut huge = TcpStream::connect(("127.0.0.1", port)).unwrap();
    huge.write_all(
        b"PUT /kv HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{}",
    )
    .unwrap();
    let (secs, answer) = seconds_until_closed(huge);
    assert!(secs < 3.0 && answer.starts_with("HTTP/1.1 413"), "{secs:.1} s: {answer}");
    // ... and one that stops sending its body is closed after the body timeout (10 s).
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled
        .write_all(b"PUT /kv HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{}")
        .unwrap();
    let (secs, answer) = seconds_until_closed(stalled);
    assert!((9.0..20.0).contains(&secs) && answer.starts_with("HTTP/1.1 408"), "{secs:.1} s: {answer}");
    std::fs::write(a.join("probes.done"), "1").unwrap();
    let out = maand_run.0.take().unwrap().wait_with_output().unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(kv_get(p, "vars/job/web", "k29"), "29");
}

/// The job of the deploy test: a `getSecret` template, a certificate, and
/// a post_deploy hook that looks at the control host while staging exists.
const SPY: &str = r#"
import json, os, subprocess
if "AREA" not in os.environ:
    raise SystemExit(0)
root, area = os.environ["BUCKET_ROOT"], os.environ["AREA"]
def as_attacker(cmd):
    r = subprocess.run(["setpriv", "--reuid=" + os.environ["ATTACKER_UID"], "--regid=" + os.environ["ATTACKER_GID"],
                        "--clear-groups", "bash", "-c", cmd], capture_output=True, text=True)
    return [r.returncode, r.stdout + r.stderr]
if not os.path.exists("/usr/bin/setpriv"):
    raise SystemExit("setpriv missing")
ip = os.environ["ALLOCATION_IP"]
staged = os.path.join(root, "tmp/workers", ip, "jobs/web")
out = {
    "staged_app_conf_mode": oct(os.stat(os.path.join(staged, "app.conf")).st_mode & 0o777),
    "staged_key_mode": oct(os.stat(os.path.join(staged, "certs/tls.key")).st_mode & 0o777),
    "staged_holds_secret": os.environ["SECRET"] in open(os.path.join(staged, "app.conf")).read(),
    "tmp_listing": as_attacker("ls " + os.path.join(root, "tmp")),
    "read_staged": as_attacker("cat " + os.path.join(staged, "app.conf")),
    "readable_files": as_attacker("find %s -type f -readable 2>/dev/null" % root),
}
json.dump(out, open(os.path.join(area, "spy-%s.json" % ip), "w"))
"#;

fn secure_bucket(w: &TestWorkers, secret: &str) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let ws: Vec<String> = w.ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1", "selectors": ["worker"],
  "certs": {"tls": {"subject": {"common_name": "web.internal"}}},
  "hooks": {"hook_seed": {"executed_on": ["cli"]}, "hook_spy": {"executed_on": ["post_deploy"]}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\t@true\nstop:\n\t@true\nrestart: stop start\n");
    write(p, "workspace/jobs/web/app.conf.tpl", "user = web\npassword = {{ getSecret \"db_password\" }}\n");
    write(p, "workspace/jobs/web/public.conf.tpl", "worker = {{ .WorkerIP }}\n");
    write(
        p,
        "workspace/jobs/web/_hooks/hook_seed.py",
        "import os, maand\nif maand.is_one_shot():\n    maand.put_job_secret('db_password', os.environ['SECRET']).raise_for_status()\n",
    );
    write(p, "workspace/jobs/web/_hooks/hook_spy.py", SPY);
    ok(&maand(p, &["build"]));
    let o = Command::new(maand_bin()).args(["hooks", "hook_seed", "web"]).current_dir(p).env("SECRET", secret).output();
    ok(&o.unwrap());
    dir
}

/// Every file under `dir` except those under `skip`.
fn files_under(dir: &Path, skip: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path == skip {
            continue;
        }
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&path, skip));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn after_a_deploy_secrets_and_keys_are_only_in_secrets_and_nothing_is_readable_by_others() {
    let Some(w) = start_or_skip(2) else { return };
    let Some((uid, gid)) = hostile::attacker() else { return };
    let secret = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let dir = secure_bucket(&w, &secret);
    let p = dir.path();
    hostile::open_up(p); // a bucket in a place other users can reach
    let area = tempfile::tempdir().unwrap();
    hostile::open_up(area.path());
    std::fs::set_permissions(area.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let a = area.path().display().to_string();
    // The attacker's runtime directory, with a world-writable maand/ and a
    // trap socket in it: the original hijack during a deploy.
    hostile::sh(&format!("mkdir -m 700 {a}/xdg && mkdir -m 777 {a}/xdg/maand"));
    let o = Command::new(maand_bin())
        .arg("deploy")
        .current_dir(p)
        .env("AREA", area.path())
        .env("SECRET", &secret)
        .env("ATTACKER_UID", uid.to_string())
        .env("ATTACKER_GID", gid.to_string())
        .env("XDG_RUNTIME_DIR", area.path().join("xdg"))
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(out.contains("web: promoted"), "{out}");
    assert_eq!(std::fs::read_dir(area.path().join("xdg/maand")).unwrap().count(), 0, "nothing in the attacker's dir");

    // While the deploy ran (post_deploy, staging in place): secret-bearing
    // staged files were 0600, and the other user could read nothing.
    for ip in &w.ips {
        let spy: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(area.path().join(format!("spy-{ip}.json"))).unwrap())
                .unwrap();
        assert_eq!(spy["staged_app_conf_mode"], "0o600", "{spy}");
        assert_eq!(spy["staged_key_mode"], "0o600", "{spy}");
        assert_eq!(spy["staged_holds_secret"], true, "the template was rendered: {spy}");
        assert_ne!(spy["tmp_listing"][0], 0, "tmp/ is closed to others: {spy}");
        assert_ne!(spy["read_staged"][0], 0, "{spy}");
        let readable = spy["readable_files"][1].as_str().unwrap();
        for line in readable.lines() {
            let rel = line.strip_prefix(&format!("{}/", p.display())).unwrap_or(line);
            assert!(rel == "maand.conf" || rel.starts_with("workspace/"), "readable by another user: {rel}");
        }
    }

    // After the deploy: no staged file is left (the empty directories stay
    // for the next deploy), the private directories are 0700, and no file
    // outside secrets/ holds the secret or a private key.
    assert_eq!(
        files_under(&p.join("tmp/workers"), Path::new("/nonexistent")),
        Vec::<PathBuf>::new(),
        "deploy staging emptied"
    );
    assert_eq!(std::fs::read_dir(p.join("tmp/hooks")).map(|d| d.count()).unwrap_or(0), 0, "hook staging removed");
    for d in ["data", "logs", "tmp", "secrets"] {
        assert_eq!(std::fs::metadata(p.join(d)).unwrap().mode() & 0o777, 0o700, "{d}/");
    }
    for f in files_under(p, &p.join("secrets")) {
        let raw = std::fs::read(&f).unwrap();
        let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(!has(secret.as_bytes()), "{} holds the secret", f.display());
        assert!(!has(b"PRIVATE KEY"), "{} holds a private key", f.display());
    }
    let readable = hostile::sh(&format!("find {} -type f -readable 2>/dev/null || true", p.display()));
    for line in readable.lines() {
        let rel = line.strip_prefix(&format!("{}/", p.display())).unwrap_or(line);
        assert!(rel == "maand.conf" || rel.starts_with("workspace/"), "readable by another user: {rel}");
    }

    // On the workers: secret-bearing files are 0600, others keep their mode.
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    for ip in &w.ips {
        let job = w.opt(ip).join(&bid).join("jobs/web");
        let mode = |f: &str| std::fs::metadata(job.join(f)).unwrap().mode() & 0o777;
        assert!(std::fs::read_to_string(job.join("app.conf")).unwrap().contains(&secret));
        assert_eq!(mode("app.conf"), 0o600, "rendered with getSecret");
        assert_eq!(mode("certs/tls.key"), 0o600);
        assert_eq!(mode("certs/tls.crt"), 0o644);
        assert_eq!(mode("public.conf"), 0o644, "a template without secrets keeps its mode");
        assert_eq!(
            mode(".") & 0o005,
            0o005,
            "the job directory keeps its usual mode (services may run as another user)"
        );
    }
    ok(&journal(p, &["verify"]));
}

#[test]
fn a_dry_run_keeps_its_staging_privately_and_hooks_never_overwrite_it() {
    let Some(w) = start_or_skip(1) else { return };
    let secret = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let dir = secure_bucket(&w, &secret);
    let p = dir.path();
    let out = ok(&maand(p, &["deploy", "--dry-run"]));
    assert!(out.contains("staged files kept in tmp/workers/ (readable only by you"), "{out}");
    let staged = p.join("tmp/workers").join(&w.ips[0]).join("jobs/web");
    let app = std::fs::read_to_string(staged.join("app.conf")).unwrap();
    assert!(app.contains(&secret), "{app}");
    assert_eq!(std::fs::metadata(staged.join("app.conf")).unwrap().mode() & 0o777, 0o600);
    // A hook run stages elsewhere and leaves the deploy's files as they were.
    let before = files_under(&p.join("tmp/workers"), Path::new("/nonexistent"));
    let o =
        Command::new(maand_bin()).args(["hooks", "hook_seed", "web"]).current_dir(p).env("SECRET", &secret).output();
    ok(&o.unwrap());
    assert_eq!(files_under(&p.join("tmp/workers"), Path::new("/nonexistent")), before);
    assert_eq!(std::fs::read_to_string(staged.join("app.conf")).unwrap(), app);
    assert!(!staged.join("maand.py").exists() && !staged.join("app.conf.tpl").exists());
    assert_eq!(std::fs::read_dir(p.join("tmp/hooks")).unwrap().count(), 0, "hook staging removed after the run");
    // The next deploy removes the dry run's output.
    ok(&maand(p, &["deploy"]));
    assert_eq!(files_under(&p.join("tmp/workers"), Path::new("/nonexistent")), Vec::<PathBuf>::new());
    // Templates holding secrets are re-rendered with the bucket's key.
    replay_checks(p, &["build", "reconcile", "staged", "rollout", "hooks"]);
}

/// maand raises its open-files soft limit to the hard limit at start (the
/// hook API and SSH hold descriptors; a low soft limit must not be what a
/// flood exhausts first); hooks inherit it.
#[test]
fn maand_raises_its_open_files_soft_limit() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "maand.conf", "hook_api_port = 0\n");
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1", "selectors": ["worker"], "hooks": {"hook_limit": {"executed_on": ["cli"]}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\ttrue\n");
    write(
        p,
        "workspace/jobs/web/_hooks/hook_limit.py",
        "import resource\nprint('nofile', *resource.getrlimit(resource.RLIMIT_NOFILE))\n",
    );
    ok(&maand(p, &["build"]));
    let o = Command::new("prlimit")
        .args(["--nofile=256:2048", "--"])
        .arg(maand_bin())
        .args(["hooks", "hook_limit", "web", "--verbose"])
        .current_dir(p)
        .output()
        .unwrap();
    assert!(ok(&o).contains("nofile 2048 2048"), "{}", stdout(&o));
}
