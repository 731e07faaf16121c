//! Where the SSH ControlMaster sockets of a bucket live.
//!
//! A master socket is a live, authenticated SSH connection: whoever can
//! connect to it runs commands on the worker as the bucket's SSH user, and
//! whoever can *place* a socket where maand looks for one receives maand's
//! commands and files instead of the worker. So the sockets live in a
//! directory only the user running maand can create, enter or change:
//!
//! 1. `$XDG_RUNTIME_DIR/maand` (the per-user runtime directory systemd
//!    makes, `/run/user/<uid>`, 0700),
//! 2. else `$HOME/.cache/maand`,
//! 3. else `$TMPDIR/maand-<uid>` (`/tmp/maand-<uid>`),
//!
//! with socket names that carry a hash of the bucket's path (two buckets
//! never share a connection authenticated with the other's key), of the
//! worker's `user@host:port`, and the pid of the process that opened the
//! master. A candidate is used only if every directory above it is owned by root or
//! by us and is not writable by others unless sticky (OpenSSH's own rule
//! for `~/.ssh`), and the directory itself is a real directory (not a
//! symlink), owned by us, with no group or other permissions. A directory
//! another user created in advance is never adopted: that candidate is
//! skipped, and when none is left maand refuses, naming each one and why.
//! The check runs again each time a master is started.
//!
//! Paths stay short: a Unix socket path holds at most 107 bytes and ssh
//! first binds `<ControlPath>.<16 random characters>`.
//!
//! Masters that outlive a command (`ssh_control_persist`, see
//! [`super::persist`]) live in this same directory, named without the pid
//! (with a hash of the key instead) so the next command finds them: the
//! directory's checks are what make a socket found there one of ours.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Longest control directory accepted: 107 bytes of socket path, minus the
/// 17 characters ssh appends while binding, minus `/<socket name>` (at
/// most 34: two 12-hex hashes, two '-', a pid of up to 7 digits or a 6-hex
/// key hash, the slash).
pub const MAX_DIR_LEN: usize = 107 - 17 - 34;

/// The user id maand runs as.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The candidate base directories, in order of preference, from the
/// environment.
pub fn candidates() -> Vec<PathBuf> {
    let abs = |v: Option<std::ffi::OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let mut out = Vec::new();
    if let Some(x) = abs(std::env::var_os("XDG_RUNTIME_DIR")) {
        out.push(x.join("maand"));
    }
    if let Some(h) = abs(std::env::var_os("HOME")) {
        out.push(h.join(".cache").join("maand"));
    }
    out.push(std::env::temp_dir().join(format!("maand-{}", euid())));
    out
}

/// The private control directory, created if needed; an error naming every
/// candidate and why it was refused.
pub fn private_dir() -> Result<PathBuf> {
    let mut refused = Vec::new();
    for base in candidates() {
        match prepare(&base) {
            Ok(()) => {
                for r in &refused {
                    tracing::warn!("SSH control sockets: not using {r}");
                }
                return Ok(base);
            }
            Err(why) => refused.push(format!("{}: {why}", base.display())),
        }
    }
    Err(Error::op(format!(
        "no private directory for SSH control sockets (they must be owned by you, uid {}, and closed to other users):\n  {}\n\
         fix one of these (for example remove a directory another user created), or set XDG_RUNTIME_DIR to a directory only you can write",
        euid(),
        refused.join("\n  ")
    )))
}

fn prepare(base: &Path) -> std::result::Result<(), String> {
    if base.as_os_str().len() > MAX_DIR_LEN {
        return Err(format!(
            "path too long for Unix sockets ({} bytes, at most {MAX_DIR_LEN})",
            base.as_os_str().len()
        ));
    }
    let parent = base.parent().ok_or("has no parent directory")?;
    // `~/.cache` may not exist yet; everything above it must.
    if !parent.exists() && parent.file_name().is_some_and(|n| n == ".cache") {
        let home = parent.parent().ok_or("has no parent directory")?;
        check_ancestors(home)?;
        make_private(parent)?;
    }
    check_ancestors(parent)?;
    make_private(base)
}

/// Create `dir` (0700) unless it exists, then check it is private.
fn make_private(dir: &Path) -> std::result::Result<(), String> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
    }
    check_private(dir)
}

/// `dir` is a real directory (not a symlink), owned by us, with no group or
/// other permission bits.
pub fn check_private(dir: &Path) -> std::result::Result<(), String> {
    let m = std::fs::symlink_metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if m.file_type().is_symlink() {
        return Err(format!("{} is a symbolic link", dir.display()));
    }
    if !m.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    if m.uid() != euid() {
        return Err(format!("{} belongs to uid {}, not to you (uid {})", dir.display(), m.uid(), euid()));
    }
    if m.mode() & 0o077 != 0 {
        return Err(format!("{} has mode {:o}; it must be 0700", dir.display(), m.mode() & 0o7777));
    }
    Ok(())
}

/// Every directory from `/` down to `dir` (symlinks resolved) is owned by
/// root or by us, and not writable by group or others unless sticky; so
/// no other user can rename or replace what we create below it.
fn check_ancestors(dir: &Path) -> std::result::Result<(), String> {
    let real = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for a in real.ancestors() {
        let m = std::fs::metadata(a).map_err(|e| format!("{}: {e}", a.display()))?;
        if m.uid() != 0 && m.uid() != euid() {
            return Err(format!("{} belongs to uid {}", a.display(), m.uid()));
        }
        if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            return Err(format!("{} is writable by other users (mode {:o})", a.display(), m.mode() & 0o7777));
        }
    }
    Ok(())
}

/// Socket path, in `dir`, of this process's master to `user@ip:port` for
/// the bucket at `bucket_root` (masters that close with the command).
pub fn socket_path(dir: &Path, bucket_root: &Path, user: &str, ip: &str, port: u16) -> PathBuf {
    let (bucket, worker) = name_parts(bucket_root, user, ip, port);
    dir.join(format!("{bucket}-{worker}-{}", std::process::id()))
}

/// The bucket and worker parts of a socket name: 12 hex digits each.
pub fn name_parts(bucket_root: &Path, user: &str, ip: &str, port: u16) -> (String, String) {
    let bucket = hex::encode(&Sha256::digest(bucket_root.as_os_str().as_encoded_bytes())[..6]);
    let worker = hex::encode(&Sha256::digest(format!("{user}@{ip}:{port}").as_bytes())[..6]);
    (bucket, worker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_directories_are_created_and_checked() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("maand");
        prepare(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        // Loosened later: refused on the next use.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(prepare(&dir).unwrap_err().contains("must be 0700"));
        // A symlink in place of the directory is refused, not followed.
        std::fs::remove_dir(&dir).unwrap();
        std::os::unix::fs::symlink(t.path(), &dir).unwrap();
        assert!(prepare(&dir).unwrap_err().contains("symbolic link"));
    }

    #[test]
    fn writable_ancestors_without_sticky_bit_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let base = open.join("maand");
        assert!(prepare(&base).unwrap_err().contains("writable by other users"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        prepare(&base).unwrap();
    }

    #[test]
    fn socket_paths_fit() {
        let p = socket_path(Path::new(&"d".repeat(MAX_DIR_LEN)), Path::new("/b"), "agent", "10.0.0.1", 22);
        assert!(p.as_os_str().len() + 17 <= 107, "{}", p.display());
    }
}
