//! Catalog differences as events: only what changed is recorded.

use super::placement::AllocKey;
use crate::event::Event;
use crate::state::{Allocation, Catalog, Job, JobFile, JobSpec, State, Worker};
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// Catalog workers for the workspace's workers.json.
pub(super) fn desired_workers(state: &State, ws: &Workspace) -> BTreeMap<String, Worker> {
    ws.workers
        .iter()
        .map(|w| {
            let worker = Worker {
                worker_id: state.catalog.worker_id(&w.host),
                ip: w.host.clone(),
                position: w.position,
                labels: w.labels.clone(),
                tags: w.tags.clone(),
                memory_mb: w.memory_mb,
                cpu_mhz: w.cpu_mhz,
                hostname: w.hostname.clone(),
            };
            (w.host.clone(), worker)
        })
        .collect()
}

fn desired_files(ws: &Workspace, job: &str) -> BTreeMap<String, JobFile> {
    ws.jobs[job].files.iter().map(|(p, f)| (p.clone(), JobFile { mode: f.mode, content: f.content.clone() })).collect()
}

/// Events turning the state's catalog into the desired one.
pub(super) fn catalog_events(
    state: &State,
    ws: &Workspace,
    workers: &BTreeMap<String, Worker>,
    specs: &BTreeMap<String, JobSpec>,
    allocations: &BTreeMap<AllocKey, Allocation>,
) -> Vec<Event> {
    let cur = &state.catalog;
    let mut ev = Vec::new();
    for (ip, w) in workers {
        if cur.workers.get(ip) != Some(w) {
            ev.push(Event::WorkerUpserted(w.clone()));
        }
    }
    for ip in cur.workers.keys().filter(|ip| !workers.contains_key(*ip)) {
        ev.push(Event::WorkerRemoved { ip: ip.clone() });
    }
    for (name, spec) in specs {
        let old = cur.jobs.get(name);
        if old.map(|j| &j.spec) != Some(spec) {
            ev.push(Event::JobUpserted(Box::new(spec.clone())));
        }
        let files = desired_files(ws, name);
        for (path, f) in &files {
            if old.and_then(|j| j.files.get(path)) != Some(f) {
                ev.push(Event::JobFilePut { job: name.clone(), path: path.clone(), file: f.clone() });
            }
        }
        for path in old.into_iter().flat_map(|j| j.files.keys()).filter(|p| !files.contains_key(*p)) {
            ev.push(Event::JobFileRemoved { job: name.clone(), path: path.clone() });
        }
    }
    for (name, job) in cur.jobs.iter().filter(|(n, _)| !specs.contains_key(*n)) {
        for path in job.files.keys() {
            ev.push(Event::JobFileRemoved { job: name.clone(), path: path.clone() });
        }
        ev.push(Event::JobRemoved { name: name.clone() });
    }
    for (key, a) in allocations {
        if cur.allocations.get(key) != Some(a) {
            ev.push(Event::AllocationUpserted(a.clone()));
        }
    }
    ev
}

/// The catalog after the build (files are not needed downstream and are
/// left out).
pub(super) fn catalog_after(
    state: &State,
    workers: BTreeMap<String, Worker>,
    specs: &BTreeMap<String, JobSpec>,
    allocations: BTreeMap<AllocKey, Allocation>,
) -> Catalog {
    Catalog {
        workers,
        jobs: specs.iter().map(|(n, s)| (n.clone(), Job { spec: s.clone(), files: BTreeMap::new() })).collect(),
        allocations,
        certs: state.catalog.certs.clone(),
    }
}
