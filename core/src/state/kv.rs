//! The KV store as folded state: every namespace/key with its full version
//! history (latest wins, deletes are tombstones), plus the fleet-wide peer
//! sets from which per-member keys are derived.
//!
//! Two layers, so the representation can stay linear in the fleet:
//!
//! - **stored** keys (`stored_*` methods): what `KvPut`/`KvDeleted` events
//!   wrote, versioned per key. Build planning, snapshots and the SQLite
//!   `key_value` table work on this layer.
//! - **derived** keys: `peer_workers` of every allocation namespace
//!   `maand/job/<job>/worker/<ip>` and `<label>_peers` of every worker
//!   namespace `maand/worker/<ip>`. Each lists the *other* members of a set
//!   recorded once per change ([`crate::event::Event::PeerSetRecorded`]);
//!   materialising them would write a fleet's worth of values per member,
//!   i.e. grow the journal with the square of the fleet on every change.
//!
//! The read methods (`get`, `latest`, `history`, `live_keys`, `iter`) show
//! both layers as one: a derived key reads exactly the value a stored copy
//! would hold. Its version is the set's version (one per recorded change of
//! the set) and its history is that one version.

use crate::event::{KvValue, Millis, PeerScope};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The key a job's peer set derives in each member's allocation namespace.
pub const PEER_WORKERS: &str = "peer_workers";

/// One recorded peer set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSet {
    /// Member addresses, in catalog order.
    pub members: Vec<String>,
    /// 1-based, one per recorded change.
    pub version: u64,
    /// When the current members were recorded.
    pub at: Millis,
    /// The members, for lookups.
    index: BTreeSet<String>,
    /// The derived key's name (`peer_workers`, `<label>_peers`).
    key: String,
}

impl PeerSet {
    /// A set of `scope` as recorded (or restored from a snapshot).
    pub fn new(scope: &PeerScope, members: Vec<String>, version: u64, at: Millis) -> PeerSet {
        let index = members.iter().cloned().collect();
        let key = match scope {
            PeerScope::Job(_) => PEER_WORKERS.to_string(),
            PeerScope::Label(l) => format!("{l}_peers"),
        };
        PeerSet { members, version, at, index, key }
    }

    /// The value member `ip` reads: the other members, comma-separated.
    fn value_for(&self, ip: &str) -> String {
        let mut out = String::new();
        for m in self.members.iter().filter(|m| *m != ip) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(m);
        }
        out
    }
}

/// Namespace and key of a derived key of `scope`'s member `ip`.
pub fn derived_location(scope: &PeerScope, ip: &str) -> (String, String) {
    match scope {
        PeerScope::Job(job) => (format!("maand/job/{job}/worker/{ip}"), PEER_WORKERS.to_string()),
        PeerScope::Label(label) => (format!("maand/worker/{ip}"), format!("{label}_peers")),
    }
}

/// The scope and member a `(namespace, key)` would be derived from.
fn derived_scope(ns: &str, key: &str) -> Option<(PeerScope, String)> {
    if let Some(rest) = ns.strip_prefix("maand/job/") {
        let (job, ip) = rest.split_once("/worker/")?;
        return (key == PEER_WORKERS && !ip.contains('/')).then(|| (PeerScope::Job(job.to_string()), ip.to_string()));
    }
    let ip = ns.strip_prefix("maand/worker/")?;
    let label = key.strip_suffix("_peers")?;
    (!ip.contains('/') && !label.is_empty()).then(|| (PeerScope::Label(label.to_string()), ip.to_string()))
}

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

/// All KV data: namespace → key → versions (oldest first), and the peer
/// sets derived keys come from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvStore {
    namespaces: BTreeMap<String, BTreeMap<String, Vec<KvVersion>>>,
    peers: BTreeMap<PeerScope, PeerSet>,
}

/// One key as the read methods show it: borrowed when stored, computed when
/// derived.
pub type KvEntry<'a> = (Cow<'a, str>, Cow<'a, str>, Cow<'a, [KvVersion]>);

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

    /// Latest *stored* version of a key, tombstone included (derived keys
    /// are not stored: see the module docs).
    pub fn stored_latest(&self, namespace: &str, key: &str) -> Option<&KvVersion> {
        self.namespaces.get(namespace)?.get(key)?.last()
    }

    /// Latest live *stored* value of a key.
    pub fn stored_get(&self, namespace: &str, key: &str) -> Option<&KvValue> {
        self.stored_latest(namespace, key)?.value.as_ref()
    }

    /// All *stored* versions of a key, oldest first.
    pub fn stored_history(&self, namespace: &str, key: &str) -> &[KvVersion] {
        self.namespaces.get(namespace).and_then(|ns| ns.get(key)).map_or(&[], |v| v.as_slice())
    }

    /// *Stored* keys of a namespace whose latest version is live, in order.
    pub fn stored_live_keys<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .get(namespace)
            .into_iter()
            .flat_map(|ns| ns.iter())
            .filter(|(_, h)| h.last().is_some_and(|v| v.value.is_some()))
            .map(|(k, _)| k.as_str())
    }

    /// Every *stored* namespace with its keys (each with its versions), in
    /// order: for walking the store beside another sorted map in one pass.
    pub fn stored_namespaces(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, Vec<KvVersion>>)> {
        self.namespaces.iter().map(|(ns, keys)| (ns.as_str(), keys))
    }

    /// Stored namespaces starting with `prefix`, in order (a range scan).
    pub fn stored_namespaces_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.namespaces
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .map(|(ns, _)| ns.as_str())
            .take_while(move |ns| ns.starts_with(prefix))
    }

    /// Every *stored* (namespace, key, versions), in order.
    pub fn stored_iter(&self) -> impl Iterator<Item = (&str, &str, &[KvVersion])> {
        self.namespaces
            .iter()
            .flat_map(|(ns, keys)| keys.iter().map(move |(k, h)| (ns.as_str(), k.as_str(), h.as_slice())))
    }

    /// Whether a recorded peer set derives this key (a stored copy, if any,
    /// is hidden by it).
    pub fn is_derived(&self, namespace: &str, key: &str) -> bool {
        derived_scope(namespace, key)
            .is_some_and(|(scope, ip)| self.peers.get(&scope).is_some_and(|s| s.index.contains(&ip)))
    }

    /// The derived version of a key, when a recorded peer set covers it.
    fn derived(&self, namespace: &str, key: &str) -> Option<KvVersion> {
        let (scope, ip) = derived_scope(namespace, key)?;
        let set = self.peers.get(&scope).filter(|s| s.index.contains(&ip))?;
        Some(KvVersion {
            version: set.version,
            value: Some(KvValue::Plain(set.value_for(&ip))),
            ttl: 0,
            created_at: set.at,
        })
    }

    /// Latest version of a key, tombstone included; derived keys included.
    pub fn latest(&self, namespace: &str, key: &str) -> Option<Cow<'_, KvVersion>> {
        match self.derived(namespace, key) {
            Some(v) => Some(Cow::Owned(v)),
            None => self.stored_latest(namespace, key).map(Cow::Borrowed),
        }
    }

    /// Latest live value of a key (not deleted); derived keys included.
    pub fn get(&self, namespace: &str, key: &str) -> Option<Cow<'_, KvValue>> {
        match self.latest(namespace, key)? {
            Cow::Borrowed(v) => v.value.as_ref().map(Cow::Borrowed),
            Cow::Owned(v) => v.value.map(Cow::Owned),
        }
    }

    /// All versions of a key, oldest first (a derived key: its current one).
    pub fn history(&self, namespace: &str, key: &str) -> Cow<'_, [KvVersion]> {
        match self.derived(namespace, key) {
            Some(v) => Cow::Owned(vec![v]),
            None => Cow::Borrowed(self.stored_history(namespace, key)),
        }
    }

    /// Keys of a namespace whose latest version is live, in order; derived
    /// keys included.
    pub fn live_keys<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a str> + 'a {
        let mut keys: BTreeSet<&'a str> = self.stored_live_keys(namespace).collect();
        if let Some(rest) = namespace.strip_prefix("maand/job/")
            && let Some((job, ip)) = rest.split_once("/worker/")
            && self.peers.get(&PeerScope::Job(job.to_string())).is_some_and(|s| s.index.contains(ip))
        {
            keys.insert(PEER_WORKERS);
        }
        if let Some(ip) = namespace.strip_prefix("maand/worker/") {
            for (scope, set) in &self.peers {
                if let PeerScope::Label(_) = scope
                    && set.index.contains(ip)
                    && let Some(k) = self.label_key(scope)
                {
                    keys.insert(k);
                }
            }
        }
        keys.into_iter()
    }

    /// The key name a label scope derives (`<label>_peers`), lent from the set.
    fn label_key<'a>(&'a self, scope: &PeerScope) -> Option<&'a str> {
        self.peers.get(scope).map(|s| s.key.as_str())
    }

    /// Every (namespace, key, versions), in order; derived keys included.
    pub fn iter(&self) -> impl Iterator<Item = KvEntry<'_>> {
        let mut derived: BTreeMap<(String, String), (&PeerScope, &str)> = BTreeMap::new();
        for (scope, set) in &self.peers {
            for m in &set.members {
                derived.insert(derived_location(scope, m), (scope, m.as_str()));
            }
        }
        let stored = self.stored_iter().map(|(n, k, h)| ((n, k), h));
        merge(stored, derived).map(move |item| match item {
            Merged::Stored((n, k), h) => (Cow::Borrowed(n), Cow::Borrowed(k), Cow::Borrowed(h)),
            Merged::Derived((n, k), (scope, ip)) => {
                let set = &self.peers[scope];
                let v = KvVersion {
                    version: set.version,
                    value: Some(KvValue::Plain(set.value_for(ip))),
                    ttl: 0,
                    created_at: set.at,
                };
                (Cow::Owned(n), Cow::Owned(k), Cow::Owned(vec![v]))
            }
        })
    }

    /// Record a new version of a peer set.
    pub fn set_peers(&mut self, scope: &PeerScope, members: &[String], at: Millis) {
        let version = self.peers.get(scope).map_or(1, |s| s.version + 1);
        self.peers.insert(scope.clone(), PeerSet::new(scope, members.to_vec(), version, at));
    }

    /// The recorded peer sets.
    pub fn peer_sets(&self) -> &BTreeMap<PeerScope, PeerSet> {
        &self.peers
    }

    /// The current members of a peer set (empty when none is recorded).
    pub fn peer_members(&self, scope: &PeerScope) -> &[String] {
        self.peers.get(scope).map_or(&[], |s| s.members.as_slice())
    }

    /// Put back a peer set as a snapshot stored it.
    pub fn restore_peers(&mut self, scope: PeerScope, members: Vec<String>, version: u64, at: Millis) {
        let set = PeerSet::new(&scope, members, version, at);
        self.peers.insert(scope, set);
    }

    /// Put back a key's whole history as a snapshot stored it (versions
    /// oldest first, as [`KvStore::iter`] gives them).
    pub fn restore(&mut self, namespace: &str, key: &str, versions: Vec<KvVersion>) {
        self.namespaces.entry(namespace.to_string()).or_default().insert(key.to_string(), versions);
    }

    /// Put back a whole namespace as a snapshot stored it (one insert, not
    /// one per key), replacing what it held; an empty one is not kept.
    pub fn restore_namespace(&mut self, namespace: String, keys: BTreeMap<String, Vec<KvVersion>>) {
        if keys.is_empty() {
            self.namespaces.remove(&namespace);
        } else {
            self.namespaces.insert(namespace, keys);
        }
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

/// One item of [`KvStore::iter`]'s merge.
enum Merged<'a> {
    Stored((&'a str, &'a str), &'a [KvVersion]),
    Derived((String, String), (&'a PeerScope, &'a str)),
}

/// Merge stored keys and derived keys, both in (namespace, key) order; a
/// derived key hides a stored one of the same name (an old materialised
/// copy, tombstoned by the first build that records the set).
fn merge<'a>(
    stored: impl Iterator<Item = ((&'a str, &'a str), &'a [KvVersion])>,
    derived: BTreeMap<(String, String), (&'a PeerScope, &'a str)>,
) -> impl Iterator<Item = Merged<'a>> {
    let mut stored = stored.peekable();
    let mut derived = derived.into_iter().peekable();
    std::iter::from_fn(move || {
        let take_derived = match (stored.peek(), derived.peek()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(((n, k), _)), Some(((dn, dk), _))) => {
                let ord = (*n, *k).cmp(&(dn.as_str(), dk.as_str()));
                if ord == std::cmp::Ordering::Equal {
                    stored.next();
                }
                ord != std::cmp::Ordering::Less
            }
        };
        if take_derived {
            derived.next().map(|(loc, src)| Merged::Derived(loc, src))
        } else {
            stored.next().map(|(loc, h)| Merged::Stored(loc, h))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_tombstones_and_purge() {
        let mut kv = KvStore::default();
        kv.push("vars/job/a", "k", Some(KvValue::Plain("1".into())), 0, 10);
        kv.push("vars/job/a", "k", Some(KvValue::Plain("2".into())), 5, 20);
        assert_eq!(kv.get("vars/job/a", "k").as_deref(), Some(&KvValue::Plain("2".into())));
        assert_eq!(kv.latest("vars/job/a", "k").unwrap().version, 2);
        assert!(kv.latest("vars/job/a", "k").unwrap().expired_at(20 + 5000));
        assert!(!kv.latest("vars/job/a", "k").unwrap().expired_at(20 + 4999));
        kv.push("vars/job/a", "k", None, 0, 30);
        assert_eq!(kv.get("vars/job/a", "k"), None::<Cow<KvValue>>);
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

    fn plain(s: &str) -> Option<KvValue> {
        Some(KvValue::Plain(s.into()))
    }

    #[test]
    fn peer_sets_derive_one_value_per_member() {
        let mut kv = KvStore::default();
        let job = PeerScope::Job("web".into());
        let members: Vec<String> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(String::from).to_vec();
        kv.set_peers(&job, &members, 7);
        let v = kv.latest("maand/job/web/worker/10.0.0.2", "peer_workers").unwrap();
        assert_eq!((v.version, v.value.clone(), v.created_at), (1, plain("10.0.0.1,10.0.0.3"), 7));
        assert!(kv.get("maand/job/web/worker/10.0.0.9", "peer_workers").is_none(), "not a member");
        assert!(kv.get("maand/job/api/worker/10.0.0.1", "peer_workers").is_none(), "another job");
        assert_eq!(kv.live_keys("maand/job/web/worker/10.0.0.1").collect::<Vec<_>>(), vec!["peer_workers"]);

        let label = PeerScope::Label("db".into());
        kv.set_peers(&label, &members[..1], 8);
        assert_eq!(kv.get("maand/worker/10.0.0.1", "db_peers").as_deref(), Some(&KvValue::Plain(String::new())));
        kv.push("maand/worker/10.0.0.1", "labels", plain("db"), 0, 8);
        assert_eq!(kv.live_keys("maand/worker/10.0.0.1").collect::<Vec<_>>(), vec!["db_peers", "labels"]);

        // A new version of the set: one version more, members changed.
        kv.set_peers(&job, &members[1..], 9);
        assert!(kv.get("maand/job/web/worker/10.0.0.1", "peer_workers").is_none());
        assert_eq!(kv.latest("maand/job/web/worker/10.0.0.3", "peer_workers").unwrap().version, 2);
    }

    #[test]
    fn iteration_merges_stored_and_derived_keys_in_order() {
        let mut kv = KvStore::default();
        // An old materialised copy (journals before peer sets), then the set.
        kv.push("maand/job/web/worker/10.0.0.1", "peer_workers", plain("old"), 0, 1);
        kv.push("maand/job/web/worker/10.0.0.1", "web_allocation_index", plain("0"), 0, 1);
        kv.push("maand/job/web/worker/10.0.0.2", "version", plain("1"), 0, 1);
        kv.set_peers(&PeerScope::Job("web".into()), &["10.0.0.1".into(), "10.0.0.2".into()], 2);
        let all: Vec<(String, String, Option<KvValue>)> =
            kv.iter().map(|(n, k, h)| (n.into_owned(), k.into_owned(), h.last().unwrap().value.clone())).collect();
        let w = |ip: &str| format!("maand/job/web/worker/{ip}");
        assert_eq!(
            all,
            vec![
                (w("10.0.0.1"), "peer_workers".into(), plain("10.0.0.2")),
                (w("10.0.0.1"), "web_allocation_index".into(), plain("0")),
                (w("10.0.0.2"), "peer_workers".into(), plain("10.0.0.1")),
                (w("10.0.0.2"), "version".into(), plain("1")),
            ]
        );
        assert_eq!(kv.stored_iter().count(), 3, "derived keys are never stored");
    }
}
