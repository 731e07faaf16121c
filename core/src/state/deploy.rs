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
