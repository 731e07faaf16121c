//! Explicit conversions between the core's domain types and the journal's
//! frozen record types (`maand-record`).
//!
//! Writing always produces the newest format; reading accepts every format
//! `maand-record` decodes. Structs whose fields mirror one another convert
//! field by field through [`Conv`]; a field added to a domain struct is a
//! compile error here until someone decides how it is recorded (a new
//! record version) or that it is not.

use crate::event::{BuildInputs, HookRunPlan, PlannedHook, ReconcileItem, ReconcilePlan, Staging};
use crate::event::{Envelope, Event, HookInvocation, JobRollout, KvValue, PeerScope, SealAlg, SessionInfo};
use crate::plan::hooks::LifecycleBatch;
use crate::plan::rollout::{Action, AllocPlan, JobPlan, RolloutFlags};
use crate::state::{
    Allocation, BucketInfo, CertConfig, CertRecord, Deployed, Hook, HookDemand, Job, JobFile, JobSpec, KvVersion, Port,
    State, Worker,
};
use maand_record::index::SessionRecordV1;
use maand_record::state::flat::{StateV5Flat, StateV6Flat};
use maand_record::state::{DeployedV4, JobV4, KvVersionV4, PeerSetV5, StateV4, StateV5, StateV6};
use maand_record::v1::*;
use maand_record::v2::*;
use maand_record::{AnyBody, FORMAT_VERSION};
use std::collections::BTreeMap;

/// A conversion between a domain type and a record type (a local trait, so
/// it can join two foreign crates' types).
pub trait Conv<T> {
    /// Convert.
    fn conv(&self) -> T;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Conv<$t> for $t {
            fn conv(&self) -> $t {
                self.clone()
            }
        }
    )*};
}
same!(String, u64, u32, u16, i64, i32, bool, [u8; 32]);

impl<A: Conv<B>, B> Conv<Vec<B>> for Vec<A> {
    fn conv(&self) -> Vec<B> {
        self.iter().map(Conv::conv).collect()
    }
}

impl<A: Conv<B>, B> Conv<Option<B>> for Option<A> {
    fn conv(&self) -> Option<B> {
        self.as_ref().map(Conv::conv)
    }
}

impl<A: Conv<B>, B> Conv<Box<B>> for Box<A> {
    fn conv(&self) -> Box<B> {
        Box::new((**self).conv())
    }
}

impl<K: Clone + Ord, A: Conv<B>, B> Conv<BTreeMap<K, B>> for BTreeMap<K, A> {
    fn conv(&self) -> BTreeMap<K, B> {
        self.iter().map(|(k, v)| (k.clone(), v.conv())).collect()
    }
}

impl<A1: Conv<B1>, A2: Conv<B2>, B1, B2> Conv<(B1, B2)> for (A1, A2) {
    fn conv(&self) -> (B1, B2) {
        (self.0.conv(), self.1.conv())
    }
}

/// Both directions for structs whose fields have the same names.
macro_rules! mirror {
    ($a:ident <=> $b:ident { $($f:ident),* $(,)? }) => {
        impl Conv<$b> for $a {
            fn conv(&self) -> $b {
                $b { $($f: self.$f.conv()),* }
            }
        }
        impl Conv<$a> for $b {
            fn conv(&self) -> $a {
                $a { $($f: self.$f.conv()),* }
            }
        }
    };
}

mirror!(Worker <=> WorkerV1 { worker_id, ip, position, labels, tags, memory_mb, cpu_mhz, hostname });
mirror!(Port <=> PortV1 { port, fixed });
mirror!(HookDemand <=> HookDemandV1 { job, hook, config });
mirror!(Hook <=> HookV1 { script, executed_on, demand });
mirror!(CertConfig <=> CertConfigV1 { common_name, pkcs8, one });
mirror!(JobSpec <=> JobSpecV1 {
    job_id, name, version, version_declared, selectors, max_concurrent_upgrades, max_concurrent_starts,
    min_allocations_count, restart_policy, restart_globs, min_memory_mb, max_memory_mb, current_memory_mb,
    current_memory_source, min_cpu_mhz, max_cpu_mhz, current_cpu_mhz, current_cpu_source, ports, hooks,
    health_check, certs, deployment_seq,
});
mirror!(JobFile <=> JobFileV1 { mode, content });
mirror!(Allocation <=> AllocationV1 { alloc_id, job, worker_ip, disabled, removed, new_version });
mirror!(CertRecord <=> CertRecordV1 { ca_fingerprint, config_hash, not_after, serial, sans });
mirror!(HookInvocation <=> HookInvocationV1 {
    job, hook, event, alloc_id, ip, batch_index, batch_count, batch_allocations, exit_code, signal, duration_ms,
});
mirror!(RolloutFlags <=> RolloutFlagsV1 { force, sync_only });
mirror!(AllocPlan <=> AllocPlanV1 {
    ip, alloc_id, action, tree_hash, current_hash, current_version, new_version, matched, changed,
});
mirror!(JobPlan <=> JobPlanV1 {
    job, deployment_seq, allocations, order, order_source, start_batches, update_batches,
});
mirror!(JobRollout <=> JobRolloutV1 { update_seq, flags, staged, plan });
mirror!(Staging <=> StagingV2 { job, renderer });
mirror!(BuildInputs <=> BuildInputsV2 {
    files,
    job_overrides_file,
    job_files,
    now,
    ca_pem,
    ca_fingerprint,
    certs_renewal_buffer_days,
    purge_job_kv,
    scrape_rendered
});
mirror!(ReconcileItem <=> ReconcileItemV2 { job, ip, removed, worker_gone, version, stop });
mirror!(ReconcilePlan <=> ReconcilePlanV2 { jobs, all_jobs, items });
mirror!(PlannedHook <=> PlannedHookV2 { alloc_id, ip, env });
mirror!(LifecycleBatch <=> LifecycleBatchV2 { index, count, allocations, order, order_source });
mirror!(HookRunPlan <=> HookRunPlanV2 {
    job, hook, event, phase, filter, first_start, bucket_root, extra, batches, lifecycle
});
mirror!(Deployed <=> DeployedV4 { alloc_id, hash, files, version, previous_hash, previous_files, running });
mirror!(KvVersion <=> KvVersionV4 { version, value, ttl, created_at });
mirror!(Job <=> JobV4 { spec, files });
mirror!(SessionInfo <=> SessionInfoV2 {
    command, command_line, user, host, maand_version, pid, started_at, test_switches,
});

impl Conv<u8> for u8 {
    fn conv(&self) -> u8 {
        *self
    }
}

impl Conv<ActionV1> for Action {
    fn conv(&self) -> ActionV1 {
        match self {
            Action::Start => ActionV1::Start,
            Action::Restart => ActionV1::Restart,
            Action::Reload => ActionV1::Reload,
            Action::Sync => ActionV1::Sync,
            Action::Skip => ActionV1::Skip,
            Action::Disabled => ActionV1::Disabled,
            Action::Ready => ActionV1::Ready,
        }
    }
}

impl Conv<Action> for ActionV1 {
    fn conv(&self) -> Action {
        match self {
            ActionV1::Start => Action::Start,
            ActionV1::Restart => Action::Restart,
            ActionV1::Reload => Action::Reload,
            ActionV1::Sync => Action::Sync,
            ActionV1::Skip => Action::Skip,
            ActionV1::Disabled => Action::Disabled,
            ActionV1::Ready => Action::Ready,
        }
    }
}

impl Conv<SessionInfoV1> for SessionInfo {
    fn conv(&self) -> SessionInfoV1 {
        let s = self.clone();
        SessionInfoV1 {
            command: s.command,
            command_line: s.command_line,
            user: s.user,
            host: s.host,
            maand_version: s.maand_version,
            pid: s.pid,
            started_at: s.started_at,
        }
    }
}

impl Conv<SessionInfo> for SessionInfoV1 {
    fn conv(&self) -> SessionInfo {
        let s = self.clone();
        SessionInfo {
            command: s.command,
            command_line: s.command_line,
            user: s.user,
            host: s.host,
            maand_version: s.maand_version,
            pid: s.pid,
            started_at: s.started_at,
            test_switches: Vec::new(),
        }
    }
}

impl Conv<KvValueV2> for KvValue {
    fn conv(&self) -> KvValueV2 {
        match self {
            KvValue::Plain(s) => KvValueV2::Plain(s.clone()),
            KvValue::Sealed { alg, nonce, ciphertext } => KvValueV2::Sealed {
                alg: match alg {
                    SealAlg::Aes256Gcm => SealAlgV2::Aes256Gcm,
                    SealAlg::XChaCha20Poly1305 => SealAlgV2::XChaCha20Poly1305,
                },
                nonce: nonce.clone(),
                ciphertext: ciphertext.clone(),
            },
        }
    }
}

impl Conv<KvValue> for KvValueV2 {
    fn conv(&self) -> KvValue {
        match self {
            KvValueV2::Plain(s) => KvValue::Plain(s.clone()),
            KvValueV2::Sealed { alg, nonce, ciphertext } => KvValue::Sealed {
                alg: match alg {
                    SealAlgV2::Aes256Gcm => SealAlg::Aes256Gcm,
                    SealAlgV2::XChaCha20Poly1305 => SealAlg::XChaCha20Poly1305,
                },
                nonce: nonce.clone(),
                ciphertext: ciphertext.clone(),
            },
        }
    }
}

/// Format 1 knew one AEAD: its sealed values are AES-256-GCM.
impl Conv<KvValue> for KvValueV1 {
    fn conv(&self) -> KvValue {
        match self {
            KvValueV1::Plain(s) => KvValue::Plain(s.clone()),
            KvValueV1::Sealed { nonce, ciphertext } => {
                KvValue::Sealed { alg: SealAlg::Aes256Gcm, nonce: nonce.to_vec(), ciphertext: ciphertext.clone() }
            }
        }
    }
}

/// Event conversions, written once for every variant: to the newest
/// record, and from each record format. The matches are exhaustive, so a
/// new domain variant does not compile until it has a record variant.
/// Kinds appended to format 2 after its release (`v2_only`) have no
/// format-1 record, so format 1 never converts to them.
macro_rules! events {
    (
        tuple: [$($tv:ident),* $(,)?],
        fields: [$($sv:ident { $($f:ident),* }),* $(,)?],
        v2_only: [$($nv:ident { $($nf:ident),* }),* $(,)?],
        v2_only_tuple: [$($nt:ident),* $(,)?] $(,)?
    ) => {
        impl Conv<EventV2> for Event {
            fn conv(&self) -> EventV2 {
                match self {
                    $(Event::$tv(x) => EventV2::$tv(x.conv()),)*
                    $(Event::$sv { $($f),* } => EventV2::$sv { $($f: $f.conv()),* },)*
                    $(Event::$nv { $($nf),* } => EventV2::$nv { $($nf: $nf.conv()),* },)*
                    $(Event::$nt(x) => EventV2::$nt(x.conv()),)*
                }
            }
        }
        impl Conv<Event> for EventV2 {
            fn conv(&self) -> Event {
                match self {
                    $(EventV2::$tv(x) => Event::$tv(x.conv()),)*
                    $(EventV2::$sv { $($f),* } => Event::$sv { $($f: $f.conv()),* },)*
                    $(EventV2::$nv { $($nf),* } => Event::$nv { $($nf: $nf.conv()),* },)*
                    $(EventV2::$nt(x) => Event::$nt(x.conv()),)*
                }
            }
        }
        impl Conv<Event> for EventV1 {
            fn conv(&self) -> Event {
                match self {
                    $(EventV1::$tv(x) => Event::$tv(x.conv()),)*
                    $(EventV1::$sv { $($f),* } => Event::$sv { $($f: $f.conv()),* },)*
                }
            }
        }
    };
}

events! {
    tuple: [SessionOpened, WorkerUpserted, JobUpserted, AllocationUpserted, HookInvoked, JobRolloutPlanned],
    fields: [
        Checkpoint { label },
        SessionCommitted { ended_at },
        SessionFailed { ended_at, error },
        SessionAborted { detected_at, reason },
        BucketInitialized { bucket_id, id_source },
        BucketFilesCreated { paths },
        CaCreated { fingerprint, not_after },
        FormatUpgraded { from, to },
        UpdateSeqSet { update_seq },
        KvPut { namespace, key, value, ttl, at },
        KvDeleted { namespace, key, at },
        KvPurged { namespace, key },
        WorkerRemoved { ip },
        JobRemoved { name },
        JobFilePut { job, path, file },
        JobFileRemoved { job, path },
        CertIssued { job, name, ip, record },
        CertRetired { job, name, ip },
        BatchStarted { job, phase, index, count, allocations, order_source },
        BatchEnded { job, phase, index, ok },
        LifecycleRan { job, ip, target, exit_code, duration_ms },
        HealthChecked { job, allocations, ok, detail },
        AllocationPromoted { job, ip, alloc_id, hash, files, version, running },
        AllocationUndeployed { job, ip },
        AllocationStopped { job, ip },
        AllocationReady { job, ip, hash, version },
        AllocationPurged { job, ip },
        KvHistoryPruned { namespace, key, older_than },
        RemoteCommandRan { ip, command, exit_code, duration_ms },
    ],
    v2_only: [
        SessionSigned { seq, head, signature },
        CertMetricsPushed { url, series, attempts, ok, detail },
        PeerSetRecorded { scope, members, at },
        LegacyImported { backup, schema_version, workers, jobs, allocations, kv_versions },
        LegacyDeploymentImported { job, ip, alloc_id, hash, version },
        KvImported { namespace, key, version, value, ttl, at },
        AllocationHealthFailed { job, ip, hash, version },
        JobDeployFailed { job, wave, reason },
        JobDeploySkipped { job, wave, reason },
        LifecycleOutput { job, ip, target, tail },
        StagedRecorded { job, blobs, trees, hashes },
        RollbackStarted { jobs, to, seq, kv },
        JobPinned { job, to, workspace },
        JobUnpinned { job, reason },
    ],
    v2_only_tuple: [JobStaged, ReconcilePlanned, HookRunPlanned, BuildPlanned],
}

/// The newest-format body of an event about to be stored.
pub fn body(seq: u64, session_id: u64, prev_hash: [u8; 32], recorded_at: i64, event: &Event) -> BodyV2 {
    BodyV2 { format_version: FORMAT_VERSION, seq, session_id, prev_hash, recorded_at, event: event.conv() }
}

/// The domain envelope of a decoded record of any format.
pub fn envelope(body: AnyBody, hash: [u8; 32]) -> Envelope {
    match body {
        AnyBody::V1(b) => Envelope {
            format_version: b.format_version,
            seq: b.seq,
            session_id: b.session_id,
            prev_hash: b.prev_hash,
            hash,
            recorded_at: b.recorded_at,
            event: b.event.conv(),
        },
        AnyBody::V2(b) => Envelope {
            format_version: b.format_version,
            seq: b.seq,
            session_id: b.session_id,
            prev_hash: b.prev_hash,
            hash,
            recorded_at: b.recorded_at,
            event: b.event.conv(),
        },
    }
}

/// The snapshot record of a folded state.
pub fn state_record(state: &State) -> StateV6 {
    let mut kv: BTreeMap<String, BTreeMap<String, Vec<KvVersionV4>>> = BTreeMap::new();
    for (ns, key, versions) in state.kv.stored_iter() {
        kv.entry(ns.to_string()).or_default().insert(key.to_string(), versions.to_vec().conv());
    }
    let v4 = StateV4 {
        seq: state.seq,
        bucket_id: state.bucket.as_ref().map(|b| b.bucket_id.clone()),
        update_seq: state.update_seq,
        workers: state.catalog.workers.conv(),
        jobs: state.catalog.jobs.conv(),
        allocations: state.catalog.allocations.conv(),
        certs: state.catalog.certs.conv(),
        kv,
        deployed: state.deployed.conv(),
        ready: state.ready.clone(),
    };
    let peers = state
        .kv
        .peer_sets()
        .iter()
        .map(|(scope, set)| {
            (scope.conv(), PeerSetV5 { members: set.members.clone(), version: set.version, at: set.at })
        })
        .collect();
    StateV6 {
        v5: StateV5 { v4, peers },
        pinned: state.pinned.clone(),
        staged_blobs: state.staged_blobs.iter().cloned().collect(),
    }
}

/// The folded state a snapshot record holds, from its pair-list view
/// (see [`maand_record::state::flat`]).
pub fn state_from_record(r6: StateV6Flat) -> State {
    // By value: every string moves into the state instead of being copied.
    // Each map is built in one go from its sorted pairs (a later pair for
    // the same key wins, as when decoding a map). At 100,000 allocations
    // and 300,000 keys, copying doubled the memory an open touches, and
    // touching fresh memory is most of an open's time.
    let StateV6Flat { v5: StateV5Flat { v4: r, peers }, pinned, staged_blobs } = r6;
    let mut state = State {
        seq: r.seq,
        bucket: r.bucket_id.map(|bucket_id| BucketInfo { bucket_id }),
        update_seq: r.update_seq,
        deployed: r.deployed.into_iter().map(|(k, d)| (k, deployed_from(d))).collect(),
        ready: r.ready.into_iter().collect(),
        pinned: pinned.into_iter().collect(),
        staged_blobs: staged_blobs.into_iter().collect(),
        ..State::default()
    };
    state.catalog.workers = r.workers.into_iter().map(|(k, w)| (k, worker_from(w))).collect();
    state.catalog.jobs = r.jobs.iter().map(|(k, j)| (k.clone(), j.conv())).collect();
    state.catalog.allocations = r.allocations.into_iter().map(|(k, a)| (k, allocation_from(a))).collect();
    state.catalog.certs = r.certs.iter().map(|(k, c)| (k.clone(), c.conv())).collect();
    let kv: BTreeMap<String, BTreeMap<String, Vec<KvVersion>>> = r
        .kv
        .into_iter()
        .map(|(ns, keys)| {
            let keys = keys.into_iter().map(|(k, versions)| (k, versions.into_iter().map(kv_version_from).collect()));
            (ns, keys.collect())
        })
        .collect();
    for (ns, keys) in kv {
        state.kv.restore_namespace(ns, keys);
    }
    let peers: BTreeMap<PeerScopeV2, PeerSetV5> = peers.into_iter().collect();
    for (scope, set) in peers {
        state.kv.restore_peers(scope.conv(), set.members, set.version, set.at);
    }
    state
}

// By-value twins of the `mirror!` conversions for what a snapshot holds
// by the hundred thousand (field lists kept exhaustive: a new field is a
// compile error here too).

fn worker_from(w: WorkerV1) -> Worker {
    let WorkerV1 { worker_id, ip, position, labels, tags, memory_mb, cpu_mhz, hostname } = w;
    Worker { worker_id, ip, position, labels, tags, memory_mb, cpu_mhz, hostname }
}

fn allocation_from(a: AllocationV1) -> Allocation {
    let AllocationV1 { alloc_id, job, worker_ip, disabled, removed, new_version } = a;
    Allocation { alloc_id, job, worker_ip, disabled, removed, new_version }
}

fn deployed_from(d: DeployedV4) -> Deployed {
    let DeployedV4 { alloc_id, hash, files, version, previous_hash, previous_files, running } = d;
    Deployed { alloc_id, hash, files, version, previous_hash, previous_files, running }
}

fn kv_version_from(v: KvVersionV4) -> KvVersion {
    let KvVersionV4 { version, value, ttl, created_at } = v;
    let value = value.map(|value| match value {
        KvValueV2::Plain(s) => KvValue::Plain(s),
        KvValueV2::Sealed { alg, nonce, ciphertext } => KvValue::Sealed {
            alg: match alg {
                SealAlgV2::Aes256Gcm => SealAlg::Aes256Gcm,
                SealAlgV2::XChaCha20Poly1305 => SealAlg::XChaCha20Poly1305,
            },
            nonce,
            ciphertext,
        },
    });
    KvVersion { version, value, ttl, created_at }
}

impl Conv<PeerScopeV2> for PeerScope {
    fn conv(&self) -> PeerScopeV2 {
        match self {
            PeerScope::Job(j) => PeerScopeV2::Job(j.clone()),
            PeerScope::Label(l) => PeerScopeV2::Label(l.clone()),
        }
    }
}

impl Conv<PeerScope> for PeerScopeV2 {
    fn conv(&self) -> PeerScope {
        match self {
            PeerScopeV2::Job(j) => PeerScope::Job(j.clone()),
            PeerScopeV2::Label(l) => PeerScope::Label(l.clone()),
        }
    }
}

/// The session index row form of session information.
pub fn session_index_info(info: &SessionInfo) -> SessionInfoV1 {
    info.conv()
}

/// Session information from an index row (index rows keep the format-1 form).
pub fn session_info_from_index(rec: &SessionRecordV1) -> SessionInfo {
    rec.info.conv()
}

/// The JSON form of an envelope (`export --jsonl`, `show --json`): the
/// newest record type's serde form, so the JSON is as stable as the records.
pub fn envelope_json(env: &Envelope) -> serde_json::Value {
    #[derive(serde::Serialize)]
    struct EnvelopeJson {
        format_version: u16,
        seq: u64,
        session_id: u64,
        #[serde(with = "maand_record::hexser::array")]
        prev_hash: [u8; 32],
        #[serde(with = "maand_record::hexser::array")]
        hash: [u8; 32],
        recorded_at: i64,
        event: EventV2,
    }
    let j = EnvelopeJson {
        format_version: env.format_version,
        seq: env.seq,
        session_id: env.session_id,
        prev_hash: env.prev_hash,
        hash: env.hash,
        recorded_at: env.recorded_at,
        event: env.event.conv(),
    };
    serde_json::to_value(j).unwrap_or_default()
}

/// The JSON form of a job spec (its record's serde form; diffs compare it
/// field by field).
pub fn job_spec_json(spec: &JobSpec) -> serde_json::Value {
    serde_json::to_value(Conv::<JobSpecV1>::conv(spec)).unwrap_or_default()
}

/// The JSON form of a catalog worker (its record's serde form).
pub fn worker_json(worker: &Worker) -> serde_json::Value {
    serde_json::to_value(Conv::<WorkerV1>::conv(worker)).unwrap_or_default()
}

/// The JSON form of a rollout plan (replay output).
pub fn plan_json(plan: &JobPlan) -> serde_json::Value {
    serde_json::to_value(Conv::<JobPlanV1>::conv(plan)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every golden record file of a directory, decoded with `decode`.
    fn goldens<T: serde::de::DeserializeOwned>(dir: &str) -> Vec<(String, T, Vec<u8>)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("record/tests/golden").join(dir);
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let bytes = hex::decode(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
            out.push((path.display().to_string(), maand_record::decode_exact(&bytes).unwrap(), bytes));
        }
        assert!(out.len() >= 35, "{root:?} holds too few goldens");
        out
    }

    #[test]
    fn every_format2_record_survives_the_domain_unchanged() {
        for (name, record, bytes) in goldens::<EventV2>("v2") {
            let domain: Event = record.conv();
            let back: EventV2 = domain.conv();
            assert_eq!(maand_record::encode(&back).unwrap(), bytes, "{name}");
            assert_eq!(domain.kind(), maand_record::kind_v2(&back), "{name}: kind names agree");
        }
    }

    #[test]
    fn every_format1_record_reads_as_the_same_domain_event_in_format2() {
        for (name, record, _) in goldens::<EventV1>("v1") {
            let domain: Event = record.conv();
            assert_eq!(domain.kind(), maand_record::kind_v1(&record), "{name}");
            let again: Event = Conv::<EventV2>::conv(&domain).conv();
            assert_eq!(again, domain, "{name}");
            if let (EventV1::KvPut { value: KvValueV1::Sealed { .. }, .. }, Event::KvPut { value, .. }) =
                (&record, &domain)
            {
                assert!(matches!(value, KvValue::Sealed { alg: SealAlg::Aes256Gcm, .. }), "{name}");
            }
        }
    }

    #[test]
    fn snapshot_state_survives_the_domain_unchanged() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("record/tests/golden/state/v6.hex");
        let bytes = hex::decode(std::fs::read_to_string(root).unwrap().trim()).unwrap();
        let record: StateV6Flat = maand_record::decode_exact(&bytes).unwrap();
        let state = state_from_record(record);
        assert!(!state.kv.is_empty() && !state.deployed.is_empty() && !state.ready.is_empty());
        assert_eq!(state.kv.peer_sets().len(), 2);
        assert!(!state.pinned.is_empty() && !state.staged_blobs.is_empty());
        assert_eq!(maand_record::encode(&state_record(&state)).unwrap(), bytes);
    }
}
