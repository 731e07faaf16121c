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
//! - Pinning holds: before a master is reused, the worker must prove it
//!   still holds a host key pinned for it in `secrets/known_hosts` — a key
//!   exchange in which ssh itself checks the server's signature against the
//!   pins, stopped before authentication ([`probe_command`]). A reinstalled
//!   worker whose old connection is still alive therefore gets its master
//!   closed and a fresh connection, which ssh refuses with the pinned-key
//!   message.
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

/// Remove the `.lock` files of sockets that are gone and that nobody has
/// used for `idle` (each opener refreshes its lock's mtime): buckets and
/// workers that no longer exist would otherwise leave one each forever.
/// A lock someone holds right now is never removed (a non-blocking `flock`
/// must succeed first).
pub fn sweep_stale_locks(dir: &Path, idle: std::time::Duration) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let Some(socket) = path.to_str().and_then(|p| p.strip_suffix(".lock")) else { continue };
        if Path::new(socket).exists() {
            continue;
        }
        let fresh = e.metadata().and_then(|m| m.modified()).map(|t| t.elapsed().unwrap_or_default() < idle);
        if fresh.unwrap_or(true) {
            continue;
        }
        if let Ok(f) = std::fs::File::open(&path)
            && f.try_lock().is_ok()
        {
            let _ = std::fs::remove_file(&path);
        }
    }
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

/// Key exchange methods the host-key probe prefers: curve25519 alone costs
/// the client about a tenth of OpenSSH 9's default hybrid post-quantum
/// exchange (sntrup761 key generation), and nothing secret crosses the probe
/// — it ends before authentication. Prepended (`^`) to ssh's defaults so a
/// server without curve25519 (FIPS mode) still answers.
const PROBE_KEX: &str = "KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org";

/// The options (after `ssh`) of a probe proving that `user@ip:port` holds a
/// host key pinned in `known_hosts`: strict checking against that file
/// alone, every authentication method off, so the session ends right
/// after ssh verified the server's host-key signature. The caller adds the
/// target and reads the verdict with [`probe_proves_pin`].
pub fn probe_command(known_hosts: &Path, port: u16, connect_timeout: u32) -> Vec<String> {
    let mut o = vec!["-p".to_string(), port.to_string()];
    for opt in [
        "BatchMode=yes".to_string(),
        "StrictHostKeyChecking=yes".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "GlobalKnownHostsFile=/dev/null".into(),
        "UpdateHostKeys=no".into(),
        PROBE_KEX.into(),
        "PubkeyAuthentication=no".into(),
        "PasswordAuthentication=no".into(),
        "KbdInteractiveAuthentication=no".into(),
        "HostbasedAuthentication=no".into(),
        "GSSAPIAuthentication=no".into(),
        "IdentityAgent=none".into(),
        "ControlMaster=no".into(),
        "ControlPath=none".into(),
        format!("ConnectTimeout={connect_timeout}"),
        // The verdict is ssh's own debug line (see probe_proves_pin).
        "LogLevel=DEBUG1".into(),
    ] {
        o.push("-o".into());
        o.push(opt);
    }
    o
}

/// Whether a probe's standard error shows ssh accepted the server's host
/// key against the pins: OpenSSH logs "Host '…' is known and matches the …
/// host key" only after the key matched a pin and its signature over the
/// key exchange verified. Anything else (a changed or unknown key, no
/// answer, another ssh) is no proof, and the master is not reused.
pub fn probe_proves_pin(stderr: &str) -> bool {
    stderr.lines().any(|l| l.contains("is known and matches the") && l.contains("host key"))
        && !stderr.contains("Host key verification failed")
}

/// Run the probe of `target` (`user@ip`).
pub fn probe(known_hosts: &Path, port: u16, connect_timeout: u32, target: &str) -> bool {
    let out = Command::new("ssh")
        .args(probe_command(known_hosts, port, connect_timeout))
        .arg(target)
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output();
    out.is_ok_and(|o| probe_proves_pin(&String::from_utf8_lossy(&o.stderr)))
}

/// Whether a master answers on `socket`: the hello exchange that opens
/// every multiplexing session (OpenSSH's PROTOCOL.mux: `uint32 length`,
/// `uint32 MUX_MSG_HELLO = 1`, `uint32 version = 4`), done here rather than
/// by `ssh -O check`, which costs a process and OpenSSL's start-up (~5 ms of
/// CPU per worker per command). A leftover socket nobody listens on, or
/// something else listening, is not a master.
pub fn alive(socket: &Path) -> bool {
    mux_hello(socket).is_ok()
}

fn mux_hello(socket: &Path) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    let limit = Some(std::time::Duration::from_secs(5));
    s.set_read_timeout(limit)?;
    s.set_write_timeout(limit)?;
    s.write_all(&[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4])?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len);
    if !(8..=4096).contains(&len) {
        return Err(std::io::Error::other("not a mux hello"));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body)?;
    if body[..4] != [0, 0, 0, 1] {
        return Err(std::io::Error::other("not a mux hello"));
    }
    Ok(())
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
    fn only_a_verified_pin_is_proof() {
        let ok = "debug1: Server host key: ssh-ed25519 SHA256:abc\ndebug1: Host '[127.0.0.2]:2222' is known and matches the ED25519 host key.\nroot@127.0.0.2: Permission denied (publickey).\n";
        assert!(probe_proves_pin(ok));
        let changed = "@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n";
        assert!(!probe_proves_pin(changed));
        assert!(!probe_proves_pin(""), "no answer is no proof");
        let unknown = "debug1: Server host key: ssh-ed25519 SHA256:abc\nNo ED25519 host key is known for [127.0.0.2]:2222 and you have requested strict checking.\nHost key verification failed.\n";
        assert!(!probe_proves_pin(unknown));
    }

    #[test]
    fn the_probe_checks_strictly_and_never_authenticates() {
        let o = probe_command(Path::new("/b/secrets/known_hosts"), 2222, 10).join(" ");
        for want in [
            "StrictHostKeyChecking=yes",
            "UserKnownHostsFile=/b/secrets/known_hosts",
            "GlobalKnownHostsFile=/dev/null",
            "PubkeyAuthentication=no",
            "PasswordAuthentication=no",
            "ControlPath=none",
            "-p 2222",
        ] {
            assert!(o.contains(want), "{want} missing from {o}");
        }
    }

    #[test]
    fn only_something_answering_the_mux_hello_is_a_live_master() {
        use std::io::{Read, Write};
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("plain");
        std::fs::write(&file, "").unwrap();
        assert!(!alive(&file), "a file is no master");
        assert!(!alive(&t.path().join("missing")));
        // Listening but silent, then closing: no master.
        let mute = t.path().join("mute");
        let l = std::os::unix::net::UnixListener::bind(&mute).unwrap();
        let th = std::thread::spawn(move || drop(l.accept()));
        assert!(!alive(&mute));
        th.join().unwrap();
        // A stand-in master answering as OpenSSH's does.
        let good = t.path().join("good");
        let l = std::os::unix::net::UnixListener::bind(&good).unwrap();
        let th = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut hello = [0u8; 12];
            c.read_exact(&mut hello).unwrap();
            assert_eq!(hello, [0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4]);
            c.write_all(&[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4]).unwrap();
        });
        assert!(alive(&good));
        th.join().unwrap();
    }

    #[test]
    fn stale_locks_are_swept_but_not_used_or_held_ones() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        let lock = |name: &str, aged: bool| {
            let p = d.join(format!("{name}.lock"));
            let f = std::fs::File::create(&p).unwrap();
            if aged {
                f.set_modified(old).unwrap();
            }
            (p, f)
        };
        let (gone, _) = lock("gone", true);
        let (live, _) = lock("live", true);
        std::fs::write(d.join("live"), "").unwrap();
        let (recent, _) = lock("recent", false);
        let (held, f) = lock("held", true);
        f.lock().unwrap();
        sweep_stale_locks(d, std::time::Duration::from_secs(3600));
        assert!(!gone.exists(), "an old lock of a gone socket is removed");
        assert!(live.exists() && recent.exists() && held.exists());
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
