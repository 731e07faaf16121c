//! `maand rollback … --write-workspace`: write the rolled-back release's
//! sources (as the catalog held them at the point) back into
//! `workspace/jobs/<job>/`, removing the newer release's files it lacked.
//! Files the catalog never held (not indexed by build) are left alone.

use crate::bucket::BucketPaths;
use crate::error::{Context, Error, Result};
use crate::state::Job;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// Write `old`'s files over `workspace/jobs/<job>/`, removing those only
/// `current` has; returns the paths written or removed.
pub fn write_back(paths: &BucketPaths, job: &str, old: &Job, current: Option<&Job>) -> Result<Vec<String>> {
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
        std::fs::write(&path, &f.content).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
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
