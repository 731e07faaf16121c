//! Workers are reached with OpenSSH's `ssh` and `rsync` as child processes,
//! using the bucket's key, with host keys pinned in `secrets/known_hosts`
//! (first contact recorded, a changed key refused) and one multiplexed
//! master connection per worker per session (ControlMaster), so a deploy
//! pays the SSH handshake once per worker, not once per step.

use crate::bucket::{BucketPaths, MaandConf};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// How to reach workers.
#[derive(Debug)]
pub struct Transport {
    user: String,
    key: PathBuf,
    port: u16,
    use_sudo: bool,
    known_hosts: PathBuf,
    ca_crt: PathBuf,
    control_dir: PathBuf,
    connect_timeout: u32,
    used: std::sync::Mutex<std::collections::BTreeSet<String>>,
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
    /// Transport for the bucket at `paths` with `conf`'s SSH settings.
    pub fn new(paths: &BucketPaths, conf: &MaandConf) -> Transport {
        Transport {
            user: conf.ssh_user.clone(),
            key: paths.secrets().join(&conf.ssh_key),
            port: conf.ssh_port,
            use_sudo: conf.use_sudo,
            known_hosts: paths.secrets().join("known_hosts"),
            ca_crt: paths.ca_crt(),
            // Unix socket paths are limited to ~100 bytes: keep it short.
            control_dir: std::env::temp_dir().join(format!("maand-ssh-{}", std::process::id())),
            connect_timeout: 10,
            used: Default::default(),
        }
    }

    /// The bucket CA (PEM), trusted by https health probes; `None` when
    /// `secrets/ca.crt` cannot be read.
    pub fn bucket_ca(&self) -> Option<String> {
        std::fs::read_to_string(&self.ca_crt).ok()
    }

    /// Check the key file before contacting anyone.
    pub fn check_key(&self) -> Result<()> {
        if !self.key.is_file() {
            return Err(Error::usage(format!(
                "SSH key {} not found: put the private key for {}@workers there (maand.conf ssh_key)",
                self.key.display(),
                self.user
            )));
        }
        Ok(())
    }

    fn touch(&self, ip: &str) {
        self.used.lock().unwrap_or_else(|p| p.into_inner()).insert(ip.to_string());
    }

    fn ssh_options(&self) -> Vec<String> {
        let _ = std::fs::create_dir_all(&self.control_dir);
        vec![
            "-i".into(),
            self.key.display().to_string(),
            "-p".into(),
            self.port.to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts.display()),
            "-o".into(),
            "StrictHostKeyChecking=accept-new".into(),
            "-o".into(),
            // Readable pins: operators can see which workers are known.
            "HashKnownHosts=no".into(),
            "-o".into(),
            format!("ConnectTimeout={}", self.connect_timeout),
            "-o".into(),
            "ServerAliveInterval=15".into(),
            "-o".into(),
            "ControlMaster=auto".into(),
            "-o".into(),
            format!("ControlPath={}/%C", self.control_dir.display()),
            "-o".into(),
            "ControlPersist=120".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
        ]
    }

    /// The command line `rsync -e` uses.
    fn ssh_command_line(&self) -> String {
        std::iter::once("ssh".to_string())
            .chain(self.ssh_options())
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
        self.touch(ip);
        let out = Command::new("ssh")
            .args(self.ssh_options())
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
        self.touch(ip);
        let mut cmd = Command::new("rsync");
        cmd.args(["-a", "--checksum", "--mkpath", "-e"]).arg(self.ssh_command_line()).args(extra);
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

    /// Close the master connection to `ip` (ends of a session).
    pub fn close(&self, ip: &str) {
        let _ = Command::new("ssh")
            .args(self.ssh_options())
            .args(["-O", "exit"])
            .arg(format!("{}@{ip}", self.user))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        let used = std::mem::take(&mut *self.used.lock().unwrap_or_else(|p| p.into_inner()));
        for ip in used {
            self.close(&ip);
        }
        let _ = std::fs::remove_dir_all(&self.control_dir);
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
