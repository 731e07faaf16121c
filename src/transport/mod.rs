//! Workers are reached with OpenSSH's `ssh` and `rsync` as child processes,
//! using the bucket's key, with host keys pinned in `secrets/known_hosts`
//! (first contact recorded, a changed key refused) and one multiplexed
//! master connection per worker per command (ControlMaster), so a command
//! pays the SSH handshake once per worker, not once per step.
//!
//! With `ssh_control_persist = 0` the masters are opened explicitly
//! (`ssh -M -N`, `ControlPersist=no`) as children of maand, with their
//! sockets in the bucket's private control directory ([`control`]); a
//! master is started from one long-lived thread with the parent-death
//! signal set, so a killed maand takes its masters (and the sessions riding
//! on them) down with it. With `ssh_control_persist = n > 0` (the default)
//! masters stay up `n` idle seconds for the next command ([`persist`]).
//! Remote commands are handed to the master over its socket by maand itself
//! ([`mux`], no `ssh` process); rsync's ssh and the fallback ssh run with
//! `ControlMaster=no`, so they only ever join a master maand opened itself.

pub mod control;
pub mod mux;
pub mod persist;

use crate::bucket::{BucketPaths, MaandConf};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How to reach workers.
#[derive(Debug)]
pub struct Transport {
    user: String,
    key: PathBuf,
    port: u16,
    use_sudo: bool,
    known_hosts: PathBuf,
    ca_crt: PathBuf,
    bucket_root: PathBuf,
    control_dir: OnceLock<std::result::Result<PathBuf, Error>>,
    connect_timeout: u32,
    /// `ssh_control_persist`: idle seconds a master outlives the command.
    persist: u32,
    masters: Mutex<BTreeMap<String, Arc<Mutex<Option<Master>>>>>,
    spawner: Mutex<Option<Spawner>>,
    /// Stale lock files are swept once per command.
    sweep: std::sync::Once,
}

/// A master connection this process uses.
#[derive(Debug)]
struct Master {
    /// The master process when it is ours to close (no persistence);
    /// `None` for a persistent master, which ends on its own.
    child: Option<Child>,
    socket: PathBuf,
}

/// The thread masters are spawned from: the parent-death signal fires when
/// the *thread* that forked a child ends, so it must outlive every master.
#[derive(Debug)]
struct Spawner {
    tx: mpsc::Sender<(Command, mpsc::Sender<std::io::Result<Child>>)>,
    thread: std::thread::JoinHandle<()>,
}

impl Spawner {
    fn start() -> std::io::Result<Spawner> {
        let (tx, rx) = mpsc::channel::<(Command, mpsc::Sender<std::io::Result<Child>>)>();
        let thread = std::thread::Builder::new().name("maand-ssh-masters".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                // This thread outlives every master, so the signal fires
                // only when maand itself goes.
                die_with_parent(&mut cmd);
                let _ = reply.send(cmd.spawn());
            }
        })?;
        Ok(Spawner { tx, thread })
    }
}

/// The result of a remote command.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Exit code (255 = ssh itself failed).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Remote {
    /// Whether the command exited 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl Transport {
    /// Transport for the bucket at `paths` with `conf`'s SSH settings. The
    /// private control directory is chosen (and checked) when the first
    /// master is opened.
    pub fn new(paths: &BucketPaths, conf: &MaandConf) -> Transport {
        Transport {
            user: conf.ssh_user.clone(),
            key: paths.secrets().join(&conf.ssh_key),
            port: conf.ssh_port,
            use_sudo: conf.use_sudo,
            known_hosts: paths.secrets().join("known_hosts"),
            ca_crt: paths.ca_crt(),
            bucket_root: paths.root().to_path_buf(),
            control_dir: OnceLock::new(),
            connect_timeout: 10,
            persist: conf.ssh_control_persist,
            masters: Default::default(),
            spawner: Mutex::new(None),
            sweep: std::sync::Once::new(),
        }
    }

    /// The bucket CA (PEM), trusted by https health probes; `None` when
    /// `secrets/ca.crt` cannot be read.
    pub fn bucket_ca(&self) -> Option<String> {
        std::fs::read_to_string(&self.ca_crt).ok()
    }

    /// Check the key file before contacting anyone.
    pub fn check_local(&self) -> Result<()> {
        if !self.key.is_file() {
            return Err(Error::usage(format!(
                "SSH key {} not found: put the private key for {}@workers there (maand.conf ssh_key)",
                self.key.display(),
                self.user
            )));
        }
        self.control_dir().map(|_| ())
    }

    /// The private directory for control sockets (see [`control`]).
    pub fn control_dir(&self) -> Result<PathBuf> {
        self.control_dir.get_or_init(control::private_dir).clone()
    }

    fn base_options(&self) -> Vec<String> {
        let mut o: Vec<String> = vec!["-i".into(), self.key.display().to_string(), "-p".into(), self.port.to_string()];
        for opt in [
            "BatchMode=yes".to_string(),
            "IdentitiesOnly=yes".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "StrictHostKeyChecking=accept-new".into(),
            // Readable pins: operators can see which workers are known.
            "HashKnownHosts=no".into(),
            format!("ConnectTimeout={}", self.connect_timeout),
            "ServerAliveInterval=15".into(),
            "LogLevel=ERROR".into(),
        ] {
            o.push("-o".into());
            o.push(opt);
        }
        o
    }

    /// Options of a client joining `socket` (or connecting on its own when
    /// there is no master): never a master itself.
    fn client_options(&self, socket: Option<&Path>) -> Vec<String> {
        let mut o = self.base_options();
        o.extend(["-o".into(), "ControlMaster=no".into(), "-o".into()]);
        o.push(match socket {
            Some(s) => format!("ControlPath={}", s.display()),
            None => "ControlPath=none".into(),
        });
        o
    }

    /// The master socket for `ip`, opening the master if this process has
    /// none yet. `Ok(None)` when the master exited (clients then connect on
    /// their own and report what goes wrong).
    fn master(&self, ip: &str) -> Result<Option<PathBuf>> {
        let slot = self.masters.lock().unwrap_or_else(|p| p.into_inner()).entry(ip.to_string()).or_default().clone();
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = slot.as_mut() {
            return Ok(match m.child.as_mut().map(|c| c.try_wait()) {
                None | Some(Ok(None)) => Some(m.socket.clone()),
                _ => None,
            });
        }
        let dir = self.control_dir()?;
        // Checked again at every use: a directory loosened or replaced since
        // is refused.
        control::check_private(&dir).map_err(|why| Error::op(format!("SSH control directory: {why}")))?;
        let master = if self.persist > 0 { self.persistent_master(&dir, ip)? } else { self.owned_master(&dir, ip)? };
        let socket = master.socket.clone();
        *slot = Some(master);
        Ok(Some(socket))
    }

    /// A master that is a child of this process and closes with it.
    fn owned_master(&self, dir: &Path, ip: &str) -> Result<Master> {
        let socket = control::socket_path(dir, &self.bucket_root, &self.user, ip, self.port);
        // Only this process names sockets with its pid in a directory only
        // we can write: anything there is a leftover of a dead process.
        let _ = std::fs::remove_file(&socket);
        let mut cmd = Command::new("ssh");
        cmd.args(self.base_options())
            .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-o"])
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-N", "-n"])
            .arg(format!("{}@{ip}", self.user))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = self.spawn_master(cmd).map_err(|e| Error::op(format!("worker {ip}: cannot run ssh: {e}")))?;
        let wait = self.connect_timeout as u64 + 20;
        let deadline = Instant::now() + Duration::from_secs(wait);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                return Err(self.connection_error(ip, &stderr));
            }
            if socket.exists() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::op(format!("worker {ip}: SSH connection not ready after {wait}s")));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Master { child: Some(child), socket })
    }

    /// A master that stays up `persist` idle seconds: joined when one for
    /// this bucket, worker and key is alive and the worker still shows its
    /// pinned host key; opened in the background otherwise.
    fn persistent_master(&self, dir: &Path, ip: &str) -> Result<Master> {
        let target = format!("{}@{ip}", self.user);
        let socket =
            persist::socket_path(dir, &self.bucket_root, &self.user, ip, self.port, &persist::key_hash(&self.key));
        let lock = std::fs::OpenOptions::new()
            .mode(0o600)
            .create(true)
            .truncate(false)
            .write(true)
            .open(format!("{}.lock", socket.display()))
            .map_err(|e| Error::op(format!("SSH control directory: {e}")))?;
        lock.lock().map_err(|e| Error::op(format!("SSH control directory: {e}")))?;
        // In use: not swept by another command (persist::sweep_stale_locks).
        let _ = lock.set_modified(std::time::SystemTime::now());
        self.sweep.call_once(|| persist::sweep_stale_locks(dir, Duration::from_secs(24 * 3600)));
        for old in persist::stale_siblings(&socket) {
            persist::exit(&old, &target);
            let _ = std::fs::remove_file(format!("{}.lock", old.display()));
        }
        if socket.exists() {
            if persist::alive(&socket) && self.still_pinned(ip) {
                return Ok(Master { child: None, socket });
            }
            persist::exit(&socket, &target);
        }
        let log = dir.join(format!("{}.err", socket.file_name().and_then(|n| n.to_str()).unwrap_or("master")));
        let err = std::fs::OpenOptions::new()
            .mode(0o600)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)
            .map_err(|e| Error::op(format!("SSH control directory: {e}")))?;
        // `-f`: ssh forks into the background once authenticated; the
        // foreground process's exit status says whether that happened.
        let status = Command::new("ssh")
            .args(self.base_options())
            .args(["-o", "ControlMaster=yes", "-o"])
            .arg(format!("ControlPersist={}s", self.persist))
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-N", "-n", "-f"])
            .arg(&target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .status()
            .map_err(|e| Error::op(format!("worker {ip}: cannot run ssh: {e}")))?;
        let stderr = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if !status.success() || !socket.exists() {
            return Err(self.connection_error(ip, &stderr));
        }
        Ok(Master { child: None, socket })
    }

    /// Whether worker `ip` proves, right now, that it holds a host key
    /// pinned for it ([`persist::probe`]).
    fn still_pinned(&self, ip: &str) -> bool {
        let known = std::fs::read_to_string(&self.known_hosts).unwrap_or_default();
        !persist::pinned_keys(&known, ip, self.port).is_empty()
            && persist::probe(&self.known_hosts, self.port, self.connect_timeout, &format!("{}@{ip}", self.user))
    }

    /// Close the master to a worker that left the bucket, persistent or not.
    pub fn retire(&self, ip: &str) {
        self.close(ip);
        let Ok(dir) = self.control_dir() else { return };
        let socket =
            persist::socket_path(&dir, &self.bucket_root, &self.user, ip, self.port, &persist::key_hash(&self.key));
        let target = format!("{}@{ip}", self.user);
        for s in persist::stale_siblings(&socket).into_iter().chain([socket]) {
            if s.exists() {
                persist::exit(&s, &target);
            }
            let _ = std::fs::remove_file(format!("{}.lock", s.display()));
        }
    }

    fn spawn_master(&self, cmd: Command) -> std::io::Result<Child> {
        let mut spawner = self.spawner.lock().unwrap_or_else(|p| p.into_inner());
        if spawner.is_none() {
            *spawner = Some(Spawner::start()?);
        }
        let (reply, answer) = mpsc::channel();
        let gone = || std::io::Error::other("the ssh master thread is gone");
        let sent = spawner.as_ref().is_some_and(|s| s.tx.send((cmd, reply)).is_ok());
        if !sent {
            return Err(gone());
        }
        answer.recv().map_err(|_| gone())?
    }

    /// The command line `rsync -e` uses for `ip`.
    fn ssh_command_line(&self, socket: Option<&Path>) -> String {
        std::iter::once("ssh".to_string())
            .chain(self.client_options(socket))
            .map(|a| shell_quote(&a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run `script` with bash on the worker (through sudo when configured).
    pub fn run(&self, ip: &str, script: &str) -> Result<Remote> {
        let wrapped = if self.use_sudo {
            format!("sudo -n bash -c {}", shell_quote(script))
        } else {
            format!("bash -c {}", shell_quote(script))
        };
        let socket = self.master(ip)?;
        if let Some(s) = &socket
            && let Ok(ran) = mux::run(s, &wrapped)
        {
            let r = Remote {
                code: ran.code,
                stdout: String::from_utf8_lossy(&ran.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
            };
            return self.checked(ip, r);
        }
        // No master, or it would not open a session: ssh on its own says why.
        let mut cmd = Command::new("ssh");
        die_with_parent(&mut cmd);
        let out = cmd
            .args(self.client_options(socket.as_deref()))
            .arg(format!("{}@{ip}", self.user))
            .arg(wrapped)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::op(format!("worker {ip}: cannot run ssh: {e}")))?;
        self.remote(ip, out)
    }

    fn remote(&self, ip: &str, out: Output) -> Result<Remote> {
        let r = Remote {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.checked(ip, r)
    }

    /// `r`, or the connection error its exit code (255 or none) means.
    fn checked(&self, ip: &str, r: Remote) -> Result<Remote> {
        if r.code == Some(255) || r.code.is_none() {
            return Err(self.connection_error(ip, &r.stderr));
        }
        Ok(r)
    }

    fn connection_error(&self, ip: &str, stderr: &str) -> Error {
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || stderr.contains("Host key verification failed")
        {
            return Error::op(format!(
                "worker {ip}: its SSH host key differs from the one pinned in {} — if the worker was reinstalled, remove its line there (ssh-keygen -R '[{ip}]:{}' -f {})",
                self.known_hosts.display(),
                self.port,
                self.known_hosts.display()
            ));
        }
        let why = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("ssh failed").trim();
        Error::op(format!("worker {ip}: cannot connect over SSH as {}@{ip}:{}: {why}", self.user, self.port))
    }

    /// rsync the contents of `src` (a local directory) to `dest` on the
    /// worker, comparing content (not size + mtime), with `extra` flags
    /// (filters, --delete, ...).
    pub fn rsync(&self, ip: &str, src: &Path, dest: &str, extra: &[String]) -> Result<Remote> {
        let socket = self.master(ip)?;
        let mut cmd = Command::new("rsync");
        die_with_parent(&mut cmd);
        cmd.args(["-a", "--checksum", "--mkpath", "-e"]).arg(self.ssh_command_line(socket.as_deref())).args(extra);
        if self.use_sudo {
            cmd.arg("--rsync-path=sudo -n rsync");
        }
        let src = format!("{}/", src.display());
        let out = cmd
            .arg(src)
            .arg(format!("{}@{ip}:{dest}", self.user))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error::op(format!("worker {ip}: cannot run rsync: {e}")))?;
        let r = Remote {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        if r.code == Some(255) {
            return Err(self.connection_error(ip, &r.stderr));
        }
        if !r.ok() {
            return Err(Error::op(format!("worker {ip}: rsync to {dest} failed: {}", r.stderr.trim())));
        }
        Ok(r)
    }

    /// Close the master connection to `ip` if this process owns it (a
    /// persistent master stays up for the next command).
    pub fn close(&self, ip: &str) {
        let slot = self.masters.lock().unwrap_or_else(|p| p.into_inner()).remove(ip);
        let Some(slot) = slot else { return };
        let Some(m) = slot.lock().unwrap_or_else(|p| p.into_inner()).take() else { return };
        let Some(mut child) = m.child else { return };
        if let Ok(None) = child.try_wait() {
            persist::exit(&m.socket, &format!("{}@{ip}", self.user));
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = child.wait();
        let _ = std::fs::remove_file(&m.socket);
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        let ips: Vec<String> = self.masters.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        std::thread::scope(|s| {
            for ip in &ips {
                s.spawn(|| self.close(ip));
            }
        });
        if let Some(sp) = self.spawner.lock().unwrap_or_else(|p| p.into_inner()).take() {
            drop(sp.tx);
            let _ = sp.thread.join();
        }
    }
}

/// A client ssh or rsync ends with the thread that waits for it (the
/// parent-death signal), so a killed maand leaves no session running even
/// when its master persists. The waiting thread blocks on the child, so the
/// signal never fires early.
fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // maand died before prctl took effect.
            if libc::getppid() != parent {
                return Err(std::io::Error::other("parent exited"));
            }
            Ok(())
        });
    }
}

/// Quote for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:@%+,".contains(c)) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes() {
        assert_eq!(super::shell_quote("abc-1.2"), "abc-1.2");
        assert_eq!(super::shell_quote("a b"), "'a b'");
        assert_eq!(super::shell_quote("it's"), "'it'\\''s'");
        assert_eq!(super::shell_quote(""), "''");
    }
}
