//! Pinned (rolled-back) jobs at build: while a job's workspace files are
//! the ones it was rolled back from, build keeps its catalog entry and its
//! own KV as the rollback left them; once they change, the job is released
//! and built as usual. So the next `deploy --build` never silently rolls a
//! rolled-back job forward.

use crate::event::Event;
use crate::state::State;
use crate::workspace::{JobInput, Workspace};
use sha2::{Digest, Sha256};

/// SHA-256 over a job's workspace files (path, mode, content), in path order.
pub fn fingerprint(job: &JobInput) -> String {
    fingerprint_files(job.files.iter().map(|(p, f)| (p.as_str(), f.mode, f.content.as_slice())))
}

/// [`fingerprint`] of files given as (path, mode, content) in path order
/// (a rollback writing old sources back computes it from the catalog's).
pub fn fingerprint_files<'a>(files: impl Iterator<Item = (&'a str, u32, &'a [u8])>) -> String {
    let mut h = Sha256::new();
    for (path, mode, content) in files {
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(mode.to_le_bytes());
        h.update((content.len() as u64).to_le_bytes());
        h.update(content);
    }
    hex::encode(h.finalize())
}

/// Whether `e` changes pinned `job`'s catalog entry or its own KV.
fn touches(e: &Event, job: &str) -> bool {
    let own_ns = |ns: &str| {
        [format!("vars/job/{job}"), format!("secrets/job/{job}"), format!("vars/bucket/job/{job}")]
            .iter()
            .any(|n| n == ns)
    };
    let version_key = |ns: &str, key: &str| {
        key == "version" && (ns == format!("maand/job/{job}") || ns.starts_with(&format!("maand/job/{job}/worker/")))
    };
    match e {
        Event::JobUpserted(spec) => spec.name == job,
        Event::JobRemoved { name } => name == job,
        Event::JobFilePut { job: j, .. } | Event::JobFileRemoved { job: j, .. } => j == job,
        Event::KvPut { namespace, key, .. } | Event::KvDeleted { namespace, key, .. } => {
            own_ns(namespace) || version_key(namespace, key)
        }
        _ => false,
    }
}

/// Apply the pins of `state` to a build's planned `events`: held jobs'
/// changes are dropped; jobs whose workspace files changed (or left the
/// workspace) are released first (`JobUnpinned`). Returns the events and
/// one line per pinned job for the operator.
pub fn apply(state: &State, ws: &Workspace, events: Vec<Event>) -> (Vec<Event>, Vec<String>) {
    let mut held = Vec::new();
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (job, (to, print)) in &state.pinned {
        match ws.jobs.get(job) {
            Some(input) if fingerprint(input) == *print => {
                notes.push(format!(
                    "{job} is pinned (rolled back to {to}): its workspace still holds the newer release, so build \
                     keeps the rolled-back one (`maand rollback --release {job}` to build it again)"
                ));
                held.push(job.as_str());
            }
            _ => {
                notes.push(format!("{job}: workspace files changed since the rollback to {to}; unpinned"));
                out.push(Event::JobUnpinned {
                    job: job.clone(),
                    reason: "its workspace files changed since the rollback".into(),
                });
            }
        }
    }
    out.extend(events.into_iter().filter(|e| !held.iter().any(|j| touches(e, j))));
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalog::JobSpec;
    use crate::workspace::JobFileSpec;
    use crate::workspace::bucket_files::Disabled;
    use crate::workspace::manifest::parse_manifest;
    use std::collections::BTreeMap;

    fn ws(index: &str) -> Workspace {
        let files = BTreeMap::from([("index.html".to_string(), JobFileSpec { mode: 0o644, content: index.into() })]);
        let job = JobInput {
            name: "web".into(),
            manifest: parse_manifest("web", r#"{"version": "3.0.0"}"#).unwrap(),
            files,
            hook_scripts: BTreeMap::new(),
            vars: BTreeMap::new(),
        };
        Workspace {
            workers: Vec::new(),
            jobs: BTreeMap::from([("web".to_string(), job)]),
            bucket_vars: BTreeMap::new(),
            port_pool: None,
            job_overrides: BTreeMap::new(),
            job_overrides_file: "bucket.jobs.conf".into(),
            disabled: Disabled::default(),
        }
    }

    fn upsert() -> Event {
        Event::JobUpserted(Box::new(JobSpec { name: "web".into(), version: "3.0.0".into(), ..Default::default() }))
    }

    #[test]
    fn a_pinned_job_is_held_until_its_workspace_files_change() {
        let mut state = State::default();
        let workspace = fingerprint(&ws("v3").jobs["web"]);
        state.apply(&Event::JobPinned { job: "web".into(), to: "deploy 1".into(), workspace });
        let (events, notes) = apply(&state, &ws("v3"), vec![upsert()]);
        assert!(events.is_empty(), "{events:?}");
        assert!(notes[0].contains("web is pinned (rolled back to deploy 1)"), "{notes:?}");
        let (events, notes) = apply(&state, &ws("v4"), vec![upsert()]);
        assert!(matches!(&events[0], Event::JobUnpinned { job, .. } if job == "web"), "{events:?}");
        assert_eq!(events[1], upsert());
        assert!(notes[0].contains("unpinned"), "{notes:?}");
    }
}
