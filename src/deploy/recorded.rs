//! Recorded releases: the exact bytes staged for each promoted allocation
//! (`StagedRecorded`, written just before its `AllocationPromoted`), and
//! staging them again for `maand rollback` instead of rendering anew.
//!
//! Content-addressed: each distinct file content enters the journal once
//! (sealed under `kv.key`, since staged files may hold rendered secrets;
//! the state keeps the hashes recorded), and per promoted worker only
//! path → hash, so the journal grows with changes, not with fleet size.

use super::stage::{self, StageContext};
use crate::bucket::BucketPaths;
use crate::error::{Context, Error, Result};
use crate::event::{Event, KvValue};
use crate::kv::seal::KvKey;
use crate::plan::rollout::Tree;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The namespace staged bytes are sealed for (the AEAD binds it).
pub const NAMESPACE: &str = "maand/staged";

/// The renderer a rollback's `JobStaged` names: the job was staged from
/// the recorded bytes, not rendered (`replay --check` says so instead of
/// rendering it again).
pub const RENDERER: &str = "maand-rollback/recorded-bytes";

/// What a rollback ships for one allocation.
#[derive(Debug, Clone, Default)]
pub struct RecordedAlloc {
    /// The tree as promoted then (the planner compares it with today's).
    pub promoted: Tree,
    /// path → (content hash, mode) of the bytes staged then.
    pub files: BTreeMap<String, (String, u32)>,
}

/// A release to ship instead of staging: job → worker → allocation, and
/// the sealed contents by hash.
#[derive(Debug, Clone, Default)]
pub struct Release {
    /// Per job, per worker.
    pub jobs: BTreeMap<String, BTreeMap<String, RecordedAlloc>>,
    /// Content hash → sealed bytes.
    pub blobs: BTreeMap<String, KvValue>,
}

/// The `StagedRecorded` event for `job` on `promoted` (worker → tree hash
/// about to be promoted), read from the staging area this deploy wrote;
/// contents whose hash is in `known` (already in the journal) are not
/// recorded again.
pub fn record_event(
    paths: &BucketPaths,
    kv_key: &KvKey,
    job: &str,
    promoted: &BTreeMap<String, String>,
    known: &std::collections::BTreeSet<String>,
) -> Result<Event> {
    let mut blobs = BTreeMap::new();
    let mut trees = BTreeMap::new();
    for ip in promoted.keys() {
        let root = stage::worker_dir(paths, ip).join("jobs").join(job);
        let mut files = Vec::new();
        walk(&root, "", &mut files)?;
        let mut tree = BTreeMap::new();
        for (rel, bytes, mode) in files {
            let hash = hex::encode(Sha256::digest(&bytes));
            if !known.contains(&hash) && !blobs.contains_key(&hash) {
                blobs.insert(hash.clone(), kv_key.seal_bytes(NAMESPACE, &hash, &bytes)?);
            }
            tree.insert(rel, format!("{hash}:{mode:o}"));
        }
        trees.insert(ip.clone(), tree);
    }
    Ok(Event::StagedRecorded { job: job.to_string(), blobs, trees, hashes: promoted.clone() })
}

/// Every regular file under `dir` as (relative path, bytes, mode).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>, u32)>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::op(format!("reading {}: {e}", dir.display()))),
    };
    let mut entries: Vec<_> = entries.collect::<std::io::Result<_>>().context("reading the staging area")?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let meta = std::fs::symlink_metadata(e.path()).context("reading the staging area")?;
        if meta.is_dir() {
            walk(&e.path(), &rel, out)?;
        } else if meta.is_file() {
            let bytes = std::fs::read(e.path()).with_context(|| format!("reading {}", e.path().display()))?;
            out.push((rel, bytes, meta.permissions().mode() & 0o7777));
        }
    }
    Ok(())
}

/// Stage `job` for `ip` from the recorded bytes of `release`: the same
/// layout as [`stage::stage_job`]; returns the tree as promoted then.
pub fn stage_recorded(cx: &StageContext, kv_key: &KvKey, release: &Release, job: &str, ip: &str) -> Result<Tree> {
    let alloc = release.jobs.get(job).and_then(|w| w.get(ip)).ok_or_else(|| {
        Error::input(format!("rollback of {job}: no recorded release for worker {ip} (it held no allocation then)"))
    })?;
    let dir = stage::stage_worker_files(cx, job, ip)?;
    for (rel, (hash, mode)) in &alloc.files {
        let sealed = release.blobs.get(hash).ok_or_else(|| {
            Error::op(format!("rollback of {job} on {ip}: the journal lacks the bytes of {rel} ({hash})"))
        })?;
        let bytes = kv_key.open_bytes(NAMESPACE, hash, sealed)?;
        if hex::encode(Sha256::digest(&bytes)) != *hash {
            return Err(Error::op(format!(
                "rollback of {job} on {ip}: recorded bytes of {rel} do not match their hash"
            )));
        }
        stage::place(cx.paths, &dir.join(rel), &bytes, *mode)?;
    }
    stage::prune_empty_dirs(&dir).with_context(|| format!("staging {}", dir.display()))?;
    Ok(alloc.promoted.clone())
}

/// Parse a recorded tree entry `<hash>:<mode>`.
pub fn parse_entry(entry: &str) -> Option<(String, u32)> {
    let (hash, mode) = entry.rsplit_once(':')?;
    Some((hash.to_string(), u32::from_str_radix(mode, 8).ok()?))
}
