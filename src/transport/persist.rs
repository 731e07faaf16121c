//! SSH masters that outlive a command (`ssh_control_persist` seconds idle).
//!
//! A warm deploy should pay no SSH handshake at all, as Ansible's
//! ControlPersist does: the first command to reach a worker leaves its
//! master running in the background (`ssh -f`, `ControlPersist=<n>s`), and
//! the next command within `n` idle seconds joins it.
//!
//! Rules that keep this as safe as a fresh connection:
//!
//! - The sockets live in the private control directory ([`super::control`]):
//!   a socket found there was placed by us. Names carry the bucket, the
//!   worker (`user@ip:port`) and a hash of the bucket's SSH key, so a
//!   changed key never joins a master authenticated with the old one (the
//!   old master is told to exit).
//! - Pinning holds: before a master is reused, the worker's current host key
//!   is fetched (`ssh-keyscan`, no login) and must be one of the keys pinned
//!   for it in `secrets/known_hosts`. A reinstalled worker whose old
//!   connection is still alive therefore gets its master closed and a fresh
//!   connection, which ssh refuses with the pinned-key message.
//! - One opener at a time per socket (an `flock` on `<socket>.lock`), so two
//!   commands starting together share one master instead of racing.
//! - Masters of workers that leave the bucket are told to exit
//!   ([`super::Transport::retire`]); the rest end after `n` idle seconds.

use super::control;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Socket path of the persistent master to `user@ip:port` for the bucket at
/// `bucket_root` using the key whose bytes hash to `key_hash`.
pub fn socket_path(dir: &Path, bucket_root: &Path, user: &str, ip: &str, port: u16, key_hash: &str) -> PathBuf {
    let (bucket, worker) = control::name_parts(bucket_root, user, ip, port);
    dir.join(format!("{bucket}-{worker}-{key_hash}"))
}

/// The first 6 hex digits of the SHA-256 of the key file (empty key when it
/// cannot be read: the connection then fails on its own).
pub fn key_hash(key: &Path) -> String {
    let bytes = std::fs::read(key).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..3])
}

/// Sockets of the same bucket and worker made with another key.
pub fn stale_siblings(socket: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (socket.parent(), socket.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let Some(prefix) = name.rfind('-').map(|i| &name[..=i]) else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix) && n != name && !n.contains('.') && n.len() == name.len())
        .map(|n| dir.join(n))
        .collect();
    out.sort();
    out
}

/// The `(type, base64)` keys pinned for `[ip]:port` (or `ip` on port 22) in
/// a `known_hosts` text (plain host names, as maand writes them).
pub fn pinned_keys(known_hosts: &str, ip: &str, port: u16) -> Vec<(String, String)> {
    let host = if port == 22 { ip.to_string() } else { format!("[{ip}]:{port}") };
    let mut out = Vec::new();
    for line in known_hosts.lines() {
        let mut f = line.split_whitespace();
        let (Some(hosts), Some(kind), Some(key)) = (f.next(), f.next(), f.next()) else { continue };
        if hosts.starts_with('#') || hosts.starts_with('@') {
            continue;
        }
        if hosts.split(',').any(|h| h == host) {
            out.push((kind.to_string(), key.to_string()));
        }
    }
    out.sort();
    out
}

/// Whether the key `ssh-keyscan` fetched from the worker is one of
/// `pinned`. `scan` is ssh-keyscan's output (`host type base64` lines).
pub fn scan_matches(scan: &str, pinned: &[(String, String)]) -> bool {
    scan.lines().filter(|l| !l.starts_with('#')).any(|l| {
        let mut f = l.split_whitespace().skip(1);
        match (f.next(), f.next()) {
            (Some(kind), Some(key)) => pinned.iter().any(|(k, b)| k == kind && b == key),
            _ => false,
        }
    })
}

/// Fetch the worker's host keys of the pinned types (no login).
pub fn scan(ip: &str, port: u16, timeout: u32, pinned: &[(String, String)]) -> String {
    let mut types: Vec<&str> = pinned.iter().map(|(k, _)| keyscan_type(k)).collect();
    types.dedup();
    let out = Command::new("ssh-keyscan")
        .args(["-p", &port.to_string(), "-T", &timeout.to_string(), "-t", &types.join(",")])
        .arg(ip)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// `ssh-keyscan -t` names for a known_hosts key type.
fn keyscan_type(kind: &str) -> &str {
    match kind {
        "ssh-ed25519" => "ed25519",
        "ssh-rsa" => "rsa",
        "ssh-dss" => "dsa",
        k if k.starts_with("ecdsa-") => "ecdsa",
        k => k,
    }
}

/// Whether a master answers on `socket` (`ssh -O check`).
pub fn alive(socket: &Path, target: &str) -> bool {
    control_command(socket, target, "check")
}

/// Tell the master on `socket` to exit, and remove the socket.
pub fn exit(socket: &Path, target: &str) {
    control_command(socket, target, "exit");
    let _ = std::fs::remove_file(socket);
}

fn control_command(socket: &Path, target: &str, op: &str) -> bool {
    Command::new("ssh")
        .args(["-o", "ControlMaster=no", "-o"])
        .arg(format!("ControlPath={}", socket.display()))
        .args(["-O", op, target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KH: &str = "[127.0.0.2]:2222 ssh-ed25519 AAAAkey1\n127.0.0.3 ssh-ed25519 AAAAkey3\n# [127.0.0.2]:2222 ssh-rsa AAAAcomment\n";

    #[test]
    fn pins_are_found_per_host_and_port() {
        assert_eq!(pinned_keys(KH, "127.0.0.2", 2222), vec![("ssh-ed25519".into(), "AAAAkey1".into())]);
        assert_eq!(pinned_keys(KH, "127.0.0.3", 22), vec![("ssh-ed25519".into(), "AAAAkey3".into())]);
        assert!(pinned_keys(KH, "127.0.0.2", 22).is_empty());
    }

    #[test]
    fn a_scanned_key_must_equal_a_pin() {
        let pins = pinned_keys(KH, "127.0.0.2", 2222);
        assert!(scan_matches("# 127.0.0.2:2222 SSH-2.0\n[127.0.0.2]:2222 ssh-ed25519 AAAAkey1\n", &pins));
        assert!(!scan_matches("[127.0.0.2]:2222 ssh-ed25519 AAAAother\n", &pins));
        assert!(!scan_matches("", &pins), "no answer is no proof");
        assert!(!scan_matches("[127.0.0.2]:2222 ssh-ed25519 AAAAkey1\n", &[]), "nothing pinned, nothing matches");
    }

    #[test]
    fn siblings_with_another_key_are_found() {
        let t = tempfile::tempdir().unwrap();
        let s = socket_path(t.path(), Path::new("/b"), "u", "10.0.0.1", 22, "aaaaaa");
        let old = socket_path(t.path(), Path::new("/b"), "u", "10.0.0.1", 22, "bbbbbb");
        let other = socket_path(t.path(), Path::new("/b"), "u", "10.0.0.9", 22, "bbbbbb");
        for p in [&s, &old, &other] {
            std::fs::write(p, "").unwrap();
        }
        std::fs::write(format!("{}.lock", old.display()), "").unwrap();
        assert_eq!(stale_siblings(&s), vec![old]);
    }
}
