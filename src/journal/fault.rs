//! Test-only fault injection: `MAAND_FAULT_ABORT_AFTER_EVENTS=N` makes the
//! process call `std::process::abort()` right after the N-th event it appends
//! is durable. The crash-recovery tests use it to cut sessions at every
//! possible point; it has no effect when unset. When armed, every session
//! the process opens records it (`SessionInfo::test_switches`), so a run
//! with the fault armed is visible in the journal and the audit.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static LIMIT: OnceLock<Option<u64>> = OnceLock::new();
static APPENDED: AtomicU64 = AtomicU64::new(0);

/// The environment variable that arms the fault.
pub const ABORT_AFTER_EVENTS: &str = "MAAND_FAULT_ABORT_AFTER_EVENTS";

fn limit() -> Option<u64> {
    *LIMIT.get_or_init(|| std::env::var(ABORT_AFTER_EVENTS).ok().and_then(|v| v.parse().ok()))
}

/// How many of `n` events may still be appended before the fault fires
/// (`n` when unarmed).
pub(crate) fn allowance(n: usize) -> usize {
    match limit() {
        None => n,
        Some(max) => {
            let done = APPENDED.load(Ordering::SeqCst);
            (max.saturating_sub(done) as usize).min(n)
        }
    }
}

/// Count `n` durable events; abort if the limit is reached.
pub(crate) fn appended(n: usize) {
    let total = APPENDED.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
    if let Some(max) = limit()
        && total >= max
    {
        eprintln!("maand: fault injection: aborting after {total} events");
        std::process::abort();
    }
}

/// The test switches armed in this process, as `NAME=value`, for the
/// session record (empty in production).
pub fn armed() -> Vec<String> {
    std::env::var(ABORT_AFTER_EVENTS).ok().map(|v| format!("{ABORT_AFTER_EVENTS}={v}")).into_iter().collect()
}
