//! Replaying the journal: state at any point ([`state_until`]), and the
//! determinism check (`maand-journal replay --check`, [`check`]): every
//! decision a session recorded with its inputs is derived again, at the
//! point in history where it was made, by the same planner or renderer
//! ([`derive`]); the first one that comes out different is reported.

mod build;
mod check;
mod derive;

pub use check::{CheckOptions, CheckReport, Divergence, Kind, KindCount, check};

use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::journal::{self, JournalReader};
use crate::state::{Fold, State};
use std::ops::ControlFlow;

/// Committed state as of sequence number `until` (inclusive).
pub fn state_until(paths: &BucketPaths, until: u64) -> Result<State> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let mut fold = Fold::default();
    journal::for_each_event(&txn, ..=until, |env| {
        fold.push(&env);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(fold.finish())
}
