//! Keeping what the bucket holds on the control host private to the user
//! running maand: `data/` (the journal and projection), `logs/` (hook
//! output) and `tmp/` (staged job files with rendered secrets and decrypted
//! private keys) are 0700, and secret-bearing files are created with their
//! final mode, never readable by others even for a moment.

use super::BucketPaths;
use crate::error::{Context, Error, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The bucket directories only the user running maand may enter.
pub fn private_dirs(paths: &BucketPaths) -> [std::path::PathBuf; 4] {
    [paths.secrets(), paths.data(), paths.logs(), paths.tmp()]
}

/// Create the private directories that are missing (0700) and take group
/// and other permissions off those that exist (older buckets had 0755).
/// Returns the bucket-relative names of the directories it tightened.
pub fn tighten(paths: &BucketPaths) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for dir in private_dirs(paths) {
        create_dir_all(&dir)?;
        let m = fs::symlink_metadata(&dir).with_context(|| format!("reading {}", dir.display()))?;
        if !m.is_dir() {
            return Err(Error::op(format!("{} is not a directory", dir.display())));
        }
        if m.mode() & 0o077 != 0 {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("making {} private (chmod 700)", dir.display()))?;
            changed.push(paths.rel(&dir) + "/");
        }
    }
    Ok(changed)
}

/// Create `dir` and its missing parents with mode 0700.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Write `content` to `path` as a new file created with `mode` from the
/// start (replacing any file there), creating missing parent directories
/// with the default mode: staged trees are shipped with their directory
/// modes, and what protects them here is the private `tmp/` above them.
pub fn write_file(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut f = create_fresh(path, mode)?;
    f.write_all(content).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// A new, empty file at `path` with exactly `mode`, replacing whatever was
/// there: a link left at the name is removed, never written through.
pub fn create_fresh(path: &Path, mode: u32) -> Result<fs::File> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::op(format!("replacing {}: {e}", path.display()))),
    }
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    // The umask may have taken bits off `mode`; never adds any.
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// A fresh directory under `parent` that did not exist before (0700, name
/// `<prefix>-<pid>-<random>`), removed with its contents on drop. Leftovers
/// of processes that no longer run are removed when a new one is made.
pub struct ScratchDir {
    path: std::path::PathBuf,
}

impl ScratchDir {
    /// Make a new scratch directory under `parent`.
    pub fn new(parent: &Path, prefix: &str) -> Result<ScratchDir> {
        create_dir_all(parent)?;
        sweep(parent, prefix);
        let mut r = [0u8; 6];
        getrandom::fill(&mut r).map_err(|e| Error::op(format!("random name: {e}")))?;
        let path = parent.join(format!("{prefix}-{}-{}", std::process::id(), hex::encode(r)));
        fs::DirBuilder::new().mode(0o700).create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir { path })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Remove `<prefix>-<pid>-*` entries of `parent` whose process is gone.
fn sweep(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(&format!("{prefix}-")).and_then(|r| r.split('-').next()) else { continue };
        let Ok(pid) = pid.parse::<i32>() else { continue };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let gone =
            unsafe { libc::kill(pid, 0) } != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_created_with_their_mode_and_directories_private() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("a/b/key.pem");
        write_file(&f, b"secret", 0o600).unwrap();
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        write_file(&f, b"again", 0o755).unwrap();
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o777, 0o755);
        assert_eq!(fs::read(&f).unwrap(), b"again");
    }

    #[test]
    fn scratch_directories_are_fresh_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let dead = t.path().join("run-999999999-abc");
        fs::create_dir(&dead).unwrap();
        let s = ScratchDir::new(t.path(), "run").unwrap();
        assert!(!dead.exists(), "leftover of a dead process swept");
        assert_eq!(fs::metadata(s.path()).unwrap().mode() & 0o777, 0o700);
        let p = s.path().to_path_buf();
        drop(s);
        assert!(!p.exists());
    }
}
