//! KV rules shared by build, hooks and templates: the pure access matrix
//! lives in the core ([`access`], re-exported); sealing of secret values
//! lives in [`seal`] (shell side: it needs randomness).

pub use maand_core::kv::access;
pub mod seal;
