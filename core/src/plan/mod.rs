//! Pure planners: given state and recorded inputs, decide what events a
//! command should record. No IO, no clock, no randomness; ordered
//! collections only, so the same inputs always give the same events.

pub mod build;
pub mod deploy;
pub mod hooks;
pub mod prometheus;
pub mod rollout;
