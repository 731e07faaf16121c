//! Staging a hook's workspace: `tmp/hooks/<run>/<ip>/jobs/<job>/` with the
//! job files from the catalog, its certificates from KV, and the helpers.
//!
//! `<run>` is a fresh directory per command run (see [`HookStaging`]),
//! separate from deploy's `tmp/workers/`, so a hook run never replaces a
//! deploy's rendered files and two processes never share a directory; it
//! is removed when the run ends.

use super::assets::{MAAND_PY, MAAND_TS};
use crate::bucket::{BucketPaths, private};
use crate::error::{Context, Result};
use crate::event::KvValue;
use crate::kv::seal::KvKey;
use crate::state::State;
use std::path::{Path, PathBuf};

/// The staging area of one run of hooks; removed on drop.
pub struct HookStaging {
    dir: private::ScratchDir,
}

impl HookStaging {
    /// A fresh, private staging area under `tmp/hooks/`.
    pub fn new(paths: &BucketPaths) -> Result<HookStaging> {
        Ok(HookStaging { dir: private::ScratchDir::new(&paths.tmp().join("hooks"), "run")? })
    }

    /// Its root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// Where a job is staged for a worker under a staging `root`.
pub fn staged_dir(root: &Path, ip: &str, job: &str) -> PathBuf {
    root.join(ip).join("jobs").join(job)
}

fn write(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    private::write_file(path, content, mode)
}

/// Stage `job` for the worker at `ip`, replacing what was staged before.
pub fn stage(root: &Path, state: &State, kv_key: &KvKey, job: &str, ip: &str) -> Result<PathBuf> {
    let dir = staged_dir(root, ip, job);
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
                if let Some(v) = state.kv.stored_get(&ns, &key) {
                    let pem = kv_key.open(&ns, &key, v)?;
                    write(&dir.join(&key), pem.as_bytes(), mode)?;
                }
            }
        }
        if !j.spec.certs.is_empty()
            && let Some(KvValue::Plain(ca)) = state.kv.stored_get("maand/worker", "certs/ca.crt")
        {
            write(&dir.join("certs/ca.crt"), ca.as_bytes(), 0o644)?;
        }
    }
    for sub in ["", "_hooks/", "_modules/"] {
        write(&dir.join(format!("{sub}maand.py")), MAAND_PY.as_bytes(), 0o644)?;
        write(&dir.join(format!("{sub}maand.ts")), MAAND_TS.as_bytes(), 0o644)?;
    }
    Ok(dir)
}
