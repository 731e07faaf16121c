//! Staging a hook's workspace: `tmp/hooks/<run>/<ip>/jobs/<job>/` with the
//! job files from the catalog, its certificates from KV (in `certs/` and
//! `_hooks/certs/`, with the CA's `ca.crt` for every job), and the helpers.
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
        // As the original stages them next to the scripts: hook libraries
        // open `certs/` beside their own file (`_hooks/certs/`), others the
        // job's `certs/`; `ca.crt` is there for every job.
        let ns = format!("maand/job/{job}/worker/{ip}");
        let ca = match state.kv.stored_get("maand/worker", "certs/ca.crt") {
            Some(KvValue::Plain(ca)) => Some(ca.as_bytes()),
            _ => None,
        };
        for certs in ["certs", "_hooks/certs"] {
            for name in j.spec.certs.keys() {
                for (ext, mode) in [("crt", 0o644), ("key", 0o600)] {
                    let key = format!("certs/{name}.{ext}");
                    if let Some(v) = state.kv.stored_get(&ns, &key) {
                        let pem = kv_key.open(&ns, &key, v)?;
                        write(&dir.join(certs).join(format!("{name}.{ext}")), pem.as_bytes(), mode)?;
                    }
                }
            }
            if let Some(ca) = ca {
                write(&dir.join(certs).join("ca.crt"), ca, 0o644)?;
            }
        }
    }
    for sub in ["", "_hooks/", "_modules/"] {
        write(&dir.join(format!("{sub}maand.py")), MAAND_PY.as_bytes(), 0o644)?;
        write(&dir.join(format!("{sub}maand.ts")), MAAND_TS.as_bytes(), 0o644)?;
    }
    Ok(dir)
}
