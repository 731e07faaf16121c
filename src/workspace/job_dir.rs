//! A job directory: its files (skipping virtualenvs and caches), reserved
//! directories, the lifecycle Makefile and the hook scripts.

use super::manifest::{HookEvent, Manifest};
use super::{JobFileSpec, RESERVED_DIRS, SKIPPED_DIRS, ScriptKind};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Largest job file accepted. Job files are stored in the journal (every
/// changed version, for good) and shipped by rsync; large artifacts belong
/// in an artifact store the job's Makefile fetches from.
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// Largest total size of one job's files.
pub const MAX_JOB_BYTES: u64 = 128 << 20;

/// All files of a job, keyed by path relative to the job directory.
///
/// A symbolic link to a regular file inside the same job directory is
/// stored as a copy of that file; any other link (leaving the job
/// directory, to a directory, dangling) is refused, as are names that are
/// not UTF-8, files over [`MAX_FILE_BYTES`], jobs over [`MAX_JOB_BYTES`],
/// and anything that is neither a file nor a directory.
pub fn read_job_files(job: &str, dir: &Path) -> Result<BTreeMap<String, JobFileSpec>> {
    let root =
        std::fs::canonicalize(dir).map_err(|e| Error::input(format!("workspace/jobs/{job}/: cannot read: {e}")))?;
    let mut walk = Walk { job, dir, root, total: 0, out: BTreeMap::new() };
    walk.dir("")?;
    Ok(walk.out)
}

struct Walk<'a> {
    job: &'a str,
    dir: &'a Path,
    /// The job directory with symlinks resolved: links must stay below it.
    root: std::path::PathBuf,
    total: u64,
    out: BTreeMap<String, JobFileSpec>,
}

impl Walk<'_> {
    fn dir(&mut self, rel: &str) -> Result<()> {
        let job = self.job;
        let here = if rel.is_empty() { self.dir.to_path_buf() } else { self.dir.join(rel) };
        let mut entries: Vec<_> = std::fs::read_dir(&here)
            .map_err(|e| Error::input(format!("workspace/jobs/{job}/{rel}: cannot read: {e}")))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::input(format!("workspace/jobs/{job}/{rel}: cannot read: {e}")))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                let lossy = e.file_name().to_string_lossy().into_owned();
                let shown = if rel.is_empty() { lossy } else { format!("{rel}/{lossy}") };
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/{shown}: the file name is not valid UTF-8; rename it"
                )));
            };
            let path = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let shown = format!("workspace/jobs/{job}/{path}");
            // Not followed: a link is judged by where it points.
            let meta = std::fs::symlink_metadata(e.path()).map_err(|err| Error::input(format!("{shown}: {err}")))?;
            if meta.is_dir() {
                if SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                if rel.is_empty() && RESERVED_DIRS.contains(&name.as_str()) {
                    return Err(Error::input(format!(
                        "{shown}/: a job may not contain `{name}/` (it is created on workers at runtime); move or rename it"
                    )));
                }
                self.dir(&path)?;
            } else if meta.is_file() {
                self.file(&path, &e.path(), &meta)?;
            } else if meta.file_type().is_symlink() {
                let target = self.link_target(&shown, &e.path())?;
                let meta = std::fs::metadata(&target).map_err(|err| Error::input(format!("{shown}: {err}")))?;
                self.file(&path, &target, &meta)?;
            } else {
                return Err(Error::input(format!(
                    "{shown}: not a regular file, directory or link (a socket, FIFO or device); remove it"
                )));
            }
        }
        Ok(())
    }

    /// Where the link at `link` leads, if that is a regular file inside the
    /// job directory.
    fn link_target(&self, shown: &str, link: &Path) -> Result<std::path::PathBuf> {
        let to = std::fs::read_link(link).map(|t| t.display().to_string()).unwrap_or_default();
        let refuse = |why: &str| {
            Error::input(format!(
                "{shown}: symbolic link to {to:?} {why}; only links to files inside the job folder are allowed (copy the file in instead)"
            ))
        };
        let target = std::fs::canonicalize(link).map_err(|_| refuse("leads nowhere"))?;
        if !target.starts_with(&self.root) {
            return Err(refuse("leaves the job folder"));
        }
        if !target.is_file() {
            return Err(refuse("is not a regular file"));
        }
        Ok(target)
    }

    fn file(&mut self, path: &str, source: &Path, meta: &std::fs::Metadata) -> Result<()> {
        let shown = format!("workspace/jobs/{}/{path}", self.job);
        let mb = |n: u64| n as f64 / (1 << 20) as f64;
        if meta.len() > MAX_FILE_BYTES {
            return Err(Error::input(format!(
                "{shown}: {:.1} MiB is over the {} MiB limit for a job file (fetch large artifacts from the job's Makefile instead)",
                mb(meta.len()),
                MAX_FILE_BYTES >> 20
            )));
        }
        self.total += meta.len();
        if self.total > MAX_JOB_BYTES {
            return Err(Error::input(format!(
                "{shown}: the files of job {} add up to more than the {} MiB limit for one job",
                self.job,
                MAX_JOB_BYTES >> 20
            )));
        }
        let content = std::fs::read(source).map_err(|err| Error::input(format!("{shown}: cannot read: {err}")))?;
        if content.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::input(format!("{shown}: grew over the {} MiB limit while read", MAX_FILE_BYTES >> 20)));
        }
        self.out.insert(path.to_string(), JobFileSpec { mode: meta.permissions().mode() & 0o777, content });
        Ok(())
    }
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
    check_shipped_names(job, manifest, files)?;
    let mut scripts = BTreeMap::new();
    for name in manifest.hooks.keys() {
        // The original's `command_*` hooks live in `_modules/`.
        let folder = if name.starts_with("command_") { "_modules" } else { "_hooks" };
        let found: Vec<&String> = ["py", "ts", "js"]
            .iter()
            .map(|ext| format!("{folder}/{name}.{ext}"))
            .filter_map(|p| files.get_key_value(&p).map(|(k, _)| k))
            .collect();
        match found.as_slice() {
            [one] => {
                scripts.insert(name.clone(), (*one).clone());
            }
            [] => {
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/manifest.json: field `hooks.{name}`: no script {folder}/{name}.py, .ts or .js"
                )));
            }
            many => {
                let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/{folder}/: hook {name} has more than one script ({}); keep exactly one",
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

/// Every file shipped to workers has one source (control-host-only folders
/// such as `_hooks/` and `_prometheus/` are not shipped, so not checked): `conf` and `conf.tpl`
/// would both write `conf`, a file named `.tpl` would write a nameless file,
/// and a job file may not take the place of a certificate deploy writes.
fn check_shipped_names(job: &str, manifest: &Manifest, files: &BTreeMap<String, JobFileSpec>) -> Result<()> {
    let mut outputs: BTreeMap<String, &str> = BTreeMap::new();
    for path in files.keys().filter(|p| !crate::prometheus::stage::control_host_only(p)) {
        let out = path.strip_suffix(".tpl").unwrap_or(path);
        if out.is_empty() || out.ends_with('/') {
            return Err(Error::input(format!(
                "workspace/jobs/{job}/{path}: a template needs a name before `.tpl` (it renders to a file without one)"
            )));
        }
        if let Some(first) = outputs.insert(out.to_string(), path) {
            return Err(Error::input(format!(
                "workspace/jobs/{job}/{path}: both {first} and {path} would be shipped as {out}; keep one"
            )));
        }
    }
    if !manifest.certs.is_empty() {
        let mut reserved = vec!["certs/ca.crt".to_string()];
        for name in manifest.certs.keys() {
            reserved.push(format!("certs/{name}.crt"));
            reserved.push(format!("certs/{name}.key"));
        }
        for r in &reserved {
            if let Some(src) = outputs.get(r) {
                return Err(Error::input(format!(
                    "workspace/jobs/{job}/{src}: deploy writes {r} from the job's certificates; rename the file"
                )));
            }
        }
    }
    Ok(())
}

/// The interpreter a hook script needs.
pub fn script_kind(path: &str) -> ScriptKind {
    if path.ends_with(".py") { ScriptKind::Python } else { ScriptKind::Bun }
}
