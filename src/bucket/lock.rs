//! The bucket writer lock: one mutating maand process per bucket.
//!
//! An advisory `flock` on `data/maand.lock`, so the kernel releases it when
//! the holder dies however it dies; the file's content names the holder
//! (pid, command, start time) for the "busy" message and for noticing a
//! lock left behind by a dead process. Readers never take it.

use crate::clock;
use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Who holds a lock, as written into the lock file.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// maand command, e.g. `deploy`.
    pub command: String,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

/// A held bucket lock; released on drop.
#[derive(Debug)]
pub struct BucketLock {
    file: File,
    /// Set when the lock was taken over from a process that died holding it.
    pub took_over: Option<Holder>,
}

impl BucketLock {
    /// Take the lock for `command`, waiting up to `wait` for a live holder
    /// to finish. Fails with `bucket is busy (pid N, C, since T)`.
    pub fn acquire(path: &Path, command: &str, wait: Duration) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        let holder = wait_for_holder(&mut file);
                        if holder.is_none() && file.try_lock().is_ok() {
                            // The holder finished while we looked: the bucket is ours.
                            break;
                        }
                        let who = holder
                            .map(|h| format!("pid {}, {}, since {}", h.pid, h.command, h.since))
                            .unwrap_or_else(|| "another maand process".into());
                        return Err(Error::op(format!(
                            "bucket is busy ({who}); retry when it finishes, or pass --lock-wait <seconds> to queue"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::op(format!("locking {}: {e}", path.display())));
                }
            }
        }
        // We hold the lock: any holder recorded in the file is dead.
        let took_over = read_holder(&mut file).filter(|h| h.pid != std::process::id());
        let me =
            Holder { pid: std::process::id(), command: command.to_string(), since: clock::format_ms(clock::now_ms()) };
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(serde_json::to_string(&me)?.as_bytes())?;
        file.sync_data()?;
        Ok(BucketLock { file, took_over })
    }
}

impl Drop for BucketLock {
    fn drop(&mut self) {
        // Clear the holder so the next process sees a clean release; the
        // kernel drops the flock when the file closes.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The holder writes its record right after taking the lock and clears it
/// when it leaves; a contender arriving at either moment sees an empty file,
/// so look a few times.
fn wait_for_holder(file: &mut File) -> Option<Holder> {
    for _ in 0..10 {
        if let Some(h) = read_holder(file) {
            return Some(h);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut s = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut s).ok()?;
    serde_json::from_str(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_first_release_frees() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("maand.lock");
        let a = BucketLock::acquire(&p, "deploy", Duration::ZERO).unwrap();
        let e = BucketLock::acquire(&p, "build", Duration::from_millis(120)).unwrap_err();
        assert!(e.message().starts_with(&format!("bucket is busy (pid {}, deploy, since ", std::process::id())), "{e}");
        drop(a);
        let b = BucketLock::acquire(&p, "build", Duration::ZERO).unwrap();
        assert!(b.took_over.is_none());
    }

    #[test]
    fn stale_holder_is_reported_as_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("maand.lock");
        std::fs::write(&p, r#"{"pid":999999,"command":"deploy","since":"x"}"#).unwrap();
        let l = BucketLock::acquire(&p, "build", Duration::ZERO).unwrap();
        assert_eq!(l.took_over.as_ref().unwrap().pid, 999999);
    }
}
