//! Deploy one job to 16 loopback sshd workers with max_concurrent_upgrades
//! 4 (first deploy, then a one-file upgrade), next to the floor: 16 × `ssh
//! true` in batches of 4 over the same transport (fresh connections, as a
//! deploy's first contact). Needs root, openssh-server, rsync; uses
//! scripts/workers.sh. Run: `cargo bench --bench deploy`.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn maand(p: &Path, args: &[&str]) -> f64 {
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_maand")).args(args).current_dir(p).output().unwrap();
    assert!(o.status.success(), "maand {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    t.elapsed().as_secs_f64()
}

fn write(p: &Path, rel: &str, body: &str) {
    let f = p.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, body).unwrap();
}

/// The same upgrade with Ansible (`serial: 4`): rsync from the control host
/// (what `synchronize` does) and `make restart` on each worker.
fn ansible(ips: &[String], key: &Path, job: &Path) -> Option<f64> {
    Command::new("ansible-playbook").arg("--version").output().ok().filter(|o| o.status.success())?;
    let dir = tempfile::tempdir().unwrap();
    let ssh = format!(
        "ssh -i {} -p 2222 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        key.display()
    );
    let hosts: String = ips.iter().map(|ip| format!("{ip}\n")).collect();
    let inventory = format!(
        "[workers]\n{hosts}\n[workers:vars]\nansible_port=2222\nansible_user=root\nansible_ssh_private_key_file={}\n\
         ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\nansible_python_interpreter=python3\n",
        key.display()
    );
    std::fs::write(dir.path().join("hosts"), inventory).unwrap();
    let playbook = format!(
        "- hosts: workers\n  serial: 4\n  gather_facts: false\n  tasks:\n\
         \x20   - name: ship the job\n      ansible.builtin.command: rsync -a --checksum --mkpath -e \"{ssh}\" {src}/ root@{{{{ inventory_hostname }}}}:/opt/worker/ansible/jobs/app/\n      delegate_to: localhost\n\
         \x20   - name: restart it\n      ansible.builtin.command: make -s -C /opt/worker/ansible/jobs/app restart\n",
        src = job.display()
    );
    std::fs::write(dir.path().join("play.yml"), playbook).unwrap();
    let run = || {
        let t = Instant::now();
        let o = Command::new("ansible-playbook")
            .args(["-i", "hosts", "play.yml"])
            .current_dir(dir.path())
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_FORKS", "16")
            .output()
            .unwrap();
        assert!(o.status.success(), "ansible: {}", String::from_utf8_lossy(&o.stdout));
        t.elapsed().as_secs_f64()
    };
    run(); // first contact, like maand's first deploy
    Some(run())
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

    // Floor: 16 × ssh true in batches of 4, fresh connections.
    let t = Instant::now();
    for batch in ips.chunks(4) {
        let children: Vec<_> = batch
            .iter()
            .map(|ip| {
                Command::new("ssh")
                    .args([
                        "-i",
                        key.to_str().unwrap(),
                        "-p",
                        "2222",
                        "-o",
                        "BatchMode=yes",
                        "-o",
                        "StrictHostKeyChecking=no",
                    ])
                    .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"])
                    .arg(format!("root@{ip}"))
                    .arg("true")
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
    }
    let floor = t.elapsed().as_secs_f64();

    let bucket = tempfile::tempdir().unwrap();
    let p = bucket.path();
    maand(p, &["init"]);
    std::fs::copy(&key, p.join("secrets/worker.key")).unwrap();
    write(p, "maand.conf", "ssh_user = \"root\"\nssh_port = 2222\nuse_sudo = false\nhook_api_port = 0\n");
    let ws: Vec<String> = ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(
        p,
        "workspace/jobs/app/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "max_concurrent_upgrades": 4, "max_concurrent_starts": 4}"#,
    );
    write(p, "workspace/jobs/app/Makefile", "start:\n\t@true\nstop:\n\t@true\nrestart: stop start\n");
    write(p, "workspace/jobs/app/config.txt", "v1\n");
    for i in 0..20 {
        write(p, &format!("workspace/jobs/app/static/file{i}.txt"), &format!("static content {i}\n"));
    }
    maand(p, &["build"]);
    let first = maand(p, &["deploy"]);
    write(p, "workspace/jobs/app/config.txt", "v2\n");
    maand(p, &["build"]);
    let upgrade = maand(p, &["deploy"]);
    let noop = maand(p, &["deploy"]);
    let ansible = ansible(&ips, &key, &p.join("workspace/jobs/app"));
    let _ = Command::new("bash").arg(root.join("scripts/workers.sh")).arg("stop").arg(wdir.path()).status();
    println!("floor: 16 x `ssh true` in batches of 4 (fresh connections): {floor:.2} s");
    println!("deploy, 16 workers, batches of 4: first deploy {first:.2} s ({:.1}x floor)", first / floor);
    println!("one-file upgrade (4 restart batches): {upgrade:.2} s ({:.1}x floor)", upgrade / floor);
    println!("unchanged redeploy: {noop:.2} s");
    match ansible {
        Some(t) => {
            println!("ansible-playbook, same job: rsync + make restart, serial 4: {t:.2} s ({:.1}x floor)", t / floor)
        }
        None => println!("ansible-playbook not installed (pip install ansible-core): comparison skipped"),
    }
}
