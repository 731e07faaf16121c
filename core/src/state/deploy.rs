//! What deploy promoted on each allocation.

use std::collections::BTreeMap;

/// The promoted tree of one allocation (SPEC §6 "promote").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deployed {
    /// Allocation id.
    pub alloc_id: String,
    /// Hash of the promoted tree.
    pub hash: String,
    /// Per-file hashes of the promoted tree.
    pub files: BTreeMap<String, String>,
    /// Promoted version.
    pub version: String,
    /// Hash promoted before this one ("" if none).
    pub previous_hash: String,
    /// Files promoted before this one.
    pub previous_files: BTreeMap<String, String>,
    /// Shipped and started (false: promoted while disabled, or stopped since).
    pub running: bool,
}

/// The original's `previous_hash` marker of an allocation whose health
/// check failed.
pub const HEALTH_FAILED: &str = "__maand_health_failed__";

/// The `ready` hash recording a failed health gate of tree `hash`.
pub fn health_failed_mark(hash: &str) -> String {
    format!("{HEALTH_FAILED}:{hash}")
}

/// The tree hash of a `ready` hash that records a failed health gate.
pub fn health_failed_tree(ready_hash: &str) -> Option<&str> {
    ready_hash.strip_prefix(HEALTH_FAILED)?.strip_prefix(':')
}

/// The rollout state of an allocation as the original maand's `cat
/// deployments` names it, from the columns of `cat_deployments`:
/// `removed`, `disabled`, `disabled_restart` from the catalog flags, else
/// `health_failed`, `new`, `restart`, `promoted` from the hashes (`current_hash` = last
/// staged, `previous_hash` = last promoted) and versions. The
/// `cat_deployments` view computes the same in SQL.
pub fn rollout_status(
    removed: bool,
    disabled: bool,
    current_hash: &str,
    previous_hash: &str,
    current_version: &str,
    new_version: &str,
) -> &'static str {
    let shown = |v: &str| if v.is_empty() { "0.0.0".to_string() } else { v.to_string() };
    let version_moved = shown(current_version) != shown(new_version);
    if removed {
        "removed"
    } else if disabled {
        if (!previous_hash.is_empty() && previous_hash != current_hash) || version_moved {
            "disabled_restart"
        } else {
            "disabled"
        }
    } else if previous_hash == HEALTH_FAILED {
        "health_failed"
    } else if previous_hash.is_empty() {
        "new"
    } else if previous_hash != current_hash || version_moved {
        "restart"
    } else {
        "promoted"
    }
}

#[cfg(test)]
mod tests {
    use super::rollout_status;

    #[test]
    fn rollout_states_follow_the_original() {
        assert_eq!(rollout_status(true, true, "a", "a", "1", "1"), "removed");
        assert_eq!(rollout_status(false, true, "a", "a", "1.0.0", "1.0.0"), "disabled");
        assert_eq!(rollout_status(false, true, "b", "a", "1.0.0", "1.0.0"), "disabled_restart");
        assert_eq!(rollout_status(false, true, "", "", "", "2.0.0"), "disabled_restart");
        assert_eq!(rollout_status(false, false, "", "", "", "1.0.0"), "new");
        assert_eq!(rollout_status(false, false, "b", "", "", "1.0.0"), "new");
        assert_eq!(rollout_status(false, false, "b", "a", "1.0.0", "1.0.0"), "restart");
        assert_eq!(rollout_status(false, false, "a", "a", "1.0.0", "2.0.0"), "restart");
        assert_eq!(rollout_status(false, false, "a", "a", "", "0.0.0"), "promoted");
        assert_eq!(rollout_status(false, false, "b", super::HEALTH_FAILED, "1.0.0", "2.0.0"), "health_failed");
        assert_eq!(super::health_failed_tree(&super::health_failed_mark("ab")), Some("ab"));
        assert_eq!(super::health_failed_tree("ab"), None);
    }
}
