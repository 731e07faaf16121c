//! Checks that never refuse a busy bucket (`health_check`, `job status`):
//! with the lock free they run in a session as any writer; while another
//! command holds it (a deploy, say) they check the committed state beside
//! it and record their results afterwards, in a session of their own when
//! the lock is free by then, else in `logs/detached/` with a one-line note.

use crate::bucket::{Bucket, BucketPaths, BucketView, Detached, OpenOptions, Recorder, session_info};
use crate::error::Result;
use std::time::Duration;

/// Run the check `f` as `open.command`.
pub(crate) fn run_check<T>(
    paths: &BucketPaths,
    open: &OpenOptions,
    f: impl FnOnce(&mut dyn Recorder) -> Result<T>,
) -> Result<T> {
    let busy = match super::open_writer(paths, open) {
        Ok(mut bucket) => return super::in_session(&mut bucket, &open.command, |s| f(s)),
        Err(e) if e.message().starts_with("bucket is busy") => e,
        Err(e) => return Err(e),
    };
    let why = busy.message().split(';').next().unwrap_or("bucket is busy").to_string();
    eprintln!("note: {why}: {} checks the last committed state beside it", open.command);
    let mut detached = Detached::new(BucketView::open(paths.clone())?);
    let result = f(&mut detached);
    keep(paths, open, detached, &result)?;
    result
}

/// Record what a detached check saw: in a session when the lock is free
/// now, else in `logs/detached/`.
fn keep<T>(paths: &BucketPaths, open: &OpenOptions, d: Detached, result: &Result<T>) -> Result<()> {
    if d.events.is_empty() {
        return Ok(());
    }
    let now = OpenOptions { command: open.command.clone(), lock_wait: Duration::ZERO };
    match Bucket::open(paths.clone(), &now) {
        Ok(mut bucket) => {
            let mut session = bucket.begin(session_info(&open.command))?;
            let id = session.id();
            for (at, e) in d.events {
                session.record_at(at, e)?;
            }
            match result {
                Ok(_) => session.commit()?,
                Err(e) => session.fail(e)?,
            }
            eprintln!("note: the bucket is free now: results recorded in journal session {id}");
        }
        Err(_) => {
            let dir = paths.logs().join("detached");
            crate::bucket::private::create_dir_all(&dir)?;
            let file = dir.join(format!("{}-{}.log", crate::clock::now_ms(), open.command));
            let mut text = String::new();
            for (at, e) in &d.events {
                text.push_str(&format!("{} {} {}\n", crate::clock::format_ms(*at), e.kind(), e.summary()));
            }
            if let Err(e) = result {
                text.push_str(&format!("failed: {}\n", e.message()));
            }
            std::fs::write(&file, text)?;
            eprintln!("note: the bucket is still busy: results kept in {}, not in the journal", paths.rel(&file));
        }
    }
    Ok(())
}
