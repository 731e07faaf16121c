//! The KV store as folded state: every namespace/key with its full version
//! history (latest wins, deletes are tombstones).

use crate::event::{KvValue, Millis};
use std::collections::BTreeMap;

/// One version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvVersion {
    /// 1-based version number, increasing per key.
    pub version: u64,
    /// The value; `None` is a tombstone (the key was deleted).
    pub value: Option<KvValue>,
    /// Time to live in seconds; 0 = no expiry.
    pub ttl: u64,
    /// When this version was written.
    pub created_at: Millis,
}

impl KvVersion {
    /// Whether this version is past its TTL at `now` (a recorded time).
    pub fn expired_at(&self, now: Millis) -> bool {
        self.ttl > 0 && self.created_at.saturating_add((self.ttl as i64).saturating_mul(1000)) <= now
    }
}

/// All KV data: namespace → key → versions (oldest first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    namespaces: BTreeMap<String, BTreeMap<String, Vec<KvVersion>>>,
}

impl KvStore {
    /// Append a version (value or tombstone) to a key.
    pub fn push(&mut self, namespace: &str, key: &str, value: Option<KvValue>, ttl: u64, at: Millis) {
        let versions = match self.namespaces.get_mut(namespace) {
            Some(ns) => ns,
            None => self.namespaces.entry(namespace.to_string()).or_default(),
        };
        let history = match versions.get_mut(key) {
            Some(h) => h,
            None => versions.entry(key.to_string()).or_default(),
        };
        let version = history.last().map_or(1, |v| v.version + 1);
        history.push(KvVersion { version, value, ttl, created_at: at });
    }

    /// Append a version with its own number (an import); a number not above
    /// the key's latest is taken as the next one, so numbers keep increasing.
    pub fn push_numbered(
        &mut self,
        namespace: &str,
        key: &str,
        version: u64,
        value: Option<KvValue>,
        ttl: u64,
        at: Millis,
    ) {
        self.push(namespace, key, value, ttl, at);
        let history = self.namespaces.get_mut(namespace).and_then(|ns| ns.get_mut(key)).expect("just pushed");
        let n = history.len();
        let floor = if n > 1 { history[n - 2].version + 1 } else { 1 };
        history[n - 1].version = version.max(floor);
    }

    /// Remove a key and its history entirely.
    pub fn purge(&mut self, namespace: &str, key: &str) {
        if let Some(ns) = self.namespaces.get_mut(namespace) {
            ns.remove(key);
            if ns.is_empty() {
                self.namespaces.remove(namespace);
            }
        }
    }

    /// Drop versions created before `older_than`, always keeping the latest.
    pub fn prune(&mut self, namespace: &str, key: &str, older_than: Millis) {
        if let Some(h) = self.namespaces.get_mut(namespace).and_then(|ns| ns.get_mut(key)) {
            let last = h.len().saturating_sub(1);
            let mut i = 0;
            h.retain(|v| {
                let keep = i == last || v.created_at >= older_than;
                i += 1;
                keep
            });
        }
    }

    /// Latest version of a key, tombstone included.
    pub fn latest(&self, namespace: &str, key: &str) -> Option<&KvVersion> {
        self.namespaces.get(namespace)?.get(key)?.last()
    }

    /// Latest live value of a key (not deleted).
    pub fn get(&self, namespace: &str, key: &str) -> Option<&KvValue> {
        self.latest(namespace, key)?.value.as_ref()
    }

    /// All versions of a key, oldest first.
    pub fn history(&self, namespace: &str, key: &str) -> &[KvVersion] {
        self.namespaces.get(namespace).and_then(|ns| ns.get(key)).map_or(&[], |v| v.as_slice())
    }

    /// Keys of a namespace whose latest version is live, in order.
    pub fn live_keys<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .get(namespace)
            .into_iter()
            .flat_map(|ns| ns.iter())
            .filter(|(_, h)| h.last().is_some_and(|v| v.value.is_some()))
            .map(|(k, _)| k.as_str())
    }

    /// Every (namespace, key, versions), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &[KvVersion])> {
        self.namespaces
            .iter()
            .flat_map(|(ns, keys)| keys.iter().map(move |(k, h)| (ns.as_str(), k.as_str(), h.as_slice())))
    }

    /// Put back a key's whole history as a snapshot stored it (versions
    /// oldest first, as [`KvStore::iter`] gives them).
    pub fn restore(&mut self, namespace: &str, key: &str, versions: Vec<KvVersion>) {
        self.namespaces.entry(namespace.to_string()).or_default().insert(key.to_string(), versions);
    }

    /// Whether no key exists.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty()
    }

    /// Number of keys (live or tombstoned).
    pub fn key_count(&self) -> usize {
        self.namespaces.values().map(|k| k.len()).sum()
    }

    /// Number of stored versions across all keys.
    pub fn version_count(&self) -> usize {
        self.namespaces.values().flat_map(|k| k.values()).map(|h| h.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_tombstones_and_purge() {
        let mut kv = KvStore::default();
        kv.push("vars/job/a", "k", Some(KvValue::Plain("1".into())), 0, 10);
        kv.push("vars/job/a", "k", Some(KvValue::Plain("2".into())), 5, 20);
        assert_eq!(kv.get("vars/job/a", "k"), Some(&KvValue::Plain("2".into())));
        assert_eq!(kv.latest("vars/job/a", "k").unwrap().version, 2);
        assert!(kv.latest("vars/job/a", "k").unwrap().expired_at(20 + 5000));
        assert!(!kv.latest("vars/job/a", "k").unwrap().expired_at(20 + 4999));
        kv.push("vars/job/a", "k", None, 0, 30);
        assert_eq!(kv.get("vars/job/a", "k"), None);
        assert_eq!(kv.history("vars/job/a", "k").len(), 3);
        assert_eq!(kv.live_keys("vars/job/a").count(), 0);
        kv.purge("vars/job/a", "k");
        assert_eq!(kv.key_count(), 0);
        // Imported numbers are kept while they increase.
        kv.push_numbered("vars/job/a", "k", 5, Some(KvValue::Plain("a".into())), 0, 10);
        kv.push_numbered("vars/job/a", "k", 9, None, 0, 20);
        kv.push_numbered("vars/job/a", "k", 3, Some(KvValue::Plain("b".into())), 0, 30);
        let v: Vec<u64> = kv.history("vars/job/a", "k").iter().map(|v| v.version).collect();
        assert_eq!(v, [5, 9, 10]);
        kv.push("vars/job/a", "k", None, 0, 40);
        assert_eq!(kv.latest("vars/job/a", "k").unwrap().version, 11);
    }
}
