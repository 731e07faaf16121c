//! One exemplar value of every record variant of every format, shared by the
//! golden-bytes test and the tool that writes golden files for new variants.
#![allow(dead_code)]

use maand_record::index::*;
use maand_record::state::*;
use maand_record::v1::*;
use maand_record::v2::*;
use std::collections::BTreeMap;

fn s(x: &str) -> String {
    x.to_string()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (s(k), s(v))).collect()
}

pub fn session_info_v1() -> SessionInfoV1 {
    SessionInfoV1 {
        command: s("deploy"),
        command_line: vec![s("maand"), s("deploy"), s("--force")],
        user: s("ops"),
        host: s("control-1"),
        maand_version: s("0.1.0"),
        pid: 4242,
        started_at: 1_763_780_645_123,
    }
}

pub fn worker() -> WorkerV1 {
    WorkerV1 {
        worker_id: s("6f1c1e2a-0000-5000-8000-000000000001"),
        ip: s("10.0.0.1"),
        position: 3,
        labels: vec![s("db"), s("worker")],
        tags: map(&[("rack", "r1"), ("zone", "a")]),
        memory_mb: Some(4096),
        cpu_mhz: None,
        hostname: Some(s("node-a")),
    }
}

pub fn job_spec() -> JobSpecV1 {
    JobSpecV1 {
        job_id: s("7a1c1e2a-0000-5000-8000-000000000002"),
        name: s("api"),
        version: s("1.2.3"),
        version_declared: true,
        selectors: vec![s("api")],
        max_concurrent_upgrades: 2,
        max_concurrent_starts: 0,
        min_allocations_count: 1,
        restart_policy: s("reload"),
        restart_globs: vec![s("*.conf")],
        min_memory_mb: 128,
        max_memory_mb: 1024,
        current_memory_mb: 512,
        current_memory_source: s("manifest"),
        min_cpu_mhz: 0,
        max_cpu_mhz: 0,
        current_cpu_mhz: 0,
        current_cpu_source: s("manifest"),
        ports: [(s("api_http_port"), PortV1 { port: 30000, fixed: false })].into(),
        hooks: [(
            s("hook_migrate"),
            HookV1 {
                script: s("_hooks/hook_migrate.py"),
                executed_on: vec![s("pre_deploy")],
                demand: Some(HookDemandV1 { job: s("db"), hook: s("hook_ready"), config: s("{\"a\":1}") }),
            },
        )]
        .into(),
        health_check: Some(s("{\"checks\":[]}")),
        certs: [(s("tls"), CertConfigV1 { common_name: s("api"), pkcs8: true, one: false })].into(),
        deployment_seq: 1,
    }
}

pub fn allocation() -> AllocationV1 {
    AllocationV1 {
        alloc_id: s("8b1c1e2a-0000-5000-8000-000000000003"),
        job: s("api"),
        worker_ip: s("10.0.0.1"),
        disabled: false,
        removed: true,
        new_version: s("1.2.3"),
    }
}

pub fn cert_record() -> CertRecordV1 {
    CertRecordV1 {
        ca_fingerprint: s("ab12"),
        config_hash: s("cd34"),
        not_after: 1_900_000_000_000,
        serial: s("0a0b"),
        sans: vec![s("127.0.0.1"), s("10.0.0.1")],
    }
}

pub fn hook_invocation() -> HookInvocationV1 {
    HookInvocationV1 {
        job: s("api"),
        hook: s("hook_migrate"),
        event: s("pre_deploy"),
        alloc_id: s("8b1c1e2a-0000-5000-8000-000000000003"),
        ip: s("10.0.0.1"),
        batch_index: 0,
        batch_count: 2,
        batch_allocations: vec![s("10.0.0.1")],
        exit_code: Some(0),
        signal: None,
        duration_ms: 1234,
    }
}

pub fn job_rollout() -> JobRolloutV1 {
    JobRolloutV1 {
        update_seq: 7,
        flags: RolloutFlagsV1 { force: true, sync_only: false },
        staged: [(s("10.0.0.1"), map(&[("Makefile", "aa"), ("conf/app.conf", "bb")]))].into(),
        plan: JobPlanV1 {
            job: s("api"),
            deployment_seq: 1,
            allocations: vec![AllocPlanV1 {
                ip: s("10.0.0.1"),
                alloc_id: s("8b1c1e2a-0000-5000-8000-000000000003"),
                action: ActionV1::Reload,
                tree_hash: s("ff00"),
                current_hash: s("ee00"),
                current_version: s("1.2.2"),
                new_version: s("1.2.3"),
                matched: vec![],
                changed: vec![s("conf/app.conf")],
            }],
            order: vec![s("10.0.0.1")],
            order_source: s("default"),
            start_batches: vec![],
            update_batches: vec![vec![s("10.0.0.1")]],
        },
    }
}

/// Every format-1 event kind, once. Each shares its fields with format 2
/// through this macro, so the two lists cannot drift apart.
macro_rules! shared_events {
    ($E:ident) => {
        vec![
            $E::Checkpoint { label: s("catalog") },
            $E::SessionCommitted { ended_at: 1_763_780_646_000 },
            $E::SessionFailed { ended_at: 1_763_780_646_001, error: s("pre_deploy hook failed") },
            $E::SessionAborted { detected_at: 1_763_780_646_002, reason: s("process 4242 died") },
            $E::BucketInitialized { bucket_id: s("0b6e6c1e-1d7e-4f6b-9a4c-0d9f1b2c3d4e"), id_source: s("new") },
            $E::BucketFilesCreated { paths: vec![s("maand.conf"), s("secrets/kv.key")] },
            $E::CaCreated { fingerprint: s("0123abcd"), not_after: 2_078_000_000_000 },
            $E::FormatUpgraded { from: 1, to: 2 },
            $E::UpdateSeqSet { update_seq: 17 },
            $E::KvDeleted { namespace: s("vars/job/api"), key: s("gone"), at: 5 },
            $E::KvPurged { namespace: s("vars/job/api"), key: s("purged") },
            $E::WorkerUpserted(worker()),
            $E::WorkerRemoved { ip: s("10.0.0.9") },
            $E::JobUpserted(Box::new(job_spec())),
            $E::JobRemoved { name: s("old") },
            $E::JobFilePut {
                job: s("api"),
                path: s("bin/run.sh"),
                file: JobFileV1 { mode: 0o755, content: b"#!/bin/sh\necho hi\n".to_vec() },
            },
            $E::JobFileRemoved { job: s("api"), path: s("old.conf") },
            $E::AllocationUpserted(allocation()),
            $E::CertIssued { job: s("api"), name: s("tls"), ip: s("10.0.0.1"), record: cert_record() },
            $E::CertRetired { job: s("api"), name: s("tls"), ip: s("10.0.0.2") },
            $E::HookInvoked(Box::new(hook_invocation())),
            $E::JobRolloutPlanned(Box::new(job_rollout())),
            $E::BatchStarted {
                job: s("api"),
                phase: s("update"),
                index: 1,
                count: 3,
                allocations: vec![s("10.0.0.1"), s("10.0.0.2")],
                order_source: s("kv"),
            },
            $E::BatchEnded { job: s("api"), phase: s("update"), index: 1, ok: false },
            $E::LifecycleRan {
                job: s("api"),
                ip: s("10.0.0.1"),
                target: s("restart"),
                exit_code: None,
                duration_ms: 99,
            },
            $E::HealthChecked {
                job: s("api"),
                allocations: vec![s("10.0.0.1")],
                ok: false,
                detail: s("tcp 10.0.0.1:30000: refused"),
            },
            $E::AllocationPromoted {
                job: s("api"),
                ip: s("10.0.0.1"),
                alloc_id: s("8b1c1e2a-0000-5000-8000-000000000003"),
                hash: s("ff00"),
                files: map(&[("Makefile", "aa")]),
                version: s("1.2.3"),
                running: true,
            },
            $E::AllocationUndeployed { job: s("api"), ip: s("10.0.0.3") },
            $E::AllocationStopped { job: s("api"), ip: s("10.0.0.2") },
            $E::AllocationReady { job: s("api"), ip: s("10.0.0.1"), hash: s("ff00"), version: s("1.2.3") },
            $E::AllocationPurged { job: s("api"), ip: s("10.0.0.3") },
            $E::KvHistoryPruned { namespace: s("vars/job/api"), key: s("k"), older_than: 1_000 },
            $E::RemoteCommandRan { ip: s("10.0.0.1"), command: s("df -h ."), exit_code: Some(1), duration_ms: 12 },
        ]
    };
}

pub fn events_v1() -> Vec<EventV1> {
    let mut v = vec![
        EventV1::SessionOpened(session_info_v1()),
        EventV1::KvPut {
            namespace: s("vars/job/api"),
            key: s("replicas"),
            value: KvValueV1::Plain(s("3")),
            ttl: 60,
            at: 1_763_780_645_200,
        },
        EventV1::KvPut {
            namespace: s("secrets/job/api"),
            key: s("password"),
            value: KvValueV1::Sealed { nonce: [9; 12], ciphertext: vec![0xde, 0xad, 0xbe, 0xef] },
            ttl: 0,
            at: 1_763_780_645_201,
        },
    ];
    v.extend(shared_events!(EventV1));
    v
}

pub fn events_v2() -> Vec<EventV2> {
    let i = session_info_v1();
    let mut v = vec![
        EventV2::SessionOpened(SessionInfoV2 {
            command: i.command,
            command_line: i.command_line,
            user: i.user,
            host: i.host,
            maand_version: s("0.2.0"),
            pid: i.pid,
            started_at: i.started_at,
            test_switches: vec![s("MAAND_FAULT_ABORT_AFTER_EVENTS=3")],
        }),
        EventV2::KvPut {
            namespace: s("secrets/job/api"),
            key: s("password"),
            value: KvValueV2::Sealed {
                alg: SealAlgV2::XChaCha20Poly1305,
                nonce: vec![7; 24],
                ciphertext: vec![1, 2, 3, 4],
            },
            ttl: 0,
            at: 1_763_780_645_202,
        },
        EventV2::KvPut {
            namespace: s("secrets/job/api"),
            key: s("token"),
            value: KvValueV2::Sealed { alg: SealAlgV2::Aes256Gcm, nonce: vec![9; 12], ciphertext: vec![5, 6] },
            ttl: 0,
            at: 1_763_780_645_203,
        },
    ];
    v.extend(shared_events!(EventV2));
    // Appended after the 0.2.0 release.
    v.push(EventV2::SessionSigned {
        seq: 41,
        head: [0x5a; 32],
        signature: s("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n"),
    });
    v.push(EventV2::CertMetricsPushed {
        url: s("http://10.0.0.9:9090/api/v1/write"),
        series: 9,
        attempts: 2,
        ok: false,
        detail: s("remote write status 503 Service Unavailable"),
    });
    v.push(EventV2::PeerSetRecorded {
        scope: PeerScopeV2::Job(s("api")),
        members: vec![s("10.0.0.1"), s("10.0.0.2")],
        at: 1_763_780_645_300,
    });
    v.push(EventV2::PeerSetRecorded { scope: PeerScopeV2::Label(s("db")), members: vec![], at: 1_763_780_645_301 });
    v.push(EventV2::LegacyImported {
        backup: s("data/maand.db.original"),
        schema_version: 1,
        workers: 2,
        jobs: 1,
        allocations: 2,
        kv_versions: 7,
    });
    v.push(EventV2::LegacyDeploymentImported {
        job: s("api"),
        ip: s("10.0.0.1"),
        alloc_id: s("0c5e4b8a-61f2-3d4e-8a1b-9f00d1c2b3a4"),
        hash: s("9f86d081884c7d65"),
        version: s("1.2.3"),
    });
    v.push(EventV2::KvImported {
        namespace: s("secrets/job/api"),
        key: s("token"),
        version: 4,
        value: Some(KvValueV2::Sealed {
            alg: SealAlgV2::Aes256Gcm,
            nonce: vec![3; 12],
            ciphertext: vec![0xca, 0xfe, 0xba, 0xbe],
        }),
        ttl: 3600,
        at: 1_763_780_645_300,
    });
    v.push(EventV2::KvImported {
        namespace: s("vars/job/api"),
        key: s("gone"),
        version: 7,
        value: None,
        ttl: 0,
        at: 1_763_780_645_301,
    });
    v.push(EventV2::AllocationHealthFailed { job: s("api"), ip: s("10.0.0.1"), hash: s("ff00"), version: s("1.2.3") });
    v.push(EventV2::JobStaged(Box::new(StagingV2 { job: s("api"), renderer: s("maand-stage/1 gotmpl/0.6.1") })));
    v.push(EventV2::ReconcilePlanned(Box::new(ReconcilePlanV2 {
        jobs: vec![s("api"), s("web")],
        all_jobs: true,
        items: vec![ReconcileItemV2 {
            job: s("api"),
            ip: s("10.0.0.2"),
            removed: true,
            worker_gone: true,
            version: s("1.0.0"),
            stop: true,
        }],
    })));
    v.push(EventV2::HookRunPlanned(Box::new(HookRunPlanV2 {
        job: s("api"),
        hook: s("hook_check"),
        event: s("pre_deploy"),
        phase: s("pre_deploy"),
        filter: Some(vec![s("10.0.0.1")]),
        first_start: false,
        bucket_root: s("/srv/bucket"),
        extra: map(&[("TARGET", "start")]),
        batches: vec![vec![PlannedHookV2 {
            alloc_id: s("6f1c1e2a-0000-5000-8000-000000000003"),
            ip: s("10.0.0.1"),
            env: map(&[("ALLOCATION_IP", "10.0.0.1"), ("BATCH_INDEX", "0")]),
        }]],
        lifecycle: Some(LifecycleBatchV2 {
            index: 1,
            count: 2,
            allocations: vec![s("10.0.0.1")],
            order: vec![s("10.0.0.2"), s("10.0.0.1")],
            order_source: s("kv"),
        }),
    })));
    v.push(EventV2::BuildPlanned(Box::new(BuildInputsV2 {
        files: map(&[("workers.json", "[{\"host\": \"10.0.0.1\"}]"), ("bucket.conf", "greeting = \"hi\"\n")]),
        job_overrides_file: s("bucket.jobs.conf"),
        job_files: [(s("api"), map(&[("Makefile", "9f86d081884c7d65:644")]))].into(),
        now: 1_763_780_645_300,
        ca_pem: s("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
        ca_fingerprint: s("ab12cd34"),
        certs_renewal_buffer_days: 30,
        purge_job_kv: false,
        scrape_rendered: map(&[("prom", "scrape_configs: []\n")]),
    })));
    v.push(EventV2::JobDeployFailed {
        job: s("api"),
        wave: 1,
        reason: s("staging: api/config.json.tpl line 3: function \"nope\" not defined"),
    });
    v.push(EventV2::JobDeploySkipped { job: s("frontend"), wave: 2, reason: s("demands job api, which failed") });
    v.push(EventV2::LifecycleOutput {
        job: s("api"),
        ip: s("10.0.0.1"),
        target: s("start"),
        tail: s("starting api\nmake: *** [start] Error 1\n"),
    });
    v.push(EventV2::StagedRecorded {
        job: s("web"),
        blobs: BTreeMap::from([(
            s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            KvValueV2::Sealed { alg: SealAlgV2::Aes256Gcm, nonce: vec![5; 12], ciphertext: vec![0xde, 0xad] },
        )]),
        trees: BTreeMap::from([(
            s("10.0.0.1"),
            BTreeMap::from([(
                s("index.html"),
                s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08:644"),
            )]),
        )]),
        hashes: BTreeMap::from([(s("10.0.0.1"), s("c0ffee"))]),
    });
    v.push(EventV2::RollbackStarted { jobs: vec![s("web")], to: s("deploy 1 (session 4)"), seq: 57, kv: true });
    v.push(EventV2::JobPinned { job: s("web"), to: s("deploy 1 (session 4)"), workspace: s("c0ffee") });
    v.push(EventV2::JobUnpinned { job: s("web"), reason: s("released") });
    v
}

/// A golden file name for an event: its kind plus a suffix for kinds with
/// more than one exemplar.
pub fn names<T>(events: &[T], kind: impl Fn(&T) -> &'static str) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    events
        .iter()
        .map(|e| {
            let k = kind(e);
            let n = seen.entry(k).or_default();
            *n += 1;
            if *n == 1 { k.to_string() } else { format!("{k}_{n}") }
        })
        .collect()
}

pub fn state_v6() -> StateV6 {
    StateV6 {
        v5: state_v5(),
        pinned: [(s("web"), (s("deploy 1 (session 4)"), s("c0ffee")))].into(),
        staged_blobs: vec![s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")],
    }
}

pub fn state_v5() -> StateV5 {
    StateV5 {
        v4: state_v4(),
        peers: [
            (PeerScopeV2::Job(s("api")), PeerSetV5 { members: vec![s("10.0.0.1")], version: 3, at: 5 }),
            (PeerScopeV2::Label(s("db")), PeerSetV5 { members: vec![], version: 1, at: 4 }),
        ]
        .into(),
    }
}

pub fn state_v4() -> StateV4 {
    StateV4 {
        seq: 42,
        bucket_id: Some(s("0b6e6c1e-1d7e-4f6b-9a4c-0d9f1b2c3d4e")),
        update_seq: 3,
        workers: [(s("10.0.0.1"), worker())].into(),
        jobs: [(
            s("api"),
            JobV4 {
                spec: job_spec(),
                files: [(s("Makefile"), JobFileV1 { mode: 0o644, content: b"start:\n".to_vec() })].into(),
            },
        )]
        .into(),
        allocations: [((s("api"), s("10.0.0.1")), allocation())].into(),
        certs: [((s("api"), s("tls"), s("10.0.0.1")), cert_record())].into(),
        kv: [(
            s("vars/job/api"),
            [(
                s("replicas"),
                vec![
                    KvVersionV4 { version: 1, value: Some(KvValueV2::Plain(s("2"))), ttl: 0, created_at: 1 },
                    KvVersionV4 { version: 2, value: None, ttl: 0, created_at: 2 },
                ],
            )]
            .into(),
        )]
        .into(),
        deployed: [(
            (s("api"), s("10.0.0.1")),
            DeployedV4 {
                alloc_id: s("8b1c1e2a-0000-5000-8000-000000000003"),
                hash: s("ff00"),
                files: map(&[("Makefile", "aa")]),
                version: s("1.2.3"),
                previous_hash: s("ee00"),
                previous_files: map(&[("Makefile", "a0")]),
                running: true,
            },
        )]
        .into(),
        ready: [((s("api"), s("10.0.0.2")), (s("ff01"), s("1.2.3")))].into(),
    }
}

pub fn session_record() -> SessionRecordV1 {
    SessionRecordV1 {
        id: 5,
        info: session_info_v1(),
        first_seq: 10,
        last_seq: 20,
        events: 11,
        checkpoint_seq: 19,
        ended_at: Some(1_763_780_646_000),
        outcome: OutcomeV1::Failed(s("boom")),
    }
}

pub fn snapshot_meta() -> SnapshotMetaV1 {
    SnapshotMetaV1 { state_version: 4, seq: 42, digest: [3; 32], bytes: 1000 }
}

pub fn journal_meta() -> JournalMetaV1 {
    JournalMetaV1 { format_version: 2, journal_id: s("5e0f1c1e-0000-4000-8000-000000000000"), created_at: 1 }
}

pub fn body_v2() -> BodyV2 {
    BodyV2 {
        format_version: 2,
        seq: 11,
        session_id: 2,
        prev_hash: [0xab; 32],
        recorded_at: 1_763_780_645_300,
        event: EventV2::Checkpoint { label: s("catalog") },
    }
}

/// Every golden file: name → encoded bytes.
pub fn all_goldens() -> Vec<(String, Vec<u8>)> {
    let enc = |v: &dyn erased::Enc| v.bytes();
    let mut out = Vec::new();
    let v1 = events_v1();
    for (name, e) in names(&v1, maand_record::kind_v1).into_iter().zip(&v1) {
        out.push((format!("v1/{name}"), enc(e)));
    }
    let v2 = events_v2();
    for (name, e) in names(&v2, maand_record::kind_v2).into_iter().zip(&v2) {
        out.push((format!("v2/{name}"), enc(e)));
    }
    out.push(("state/v4".into(), enc(&state_v4())));
    out.push(("state/v5".into(), enc(&state_v5())));
    out.push(("state/v6".into(), enc(&state_v6())));
    out.push(("index/session_record".into(), enc(&session_record())));
    out.push(("index/snapshot_meta".into(), enc(&snapshot_meta())));
    out.push(("index/journal_meta".into(), enc(&journal_meta())));
    out.push(("body/v2_stored".into(), maand_record::encode_event(&body_v2()).unwrap().0));
    out
}

pub mod erased {
    /// Encode any record through `maand_record::encode`.
    pub trait Enc {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Enc for T {
        fn bytes(&self) -> Vec<u8> {
            maand_record::encode(self).unwrap()
        }
    }
}
