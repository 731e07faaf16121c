//! Which parts of state an event touches: lets the projection rewrite only
//! those rows at a checkpoint instead of the whole database.

use crate::event::{Event, PeerScope};

/// A unit of state the projection can rewrite on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touched {
    /// The `bucket` row (id, update_seq).
    Bucket,
    /// One KV key: all its rows in `key_value`.
    Kv {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
    /// One worker: `worker`, `worker_labels`, `worker_tags` rows.
    Worker(String),
    /// One job: `job`, `job_selectors`, `job_ports`, `job_certs`,
    /// `job_commands` rows, and its allocations' `deployment_seq`.
    Job(String),
    /// One job file row.
    JobFile(String, String),
    /// One allocation row (job, worker address).
    Allocation(String, String),
    /// One `hash` row (job, worker address).
    Deployed(String, String),
    /// One peer set: its `peer_set` and `peer_member` rows.
    PeerSet(PeerScope),
}

/// The state units `event` changes when folded (empty for records).
pub fn touched_by(event: &Event) -> Vec<Touched> {
    if let Event::AllocationPurged { job, ip } = event {
        // The allocation row and its hash row.
        return vec![Touched::Allocation(job.clone(), ip.clone()), Touched::Deployed(job.clone(), ip.clone())];
    }
    if let Event::JobFilePut { job, path, .. } = event {
        // A file of a job the catalog does not hold yet creates the job
        // (found by the incremental-projection property test).
        return vec![Touched::JobFile(job.clone(), path.clone()), Touched::Job(job.clone())];
    }
    touched_one(event).into_iter().collect()
}

fn touched_one(event: &Event) -> Option<Touched> {
    match event {
        Event::BucketInitialized { .. } | Event::UpdateSeqSet { .. } => Some(Touched::Bucket),
        Event::KvHistoryPruned { namespace, key, .. } => {
            Some(Touched::Kv { namespace: namespace.clone(), key: key.clone() })
        }
        Event::KvPut { namespace, key, .. }
        | Event::KvDeleted { namespace, key, .. }
        | Event::KvPurged { namespace, key }
        | Event::KvImported { namespace, key, .. } => {
            Some(Touched::Kv { namespace: namespace.clone(), key: key.clone() })
        }
        Event::WorkerUpserted(w) => Some(Touched::Worker(w.ip.clone())),
        Event::WorkerRemoved { ip } => Some(Touched::Worker(ip.clone())),
        Event::JobUpserted(j) => Some(Touched::Job(j.name.clone())),
        Event::JobRemoved { name } => Some(Touched::Job(name.clone())),
        Event::JobFilePut { job, path, .. } | Event::JobFileRemoved { job, path } => {
            Some(Touched::JobFile(job.clone(), path.clone()))
        }
        Event::PeerSetRecorded { scope, .. } => Some(Touched::PeerSet(scope.clone())),
        Event::AllocationUpserted(a) => Some(Touched::Allocation(a.job.clone(), a.worker_ip.clone())),
        Event::AllocationPromoted { job, ip, .. }
        | Event::AllocationReady { job, ip, .. }
        | Event::AllocationHealthFailed { job, ip, .. }
        | Event::AllocationUndeployed { job, ip }
        | Event::AllocationStopped { job, ip }
        | Event::LegacyDeploymentImported { job, ip, .. } => Some(Touched::Deployed(job.clone(), ip.clone())),
        _ => None,
    }
}
