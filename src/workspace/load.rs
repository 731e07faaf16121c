//! Reading the whole workspace from disk into typed, validated values: the
//! input of the build planner.

use super::bucket_files::{Disabled, Vars, parse_disabled, parse_job_overrides, parse_vars, port_pool};
use super::job_dir::{check_job_layout, read_job_files};
use super::manifest::parse_manifest_noting;
use super::names::check_job_name;
use super::workers::parse_workers;
use super::{JobFileSpec, JobInput, Workspace};
use crate::bucket::{BucketPaths, MaandConf};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, BTreeSet};

fn read_opt(path: &std::path::Path, shown: &str) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::input(format!("{shown}: cannot read: {e}"))),
    }
}

/// Names of the job directories (hidden entries and plain files skipped).
/// A job directory that is a symbolic link, or whose name is not UTF-8, is
/// refused: links inside a job are checked against the job directory, so
/// the directory itself must be where it appears to be.
fn job_dirs(paths: &BucketPaths) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in
        std::fs::read_dir(paths.jobs_dir()).map_err(|e| Error::input(format!("workspace/jobs: cannot read: {e}")))?
    {
        let e = e.map_err(|e| Error::input(format!("workspace/jobs: cannot read: {e}")))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            return Err(Error::input(format!(
                "workspace/jobs/{}: the directory name is not valid UTF-8; rename it",
                e.file_name().to_string_lossy()
            )));
        };
        if name.starts_with('.') {
            continue;
        }
        let ty = e.file_type().map_err(|err| Error::input(format!("workspace/jobs/{name}: {err}")))?;
        if ty.is_symlink() && e.path().is_dir() {
            return Err(Error::input(format!(
                "workspace/jobs/{name}: a job folder may not be a symbolic link; move the folder here instead"
            )));
        }
        if ty.is_dir() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// The workspace as read from disk, before any parsing: the text of the
/// bucket-level files and every job folder's files. `maand build` records
/// the former and a digest of the latter, so [`assemble`] can be run again
/// on them from the journal (`replay --check`).
#[derive(Debug, Clone, Default)]
pub struct RawWorkspace {
    /// `workers.json`, `bucket.conf`, the bucket.jobs file and
    /// `disabled.json` as read, by name (absent files absent).
    pub files: BTreeMap<String, String>,
    /// The bucket.jobs file name.
    pub job_overrides_file: String,
    /// `maand.conf` sets `job_config_selector` (the bucket.jobs file must exist).
    pub overrides_required: bool,
    /// Every job folder's files, by job.
    pub jobs: BTreeMap<String, BTreeMap<String, JobFileSpec>>,
}

/// Read and validate the workspace of the bucket at `paths`. What the
/// original maand accepted and maand tolerates (a folder without a
/// manifest, stale names in `disabled.json` or `bucket.jobs*.conf`, legacy
/// spellings) is printed on stderr as a `warning:` or `deprecated:` line:
/// never ignored silently.
pub fn load(paths: &BucketPaths, conf: &MaandConf) -> Result<Workspace> {
    let (ws, warnings, deprecated) = load_noting(paths, conf)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for d in deprecated {
        eprintln!("deprecated: {d}");
    }
    Ok(ws)
}

/// [`load`], returning the warnings and deprecation notes instead of
/// printing them.
pub fn load_noting(paths: &BucketPaths, conf: &MaandConf) -> Result<(Workspace, Vec<String>, Vec<String>)> {
    assemble_noting(&read(paths, conf)?)
}

/// Read the workspace's files (the file system walk; no parsing but of
/// names).
pub fn read(paths: &BucketPaths, conf: &MaandConf) -> Result<RawWorkspace> {
    let ws = paths.workspace();
    let mut raw = RawWorkspace::default();
    let workers_src = read_opt(&paths.workers_json(), "workspace/workers.json")?.ok_or_else(|| {
        Error::input("workspace/workers.json is missing: create it (`[]` for no workers) or run `maand init`")
    })?;
    raw.files.insert("workers.json".into(), workers_src);
    if let Some(src) = read_opt(&paths.bucket_conf(), "workspace/bucket.conf")? {
        raw.files.insert("bucket.conf".into(), src);
    }
    if paths.jobs_dir().is_dir() {
        for name in job_dirs(paths)? {
            check_job_name(&name).map_err(|e| Error::input(format!("workspace/jobs/{name}/: {e}")))?;
            // Every file of the job, manifest and vars.toml included, is read
            // through the same checks (links, names, sizes).
            let files = read_job_files(&name, &paths.jobs_dir().join(&name))?;
            raw.jobs.insert(name, files);
        }
    }
    raw.job_overrides_file = if conf.job_config_selector.is_empty() {
        "bucket.jobs.conf".to_string()
    } else {
        format!("bucket.jobs.{}.conf", conf.job_config_selector)
    };
    raw.overrides_required = !conf.job_config_selector.is_empty();
    let shown = format!("workspace/{}", raw.job_overrides_file);
    if let Some(src) = read_opt(&ws.join(&raw.job_overrides_file), &shown)? {
        raw.files.insert(raw.job_overrides_file.clone(), src);
    }
    if let Some(src) = read_opt(&ws.join("disabled.json"), "workspace/disabled.json")? {
        raw.files.insert("disabled.json".into(), src);
    }
    Ok(raw)
}

/// Parse and validate what [`read`] returned into the typed workspace
/// (pure: the same input always gives the same workspace or error).
pub fn assemble(raw: &RawWorkspace) -> Result<Workspace> {
    assemble_noting(raw).map(|(ws, _, _)| ws)
}

/// [`assemble`], with the warnings and deprecation notes of what the
/// original maand accepted.
pub fn assemble_noting(raw: &RawWorkspace) -> Result<(Workspace, Vec<String>, Vec<String>)> {
    let mut warnings = Vec::new();
    let mut deprecated = Vec::new();
    let file = |name: &str| raw.files.get(name).map(String::as_str);
    let workers = parse_workers(file("workers.json").unwrap_or("[]"))?;
    let bucket_src = file("bucket.conf").unwrap_or_default();
    let bucket_vars = parse_vars("workspace/bucket.conf", bucket_src)?;
    let port_pool = port_pool(&bucket_vars, bucket_src)?;

    let mut jobs = BTreeMap::new();
    for (name, files) in &raw.jobs {
        let text = |file: &str| -> Result<Option<String>> {
            files
                .get(file)
                .map(|f| {
                    String::from_utf8(f.content.clone())
                        .map_err(|_| Error::input(format!("workspace/jobs/{name}/{file}: not valid UTF-8")))
                })
                .transpose()
        };
        // The original skips a folder without a manifest; so does maand,
        // saying so.
        let Some(manifest_src) = text("manifest.json")? else {
            warnings.push(format!(
                "workspace/jobs/{name}/: no manifest.json, so not a job; skipped (`maand job create {name}` scaffolds one)"
            ));
            continue;
        };
        let (manifest, notes) = parse_manifest_noting(name, &manifest_src)?;
        deprecated.extend(notes);
        let hook_scripts = check_job_layout(name, &manifest, files)?;
        let vars_file = format!("workspace/jobs/{name}/vars.toml");
        let vars = match text("vars.toml")? {
            Some(src) => parse_vars(&vars_file, &src)?,
            None => Vars::new(),
        };
        jobs.insert(name.clone(), JobInput { name: name.clone(), manifest, files: files.clone(), hook_scripts, vars });
    }

    let job_overrides_file = raw.job_overrides_file.clone();
    let shown = format!("workspace/{job_overrides_file}");
    let job_overrides = match file(&job_overrides_file) {
        Some(src) => parse_job_overrides(&shown, src)?,
        None if raw.overrides_required => {
            return Err(Error::input(format!(
                "{shown} is missing (maand.conf sets job_config_selector = {:?})",
                job_overrides_file.trim_start_matches("bucket.jobs.").trim_end_matches(".conf")
            )));
        }
        None => BTreeMap::new(),
    };
    // The original ignores sections of jobs that are gone; maand ignores
    // them too, but says so (a typo would otherwise go unnoticed).
    let mut job_overrides = job_overrides;
    job_overrides.retain(|job, _| {
        let known = jobs.contains_key(job);
        if !known {
            warnings.push(format!("{shown}: section [{job}] names no job in workspace/jobs; ignored"));
        }
        known
    });

    let job_names: BTreeSet<&str> = jobs.keys().map(String::as_str).collect();
    let worker_ips: BTreeSet<&str> = workers.iter().map(|w| w.host.as_str()).collect();
    let disabled = match file("disabled.json") {
        Some(src) => {
            let (disabled, stale) = parse_disabled(src, &job_names, &worker_ips)?;
            warnings.extend(stale);
            disabled
        }
        None => Disabled::default(),
    };
    let ws = Workspace { workers, jobs, bucket_vars, port_pool, job_overrides, job_overrides_file, disabled };
    Ok((ws, warnings, deprecated))
}
