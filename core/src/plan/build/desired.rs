//! The KV a build wants, gathered as a flat list and sorted once.
//!
//! At 1,000 workers x 100 jobs a build wants some 300,000 keys in 100,000
//! namespaces, most of them an allocation's two keys. A map of maps paid a
//! tree node (hundreds of bytes) per namespace and a lookup per key; this
//! list pays a small vector per namespace and one sort, so a rebuild that
//! changes nothing touches far less fresh memory.

use std::collections::BTreeMap;

/// One namespace's wanted keys, sorted by key, each once.
pub(super) type Keys = Vec<(String, String)>;

/// Wanted keys in the order they were put; [`DesiredKv::into_sorted`]
/// gives the same result a map would: for a key put twice, the later value.
#[derive(Default)]
pub(super) struct DesiredKv {
    entries: Vec<(String, Keys)>,
}

impl DesiredKv {
    /// Want `key` = `value` in namespace `ns` (a later put of the same key
    /// wins). Consecutive puts to one namespace share its entry.
    pub(super) fn put(&mut self, ns: impl AsRef<str> + Into<String>, key: impl Into<String>, value: impl ToString) {
        let pair = (key.into(), value.to_string());
        match self.entries.last_mut() {
            Some((last, keys)) if last.as_str() == ns.as_ref() => keys.push(pair),
            _ => self.entries.push((ns.into(), vec![pair])),
        }
    }

    /// Want each of `keys` in namespace `ns` (as a `put` of each, in order).
    pub(super) fn put_namespace(&mut self, ns: String, keys: Keys) {
        self.entries.push((ns, keys));
    }

    /// Merge `extra` in, overriding keys put before.
    pub(super) fn extend(&mut self, extra: BTreeMap<String, BTreeMap<String, String>>) {
        self.entries.extend(extra.into_iter().map(|(ns, keys)| (ns, keys.into_iter().collect())));
    }

    /// Namespaces in order, each once, with its keys in order, each once.
    pub(super) fn into_sorted(mut self) -> Vec<(String, Keys)> {
        // Stable sorts keep put order among equals, so "later wins" holds.
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, Keys)> = Vec::with_capacity(self.entries.len());
        for (ns, keys) in self.entries {
            match out.last_mut() {
                Some((last, into)) if *last == ns => into.extend(keys),
                _ => out.push((ns, keys)),
            }
        }
        for (_, keys) in &mut out {
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            // `dedup_by` keeps the first of a run: move the later value into it.
            keys.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same {
                    std::mem::swap(&mut later.1, &mut kept.1);
                }
                same
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_like_a_map_with_later_puts_winning() {
        let mut d = DesiredKv::default();
        d.put("b", "k2", 1);
        d.put("b", "k1", "x");
        d.put("a", "k", "first");
        d.put("b", "k2", 2);
        d.put("a", "k", "second");
        let mut extra = BTreeMap::new();
        extra.insert("b".to_string(), BTreeMap::from([("k1".to_string(), "extra".to_string())]));
        d.extend(extra);
        let mut map: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (ns, k, v) in
            [("b", "k2", "1"), ("b", "k1", "x"), ("a", "k", "first"), ("b", "k2", "2"), ("a", "k", "second")]
        {
            map.entry(ns.into()).or_default().insert(k.into(), v.into());
        }
        map.get_mut("b").unwrap().insert("k1".into(), "extra".into());
        let want: Vec<(String, Keys)> = map.into_iter().map(|(ns, keys)| (ns, keys.into_iter().collect())).collect();
        assert_eq!(d.into_sorted(), want);
    }
}
