//! Planning a recorded build again: the workspace assembled from the
//! recorded bucket-level files and the job files the build left in the
//! journal (checked against the recorded digests first), the context as
//! recorded, the state before the build; the planner's events must be the
//! ones recorded, and its certificate requests the certificates issued.

use super::derive::Diff;
use crate::build::file_digest;
use crate::event::{BuildInputs, Event};
use crate::plan::build::{BuildContext, plan_build};
use crate::state::State;
use crate::workspace::{JobFileSpec, RawWorkspace, assemble};
use std::collections::{BTreeMap, BTreeSet};

/// One event a build is expected to have recorded.
enum Expect {
    /// Exactly this (the planner's events).
    Event(Event),
    /// A certificate or its sealed key (random bytes: only where it went).
    CertKv { namespace: String, key: String },
    /// A certificate issued for (job, name, worker) with these SANs, config hash and CA.
    Cert { job: String, name: String, ip: String, sans: Vec<String>, config_hash: String, ca: String },
}

impl Expect {
    fn matches(&self, e: &Event) -> bool {
        match (self, e) {
            (Expect::Event(x), e) => x == e,
            (Expect::CertKv { namespace, key }, Event::KvPut { namespace: n, key: k, .. }) => {
                n == namespace && k == key
            }
            (
                Expect::Cert { job, name, ip, sans, config_hash, ca },
                Event::CertIssued { job: j, name: n, ip: i, record },
            ) => {
                j == job
                    && n == name
                    && i == ip
                    && &record.sans == sans
                    && &record.config_hash == config_hash
                    && &record.ca_fingerprint == ca
            }
            _ => false,
        }
    }

    fn show(&self) -> String {
        match self {
            Expect::Event(e) => format!("{}: {}", e.kind(), e.summary()),
            Expect::CertKv { namespace, key } => format!("kv_put: {namespace} {key} (certificate material)"),
            Expect::Cert { job, name, ip, sans, .. } => {
                format!("cert_issued: cert {job}/{name} for {ip} sans {}", sans.join(","))
            }
        }
    }
}

fn job_of(e: &Event) -> Option<&str> {
    match e {
        Event::JobUpserted(j) => Some(&j.name),
        Event::JobRemoved { name } => Some(name),
        Event::JobFilePut { job, .. }
        | Event::JobFileRemoved { job, .. }
        | Event::CertIssued { job, .. }
        | Event::CertRetired { job, .. } => Some(job),
        Event::AllocationUpserted(a) => Some(&a.job),
        _ => None,
    }
}

/// Plan the build again. `before`: the state when it was planned; `after`:
/// with its events folded; `recorded`: its events after `BuildPlanned`
/// (recorded at event `seq`).
pub fn build(
    seq: u64,
    before: &State,
    after: &State,
    inputs: &BuildInputs,
    recorded: &[Event],
    perturb: bool,
) -> Result<(), Box<Diff>> {
    let diff = |job: &str, field: &str, recorded: String, rederived: String| {
        Box::new(Diff {
            job: job.to_string(),
            allocation: None,
            field: field.to_string(),
            recorded,
            rederived,
            at: Some(seq),
        })
    };
    // The job files the build left must be the ones it read.
    let jobs: BTreeSet<&String> = inputs.job_files.keys().chain(after.catalog.jobs.keys()).collect();
    let mut raw_jobs: BTreeMap<String, BTreeMap<String, JobFileSpec>> = BTreeMap::new();
    for job in jobs {
        let read = inputs.job_files.get(job).cloned().unwrap_or_default();
        let files = after.catalog.jobs.get(job).map(|j| j.files.clone()).unwrap_or_default();
        let left: BTreeMap<String, String> =
            files.iter().map(|(p, f)| (p.clone(), file_digest(&f.content, f.mode))).collect();
        if read != left {
            let path =
                read.keys().chain(left.keys()).find(|p| read.get(*p) != left.get(*p)).cloned().unwrap_or_default();
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(absent)".into());
            return Err(diff(
                job,
                &format!("job file {path} (read → in the journal)"),
                show(read.get(&path)),
                show(left.get(&path)),
            ));
        }
        raw_jobs.insert(
            job.clone(),
            files.into_iter().map(|(p, f)| (p, JobFileSpec { mode: f.mode, content: f.content })).collect(),
        );
    }
    let raw = RawWorkspace {
        files: inputs.files.clone(),
        job_overrides_file: inputs.job_overrides_file.clone(),
        overrides_required: false,
        jobs: raw_jobs,
    };
    let planned = assemble(&raw).and_then(|ws| {
        let ctx = BuildContext {
            bucket_id: before.bucket_id().unwrap_or_default().to_string(),
            now: inputs.now,
            ca_pem: inputs.ca_pem.clone(),
            ca_fingerprint: inputs.ca_fingerprint.clone(),
            certs_renewal_buffer_days: inputs.certs_renewal_buffer_days,
            purge_job_kv: inputs.purge_job_kv,
            scrape_rendered: inputs.scrape_rendered.clone(),
        };
        plan_build(before, &ws, &ctx)
    });
    let plan = planned.map_err(|e| diff("", "plan", "a build plan".into(), format!("error: {e}")))?;
    let mut expect: Vec<Expect> = plan.events.into_iter().map(Expect::Event).collect();
    if perturb {
        let job = inputs.job_files.keys().next().cloned().unwrap_or_default();
        expect.push(Expect::Event(Event::JobFileRemoved { job, path: "injected".into() }));
    }
    for r in &plan.certs {
        for ip in &r.targets {
            let namespace = format!("maand/job/{}/worker/{ip}", r.job);
            for ext in ["crt", "key"] {
                expect.push(Expect::CertKv { namespace: namespace.clone(), key: format!("certs/{}.{ext}", r.name) });
            }
            expect.push(Expect::Cert {
                job: r.job.clone(),
                name: r.name.clone(),
                ip: ip.clone(),
                sans: r.sans.clone(),
                config_hash: r.config_hash.clone(),
                ca: inputs.ca_fingerprint.clone(),
            });
        }
    }
    for i in 0..expect.len().max(recorded.len()) {
        let (want, got) = (expect.get(i), recorded.get(i));
        if !want.zip(got).is_some_and(|(w, g)| w.matches(g)) {
            let wanted = want.and_then(|w| if let Expect::Event(e) = w { job_of(e) } else { None });
            let job = got.and_then(job_of).or(wanted).unwrap_or_default();
            let shown = got.map_or_else(|| "(none)".into(), |e| format!("{}: {}", e.kind(), e.summary()));
            return Err(diff(
                job,
                &format!("event {} of the build", i + 1),
                shown,
                want.map_or_else(|| "(none)".into(), Expect::show),
            ));
        }
    }
    Ok(())
}
