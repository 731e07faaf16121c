//! Deploy one job to 16 loopback sshd workers in batches of 4, next to the
//! floors and to Ansible, all in the same run (issue: scale and speed):
//!
//! - floor, multiplexed: rsync of the job + `make restart` per worker in
//!   batches of 4 over SSH connections that are already open;
//! - floor, fresh: the same with a new SSH connection for each step;
//! - maand: whole `maand deploy --build` commands — first deploy with cold
//!   connections, then a one-file upgrade (masters kept from the previous
//!   command by `ssh_control_persist`), then the same upgrade with
//!   `ssh_control_persist = 0` (cold), and an unchanged redeploy;
//! - Ansible's best: rsync from the control host (what `synchronize` runs)
//!   and `make restart`, `serial: 4`, pipelining, warm ControlPersist (the
//!   second of two runs). `ansible-core` is installed from PyPI into
//!   `target/bench-ansible/` when it is not on the PATH; the bench fails
//!   without it rather than skip the comparison.
//!
//! Beside each wall time, the control host's CPU (user + system of the
//! contender and every client process it waited for: ssh, rsync, make's
//! shells), since on a small machine running the workers too the CPU a
//! contender burns is what its wall time is made of.
//!
//! Needs root, openssh-server, rsync; uses scripts/workers.sh. Each figure is
//! the median of `RUNS` runs. Run: `cargo bench --bench deploy`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

const RUNS: usize = 5;
const JOB_DIR: &str = "/opt/worker/floor/jobs/app";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn maand(p: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_maand")).args(args).current_dir(p).output().unwrap();
    assert!(o.status.success(), "maand {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    t.elapsed().as_secs_f64()
}

/// CPU seconds (user + system) of the children this process waited for so
/// far: the control host's share of a contender's work (maand or the
/// floor's shells, with the ssh, rsync and make clients they waited for).
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Median wall time and median control-host CPU of `runs` calls of `f`.
fn measured(runs: usize, mut f: impl FnMut() -> f64) -> (f64, f64) {
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let c = children_cpu();
        walls.push(f());
        cpus.push(children_cpu() - c);
    }
    (median(walls), median(cpus))
}

fn write(p: &Path, rel: &str, body: &str) {
    let f = p.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, body).unwrap();
}

/// The job every contender ships: a Makefile lifecycle and 21 files.
fn job_files(dir: &Path, version: &str) {
    write(dir, "Makefile", "start:\n\t@true\nstop:\n\t@true\nrestart: stop start\n");
    write(dir, "config.txt", &format!("{version}\n"));
    for i in 0..20 {
        write(dir, &format!("static/file{i}.txt"), &format!("static content {i}\n"));
    }
}

/// ssh options of the floors: `control` = Some(path) joins (or starts) a
/// multiplexed connection there.
fn ssh_args(key: &Path, control: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> =
        ["-i", key.to_str().unwrap(), "-p", "2222", "-o", "BatchMode=yes"].into_iter().map(String::from).collect();
    for o in ["StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR"] {
        a.extend(["-o".into(), o.into()]);
    }
    match control {
        Some(c) => a.extend([
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            "ControlPersist=120".into(),
            "-o".into(),
            format!("ControlPath={}/%C", c.display()),
        ]),
        None => a.extend(["-o".into(), "ControlPath=none".into()]),
    }
    a
}

/// rsync + `make restart` on every worker, batches of 4, in parallel within
/// a batch.
fn floor(ips: &[String], key: &Path, job: &Path, control: Option<&Path>) -> f64 {
    let ssh = ssh_args(key, control);
    let rsh = std::iter::once("ssh".to_string()).chain(ssh.iter().cloned()).collect::<Vec<_>>().join(" ");
    let t = Instant::now();
    for batch in ips.chunks(4) {
        let step = |ip: &String| -> Child {
            let script = format!(
                "rsync -a --checksum --mkpath -e '{rsh}' {src}/ root@{ip}:{JOB_DIR}/ && ssh {args} root@{ip} make -s -C {JOB_DIR} restart",
                src = job.display(),
                args = ssh.join(" ")
            );
            Command::new("bash").arg("-c").arg(script).spawn().unwrap()
        };
        let children: Vec<Child> = batch.iter().map(step).collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
    }
    t.elapsed().as_secs_f64()
}

/// `ansible-playbook`, from the PATH or installed from PyPI into `target/`.
fn ansible_playbook(root: &Path) -> PathBuf {
    if Command::new("ansible-playbook").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return PathBuf::from("ansible-playbook");
    }
    let venv = root.join("target/bench-ansible");
    let bin = venv.join("bin/ansible-playbook");
    if !bin.exists() {
        let ok = Command::new("python3").arg("-m").arg("venv").arg(&venv).status().is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "ansible-core"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "installing ansible-core from PyPI into {} failed: the comparison is part of this bench",
            venv.display()
        );
    }
    bin
}

/// Ansible's best for the same upgrade; the median of warm runs.
fn ansible(root: &Path, ips: &[String], key: &Path, job: &Path) -> f64 {
    let playbook_bin = ansible_playbook(root);
    let dir = tempfile::tempdir().unwrap();
    let cp = dir.path().join("cp");
    std::fs::create_dir(&cp).unwrap();
    let rsh = std::iter::once("ssh".to_string()).chain(ssh_args(key, Some(&cp))).collect::<Vec<_>>().join(" ");
    let hosts: String = ips.iter().map(|ip| format!("{ip}\n")).collect();
    let inventory = format!(
        "[workers]\n{hosts}\n[workers:vars]\nansible_port=2222\nansible_user=root\nansible_ssh_private_key_file={}\n\
         ansible_python_interpreter=python3\n",
        key.display()
    );
    std::fs::write(dir.path().join("hosts"), inventory).unwrap();
    let cfg = format!(
        "[defaults]\nhost_key_checking = False\nforks = 16\n[ssh_connection]\npipelining = True\n\
         ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no\n\
         control_path_dir = {}\n",
        cp.display()
    );
    std::fs::write(dir.path().join("ansible.cfg"), cfg).unwrap();
    let playbook = format!(
        "- hosts: workers\n  serial: 4\n  gather_facts: false\n  tasks:\n\
         \x20   - name: ship the job\n      ansible.builtin.command: rsync -a --checksum --mkpath -e \"{rsh}\" {src}/ root@{{{{ inventory_hostname }}}}:/opt/worker/ansible/jobs/app/\n      delegate_to: localhost\n\
         \x20   - name: restart it\n      ansible.builtin.command: make -s -C /opt/worker/ansible/jobs/app restart\n",
        src = job.display()
    );
    std::fs::write(dir.path().join("play.yml"), playbook).unwrap();
    let run = || {
        let t = Instant::now();
        let o = Command::new(&playbook_bin)
            .args(["-i", "hosts", "play.yml"])
            .current_dir(dir.path())
            .env("ANSIBLE_CONFIG", dir.path().join("ansible.cfg"))
            .output()
            .unwrap();
        assert!(o.status.success(), "ansible: {}", String::from_utf8_lossy(&o.stdout));
        t.elapsed().as_secs_f64()
    };
    run(); // first contact opens the persistent connections
    median((0..RUNS).map(|_| run()).collect())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wdir = tempfile::tempdir().unwrap();
    let st = Command::new("bash")
        .arg(root.join("scripts/workers.sh"))
        .args(["start", "16"])
        .arg(wdir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let ips: Vec<String> =
        std::fs::read_to_string(wdir.path().join("ips")).unwrap().split_whitespace().map(String::from).collect();
    let key = wdir.path().join("client.key");

    let job = tempfile::tempdir().unwrap();
    job_files(job.path(), "v1");
    let cp = tempfile::tempdir().unwrap();
    floor(&ips, &key, job.path(), Some(cp.path())); // opens the connections
    let (floor_mux, floor_mux_cpu) = measured(RUNS, || floor(&ips, &key, job.path(), Some(cp.path())));
    let (floor_fresh, floor_fresh_cpu) = measured(RUNS, || floor(&ips, &key, job.path(), None));
    for ip in &ips {
        let _ = Command::new("ssh").args(ssh_args(&key, Some(cp.path()))).args(["-O", "exit"]).arg(ip).output();
    }

    let bucket = tempfile::tempdir().unwrap();
    let p = bucket.path();
    maand(p, &["init"]);
    std::fs::copy(&key, p.join("secrets/worker.key")).unwrap();
    let conf = |persist: u32| {
        format!(
            "ssh_user = \"root\"\nssh_port = 2222\nuse_sudo = false\nhook_api_port = 0\nssh_control_persist = {persist}\n"
        )
    };
    write(p, "maand.conf", &conf(60));
    let ws: Vec<String> = ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(
        p,
        "workspace/jobs/app/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": 4, "max_concurrent_starts": 4}"#,
    );
    job_files(&p.join("workspace/jobs/app"), "v1");
    let c = children_cpu();
    let first = maand(p, &["deploy", "--build"]);
    let first_cpu = children_cpu() - c;
    let mut n = 1;
    let mut upgrade = || {
        n += 1;
        write(p, "workspace/jobs/app/config.txt", &format!("v{n}\n"));
        maand(p, &["deploy", "--build"])
    };
    let (warm, warm_cpu) = measured(RUNS, &mut upgrade);
    write(p, "maand.conf", &conf(0));
    let (cold, cold_cpu) = measured(RUNS, &mut upgrade);
    write(p, "maand.conf", &conf(60));
    upgrade();
    let (noop, noop_cpu) = measured(RUNS, || maand(p, &["deploy", "--build"]));

    let ansible = ansible(root, &ips, &key, job.path());
    let _ = Command::new("bash").arg(root.join("scripts/workers.sh")).arg("stop").arg(wdir.path()).status();

    println!("16 workers, one job, batches of 4, whole commands, median of {RUNS}:");
    println!("| what | median | vs multiplexed floor | control-host CPU |");
    println!("|---|---:|---:|---:|");
    let row = |what: &str, t: f64, cpu: Option<f64>| {
        let cpu = cpu.map_or("—".to_string(), |c| format!("{c:.2} s"));
        println!("| {what} | {t:.2} s | {:.1}x | {cpu} |", t / floor_mux)
    };
    row("floor: rsync + `make restart`, connections already open", floor_mux, Some(floor_mux_cpu));
    row("floor: rsync + `make restart`, fresh connection per step", floor_fresh, Some(floor_fresh_cpu));
    row("maand: first deploy (cold connections)", first, Some(first_cpu));
    row("maand: one-file upgrade, warm (ssh_control_persist = 60)", warm, Some(warm_cpu));
    row("maand: one-file upgrade, cold (ssh_control_persist = 0)", cold, Some(cold_cpu));
    row("maand: unchanged redeploy, warm", noop, Some(noop_cpu));
    row("Ansible best: rsync + make restart, serial 4, pipelining, warm ControlPersist", ansible, None);
    println!(
        "first deploy / fresh floor = {:.2}; warm upgrade / multiplexed floor = {:.2}; Ansible / warm maand = {:.1}",
        first / floor_fresh,
        warm / floor_mux,
        ansible / warm
    );
}
