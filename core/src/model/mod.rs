//! Plain values the events carry and the planners produce: catalog entries
//! and rollout plans. This module depends on nothing else in the crate, so
//! `event` → `model`, `state` → `event`, `plan` → `state` form no cycle.

pub mod catalog;
pub mod decision;
pub mod rollout;

/// Milliseconds since the Unix epoch, UTC. Always recorded, never read in the fold.
pub type Millis = i64;

/// A SHA-256 digest.
pub type Hash32 = [u8; 32];
