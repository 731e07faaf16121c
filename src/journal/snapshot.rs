//! Snapshot encoding of folded state, through the frozen record
//! `maand_record::state::StateV6`. A snapshot of another version is
//! ignored and the journal re-folded (snapshots are a cache).

use super::convert;
use crate::error::{Error, Result};
use crate::event::Hash32;
use crate::state::State;
use sha2::{Digest, Sha256};

/// The state version snapshots are written in.
pub use maand_record::state::STATE_VERSION;

/// Canonical encoding of the state (snapshots and digests).
pub fn encode_state(state: &State) -> Result<Vec<u8>> {
    maand_record::encode(&convert::state_record(state)).map_err(|e| Error::op(format!("snapshot: {e}")))
}

/// Inverse of [`encode_state`] (read through the record's pair-list view:
/// the same bytes, without building the record's maps first).
pub fn decode_state(bytes: &[u8]) -> Result<State> {
    let record: maand_record::state::flat::StateV6Flat =
        maand_record::decode_exact(bytes).map_err(|e| Error::op(format!("snapshot: {e}")))?;
    Ok(convert::state_from_record(record))
}

/// SHA-256 of the canonical encoding: equal digests, equal states.
pub fn digest(state: &State) -> Result<Hash32> {
    Ok(Sha256::digest(encode_state(state)?).into())
}
