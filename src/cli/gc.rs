//! `maand gc [--retain-days N]`.

use crate::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use crate::clock;
use crate::error::{Error, Result};
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
    let mut bucket = Bucket::open(paths.clone(), open)?;
    let bucket_id =
        bucket.state.bucket_id().ok_or_else(|| Error::usage("the bucket has no id yet: run `maand init`"))?.to_string();
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    let mut session = bucket.begin(session_info("gc"))?;
    match gc::run(&mut session, &transport, &bucket_id, args.retain_days, clock::now_ms()) {
        Ok(r) => {
            let id = session.id();
            session.commit()?;
            println!(
                "gc: {} allocation(s) purged, {} KV key(s) purged, {} key(s) with old versions pruned (journal session {id}; the journal keeps history)",
                r.allocations, r.keys_purged, r.keys_pruned
            );
            Ok(())
        }
        Err(e) => {
            session.fail(&e)?;
            Err(e)
        }
    }
}
