//! `maand info`: read-only summary of a bucket.

use crate::bucket::{BucketPaths, BucketView};
use crate::error::Result;
use crate::journal;
use serde::Serialize;

/// Flags of `maand info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Info {
    bucket_id: String,
    bucket_path: String,
    update_seq: u64,
    workers: usize,
    jobs: usize,
    allocations: usize,
    kv_keys: usize,
    kv_versions: usize,
    journal_format: u16,
    journal_events: u64,
    journal_sessions: usize,
    committed_seq: u64,
    /// The latest deploy, when it did not commit (where it stopped).
    unfinished_deploy: Option<crate::history::unfinished::Unfinished>,
}

pub(super) fn run(paths: &BucketPaths, args: &InfoArgs) -> Result<()> {
    let view = BucketView::open(paths.clone())?;
    let txn = view.journal.begin_read()?;
    let s = &view.state;
    let info = Info {
        bucket_id: s.bucket_id().unwrap_or("").to_string(),
        bucket_path: paths.root().display().to_string(),
        update_seq: s.update_seq,
        workers: s.catalog.workers.len(),
        jobs: s.catalog.jobs.len(),
        allocations: s.catalog.allocations.len(),
        kv_keys: s.kv.key_count(),
        kv_versions: s.kv.version_count(),
        journal_format: view.meta.format_version,
        journal_events: journal::reader_event_count(&txn)?,
        journal_sessions: journal::reader_sessions(&txn)?.len(),
        committed_seq: s.seq,
        unfinished_deploy: crate::history::unfinished::latest(paths)?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("bucket id       {}", info.bucket_id);
    println!("bucket path     {}", info.bucket_path);
    println!("update_seq      {}", info.update_seq);
    println!("workers         {}", info.workers);
    println!("jobs            {}", info.jobs);
    println!("allocations     {}", info.allocations);
    println!("kv              {} keys, {} versions", info.kv_keys, info.kv_versions);
    println!(
        "journal         {} events, {} sessions, committed up to #{} (format {})",
        info.journal_events, info.journal_sessions, info.committed_seq, info.journal_format
    );
    if let Some(u) = &info.unfinished_deploy {
        println!("unfinished      {}", u.sentence());
    }
    Ok(())
}
