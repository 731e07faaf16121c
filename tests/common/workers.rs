//! Real SSH workers on one machine (SPEC §9): each an `sshd` bound to its
//! own loopback address, in its own mount namespace with a private
//! directory on `/opt/worker`, sharing the host's tools. Needs root and
//! Debian's openssh-server and rsync (scripts/test.sh installs them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// SSH port of every test worker (each binds its own address).
pub const PORT: u16 = 2222;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A set of running test workers; stopped on drop.
pub struct TestWorkers {
    /// Worker addresses.
    pub ips: Vec<String>,
    dir: tempfile::TempDir,
    children: Vec<Child>,
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path).status().unwrap();
    assert!(st.success());
}

/// Whether this machine can run test workers; the reason when it cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("test workers need root (mount namespaces, sshd)".into());
    }
    for tool in ["/usr/sbin/sshd", "/usr/bin/rsync", "/usr/bin/ssh", "/usr/bin/unshare"] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing (apt-get install openssh-server rsync)"));
        }
    }
    None
}

/// Start workers or explain why not; in CI they must start.
pub fn start_or_skip(n: usize) -> Option<TestWorkers> {
    if let Some(why) = unavailable() {
        assert!(std::env::var_os("CI").is_none(), "test workers must run in CI: {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(TestWorkers::start(n))
}

impl TestWorkers {
    /// Start `n` workers on fresh loopback addresses.
    pub fn start(n: usize) -> TestWorkers {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("client.key"));
        std::fs::copy(d.join("client.key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        std::fs::create_dir_all("/opt/worker").unwrap();
        // Unique addresses per test process and per start; skip a block where
        // an sshd already listens (another test process whose pid shares
        // ours modulo 100 would otherwise answer with its own keys).
        let a = 100 + (std::process::id() % 100);
        let taken = |b: u32| {
            (0..n).any(|i| {
                let addr = format!("127.{a}.{b}.{}:{PORT}", i + 2).parse().unwrap();
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
            })
        };
        let mut b = NEXT.fetch_add(1, Ordering::SeqCst) % 250;
        for _ in 0..250 {
            if !taken(b) {
                break;
            }
            b = NEXT.fetch_add(1, Ordering::SeqCst) % 250;
        }
        let mut w = TestWorkers { ips: Vec::new(), dir, children: Vec::new() };
        for i in 0..n {
            let ip = format!("127.{a}.{b}.{}", i + 2);
            w.spawn(&ip, true);
            w.ips.push(ip);
        }
        for ip in w.ips.clone() {
            w.wait_ready(&ip);
        }
        w
    }

    fn spawn(&mut self, ip: &str, new_host_key: bool) {
        let d = self.dir.path().join(ip);
        std::fs::create_dir_all(d.join("opt")).unwrap();
        if new_host_key {
            let _ = std::fs::remove_file(d.join("host.key"));
            let _ = std::fs::remove_file(d.join("host.key.pub"));
            keygen(&d.join("host.key"));
        }
        let conf = format!(
            "ListenAddress {ip}\nPort {PORT}\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nMaxStartups 100\nMaxSessions 100\n\
             LogLevel ERROR\nSubsystem sftp internal-sftp\n",
            d.join("host.key").display(),
            d.join("sshd.pid").display(),
            self.dir.path().join("authorized_keys").display(),
        );
        std::fs::write(d.join("sshd_config"), conf).unwrap();
        // Private /opt/worker; stock shell start-up files (root's own may be slow).
        let script = format!(
            "set -e\nmount --bind {opt} /opt/worker\n\
             [ -f /etc/skel/.bashrc ] && [ -f /root/.bashrc ] && mount --bind /etc/skel/.bashrc /root/.bashrc || true\n\
             [ -f /etc/skel/.profile ] && [ -f /root/.profile ] && mount --bind /etc/skel/.profile /root/.profile || true\n\
             exec /usr/sbin/sshd -D -e -f {conf}\n",
            opt = d.join("opt").display(),
            conf = d.join("sshd_config").display()
        );
        std::fs::write(d.join("start.sh"), script).unwrap();
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "bash"])
            .arg(d.join("start.sh"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        self.children.push(child);
    }

    fn wait_ready(&self, ip: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect_timeout(&format!("{ip}:{PORT}").parse().unwrap(), Duration::from_millis(200))
            .is_err()
        {
            assert!(Instant::now() < deadline, "sshd on {ip} did not start: {}", self.log(ip));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// sshd's log of a worker.
    pub fn log(&self, ip: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(ip).join("sshd.log")).unwrap_or_default()
    }

    /// The client private key (copy it into a bucket's secrets/).
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client.key")
    }

    /// The host-side directory that is `/opt/worker` on worker `ip`.
    pub fn opt(&self, ip: &str) -> PathBuf {
        self.dir.path().join(ip).join("opt")
    }

    /// Restart worker `ip` with a new host key (a reinstalled machine).
    pub fn reinstall(&mut self, ip: &str) {
        let i = self.ips.iter().position(|x| x == ip).unwrap();
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(format!("{ip}:{PORT}")).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn(ip, true);
        let child = self.children.pop().unwrap();
        self.children[i] = child;
        self.wait_ready(ip);
    }

    /// Stop worker `ip` (an unreachable machine).
    pub fn stop(&mut self, ip: &str) {
        let i = self.ips.iter().position(|x| x == ip).unwrap();
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
    }

    /// Point a bucket at these workers: root login, the test key, no sudo,
    /// any free port for the hook API.
    pub fn configure_bucket(&self, bucket: &Path) {
        std::fs::copy(self.client_key(), bucket.join("secrets/worker.key")).unwrap();
        let conf = std::fs::read_to_string(bucket.join("maand.conf")).unwrap_or_default();
        let mut kept: Vec<&str> = conf
            .lines()
            .filter(|l| {
                !["ssh_user", "ssh_port", "use_sudo", "hook_api_port"].iter().any(|k| l.trim_start().starts_with(k))
            })
            .collect();
        // Any free port for the hook API: tests run in parallel.
        let extra = format!("ssh_user = \"root\"\nssh_port = {PORT}\nuse_sudo = false\nhook_api_port = 0");
        kept.push(&extra);
        std::fs::write(bucket.join("maand.conf"), kept.join("\n") + "\n").unwrap();
    }
}

impl TestWorkers {
    /// A bucket from `maand init` pointed at these workers
    /// ([`configure_bucket`](Self::configure_bucket)), every one of them in
    /// `workspace/workers.json` without labels.
    pub fn bucket(&self) -> tempfile::TempDir {
        let dir = super::fresh_bucket();
        self.configure_bucket(dir.path());
        let ws: Vec<String> = self.ips.iter().map(|ip| format!(r#"{{"host": "{ip}"}}"#)).collect();
        super::write(dir.path(), "workspace/workers.json", &format!("[{}]", ws.join(",")));
        dir
    }

    /// The address prefix these workers share (`127.a.b.`).
    pub fn prefix(&self) -> String {
        let ip = &self.ips[0];
        ip[..ip.rfind('.').unwrap() + 1].to_string()
    }
}

impl Drop for TestWorkers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Services a test job left running on these addresses.
        let _ = Command::new("pkill").args(["-f", "--", &format!("--bind {}", self.prefix())]).status();
    }
}
