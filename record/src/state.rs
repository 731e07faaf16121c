//! The snapshot encoding of folded state. **Frozen per version**: a
//! snapshot whose version is not [`STATE_VERSION`] is ignored and the
//! journal re-folded (snapshots are a cache), so a change here is a new
//! version number, never a silent reinterpretation. `tests/golden.rs` pins
//! the bytes of an exemplar state, so a change of shape cannot go unnoticed.
//!
//! History: 1 = bucket + KV; 2 = + catalog; 3 = + promoted deployments
//! (maand 0.1.0, encoded from its live `State`); 4 = [`StateV4`] (sealed
//! values name their algorithm); 5 = [`StateV5`] (+ peer sets, from which
//! `peer_workers` and `<label>_peers` are derived instead of stored).

use crate::v1::{AllocationV1, CertRecordV1, JobFileV1, JobSpecV1, Millis, WorkerV1};
use crate::v2::{KvValueV2, PeerScopeV2};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state version this crate encodes.
pub const STATE_VERSION: u16 = 6;

/// A job with its files.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct JobV4 {
    /// Spec.
    pub spec: JobSpecV1,
    /// Files by path.
    pub files: BTreeMap<String, JobFileV1>,
}

/// One KV version.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KvVersionV4 {
    /// Version number.
    pub version: u64,
    /// Value; `None` = tombstone.
    pub value: Option<KvValueV2>,
    /// TTL seconds.
    pub ttl: u64,
    /// Written at.
    pub created_at: Millis,
}

/// A promoted deployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DeployedV4 {
    /// Allocation id.
    pub alloc_id: String,
    /// Tree hash.
    pub hash: String,
    /// Per-file hashes.
    pub files: BTreeMap<String, String>,
    /// Version.
    pub version: String,
    /// Hash promoted before.
    pub previous_hash: String,
    /// Files promoted before.
    pub previous_files: BTreeMap<String, String>,
    /// Running.
    pub running: bool,
}

/// The whole folded state, as a snapshot stores it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StateV4 {
    /// Last checkpoint folded in.
    pub seq: u64,
    /// Bucket id, once initialised.
    pub bucket_id: Option<String>,
    /// update_seq.
    pub update_seq: u64,
    /// Workers by address.
    pub workers: BTreeMap<String, WorkerV1>,
    /// Jobs by name.
    pub jobs: BTreeMap<String, JobV4>,
    /// Allocations by (job, worker).
    pub allocations: BTreeMap<(String, String), AllocationV1>,
    /// Certificates by (job, cert, worker).
    pub certs: BTreeMap<(String, String, String), CertRecordV1>,
    /// KV: namespace → key → versions.
    pub kv: BTreeMap<String, BTreeMap<String, Vec<KvVersionV4>>>,
    /// Promoted deployments by (job, worker).
    pub deployed: BTreeMap<(String, String), DeployedV4>,
    /// Ready allocations: (job, worker) → (hash, version).
    pub ready: BTreeMap<(String, String), (String, String)>,
}

/// A recorded peer set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerSetV5 {
    /// Member addresses, in catalog order.
    pub members: Vec<String>,
    /// Version (one per recorded change).
    pub version: u64,
    /// Recorded at.
    pub at: Millis,
}

/// The whole folded state, as a version-5 snapshot stores it: version 4's
/// fields and the peer sets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StateV5 {
    /// Everything version 4 held.
    pub v4: StateV4,
    /// Peer sets by scope.
    pub peers: BTreeMap<PeerScopeV2, PeerSetV5>,
}

/// The whole folded state, as a version-6 snapshot stores it: version 5's
/// fields and the pinned (rolled-back) jobs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StateV6 {
    /// Everything version 5 held.
    pub v5: StateV5,
    /// Pinned jobs: job → (point described, workspace fingerprint).
    pub pinned: BTreeMap<String, (String, String)>,
    /// Content hashes of the staged bytes recorded so far.
    pub staged_blobs: Vec<String>,
}

/// Decode-only views of [`StateV6`] with every map read as the list of its
/// pairs. Bincode writes a map exactly as the list of its pairs (a length,
/// then key and value after one another), so these read the same bytes;
/// they exist because loading a large snapshot into maps built entry by
/// entry cost a tree search and node allocation per entry, and the maps
/// were then copied into the state anyway. Turning a view into
/// [`StateV6`] ([`From`]) gives what decoding as `StateV6` gives (for a
/// key listed twice, the later pair: as a map decodes).
pub mod flat {
    use super::{DeployedV4, JobV4, KvVersionV4, PeerSetV5, StateV4, StateV5, StateV6};
    use crate::v1::{AllocationV1, CertRecordV1, WorkerV1};
    use crate::v2::PeerScopeV2;
    use serde::Deserialize;

    /// A pair `(job, worker)` or similar two-part key.
    pub type Pair = (String, String);

    /// One namespace's keys, each with its versions.
    pub type NamespaceFlat = Vec<(String, Vec<KvVersionV4>)>;

    /// [`StateV4`] with its maps as pair lists (same field order).
    #[derive(Deserialize, Debug, Clone, Default)]
    pub struct StateV4Flat {
        /// Last checkpoint folded in.
        pub seq: u64,
        /// Bucket id, once initialised.
        pub bucket_id: Option<String>,
        /// update_seq.
        pub update_seq: u64,
        /// Workers by address.
        pub workers: Vec<(String, WorkerV1)>,
        /// Jobs by name.
        pub jobs: Vec<(String, JobV4)>,
        /// Allocations by (job, worker).
        pub allocations: Vec<(Pair, AllocationV1)>,
        /// Certificates by (job, cert, worker).
        pub certs: Vec<((String, String, String), CertRecordV1)>,
        /// KV: namespace → key → versions.
        pub kv: Vec<(String, NamespaceFlat)>,
        /// Promoted deployments by (job, worker).
        pub deployed: Vec<(Pair, DeployedV4)>,
        /// Ready allocations: (job, worker) → (hash, version).
        pub ready: Vec<(Pair, Pair)>,
    }

    /// [`StateV5`] with its maps as pair lists.
    #[derive(Deserialize, Debug, Clone, Default)]
    pub struct StateV5Flat {
        /// Everything version 4 held.
        pub v4: StateV4Flat,
        /// Peer sets by scope.
        pub peers: Vec<(PeerScopeV2, PeerSetV5)>,
    }

    /// [`StateV6`] with its maps as pair lists.
    #[derive(Deserialize, Debug, Clone, Default)]
    pub struct StateV6Flat {
        /// Everything version 5 held.
        pub v5: StateV5Flat,
        /// Pinned jobs: job → (point described, workspace fingerprint).
        pub pinned: Vec<(String, Pair)>,
        /// Content hashes of the staged bytes recorded so far.
        pub staged_blobs: Vec<String>,
    }

    impl From<StateV6Flat> for StateV6 {
        fn from(f: StateV6Flat) -> StateV6 {
            let StateV6Flat { v5: StateV5Flat { v4, peers }, pinned, staged_blobs } = f;
            let v4 = StateV4 {
                seq: v4.seq,
                bucket_id: v4.bucket_id,
                update_seq: v4.update_seq,
                workers: v4.workers.into_iter().collect(),
                jobs: v4.jobs.into_iter().collect(),
                allocations: v4.allocations.into_iter().collect(),
                certs: v4.certs.into_iter().collect(),
                kv: v4.kv.into_iter().map(|(ns, keys)| (ns, keys.into_iter().collect())).collect(),
                deployed: v4.deployed.into_iter().collect(),
                ready: v4.ready.into_iter().collect(),
            };
            StateV6 {
                v5: StateV5 { v4, peers: peers.into_iter().collect() },
                pinned: pinned.into_iter().collect(),
                staged_blobs,
            }
        }
    }
}
