//! maand's pure core: the event vocabulary, the folded state, the planners
//! that decide, the KV access rules, and the typed workspace model the
//! planners consume.
//!
//! Nothing here does IO, reads the clock or the environment, or makes
//! random numbers; collections that can reach an output are ordered. The
//! shell (the `maand` crate) gathers inputs, records them as events and acts
//! on the plans. This crate's dependency list is checked by a test so the
//! compiler keeps it pure: no storage, async runtime, OS or RNG crates.
//!
//! Nothing here is serialized into the journal either: the journal's frozen
//! record types live in `maand-record`, and the shell converts.

pub mod error;
pub mod event;
pub mod kv;
pub mod model;
pub mod plan;
pub mod state;
pub mod time;
pub mod workspace;
