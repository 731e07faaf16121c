//! maand: an agentless workload orchestrator whose every state change is an
//! event in an append-only journal.
//!
//! See `ARCHITECTURE.md` for the map: pure core (`event`, `state`, `plan`,
//! `kv` rules) that decides, thin shell (`bucket`, `journal`, `projection`,
//! `cli`, transport) that does.

pub use maand_core::{error, event, plan, state};

pub mod bucket;
pub mod build;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod deploy;
pub mod history;
pub mod hooks;
pub mod journal;
pub mod kv;
pub mod logs;
pub mod ops;
pub mod output;
pub mod process;
pub mod progress;
pub mod projection;
pub mod prometheus;
pub mod replay;
pub mod rollback;
pub mod signing;
pub mod templates;
pub mod transport;
pub mod verify;
pub mod worker_assets;
pub mod workspace;
