//! `maand rollback … --write-workspace`: write the rolled-back release's
//! sources (as the catalog held them at the point) back into
//! `workspace/jobs/<job>/`, removing the newer release's files it lacked.
//! Files the catalog never held (not indexed by build) are left alone.
//! Nothing is written through a link: one on the way to a file (the job
//! folder, a subfolder, the file) is refused before the rollback starts,
//! and each file is replaced by a new one, never opened where it is.

use crate::bucket::BucketPaths;
use crate::error::{Context, Error, Result};
use crate::state::Job;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// Every path `write_back` would write or remove: bad input (exit 2) when
/// one leads through a symbolic link or a file where a folder must be.
pub fn check(paths: &BucketPaths, job: &str, old: &Job, current: Option<&Job>) -> Result<()> {
    let rels = old.files.keys().chain(current.into_iter().flat_map(|c| c.files.keys()));
    for rel in rels {
        let mut at = paths.jobs_dir();
        let parts: Vec<&std::ffi::OsStr> =
            std::iter::once(std::ffi::OsStr::new(job)).chain(safe(job, rel)?.iter()).collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let Ok(m) = std::fs::symlink_metadata(&at) else { break };
            let why = if m.file_type().is_symlink() {
                "is a symbolic link"
            } else if i + 1 < parts.len() && !m.is_dir() {
                "is not a folder"
            } else {
                continue;
            };
            return Err(Error::input(format!(
                "rollback --write-workspace: {} {why}: maand writes the old sources only into the job's own files; remove it (or roll back without --write-workspace)",
                paths.rel(&at)
            )));
        }
    }
    Ok(())
}

/// Write `old`'s files over `workspace/jobs/<job>/`, removing those only
/// `current` has; returns the paths written or removed.
pub fn write_back(paths: &BucketPaths, job: &str, old: &Job, current: Option<&Job>) -> Result<Vec<String>> {
    check(paths, job, old, current)?;
    let dir = paths.jobs_dir().join(job);
    let mut changed = Vec::new();
    for (rel, f) in &old.files {
        let path = dir.join(safe(job, rel)?);
        if std::fs::read(&path).is_ok_and(|c| c == f.content)
            && std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o7777 == f.mode)
        {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        // A new file in its place (a link planted since the check is
        // replaced, not followed), with its mode from the start.
        crate::bucket::private::write_file(&path, &f.content, f.mode)?;
        changed.push(rel.clone());
    }
    for rel in current.into_iter().flat_map(|c| c.files.keys()).filter(|p| !old.files.contains_key(*p)) {
        let path = dir.join(safe(job, rel)?);
        match std::fs::remove_file(&path) {
            Ok(()) => changed.push(format!("{rel} (removed)")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::op(format!("removing {}: {e}", path.display()))),
        }
    }
    Ok(changed)
}

/// A catalog path as a relative path that stays inside the job directory.
fn safe<'a>(job: &str, rel: &'a str) -> Result<&'a Path> {
    let p = Path::new(rel);
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p)
    } else {
        Err(Error::op(format!("job {job}: catalog file path {rel:?} leaves the job directory; not written")))
    }
}
