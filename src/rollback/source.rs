//! What a rollback restores, read from history: the recorded bytes of each
//! allocation as promoted at the point (`StagedRecorded`), and the events
//! that put the job's catalog entry and KV back as they were then.

use crate::deploy::recorded::{RecordedAlloc, Release, parse_entry};
use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::{self, JournalReader};
use crate::state::State;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// The KV namespaces of `job` a rollback restores: the ones its templates
/// and hooks read as the job's own.
pub fn job_namespaces(job: &str) -> [String; 3] {
    [format!("vars/job/{job}"), format!("secrets/job/{job}"), format!("vars/bucket/job/{job}")]
}

/// The recorded bytes of `jobs` as promoted in `then` (the state at event
/// `seq`), read from the journal up to `seq`. Bad input (exit 2) when a job
/// had nothing promoted then, or was promoted before maand recorded bytes.
pub fn release(paths: &crate::bucket::BucketPaths, jobs: &[String], then: &State, seq: u64) -> Result<Release> {
    let mut wanted: BTreeMap<(String, String), String> = BTreeMap::new();
    for job in jobs {
        let before = wanted.len();
        for ((j, ip), d) in then.deployed.range((job.clone(), String::new())..).take_while(|((j, _), _)| j == job) {
            wanted.insert((j.clone(), ip.clone()), d.hash.clone());
        }
        if wanted.len() == before {
            return Err(Error::input(format!("rollback of {job}: nothing of it was promoted at that point")));
        }
    }
    let mut release = Release::default();
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    // First the trees promoted then; then their contents, wherever they
    // were first recorded (each content enters the journal once).
    journal::for_each_event(&txn, ..=seq, |env| {
        if let Event::StagedRecorded { job, trees, hashes, .. } = env.event
            && jobs.contains(&job)
        {
            for (ip, tree) in trees {
                let key = (job.clone(), ip.clone());
                // Only the bytes of the tree that was promoted then count (a
                // later failed deploy may have recorded others).
                if wanted.get(&key).is_some_and(|h| hashes.get(&ip) == Some(h)) {
                    let files = tree.iter().filter_map(|(p, e)| parse_entry(e).map(|v| (p.clone(), v))).collect();
                    let promoted = then.deployed[&key].files.clone();
                    release.jobs.entry(job.clone()).or_default().insert(ip, RecordedAlloc { promoted, files });
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    for (job, ip) in wanted.keys() {
        if !release.jobs.get(job).is_some_and(|w| w.contains_key(ip)) {
            return Err(Error::input(format!(
                "rollback of {job}: the bytes promoted on {ip} at that point were not recorded \
                 (deployed by a maand that did not record staged bytes); choose a later point"
            )));
        }
    }
    let needed: std::collections::BTreeSet<String> =
        release.jobs.values().flat_map(|w| w.values()).flat_map(|a| a.files.values().map(|(h, _)| h.clone())).collect();
    journal::for_each_event(&txn, ..=seq, |env| {
        if let Event::StagedRecorded { blobs, .. } = env.event {
            release.blobs.extend(blobs.into_iter().filter(|(h, _)| needed.contains(h)));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(release)
}

/// The events that make `now`'s catalog entry of `job` (spec and sources)
/// and, when `kv`, its own KV namespaces what they were in `then`.
pub fn restore_events(job: &str, now: &State, then: &State, kv: bool, at: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let (Some(old), Some(cur)) = (then.catalog.jobs.get(job), now.catalog.jobs.get(job)) else { return out };
    if old.spec != cur.spec {
        out.push(Event::JobUpserted(Box::new(old.spec.clone())));
    }
    for (path, file) in &old.files {
        if cur.files.get(path) != Some(file) {
            out.push(Event::JobFilePut { job: job.to_string(), path: path.clone(), file: file.clone() });
        }
    }
    for path in cur.files.keys().filter(|p| !old.files.contains_key(*p)) {
        out.push(Event::JobFileRemoved { job: job.to_string(), path: path.clone() });
    }
    out.extend(version_events(job, now, &old.spec.version, at));
    if !kv {
        return out;
    }
    for ns in job_namespaces(job) {
        let mut keys: Vec<&str> = then.kv.stored_live_keys(&ns).chain(now.kv.stored_live_keys(&ns)).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            match (then.kv.stored_get(&ns, key), now.kv.stored_get(&ns, key)) {
                (Some(a), b) if b != Some(a) => {
                    out.push(Event::KvPut { namespace: ns.clone(), key: key.to_string(), value: a.clone(), ttl: 0, at })
                }
                (None, Some(_)) => out.push(Event::KvDeleted { namespace: ns.clone(), key: key.to_string(), at }),
                _ => {}
            }
        }
    }
    out
}

/// The build-owned `version` keys of `job` (`maand/job/<job>` and each
/// allocation's `maand/job/<job>/worker/<ip>`) set to the restored
/// catalog's `version`, as build would write them for it: a pinned job's
/// build holds these keys, so without this they would keep the newer
/// release's version beside the rolled-back catalog (whatever `--no-kv`
/// says: they follow the catalog, not the job's own KV).
fn version_events(job: &str, now: &State, version: &str, at: i64) -> Vec<Event> {
    let allocs = now.catalog.allocations_of(job);
    let namespaces = std::iter::once(format!("maand/job/{job}"))
        .chain(allocs.iter().filter(|a| !a.removed).map(|a| format!("maand/job/{job}/worker/{}", a.worker_ip)));
    namespaces
        // Only keys build wrote (an inactive job has none), and only when they differ.
        .filter(|ns| {
            now.kv.stored_get(ns, "version").is_some_and(|v| *v != crate::event::KvValue::Plain(version.to_string()))
        })
        .map(|namespace| Event::KvPut {
            namespace,
            key: "version".into(),
            value: crate::event::KvValue::Plain(version.to_string()),
            ttl: 0,
            at,
        })
        .collect()
}
