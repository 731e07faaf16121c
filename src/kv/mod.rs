//! KV rules shared by build, hooks and templates. Sealing of secret values
//! lives in [`seal`] (shell side: it needs randomness).

pub mod access;
pub mod seal;
