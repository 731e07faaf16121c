//! The KV a hook session sees: the state at the start of the run plus the
//! writes hooks made since, which the main thread records as events after
//! each batch (durable at the checkpoint the seed names).

use crate::event::{Event, KvValue, Millis};
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A written value with its TTL and time; `None` in the map = deleted.
type Written = (KvValue, u64, Millis);

/// State plus pending hook writes.
pub struct KvSession {
    base: Arc<State>,
    latest: BTreeMap<(String, String), Option<Written>>,
    pending: Vec<Event>,
}

impl KvSession {
    /// A session over `base`.
    pub fn new(base: Arc<State>) -> Self {
        KvSession { base, latest: BTreeMap::new(), pending: Vec::new() }
    }

    /// The state the run started from.
    pub fn base(&self) -> &State {
        &self.base
    }

    /// Latest live, unexpired value at `now`.
    pub fn get(&self, ns: &str, key: &str, now: Millis) -> Option<KvValue> {
        let expired = |ttl: u64, at: Millis| {
            ttl > 0 && at.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX).saturating_mul(1000)) <= now
        };
        match self.latest.get(&(ns.to_string(), key.to_string())) {
            Some(Some((v, ttl, at))) => (!expired(*ttl, *at)).then(|| v.clone()),
            Some(None) => None,
            None => {
                let v = self.base.kv.latest(ns, key)?;
                let value = v.value.clone()?;
                (!expired(v.ttl, v.created_at)).then_some(value)
            }
        }
    }

    /// Live keys of a namespace.
    pub fn keys(&self, ns: &str, now: Millis) -> Vec<String> {
        let mut keys: BTreeSet<String> = self.base.kv.live_keys(ns).map(String::from).collect();
        for (n, k) in self.latest.keys() {
            if n == ns {
                keys.insert(k.clone());
            }
        }
        keys.into_iter().filter(|k| self.get(ns, k, now).is_some()).collect()
    }

    /// Write a value.
    pub fn put(&mut self, ns: &str, key: &str, value: KvValue, ttl: u64, at: Millis) {
        self.latest.insert((ns.to_string(), key.to_string()), Some((value.clone(), ttl, at)));
        self.pending.push(Event::KvPut { namespace: ns.to_string(), key: key.to_string(), value, ttl, at });
    }

    /// Delete a key; false when there was nothing to delete.
    pub fn delete(&mut self, ns: &str, key: &str, at: Millis) -> bool {
        if self.get(ns, key, at).is_none() {
            return false;
        }
        self.latest.insert((ns.to_string(), key.to_string()), None);
        self.pending.push(Event::KvDeleted { namespace: ns.to_string(), key: key.to_string(), at });
        true
    }

    /// Take the writes made since the last call, in order.
    pub fn drain(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.pending)
    }
}
