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

/// The in-process equivalent of [`ABORT_AFTER_EVENTS`] for simulations,
/// armed on one bucket with `Bucket::arm_death`: after the `after`-th event
/// appended through it is durable, the journal takes nothing more (every
/// later append fails, as if the process had died), so the bucket is left
/// exactly as a process killed at that point leaves it. The simulated
/// workers and hooks consult [`DeathPoint::is_dead`] and stop acting.
/// Sessions opened on a bucket with it armed record it as a test switch.
#[derive(Debug)]
pub struct DeathPoint {
    after: u64,
    appended: AtomicU64,
    dead: std::sync::atomic::AtomicBool,
}

impl DeathPoint {
    /// Die after `after` durable events.
    pub fn new(after: u64) -> std::sync::Arc<DeathPoint> {
        std::sync::Arc::new(DeathPoint { after, appended: AtomicU64::new(0), dead: Default::default() })
    }

    /// Whether the simulated process has died.
    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// The test switch sessions record (`SIM_DIE_AFTER_EVENTS=N`).
    pub fn switch(&self) -> String {
        format!("SIM_DIE_AFTER_EVENTS={}", self.after)
    }

    /// How many of `n` events may still be appended.
    pub(crate) fn allowance(&self, n: usize) -> usize {
        if self.is_dead() {
            return 0;
        }
        (self.after.saturating_sub(self.appended.load(Ordering::SeqCst)) as usize).min(n)
    }

    /// Count `n` durable events; whether the process is now dead.
    pub(crate) fn appended(&self, n: usize) -> bool {
        let total = self.appended.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
        if total >= self.after {
            self.dead.store(true, Ordering::SeqCst);
        }
        self.is_dead()
    }
}
