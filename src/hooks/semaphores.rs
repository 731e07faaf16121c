//! In-memory semaphores of one hook session, scoped by job + EVENT + name
//! (seed 001 "Semaphores"). A hook that exits (or crashes) releases what it
//! held, so a deploy never wedges on a dead holder.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Scope of one semaphore.
pub type SemKey = (String, String, String);

#[derive(Debug, Default)]
struct Sem {
    capacity: usize,
    holders: Vec<String>,
    waiting: usize,
}

/// A semaphore's status (`GET /semaphore/status`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SemStatus {
    /// Name.
    pub name: String,
    /// Capacity.
    pub capacity: usize,
    /// Allocation ids holding a slot.
    pub holders: Vec<String>,
    /// Requests waiting.
    pub waiting: usize,
    /// Free slots.
    pub available: usize,
}

/// All semaphores of a session.
#[derive(Default)]
pub struct Semaphores {
    sems: Mutex<BTreeMap<SemKey, Sem>>,
    changed: Notify,
}

impl Semaphores {
    /// Take a slot for `holder`, waiting up to `timeout`. `Ok(true)` when
    /// acquired (or already held), `Ok(false)` on timeout.
    pub async fn acquire(&self, key: SemKey, holder: &str, capacity: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut counted = false;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut sems = self.sems.lock().unwrap_or_else(|p| p.into_inner());
                let sem = sems.entry(key.clone()).or_insert_with(|| Sem { capacity, ..Default::default() });
                if sem.holders.iter().any(|h| h == holder) || sem.holders.len() < sem.capacity {
                    if !sem.holders.iter().any(|h| h == holder) {
                        sem.holders.push(holder.to_string());
                    }
                    if counted {
                        sem.waiting -= 1;
                    }
                    return true;
                }
                if !counted {
                    sem.waiting += 1;
                    counted = true;
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let mut sems = self.sems.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(sem) = sems.get_mut(&key) {
                    sem.waiting -= 1;
                }
                return false;
            }
        }
    }

    /// Release `holder`'s slot; false when it held none.
    pub fn release(&self, key: &SemKey, holder: &str) -> bool {
        let mut sems = self.sems.lock().unwrap_or_else(|p| p.into_inner());
        let Some(sem) = sems.get_mut(key) else { return false };
        let before = sem.holders.len();
        sem.holders.retain(|h| h != holder);
        let released = sem.holders.len() < before;
        drop(sems);
        if released {
            self.changed.notify_waiters();
        }
        released
    }

    /// Release everything `holder` holds in `job` + `event` (its process ended).
    pub fn release_all(&self, job: &str, event: &str, holder: &str) -> usize {
        let mut sems = self.sems.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for ((j, e, _), sem) in sems.iter_mut() {
            if j == job && e == event {
                let before = sem.holders.len();
                sem.holders.retain(|h| h != holder);
                n += before - sem.holders.len();
            }
        }
        drop(sems);
        if n > 0 {
            self.changed.notify_waiters();
        }
        n
    }

    /// Status of a semaphore (an unknown one is empty with capacity 1).
    pub fn status(&self, key: &SemKey) -> SemStatus {
        let sems = self.sems.lock().unwrap_or_else(|p| p.into_inner());
        match sems.get(key) {
            Some(s) => SemStatus {
                name: key.2.clone(),
                capacity: s.capacity,
                holders: s.holders.clone(),
                waiting: s.waiting,
                available: s.capacity.saturating_sub(s.holders.len()),
            },
            None => SemStatus { name: key.2.clone(), capacity: 1, holders: Vec::new(), waiting: 0, available: 1 },
        }
    }
}
