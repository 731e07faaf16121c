//! Folded state: what the journal's committed events add up to.
//!
//! Pure: [`State::apply`] does no IO, reads no clock, makes no random
//! numbers, and all collections are ordered, so folding the same events
//! always gives an equal state (and, encoded by the journal's snapshot
//! record, an equal digest).

mod catalog;
mod deploy;
mod fold;
pub mod ids;
mod kv;
mod touched;

pub use catalog::{Allocation, Catalog, CertConfig, CertRecord, Hook, HookDemand, Job, JobFile, JobSpec, Port, Worker};
pub use deploy::{Deployed, HEALTH_FAILED, health_failed_tree, rollout_status};
pub use fold::Fold;
pub use kv::{KvStore, KvVersion, PeerSet};
pub use touched::{Touched, touched_by};

use crate::event::Event;
use std::collections::BTreeMap;

/// Identity of the bucket, set by `maand init`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketInfo {
    /// The bucket id (UUID).
    pub bucket_id: String,
}

/// The whole folded state of a bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Journal sequence number of the last checkpoint folded in.
    pub seq: u64,
    /// Bucket identity; `None` before `maand init`.
    pub bucket: Option<BucketInfo>,
    /// Incremented by every deploy.
    pub update_seq: u64,
    /// Workers, jobs, allocations.
    pub catalog: Catalog,
    /// All KV data with history.
    pub kv: KvStore,
    /// Promoted deployments by (job, worker address).
    pub deployed: BTreeMap<(String, String), Deployed>,
    /// Allocations whose lifecycle already ran for (tree hash, version) but
    /// are not promoted yet (a deploy failed after them).
    pub ready: BTreeMap<(String, String), (String, String)>,
    /// Rolled-back jobs held back from build and deploy: job → (the point
    /// described, workspace fingerprint at the rollback).
    pub pinned: BTreeMap<String, (String, String)>,
    /// Content hashes of the staged bytes the journal holds
    /// (`StagedRecorded`), so each distinct content is recorded once.
    pub staged_blobs: std::collections::BTreeSet<String>,
}

impl State {
    /// Apply one committed event. Session records and informational events
    /// leave state unchanged (checkpoint positions are tracked by [`Fold`]).
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::BucketInitialized { bucket_id, .. } => {
                self.bucket = Some(BucketInfo { bucket_id: bucket_id.clone() });
            }
            Event::UpdateSeqSet { update_seq } => self.update_seq = *update_seq,
            Event::KvPut { namespace, key, value, ttl, at } => {
                self.kv.push(namespace, key, Some(value.clone()), *ttl, *at);
            }
            Event::KvDeleted { namespace, key, at } => self.kv.push(namespace, key, None, 0, *at),
            Event::KvImported { namespace, key, version, value, ttl, at } => {
                self.kv.push_numbered(namespace, key, *version, value.clone(), *ttl, *at);
            }
            Event::KvPurged { namespace, key } => self.kv.purge(namespace, key),
            Event::WorkerUpserted(w) => {
                self.catalog.workers.insert(w.ip.clone(), w.clone());
            }
            Event::WorkerRemoved { ip } => {
                self.catalog.workers.remove(ip);
            }
            Event::JobUpserted(spec) => {
                self.catalog.jobs.entry(spec.name.clone()).or_default().spec = (**spec).clone();
            }
            Event::JobRemoved { name } => {
                self.catalog.jobs.remove(name);
            }
            Event::JobFilePut { job, path, file } => {
                // Build records a job before its files; should a file come
                // first, the job it creates is named (its key and its spec
                // agree, as the projection needs).
                let j = self.catalog.jobs.entry(job.clone()).or_insert_with(|| Job {
                    spec: JobSpec { job_id: ids::job_id(job), name: job.clone(), ..Default::default() },
                    ..Default::default()
                });
                j.files.insert(path.clone(), file.clone());
            }
            Event::JobFileRemoved { job, path } => {
                if let Some(j) = self.catalog.jobs.get_mut(job) {
                    j.files.remove(path);
                }
            }
            Event::AllocationUpserted(a) => {
                self.catalog.allocations.insert((a.job.clone(), a.worker_ip.clone()), a.clone());
            }
            Event::PeerSetRecorded { scope, members, at } => self.kv.set_peers(scope, members, *at),
            Event::JobPinned { job, to, workspace } => {
                self.pinned.insert(job.clone(), (to.clone(), workspace.clone()));
            }
            Event::JobUnpinned { job, .. } => {
                self.pinned.remove(job);
            }
            Event::CertIssued { job, name, ip, record } => {
                self.catalog.certs.insert((job.clone(), name.clone(), ip.clone()), record.clone());
            }
            Event::CertRetired { job, name, ip } => {
                self.catalog.certs.remove(&(job.clone(), name.clone(), ip.clone()));
            }
            Event::SessionOpened(_)
            | Event::Checkpoint { .. }
            | Event::SessionCommitted { .. }
            | Event::SessionFailed { .. }
            | Event::SessionAborted { .. }
            | Event::SessionSigned { .. }
            | Event::BucketFilesCreated { .. }
            | Event::CaCreated { .. }
            | Event::FormatUpgraded { .. }
            | Event::HookInvoked(_)
            | Event::JobRolloutPlanned(_)
            | Event::BatchStarted { .. }
            | Event::BatchEnded { .. }
            | Event::LifecycleRan { .. }
            | Event::HealthChecked { .. }
            | Event::RemoteCommandRan { .. }
            | Event::CertMetricsPushed { .. }
            | Event::LegacyImported { .. }
            | Event::JobStaged(_)
            | Event::ReconcilePlanned(_)
            | Event::HookRunPlanned(_)
            | Event::BuildPlanned(_)
            | Event::JobDeployFailed { .. }
            | Event::JobDeploySkipped { .. }
            | Event::LifecycleOutput { .. }
            | Event::RollbackStarted { .. } => {}
            Event::StagedRecorded { blobs, .. } => self.staged_blobs.extend(blobs.keys().cloned()),
            Event::AllocationPromoted { job, ip, alloc_id, hash, files, version, running } => {
                let key = (job.clone(), ip.clone());
                self.ready.remove(&key);
                let prev = self.deployed.remove(&key).unwrap_or_default();
                self.deployed.insert(
                    key,
                    Deployed {
                        alloc_id: alloc_id.clone(),
                        hash: hash.clone(),
                        files: files.clone(),
                        version: version.clone(),
                        previous_hash: prev.hash,
                        previous_files: prev.files,
                        running: *running,
                    },
                );
            }
            Event::AllocationUndeployed { job, ip } => {
                self.deployed.remove(&(job.clone(), ip.clone()));
            }
            Event::AllocationPurged { job, ip } => {
                let key = (job.clone(), ip.clone());
                self.catalog.allocations.remove(&key);
                self.deployed.remove(&key);
                self.ready.remove(&key);
            }
            Event::KvHistoryPruned { namespace, key, older_than } => self.kv.prune(namespace, key, *older_than),
            Event::AllocationReady { job, ip, hash, version } => {
                self.ready.insert((job.clone(), ip.clone()), (hash.clone(), version.clone()));
            }
            Event::LegacyDeploymentImported { job, ip, alloc_id, hash, version } => {
                // The original stopped disabled allocations (their files stay).
                let disabled = self.catalog.allocations.get(&(job.clone(), ip.clone())).is_some_and(|a| a.disabled);
                self.deployed.insert(
                    (job.clone(), ip.clone()),
                    Deployed {
                        alloc_id: alloc_id.clone(),
                        hash: format!("{}{hash}", crate::event::LEGACY_HASH_PREFIX),
                        version: version.clone(),
                        running: !disabled,
                        ..Deployed::default()
                    },
                );
            }
            // Kept in `ready` under the original's marker: never equal to a
            // tree hash, so the allocation is not ready (the next deploy runs
            // it again) and the snapshot format stays as it is.
            Event::AllocationHealthFailed { job, ip, hash, version } => {
                self.ready.insert((job.clone(), ip.clone()), (deploy::health_failed_mark(hash), version.clone()));
            }
            Event::AllocationStopped { job, ip } => {
                if let Some(d) = self.deployed.get_mut(&(job.clone(), ip.clone())) {
                    d.running = false;
                }
            }
        }
    }

    /// The bucket id, if initialised.
    pub fn bucket_id(&self) -> Option<&str> {
        self.bucket.as_ref().map(|b| b.bucket_id.as_str())
    }
}
