//! The parsed workspace: the typed input the build planner consumes. The
//! shell (`maand::workspace`) reads files and fills these in; the parsing of
//! each file's text is pure and lives beside this module.

use super::bucket_files::{Disabled, JobOverrides, Vars};
use super::manifest::Manifest;
use super::workers::WorkerSpec;
use std::collections::BTreeMap;

/// Directories never indexed (anywhere in the job tree).
pub const SKIPPED_DIRS: &[&str] = &[".venv", "venv", "node_modules", "__pycache__"];

/// Top-level directories a job may not contain: they exist only on workers.
pub const RESERVED_DIRS: &[&str] = &["data", "logs", "bin"];

/// A file of a job, as stored in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFileSpec {
    /// Permission bits (rsync keeps them).
    pub mode: u32,
    /// Content.
    pub content: Vec<u8>,
}

/// Interpreter of a hook script, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    /// `.py`: Python.
    Python,
    /// `.ts`/`.js`: Bun.
    Bun,
}

/// One job directory, parsed.
#[derive(Debug, Clone)]
pub struct JobInput {
    /// Name (directory name).
    pub name: String,
    /// The manifest.
    pub manifest: Manifest,
    /// Every indexed file.
    pub files: BTreeMap<String, JobFileSpec>,
    /// Hook name → script path.
    pub hook_scripts: BTreeMap<String, String>,
    /// `vars.toml`, if present.
    pub vars: Vars,
}

/// The whole workspace.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Workers in file order.
    pub workers: Vec<WorkerSpec>,
    /// Jobs by name.
    pub jobs: BTreeMap<String, JobInput>,
    /// `bucket.conf` keys.
    pub bucket_vars: Vars,
    /// Port pool from `bucket.conf`.
    pub port_pool: Option<(u16, u16)>,
    /// Sections of the bucket.jobs file, by job.
    pub job_overrides: BTreeMap<String, JobOverrides>,
    /// Which bucket.jobs file was read (for messages and `current_*_source`).
    pub job_overrides_file: String,
    /// `disabled.json`.
    pub disabled: Disabled,
}
