//! Staging one job for one worker: `tmp/workers/<ip>/` with `worker.json`,
//! `jobs.json`, `bin/runner.py`, `bin/worker.py` and `jobs/<job>/` (job
//! files, rendered `*.tpl`, `certs/`), and the per-file hashes of the job tree.

use crate::bucket::{BucketPaths, private};
use crate::error::{Context, Result};
use crate::event::KvValue;
use crate::kv::seal::KvKey;
use crate::plan::rollout::Tree;
use crate::state::State;
use crate::templates::{KvView, Template, TemplateContext};
use crate::worker_assets::{RUNNER_PY, WORKER_PY};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The staging root of a worker.
pub fn worker_dir(paths: &BucketPaths, ip: &str) -> PathBuf {
    workers_dir(paths).join(ip)
}

/// The staging root of every worker: emptied of files at the end of each
/// deploy (a dry run keeps them, saying so) and before a deploy stages
/// anew; its directories stay ([`remove_staged_files`]).
pub fn workers_dir(paths: &BucketPaths) -> PathBuf {
    paths.tmp().join("workers")
}

/// Put `content` (mode `mode`) at `path` in a worker's staged tree as a
/// hard link to the one copy of those bytes staged this deploy, in
/// `tmp/workers/.blobs/<sha256>-<mode>`: 16 workers of a 20-file job make
/// 20 new files, not 320. Creating a file costs far more than linking one
/// (measured on ext4 after the previous deploy's staging was deleted: 352
/// files in 200–300 ms against 15 ms of links — docs/performance.md). A
/// filesystem without hard links gets a plain copy.
pub fn place(paths: &BucketPaths, path: &Path, content: &[u8], mode: u32) -> Result<()> {
    let blob = workers_dir(paths).join(".blobs").join(format!("{}-{mode:o}", hex::encode(Sha256::digest(content))));
    if !blob.exists() {
        private::write_file(&blob, content, mode)?;
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(crate::error::Error::op(format!("replacing {}: {e}", path.display()))),
    }
    if std::fs::hard_link(&blob, path).is_ok() {
        return Ok(());
    }
    private::write_file(path, content, mode)
}

/// `worker.json` for `ip`: what `maand job` checks before acting.
pub fn worker_json(state: &State, bucket_id: &str, ip: &str, update_seq: u64) -> String {
    let worker = state.catalog.workers.get(ip);
    let v = serde_json::json!({
        "bucket_id": bucket_id,
        "worker_id": worker.map(|w| w.worker_id.clone()).unwrap_or_default(),
        "worker_ip": ip,
        "labels": worker.map(|w| w.labels.clone()).unwrap_or_default(),
        "update_seq": update_seq,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// Inputs shared by every staging of a deploy.
pub struct StageContext<'a> {
    /// Bucket paths.
    pub paths: &'a BucketPaths,
    /// State to read files, certificates and KV from.
    pub state: Arc<State>,
    /// Secret key.
    pub kv_key: &'a KvKey,
    /// Bucket id.
    pub bucket_id: &'a str,
    /// This deploy's update_seq.
    pub update_seq: u64,
}

/// `jobs.json` of worker `ip` in the original's shape, `[{"job", "disabled"}]`
/// for its allocations not removed: runner.py without --jobs starts every
/// enabled job from it (reboot recovery).
pub fn jobs_json(state: &State, ip: &str) -> String {
    let jobs: Vec<serde_json::Value> = state
        .catalog
        .allocations
        .values()
        .filter(|a| a.worker_ip == ip && !a.removed)
        .map(|a| serde_json::json!({ "job": a.job, "disabled": u8::from(a.disabled) }))
        .collect();
    format!("{}\n", serde_json::Value::Array(jobs))
}

/// The staging renderer's identity and version, recorded with each staging
/// decision (`JobStaged`). Raise the number whenever what a staged tree
/// holds for the same inputs changes (template engine, its functions,
/// staging rules): `replay --check` then reports older trees as "renderer
/// changed since this session" instead of a divergence.
pub const RENDERER: &str = concat!("maand-stage/1 gotmpl/", "0.6.1");

/// The files of `jobs/<job>/` for one worker: (relative path, content,
/// mode), and the tree change detection compares (path → hash:mode).
pub struct RenderedJob {
    /// Files to write, in order.
    pub files: Vec<(String, Vec<u8>, u32)>,
    /// The staged tree.
    pub tree: Tree,
}

/// Stage `job` for `ip`; returns the tree of `jobs/<job>/` (path → hash).
pub fn stage_job(cx: &StageContext, job: &str, ip: &str) -> Result<Tree> {
    let dir = stage_worker_files(cx, job, ip)?;
    let rendered = render_job(&cx.state, cx.kv_key, cx.bucket_id, cx.update_seq, job, ip)?;
    for (rel, content, mode) in &rendered.files {
        place(cx.paths, &dir.join(rel), content, *mode)?;
    }
    prune_empty_dirs(&dir).with_context(|| format!("staging {}", dir.display()))?;
    Ok(rendered.tree)
}

/// Write `ip`'s `worker.json`, `jobs.json` and `bin/`, and an empty
/// `jobs/<job>/`; returns that directory. Shared by staging and by a
/// rollback's staging of recorded bytes.
pub fn stage_worker_files(cx: &StageContext, job: &str, ip: &str) -> Result<PathBuf> {
    let state = &cx.state;
    let root = worker_dir(cx.paths, ip);
    let p = cx.paths;
    place(p, &root.join("worker.json"), worker_json(state, cx.bucket_id, ip, cx.update_seq).as_bytes(), 0o644)?;
    place(p, &root.join("jobs.json"), jobs_json(state, ip).as_bytes(), 0o644)?;
    place(p, &root.join("bin/runner.py"), RUNNER_PY.as_bytes(), 0o755)?;
    place(p, &root.join("bin/worker.py"), WORKER_PY.as_bytes(), 0o755)?;

    let dir = root.join("jobs").join(job);
    remove_staged_files(&dir, std::time::Duration::MAX).with_context(|| format!("clearing {}", dir.display()))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Remove every file (and symbolic link) under `dir`, keeping directories
/// — except those left empty that were last changed longer than `idle`
/// ago (a worker or job no deploy stages any more). Missing `dir` is fine.
pub fn remove_staged_files(dir: &Path, idle: std::time::Duration) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let path = e.path();
        if e.file_type()?.is_dir() {
            // Read before emptying it: removing what is inside changes it.
            let stale = std::fs::symlink_metadata(&path)?.modified()?.elapsed().is_ok_and(|age| age > idle);
            remove_staged_files(&path, idle)?;
            if stale {
                // Fails when not empty: then it is kept.
                let _ = std::fs::remove_dir(&path);
            }
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Remove the empty directories under `dir` (bottom-up, keeping `dir`):
/// after a job is staged, those are left from an earlier layout of its
/// files, and rsync would otherwise create them on the worker.
pub fn prune_empty_dirs(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            let sub = e.path();
            prune_empty_dirs(&sub)?;
            if std::fs::read_dir(&sub)?.next().is_none() {
                std::fs::remove_dir(&sub)?;
            }
        }
    }
    Ok(())
}

/// Render `jobs/<job>/` for `ip` from `state` without writing anything: a
/// function of the state (job files, catalog, KV, certificates), the key
/// opening sealed values, the bucket id and the deploy's `update_seq`.
/// Staging writes what it returns; `replay --check` re-renders with it.
pub fn render_job(
    state: &Arc<State>,
    kv_key: &KvKey,
    bucket_id: &str,
    update_seq: u64,
    job: &str,
    ip: &str,
) -> Result<RenderedJob> {
    let mut out = RenderedJob { files: Vec::new(), tree: Tree::new() };
    let Some(j) = state.catalog.jobs.get(job) else { return Ok(out) };
    let worker = state.catalog.workers.get(ip);
    let spec = &j.spec;
    let deployed = state.deployed.get(&(job.to_string(), ip.to_string()));
    let alloc = state.catalog.allocations.get(&(job.to_string(), ip.to_string()));
    let ctx = TemplateContext {
        allocation_id: alloc.map(|a| a.alloc_id.clone()).unwrap_or_default(),
        job: job.to_string(),
        current_version: deployed.map_or_else(|| "0.0.0".into(), |d| d.version.clone()),
        new_version: spec.version.clone(),
        worker_ip: ip.to_string(),
        worker_id: worker.map(|w| w.worker_id.clone()).unwrap_or_default(),
        labels: worker.map(|w| w.labels.clone()).unwrap_or_default(),
        bucket_id: bucket_id.to_string(),
        update_seq,
        bucket_path: format!("/opt/worker/{bucket_id}"),
        job_path: format!("/opt/worker/{bucket_id}/jobs/{job}"),
    };
    let upstream: Vec<String> = spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect();
    let view = KvView::new(state.clone(), kv_key.clone(), job, ip, upstream);
    // Change detection hashes templates as rendered for the steady context
    // (TemplateContext::steady): `.CurrentVersion` and `.UpdateSeq` never
    // make an allocation restart by themselves (docs/templates.md).
    let steady = ctx.steady();
    let mut steady_hashes: Vec<(String, String)> = Vec::new();
    let mut add = |rel: &str, content: Vec<u8>, mode: u32| {
        out.tree.insert(rel.to_string(), format!("{}:{mode:o}", hex::encode(Sha256::digest(&content))));
        out.files.push((rel.to_string(), content, mode));
    };
    for (path, f) in &j.files {
        if crate::prometheus::stage::control_host_only(path) {
            continue; // hooks run on the control host; _prometheus/ goes to the server job
        }
        if let Some(out) = path.strip_suffix(".tpl") {
            let src = String::from_utf8(f.content.clone())
                .map_err(|_| crate::error::Error::input(format!("template workspace/jobs/{job}/{path}: not UTF-8")))?;
            let file = format!("workspace/jobs/{job}/{path}");
            let tpl = Template::parse(&file, &src, view.clone())?;
            let rendered = tpl.render_full(&ctx)?;
            // Output holding a secret or a private key is for its owner only,
            // here and on the worker (rsync keeps the mode).
            let mode = if rendered.secret { f.mode & 0o700 } else { f.mode };
            add(out, rendered.text.clone().into_bytes(), mode);
            if steady != ctx {
                let hashed = tpl.render(&steady).map_err(|e| {
                    e.context("rendered for change detection (.CurrentVersion = .NewVersion, .UpdateSeq = 0)")
                })?;
                if hashed != rendered.text {
                    steady_hashes.push((out.to_string(), format!("{}:{mode:o}", hex::encode(Sha256::digest(hashed)))));
                }
            }
        } else {
            add(path, f.content.clone(), f.mode);
        }
    }
    // A Prometheus server job gets the rules, runbooks and dashboards of every job.
    for (rel, content) in crate::prometheus::stage::server_files(state, job, ip)? {
        add(&rel, content, 0o644);
    }
    let ns = format!("maand/job/{job}/worker/{ip}");
    for name in spec.certs.keys() {
        for (ext, mode) in [("crt", 0o644), ("key", 0o600)] {
            let key = format!("certs/{name}.{ext}");
            if let Some(v) = state.kv.stored_get(&ns, &key) {
                add(&key, kv_key.open(&ns, &key, v)?.into_bytes(), mode);
            }
        }
    }
    if !spec.certs.is_empty()
        && let Some(KvValue::Plain(ca)) = state.kv.stored_get("maand/worker", "certs/ca.crt")
    {
        add("certs/ca.crt", ca.clone().into_bytes(), 0o644);
    }
    out.tree.extend(steady_hashes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    /// Clearing keeps directories (no block freed, no discard) and removes
    /// every file and link; empty directories idle long enough go.
    #[test]
    fn staged_files_go_and_directories_stay() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("workers");
        std::fs::create_dir_all(root.join("10.0.0.1/jobs/j/sub")).unwrap();
        std::fs::create_dir_all(root.join("10.0.0.9/jobs/old")).unwrap();
        std::fs::write(root.join("10.0.0.1/jobs/j/sub/secret"), "s").unwrap();
        std::fs::write(root.join("10.0.0.1/worker.json"), "{}").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("10.0.0.1/link")).unwrap();
        super::remove_staged_files(&root, std::time::Duration::MAX).unwrap();
        assert!(root.join("10.0.0.1/jobs/j/sub").is_dir());
        assert!(!root.join("10.0.0.1/jobs/j/sub/secret").exists());
        assert!(std::fs::symlink_metadata(root.join("10.0.0.1/link")).is_err(), "the link itself is removed");
        assert!(std::path::Path::new("/etc/passwd").exists(), "never what it points at");
        std::thread::sleep(std::time::Duration::from_millis(20));
        super::remove_staged_files(&root, std::time::Duration::from_millis(1)).unwrap();
        assert!(!root.join("10.0.0.9").exists(), "idle empty directories go");
        super::remove_staged_files(&t.path().join("missing"), std::time::Duration::MAX).unwrap();
    }

    /// After staging, directories an earlier layout left empty are pruned.
    #[test]
    fn empty_directories_are_pruned_below_the_job() {
        let t = tempfile::tempdir().unwrap();
        let job = t.path().join("jobs/j");
        std::fs::create_dir_all(job.join("a/b/c")).unwrap();
        std::fs::create_dir_all(job.join("keep")).unwrap();
        std::fs::write(job.join("keep/f"), "x").unwrap();
        super::prune_empty_dirs(&job).unwrap();
        assert!(!job.join("a").exists());
        assert!(job.join("keep/f").exists());
        assert!(job.is_dir(), "the job directory itself stays");
    }

    /// Equal bytes with equal modes are one file linked into every tree;
    /// anything else is its own file, with its own mode.
    #[test]
    fn equal_staged_files_share_one_copy() {
        let t = tempfile::tempdir().unwrap();
        let paths = crate::bucket::BucketPaths::new(t.path());
        let root = super::workers_dir(&paths);
        let (a, b, c, d) = (
            root.join("10.0.0.1/jobs/j/x"),
            root.join("10.0.0.2/jobs/j/x"),
            root.join("10.0.0.3/jobs/j/x"),
            root.join("10.0.0.4/k"),
        );
        super::place(&paths, &a, b"same", 0o644).unwrap();
        super::place(&paths, &b, b"same", 0o644).unwrap();
        super::place(&paths, &c, b"same", 0o600).unwrap();
        super::place(&paths, &d, b"other", 0o644).unwrap();
        let ino = |p: &std::path::Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&a), ino(&b));
        assert_ne!(ino(&a), ino(&c), "another mode is another file");
        assert_eq!(std::fs::metadata(&c).unwrap().mode() & 0o777, 0o600);
        assert_ne!(ino(&a), ino(&d));
        assert_eq!(std::fs::read(&d).unwrap(), b"other");
        // Placing again replaces what is there.
        super::place(&paths, &a, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        assert_eq!(std::fs::read(&b).unwrap(), b"same", "the other tree keeps its bytes");
    }

    /// The renderer identity names the template engine actually linked.
    #[test]
    fn renderer_names_the_locked_gotmpl_version() {
        let lock = include_str!("../../Cargo.lock");
        let at = lock.find("name = \"gotmpl\"\nversion = \"").expect("gotmpl in Cargo.lock");
        let rest = &lock[at + "name = \"gotmpl\"\nversion = \"".len()..];
        let version = &rest[..rest.find('"').unwrap()];
        assert!(super::RENDERER.ends_with(&format!(" gotmpl/{version}")), "{} vs {version}", super::RENDERER);
    }
}
