//! Reading history: named points in a journal ([`point`]), what changed
//! between two of them ([`diff`]), a deploy's timeline ([`timeline`]), and
//! where an unfinished deploy stopped ([`unfinished`]). Read-only; the
//! `maand-journal` commands and `maand info` render them.

pub mod diff;
pub mod point;

use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::journal::JournalReader;
use crate::state::State;
pub use point::{Point, Resolved};

/// The committed state at `point`, with the point resolved.
pub fn state_at(paths: &BucketPaths, point: Point) -> Result<(Resolved, State)> {
    let resolved = {
        let reader = JournalReader::open(&paths.journal())?;
        let txn = reader.begin_read()?;
        point::resolve(&txn, point)?
    };
    let state = crate::replay::state_until(paths, resolved.seq)?;
    Ok((resolved, state))
}
