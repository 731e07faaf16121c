//! Loading state: the newest usable snapshot plus a fold of the events
//! after it, checking the hash chain of everything folded.

use super::{codec, reader};
use crate::error::{Error, Result};
use crate::event::{Envelope, Hash32};
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
///
/// The tail's hash chain is checked as it is folded (each record's hash
/// matches its content, each links to its predecessor, sequence numbers
/// run without gaps, anchored at the snapshot's own event), so an edited or
/// damaged event is refused naming its sequence number rather than folded.
/// The cost is proportional to the tail; `maand-journal verify` checks the
/// whole journal.
pub fn load_state(txn: &ReadTransaction) -> Result<LoadedState> {
    let mut base = None;
    for meta in reader::snapshots(txn)?.into_iter().rev() {
        if meta.state_version != super::snapshot::STATE_VERSION {
            continue;
        }
        let t = std::time::Instant::now();
        let Some(bytes) = reader::snapshot_data(txn, meta.seq, meta.bytes)? else {
            continue;
        };
        tracing::debug!(ms = t.elapsed().as_millis() as u64, seq = meta.seq, bytes = bytes.len(), "snapshot read");
        if sha(&bytes) != meta.digest {
            tracing::warn!(seq = meta.seq, "snapshot digest mismatch; ignoring it");
            continue;
        }
        let t = std::time::Instant::now();
        match super::snapshot::decode_state(&bytes) {
            Ok(state) => {
                tracing::debug!(ms = t.elapsed().as_millis() as u64, "snapshot decoded");
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
    let mut fold = Fold::from_state(state);
    let mut folded = 0;
    for_each_checked(txn, snapshot_seq.unwrap_or(0), |env| {
        fold.push(&env);
        folded += 1;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(LoadedState { state: fold.finish(), snapshot_seq, folded })
}

/// A damaged or edited journal event, named by its sequence number.
fn corrupt(seq: u64, what: &str) -> Error {
    Error::op(format!(
        "journal event {seq}: {what}; the journal was edited or is damaged (`maand-journal verify` shows more; restore data/journal.redb from a backup)"
    ))
}

/// Visit the decoded events after `after` (0 = all) in order, checking the
/// hash chain from the event at `after` on; stops at the first bad event
/// with an error naming it.
pub fn for_each_checked(
    txn: &ReadTransaction,
    after: u64,
    mut f: impl FnMut(Envelope) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let mut prev: Hash32 = [0; 32];
    if after > 0 {
        let mut anchor = None;
        reader::for_each_raw(txn, after..=after, |seq, raw| {
            anchor = Some(checked(txn, seq, raw)?.hash);
            Ok(ControlFlow::Break(()))
        })?;
        prev = anchor.ok_or_else(|| corrupt(after, "missing (a snapshot is based on it)"))?;
    }
    let mut expected = after + 1;
    reader::for_each_raw(txn, expected.., |seq, raw| {
        if seq != expected {
            return Err(corrupt(expected, &format!("missing (the next stored event is {seq})")));
        }
        let env = checked(txn, seq, raw)?;
        if env.prev_hash != prev {
            return Err(corrupt(
                seq,
                "its link to the previous event is broken (an event before it was changed, dropped or moved)",
            ));
        }
        prev = env.hash;
        expected += 1;
        f(env)
    })
}

/// Decode a stored event after checking its hash and sequence number.
fn checked(txn: &ReadTransaction, seq: u64, raw: &[u8]) -> Result<Envelope> {
    if !codec::check(raw) {
        return Err(corrupt(seq, "its stored hash does not match its content"));
    }
    let env = codec::decode(raw).map_err(|e| {
        let place = reader::undecodable_context(txn, seq, raw);
        Error::op(format!(
            "{place}: cannot be decoded ({}); the journal was edited or is damaged (`maand-journal verify` shows more; restore data/journal.redb from a backup)",
            e.message()
        ))
    })?;
    if env.seq != seq {
        return Err(corrupt(seq, &format!("it records sequence number {}", env.seq)));
    }
    Ok(env)
}

fn sha(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
