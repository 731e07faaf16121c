//! Rollout plan values: what the rollout planner decides per allocation and
//! per job. Plain data; `JobRolloutPlanned` events carry them.

use std::collections::BTreeMap;

/// Per-file content hashes of a staged job tree (path → sha256 hex).
pub type Tree = BTreeMap<String, String>;

/// What happens to one allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// First deploy: `make start`.
    Start,
    /// `make restart`.
    Restart,
    /// `make reload`.
    Reload,
    /// Files only (restart_policy `never`, or `--sync-only`).
    Sync,
    /// Nothing changed.
    Skip,
    /// Disabled: staged, hashed and promoted, never shipped or started.
    Disabled,
    /// Its lifecycle for this exact tree and version already ran and passed
    /// its health gate in an earlier, failed deploy: promote only.
    Ready,
}

impl Action {
    /// Lower-case name (`--dry-run`, audit, make target).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Restart => "restart",
            Action::Reload => "reload",
            Action::Sync => "sync",
            Action::Skip => "skip",
            Action::Disabled => "disabled",
            Action::Ready => "ready",
        }
    }
}

/// One allocation's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocPlan {
    /// Worker address.
    pub ip: String,
    /// Allocation id.
    pub alloc_id: String,
    /// The decision.
    pub action: Action,
    /// Hash of the staged tree.
    pub tree_hash: String,
    /// Promoted hash before this deploy ("" if none).
    pub current_hash: String,
    /// Promoted version before ("0.0.0" if none).
    pub current_version: String,
    /// Target version.
    pub new_version: String,
    /// Changed paths that matched `restart_globs` (forcing a restart).
    pub matched: Vec<String>,
    /// Changed paths (added, modified or removed).
    pub changed: Vec<String>,
}

/// The plan of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobPlan {
    /// Job.
    pub job: String,
    /// Deploy wave.
    pub deployment_seq: u64,
    /// Decisions, in rollout order (disabled last).
    pub allocations: Vec<AllocPlan>,
    /// Rollout order of the active allocations.
    pub order: Vec<String>,
    /// `kv` or `default`.
    pub order_source: String,
    /// Batches of first starts.
    pub start_batches: Vec<Vec<String>>,
    /// Batches of updates (restart, reload, sync).
    pub update_batches: Vec<Vec<String>>,
}

impl JobPlan {
    /// Whether anything is to be shipped, started, updated or promoted.
    pub fn needs_rollout(&self) -> bool {
        self.allocations
            .iter()
            .any(|a| a.action != Action::Skip && !(a.action == Action::Disabled && a.tree_hash == a.current_hash))
    }

    /// The decision for `ip`.
    pub fn action(&self, ip: &str) -> Option<&AllocPlan> {
        self.allocations.iter().find(|a| a.ip == ip)
    }
}

/// Flags of a deploy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RolloutFlags {
    /// Update every active allocation.
    pub force: bool,
    /// Never run lifecycle; a needed start is an error.
    pub sync_only: bool,
}
