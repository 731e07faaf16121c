//! KV sync (SPEC §4): build-owned namespaces are made to equal what the
//! catalog says (stale keys tombstoned); `vars/job` is merged from
//! vars.toml; expired keys are tombstoned; `--purge-job-kv` clears job
//! vars and secrets of jobs without active allocations.

use super::BuildContext;
use super::desired::{DesiredKv, Keys};
use crate::event::{Event, KvValue, Millis, PeerScope};
use crate::state::{Catalog, KvVersion, State, Worker, ids};
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};

type Ns = BTreeMap<String, String>;

/// Whether build owns (and syncs) namespace `ns`.
pub fn is_build_owned(ns: &str) -> bool {
    ns == "maand/bucket"
        || ns == "vars/bucket"
        || ns.starts_with("vars/bucket/job/")
        || ns.starts_with("maand/worker")
        || ns.starts_with("maand/job/")
        || ns == crate::plan::prometheus::KV_NAMESPACE
}

/// `(job, ip)` of an allocation namespace `maand/job/<job>/worker/<ip>`.
pub fn allocation_namespace(ns: &str) -> Option<(&str, &str)> {
    ns.strip_prefix("maand/job/")?.split_once("/worker/")
}

/// Every build-owned key and its value; `extra` (the Prometheus scrape
/// catalog) is merged in.
fn desired_kv(
    state: &State,
    ws: &Workspace,
    cat: &Catalog,
    ctx: &BuildContext,
    extra: BTreeMap<String, Ns>,
) -> Vec<(String, Keys)> {
    let mut kv = DesiredKv::default();
    let workers = cat.workers_in_order();
    let active_jobs: BTreeSet<&str> = cat.allocations.values().filter(|a| a.active()).map(|a| a.job.as_str()).collect();

    // Global.
    kv.put("maand/bucket", "bucket_id", &ctx.bucket_id);
    kv.put("maand/bucket", "jobs", cat.jobs.keys().cloned().collect::<Vec<_>>().join(","));
    kv.put("maand/bucket", "activejobs", active_jobs.iter().copied().collect::<Vec<_>>().join(","));
    for job in &active_jobs {
        for (name, p) in &cat.jobs[*job].spec.ports {
            kv.put("maand/bucket", name, p.port);
        }
    }
    for (k, v) in &ws.bucket_vars {
        kv.put("vars/bucket", k, v);
    }

    // Workers, per label.
    let mut by_label: BTreeMap<&str, Vec<&Worker>> = BTreeMap::new();
    for w in &workers {
        for l in &w.labels {
            by_label.entry(l).or_default().push(w);
        }
    }
    let label_index: BTreeMap<(&str, &str), usize> = by_label
        .iter()
        .flat_map(|(l, ws_)| ws_.iter().enumerate().map(move |(i, w)| ((*l, w.ip.as_str()), i)))
        .collect();
    for (label, ws_) in &by_label {
        let ips: Vec<&str> = ws_.iter().map(|w| w.ip.as_str()).collect();
        kv.put("maand/worker", format!("{label}_workers"), ips.join(","));
        kv.put("maand/worker", format!("{label}_workers_length"), ips.len());
        for (i, ip) in ips.iter().enumerate() {
            kv.put("maand/worker", format!("{label}_{i}"), ip);
        }
        kv.put("maand/worker", format!("{label}_label_id"), label_id(state, label));
    }
    kv.put("maand/worker", "certs/ca.crt", &ctx.ca_pem);
    // Active jobs per worker, in job order (one pass, not one per worker).
    let mut jobs_on: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in cat.allocations.values().filter(|a| a.active()) {
        jobs_on.entry(a.worker_ip.as_str()).or_default().push(a.job.as_str());
    }
    for w in &workers {
        let ns = format!("maand/worker/{}", w.ip);
        kv.put(&ns, "worker_ip", &w.ip);
        kv.put(&ns, "worker_id", &w.worker_id);
        if let Some(h) = &w.hostname {
            kv.put(&ns, "hostname", h);
        }
        kv.put(&ns, "position", w.position);
        kv.put(&ns, "labels", w.labels.join(","));
        if let Some(m) = w.memory_mb {
            kv.put(&ns, "worker_memory_mb", m);
        }
        if let Some(c) = w.cpu_mhz {
            kv.put(&ns, "worker_cpu_mhz", c);
        }
        kv.put(&ns, "jobs", jobs_on.get(w.ip.as_str()).map_or(String::new(), |j| j.join(",")));
        for l in &w.labels {
            let index = label_index.get(&(l.as_str(), w.ip.as_str())).copied().unwrap_or(0);
            kv.put(&ns, format!("{l}_allocation_index"), index);
        }
        for (k, v) in &w.tags {
            kv.put(format!("maand/worker/{}/tags", w.ip), k, v);
        }
    }

    // Jobs and allocations.
    for (name, job) in &cat.jobs {
        let s = &job.spec;
        let allocs = cat.allocations_of(name);
        if active_jobs.contains(name.as_str()) {
            let ns = format!("maand/job/{name}");
            let active: Vec<&str> = allocs.iter().filter(|a| a.active()).map(|a| a.worker_ip.as_str()).collect();
            kv.put(&ns, "name", name);
            kv.put(&ns, "job_name", name);
            kv.put(&ns, "job_id", &s.job_id);
            kv.put(&ns, "version", &s.version);
            kv.put(&ns, "selectors", s.selectors.join(","));
            kv.put(&ns, "workers", active.join(","));
            kv.put(&ns, "workers_length", active.len());
            for (i, ip) in active.iter().enumerate() {
                kv.put(&ns, format!("worker_{i}"), ip);
            }
            kv.put(&ns, "rollout_order", active.join(","));
            kv.put(&ns, "memory", s.current_memory_mb);
            kv.put(&ns, "cpu", s.current_cpu_mhz);
            kv.put(&ns, "min_memory_mb", s.min_memory_mb);
            kv.put(&ns, "max_memory_mb", s.max_memory_mb);
            kv.put(&ns, "min_cpu_mhz", s.min_cpu_mhz);
            kv.put(&ns, "max_cpu_mhz", s.max_cpu_mhz);
            if let Some(o) = ws.job_overrides.get(name) {
                for (k, v) in &o.vars {
                    kv.put(format!("vars/bucket/job/{name}"), k, v);
                }
            }
        }
        let live: Vec<&str> = allocs.iter().filter(|a| !a.removed).map(|a| a.worker_ip.as_str()).collect();
        // Once per allocation (100,000 at scale): the per-job parts are made once.
        let index_key = format!("{name}_allocation_index");
        for (i, ip) in live.iter().enumerate() {
            let keys = vec![(index_key.clone(), i.to_string()), ("version".to_string(), s.version.clone())];
            kv.put_namespace(format!("maand/job/{name}/worker/{ip}"), keys);
        }
    }
    kv.extend(extra);
    kv.into_sorted()
}

/// A label's id: the one the KV holds (an id imported from the original
/// maand is kept, like catalog ids), else the one derived from its name.
fn label_id(state: &State, label: &str) -> String {
    match state.kv.stored_get("maand/worker", &format!("{label}_label_id")) {
        Some(KvValue::Plain(id)) => id.clone(),
        _ => ids::label_id(label),
    }
}

/// All KV events of a build.
pub(super) fn kv_events(
    state: &State,
    ws: &Workspace,
    next: &Catalog,
    ctx: &BuildContext,
    extra: BTreeMap<String, Ns>,
) -> Vec<Event> {
    let desired = desired_kv(state, ws, next, ctx, extra);
    let at = ctx.now;
    let mut ev = Vec::new();
    let mut deleted: BTreeSet<(String, String)> = BTreeSet::new();
    // Desired and stored namespaces walked side by side, in order (one pass,
    // no lookup per namespace or key): a build-owned namespace only stored
    // is synced against nothing wanted.
    let empty = BTreeMap::new();
    let mut stored = state.kv.stored_namespaces().peekable();
    for (ns, want) in desired {
        while let Some((old, keys)) = stored.next_if(|(s, _)| *s < ns.as_str()) {
            if is_build_owned(old) {
                sync_namespace(next, old, Keys::new(), keys, at, &mut ev, &mut deleted);
            }
        }
        let keys = stored.next_if(|(s, _)| *s == ns.as_str()).map_or(&empty, |(_, k)| k);
        sync_namespace(next, &ns, want, keys, at, &mut ev, &mut deleted);
    }
    for (old, keys) in stored {
        if is_build_owned(old) {
            sync_namespace(next, old, Keys::new(), keys, at, &mut ev, &mut deleted);
        }
    }

    // vars.toml: merged, never wiped.
    for (job, input) in &ws.jobs {
        let ns = format!("vars/job/{job}");
        for (k, v) in &input.vars {
            if !matches!(state.kv.stored_get(&ns, k), Some(KvValue::Plain(cur)) if cur == v)
                || state.kv.stored_latest(&ns, k).is_some_and(|l| l.expired_at(at))
            {
                ev.push(Event::KvPut {
                    namespace: ns.clone(),
                    key: k.clone(),
                    value: KvValue::Plain(v.clone()),
                    ttl: 0,
                    at,
                });
                // A fresh version: not subject to the expiry below.
                deleted.insert((ns.clone(), k.clone()));
            }
        }
    }

    // --purge-job-kv: jobs without an active allocation lose vars and secrets.
    if ctx.purge_job_kv {
        let active: BTreeSet<&str> = next.allocations.values().filter(|a| a.active()).map(|a| a.job.as_str()).collect();
        // Jobs known to the catalog, plus leftovers of jobs removed by an
        // earlier build whose vars or secrets are still in KV.
        let mut jobs: BTreeSet<&str> = state.catalog.jobs.keys().map(String::as_str).collect();
        jobs.extend(next.jobs.keys().map(String::as_str));
        for (ns, _, _) in state.kv.stored_iter() {
            if let Some(j) = ns.strip_prefix("vars/job/").or_else(|| ns.strip_prefix("secrets/job/")) {
                jobs.insert(j);
            }
        }
        for job in jobs.into_iter().filter(|j| !active.contains(j)) {
            for ns in [format!("vars/job/{job}"), format!("secrets/job/{job}")] {
                for k in state.kv.stored_live_keys(&ns) {
                    if deleted.insert((ns.clone(), k.to_string())) {
                        ev.push(Event::KvDeleted { namespace: ns.clone(), key: k.to_string(), at });
                    }
                }
            }
        }
    }

    // Expired keys become tombstones (compared with the session's time);
    // `deleted` also holds keys this build just wrote or deleted.
    for (ns, key, history) in state.kv.stored_iter() {
        let Some(last) = history.last() else { continue };
        if last.value.is_some() && last.expired_at(at) && !deleted.contains(&(ns.to_string(), key.to_string())) {
            ev.push(Event::KvDeleted { namespace: ns.to_string(), key: key.to_string(), at });
        }
    }
    ev.extend(peer_set_events(state, next, at));
    ev
}

/// Make one build-owned namespace equal `want`: a put for each key whose
/// stored value differs (values move into their events), then a tombstone
/// for each live stored key not wanted (an allocation's certificates stay:
/// certificate planning owns them). Both lists are sorted, so one merge.
fn sync_namespace(
    next: &Catalog,
    ns: &str,
    want: Keys,
    stored: &BTreeMap<String, Vec<KvVersion>>,
    at: Millis,
    ev: &mut Vec<Event>,
    deleted: &mut BTreeSet<(String, String)>,
) {
    let cert_managed = allocation_namespace(ns)
        .is_some_and(|(j, ip)| next.allocations.get(&(j.to_string(), ip.to_string())).is_some_and(|a| !a.removed));
    let live = |h: &[KvVersion]| h.last().is_some_and(|v| v.value.is_some());
    let mut stale: Vec<&str> = Vec::new();
    let mut cur = stored.iter().peekable();
    for (k, v) in want {
        while let Some((old, h)) = cur.next_if(|(s, _)| s.as_str() < k.as_str()) {
            if live(h) {
                stale.push(old);
            }
        }
        let same = cur.next_if(|(s, _)| **s == k).is_some_and(
            |(_, h)| matches!(h.last().and_then(|l| l.value.as_ref()), Some(KvValue::Plain(c)) if *c == v),
        );
        if !same {
            ev.push(Event::KvPut { namespace: ns.to_string(), key: k, value: KvValue::Plain(v), ttl: 0, at });
        }
    }
    stale.extend(cur.filter(|(_, h)| live(h)).map(|(k, _)| k.as_str()));
    for k in stale {
        if cert_managed && k.starts_with("certs/") {
            continue;
        }
        ev.push(Event::KvDeleted { namespace: ns.to_string(), key: k.to_string(), at });
        deleted.insert((ns.to_string(), k.to_string()));
    }
}

/// The peer sets of the catalog (see [`crate::state::kv`]): each job's live
/// allocations (disabled included) and each label's workers, in catalog
/// order; an event for each set that differs from the recorded one (an
/// empty set ends one that was recorded).
pub fn desired_peer_sets(cat: &Catalog) -> BTreeMap<PeerScope, Vec<String>> {
    let mut sets: BTreeMap<PeerScope, Vec<String>> = BTreeMap::new();
    for w in cat.workers_in_order() {
        for l in &w.labels {
            sets.entry(PeerScope::Label(l.clone())).or_default().push(w.ip.clone());
        }
    }
    for name in cat.jobs.keys() {
        let live: Vec<String> =
            cat.allocations_of(name).iter().filter(|a| !a.removed).map(|a| a.worker_ip.clone()).collect();
        if !live.is_empty() {
            sets.insert(PeerScope::Job(name.clone()), live);
        }
    }
    sets
}

fn peer_set_events(state: &State, next: &Catalog, at: Millis) -> Vec<Event> {
    let mut want = desired_peer_sets(next);
    let mut ev = Vec::new();
    for scope in state.kv.peer_sets().keys() {
        want.entry(scope.clone()).or_default();
    }
    for (scope, members) in want {
        if state.kv.peer_members(&scope) != members.as_slice() {
            ev.push(Event::PeerSetRecorded { scope, members, at });
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Allocation, KvStore};

    fn plain(s: &str) -> Option<KvValue> {
        Some(KvValue::Plain(s.into()))
    }

    #[test]
    fn a_namespace_syncs_puts_in_key_order_then_tombstones_of_live_unwanted_keys() {
        let ns = "maand/job/api/worker/10.0.0.1";
        let mut kv = KvStore::default();
        for (k, v) in [("a", plain("1")), ("b", plain("x")), ("certs/t.crt", plain("pem")), ("d", plain("4"))] {
            kv.push(ns, k, v, 0, 1);
        }
        kv.push(ns, "b", None, 0, 2); // already a tombstone: left alone
        kv.push(ns, "z", plain("old"), 0, 1);
        let mut next = Catalog::default();
        let alloc = Allocation {
            alloc_id: "id".into(),
            job: "api".into(),
            worker_ip: "10.0.0.1".into(),
            disabled: false,
            removed: false,
            new_version: "1".into(),
        };
        next.allocations.insert(("api".into(), "10.0.0.1".into()), alloc);
        let want: Keys =
            [("a", "1"), ("c", "3"), ("z", "new")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let stored = kv.stored_namespaces().next().unwrap().1;
        let (mut ev, mut deleted) = (Vec::new(), BTreeSet::new());
        sync_namespace(&next, ns, want, stored, 9, &mut ev, &mut deleted);
        let put = |k: &str, v: &str| Event::KvPut {
            namespace: ns.into(),
            key: k.into(),
            value: KvValue::Plain(v.into()),
            ttl: 0,
            at: 9,
        };
        // The allocation is live, so its certificate stays; `d` is not wanted.
        let want_ev =
            vec![put("c", "3"), put("z", "new"), Event::KvDeleted { namespace: ns.into(), key: "d".into(), at: 9 }];
        assert_eq!(ev, want_ev);
        assert_eq!(deleted, BTreeSet::from([(ns.to_string(), "d".to_string())]));

        // Once the allocation is removed, nothing is wanted and the certificate goes too.
        next.allocations.values_mut().for_each(|a| a.removed = true);
        let (mut ev, mut deleted) = (Vec::new(), BTreeSet::new());
        sync_namespace(&next, ns, Keys::new(), stored, 9, &mut ev, &mut deleted);
        let keys: Vec<&str> = ev
            .iter()
            .map(|e| match e {
                Event::KvDeleted { key, .. } => key.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(keys, ["a", "certs/t.crt", "d", "z"]);
    }
}
