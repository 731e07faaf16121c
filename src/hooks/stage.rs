//! Staging a hook's workspace: `tmp/workers/<ip>/jobs/<job>/` with the job
//! files from the catalog, its certificates from KV, and the helpers.

use super::assets::{MAAND_PY, MAAND_TS};
use crate::bucket::BucketPaths;
use crate::error::{Context, Result};
use crate::event::KvValue;
use crate::kv::seal::KvKey;
use crate::state::State;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Where a job is staged for a worker.
pub fn staged_dir(paths: &BucketPaths, ip: &str, job: &str) -> PathBuf {
    paths.tmp().join("workers").join(ip).join("jobs").join(job)
}

fn write(path: &std::path::Path, content: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, content).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Stage `job` for the worker at `ip`, replacing what was staged before.
pub fn stage(paths: &BucketPaths, state: &State, kv_key: &KvKey, job: &str, ip: &str) -> Result<PathBuf> {
    let dir = staged_dir(paths, ip, job);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    if let Some(j) = state.catalog.jobs.get(job) {
        for (path, f) in &j.files {
            write(&dir.join(path), &f.content, f.mode)?;
        }
        let ns = format!("maand/job/{job}/worker/{ip}");
        for name in j.spec.certs.keys() {
            for (ext, mode) in [("crt", 0o644), ("key", 0o600)] {
                let key = format!("certs/{name}.{ext}");
                if let Some(v) = state.kv.get(&ns, &key) {
                    let pem = kv_key.open(&ns, &key, v)?;
                    write(&dir.join(&key), pem.as_bytes(), mode)?;
                }
            }
        }
        if !j.spec.certs.is_empty()
            && let Some(KvValue::Plain(ca)) = state.kv.get("maand/worker", "certs/ca.crt")
        {
            write(&dir.join("certs/ca.crt"), ca.as_bytes(), 0o644)?;
        }
    }
    for sub in ["", "_hooks/"] {
        write(&dir.join(format!("{sub}maand.py")), MAAND_PY.as_bytes(), 0o644)?;
        write(&dir.join(format!("{sub}maand.ts")), MAAND_TS.as_bytes(), 0o644)?;
    }
    Ok(dir)
}
