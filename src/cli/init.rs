//! `maand init`.

use crate::bucket::{BucketPaths, init};
use crate::error::Result;
use std::time::Duration;

pub(super) fn run(paths: &BucketPaths, lock_wait: Duration) -> Result<()> {
    let report = init::run(paths, lock_wait)?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    if report.created {
        println!("initialised bucket {} in {}", report.bucket_id, paths.root().display());
    } else {
        println!("bucket {} in {} is up to date", report.bucket_id, paths.root().display());
    }
    for f in &report.files_created {
        println!("  created {f}");
    }
    println!("journal session {}", report.session);
    Ok(())
}
