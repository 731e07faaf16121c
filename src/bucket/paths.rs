//! Where everything lives inside a bucket (SPEC §1).

use std::path::{Path, PathBuf};

/// Paths of one bucket, rooted at its directory.
#[derive(Debug, Clone)]
pub struct BucketPaths {
    root: PathBuf,
}

impl BucketPaths {
    /// Paths of the bucket at `root` (made absolute).
    pub fn new(root: &Path) -> Self {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        BucketPaths { root }
    }

    /// The bucket directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `maand.conf`.
    pub fn conf(&self) -> PathBuf {
        self.root.join("maand.conf")
    }
    /// `workspace/`.
    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }
    /// `workspace/workers.json`.
    pub fn workers_json(&self) -> PathBuf {
        self.workspace().join("workers.json")
    }
    /// `workspace/jobs/`.
    pub fn jobs_dir(&self) -> PathBuf {
        self.workspace().join("jobs")
    }
    /// `workspace/bucket.conf`.
    pub fn bucket_conf(&self) -> PathBuf {
        self.workspace().join("bucket.conf")
    }
    /// `secrets/`.
    pub fn secrets(&self) -> PathBuf {
        self.root.join("secrets")
    }
    /// `secrets/ca.crt`.
    pub fn ca_crt(&self) -> PathBuf {
        self.secrets().join("ca.crt")
    }
    /// `secrets/ca.key`.
    pub fn ca_key(&self) -> PathBuf {
        self.secrets().join("ca.key")
    }
    /// `secrets/kv.key`.
    pub fn kv_key(&self) -> PathBuf {
        self.secrets().join("kv.key")
    }
    /// `data/`.
    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }
    /// `data/journal.redb`: the source of truth.
    pub fn journal(&self) -> PathBuf {
        self.data().join("journal.redb")
    }
    /// `data/maand.db`: the SQLite projection.
    pub fn db(&self) -> PathBuf {
        self.data().join("maand.db")
    }
    /// `data/maand.lock`: the writer lock.
    pub fn lock(&self) -> PathBuf {
        self.data().join("maand.lock")
    }
    /// `tmp/`.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// `logs/`.
    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Path relative to the bucket root, for messages.
    pub fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.root).unwrap_or(p).display().to_string()
    }
}
