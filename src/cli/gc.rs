//! `maand gc [--retain-days N]`.

use crate::bucket::{BucketPaths, OpenOptions};
use crate::clock;
use crate::error::Result;
use crate::ops::gc;
use crate::transport::Transport;

/// Flags of `maand gc`.
#[derive(clap::Args, Debug)]
pub struct GcArgs {
    /// Keep KV history (old versions, tombstones) of the last N days.
    #[arg(long = "retain-days", default_value_t = 30)]
    pub retain_days: u64,
}

pub(super) fn run(paths: &BucketPaths, open: &OpenOptions, args: &GcArgs) -> Result<()> {
    let mut bucket = super::open_writer(paths, open)?;
    let bucket_id = bucket.require_id()?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    let (id, r) = super::in_session(&mut bucket, "gc", |session| {
        let r = gc::run(session, &transport, &bucket_id, args.retain_days, clock::now_ms())?;
        Ok((session.id(), r))
    })?;
    println!(
        "gc: {} allocation(s) purged, {} KV key(s) purged, {} key(s) with old versions pruned (journal session {id}; the journal keeps history)",
        r.allocations, r.keys_purged, r.keys_pruned
    );
    Ok(())
}
