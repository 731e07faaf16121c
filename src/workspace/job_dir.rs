//! A job directory: its files (skipping virtualenvs and caches), reserved
//! directories, the lifecycle Makefile and the hook scripts.

use super::manifest::{HookEvent, Manifest};
use super::{JobFileSpec, RESERVED_DIRS, SKIPPED_DIRS, ScriptKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// All files of a job, keyed by path relative to the job directory.
pub fn read_job_files(job: &str, dir: &Path) -> Result<BTreeMap<String, JobFileSpec>> {
    let mut out = BTreeMap::new();
    walk(job, dir, "", &mut out)?;
    Ok(out)
}

fn walk(job: &str, dir: &Path, rel: &str, out: &mut BTreeMap<String, JobFileSpec>) -> Result<()> {
    let here = if rel.is_empty() { dir.to_path_buf() } else { dir.join(rel) };
    let mut entries: Vec<_> = std::fs::read_dir(&here)
        .map_err(|e| Error::input(format!("workspace/jobs/{job}/{rel}: cannot read: {e}")))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::input(format!("workspace/jobs/{job}/{rel}: cannot read: {e}")))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
        let shown = format!("workspace/jobs/{job}/{path}");
        let meta = std::fs::metadata(e.path()).map_err(|err| Error::input(format!("{shown}: {err}")))?;
        if meta.is_dir() {
            if SKIPPED_DIRS.contains(&name.as_str()) {
                continue;
            }
            if rel.is_empty() && RESERVED_DIRS.contains(&name.as_str()) {
                return Err(Error::input(format!(
                    "{shown}/: a job may not contain `{name}/` (it is created on workers at runtime); move or rename it"
                )));
            }
            walk(job, dir, &path, out)?;
        } else if meta.is_file() {
            let content =
                std::fs::read(e.path()).map_err(|err| Error::input(format!("{shown}: cannot read: {err}")))?;
            out.insert(path, JobFileSpec { mode: meta.permissions().mode() & 0o777, content });
        }
    }
    Ok(())
}

/// Check the lifecycle Makefile and the hook scripts against the manifest;
/// return each hook's script path.
pub fn check_job_layout(
    job: &str,
    manifest: &Manifest,
    files: &BTreeMap<String, JobFileSpec>,
) -> Result<BTreeMap<String, String>> {
    let has_job_control = manifest.hooks.values().any(|h| h.executed_on.contains(&HookEvent::JobControl));
    if !has_job_control && !files.contains_key("Makefile") && !files.contains_key("Makefile.tpl") {
        return Err(Error::input(format!(
            "workspace/jobs/{job}/: needs a Makefile (or Makefile.tpl) with start/stop/restart targets, or a hook with \"executed_on\": [\"job_control\"]"
        )));
    }
    let mut scripts = BTreeMap::new();
    for name in manifest.hooks.keys() {
        let found: Vec<&String> = ["py", "ts", "js"]
            .iter()
            .map(|ext| format!("_hooks/{name}.{ext}"))
            .filter_map(|p| files.get_key_value(&p).map(|(k, _)| k))
            .collect();
        match found.as_slice() {
            [one] => {
                scripts.insert(name.clone(), (*one).clone());
            }
            [] => {
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/manifest.json: field `hooks.{name}`: no script _hooks/{name}.py, .ts or .js"
                )));
            }
            many => {
                let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/_hooks/: hook {name} has more than one script ({}); keep exactly one",
                    list.join(", ")
                )));
            }
        }
    }
    for path in files.keys() {
        if let Some(file) = path.strip_prefix("_hooks/")
            && !file.contains('/')
            && let Some((stem, ext)) = file.rsplit_once('.')
            && stem.starts_with("hook_")
            && matches!(ext, "py" | "ts" | "js")
            && !manifest.hooks.contains_key(stem)
        {
            return Err(Error::input(format!(
                "workspace/jobs/{job}/{path}: hook script with no entry in manifest.json `hooks` (declare {stem} or rename the file)"
            )));
        }
    }
    Ok(scripts)
}

/// The interpreter a hook script needs.
pub fn script_kind(path: &str) -> ScriptKind {
    if path.ends_with(".py") { ScriptKind::Python } else { ScriptKind::Bun }
}
