//! Loading state: the newest usable snapshot plus a fold of the events
//! after it.

use super::reader;
use crate::error::Result;
use crate::state::{Fold, State};
use redb::ReadTransaction;
use std::ops::ControlFlow;

/// State loaded from a journal, with how it was obtained.
#[derive(Debug)]
pub struct LoadedState {
    /// The committed state.
    pub state: State,
    /// Sequence number of the snapshot used, if any.
    pub snapshot_seq: Option<u64>,
    /// Events folded after the snapshot.
    pub folded: u64,
}

/// Load committed state: newest snapshot whose digest checks out, then the
/// tail. Falls back to older snapshots, then to a full fold.
pub fn load_state(txn: &ReadTransaction) -> Result<LoadedState> {
    let mut base = None;
    for meta in reader::snapshots(txn)?.into_iter().rev() {
        if meta.state_version != super::snapshot::STATE_VERSION {
            continue;
        }
        let Some(bytes) = reader::snapshot_data(txn, meta.seq)? else {
            continue;
        };
        if sha(&bytes) != meta.digest {
            tracing::warn!(seq = meta.seq, "snapshot digest mismatch; ignoring it");
            continue;
        }
        match super::snapshot::decode_state(&bytes) {
            Ok(state) => {
                base = Some((meta.seq, state));
                break;
            }
            Err(e) => {
                tracing::warn!(seq = meta.seq, error = %e, "undecodable snapshot; ignoring it")
            }
        }
    }
    let (snapshot_seq, state) = match base {
        Some((seq, s)) => (Some(seq), s),
        None => (None, State::default()),
    };
    let start = snapshot_seq.map_or(1, |s| s + 1);
    let mut fold = Fold::from_state(state);
    let mut folded = 0;
    reader::for_each_event(txn, start.., |env| {
        fold.push(&env);
        folded += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(LoadedState { state: fold.finish(), snapshot_seq, folded })
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
