//! `maand-journal rebuild-db`: recreate data/maand.db from the journal.
//! Takes the bucket lock so no writer runs meanwhile.

use maand::bucket::BucketPaths;
use maand::bucket::{BucketLock, BucketView};
use maand::error::Result;
use std::time::Duration;

pub fn run(paths: &BucketPaths) -> Result<()> {
    let _lock = BucketLock::acquire(&paths.lock(), "maand-journal rebuild-db", Duration::ZERO)?;
    let view = BucketView::open(paths.clone())?;
    maand::projection::rebuild(&paths.db(), &view.state, &view.meta.journal_id)?;
    maand::projection::stamp(&paths.db())?;
    println!("rebuilt {} at #{}", paths.db().display(), view.state.seq);
    Ok(())
}
