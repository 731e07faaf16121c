//! Property tests (proptest) of the journal and the planners: the record
//! codec round-trips every domain event; folding is independent of where
//! it is split at checkpoints (snapshots); an incrementally updated
//! projection equals a fresh one; the rollout converges; a second build
//! records nothing; a template renders as a pure function of its inputs.

mod sim;

use maand::bucket::{Bucket, BucketPaths, OpenOptions, session_info};
use maand::event::{
    BuildInputs, Envelope, Event, HookInvocation, HookRunPlan, JobRollout, KvValue, PeerScope, PlannedHook,
    ReconcileItem, ReconcilePlan, SealAlg, SessionInfo, Staging,
};
use maand::journal::{codec, snapshot};
use maand::plan::hooks::LifecycleBatch;
use maand::plan::rollout::{Action, AllocPlan, JobPlan, RolloutFlags, Tree, plan_job};
use maand::state::ids::alloc_id;
use maand::state::{
    Allocation, CertConfig, CertRecord, Fold, Hook, HookDemand, Job, JobFile, JobSpec, Port, State, Worker,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::strategy::Union;
use std::collections::BTreeMap;
use std::time::Duration;

fn s() -> BoxedStrategy<String> {
    "[a-z0-9./_-]{0,8}".boxed()
}

fn strings() -> BoxedStrategy<Vec<String>> {
    vec(s(), 0..3).boxed()
}

fn smap() -> BoxedStrategy<BTreeMap<String, String>> {
    btree_map(s(), s(), 0..3).boxed()
}

fn kv_value() -> BoxedStrategy<KvValue> {
    prop_oneof![
        s().prop_map(KvValue::Plain),
        (vec(any::<u8>(), 12), vec(any::<u8>(), 0..40)).prop_map(|(nonce, ciphertext)| KvValue::Sealed {
            alg: SealAlg::Aes256Gcm,
            nonce,
            ciphertext
        }),
        (vec(any::<u8>(), 24), vec(any::<u8>(), 0..40)).prop_map(|(nonce, ciphertext)| KvValue::Sealed {
            alg: SealAlg::XChaCha20Poly1305,
            nonce,
            ciphertext
        }),
    ]
    .boxed()
}

fn worker() -> BoxedStrategy<Worker> {
    (s(), s(), any::<u64>(), strings(), smap(), any::<Option<u64>>(), any::<Option<u64>>(), proptest::option::of(s()))
        .prop_map(|(worker_id, ip, position, labels, tags, memory_mb, cpu_mhz, hostname)| Worker {
            worker_id,
            ip,
            position,
            labels,
            tags,
            memory_mb,
            cpu_mhz,
            hostname,
        })
        .boxed()
}

fn job_spec() -> BoxedStrategy<JobSpec> {
    let hook = (s(), strings(), proptest::option::of((s(), s(), s())))
        .prop_map(|(script, executed_on, d)| Hook {
            script,
            executed_on,
            demand: d.map(|(job, hook, config)| HookDemand { job, hook, config }),
        })
        .boxed();
    let a = (s(), s(), s(), any::<bool>(), strings(), any::<u64>(), any::<u64>(), any::<u64>(), s(), strings());
    let b = (any::<u64>(), any::<u64>(), any::<u64>(), s(), any::<u64>(), any::<u64>(), any::<u64>(), s());
    let c = (
        btree_map(s(), (any::<u16>(), any::<bool>()).prop_map(|(port, fixed)| Port { port, fixed }), 0..3),
        btree_map(s(), hook, 0..3),
        proptest::option::of(s()),
        btree_map(
            s(),
            (s(), any::<bool>(), any::<bool>()).prop_map(|(common_name, pkcs8, one)| CertConfig {
                common_name,
                pkcs8,
                one,
            }),
            0..2,
        ),
        any::<u64>(),
    );
    (a, b, c)
        .prop_map(|(a, b, c)| JobSpec {
            job_id: a.0,
            name: a.1,
            version: a.2,
            version_declared: a.3,
            selectors: a.4,
            max_concurrent_upgrades: a.5,
            max_concurrent_starts: a.6,
            min_allocations_count: a.7,
            restart_policy: a.8,
            restart_globs: a.9,
            min_memory_mb: b.0,
            max_memory_mb: b.1,
            current_memory_mb: b.2,
            current_memory_source: b.3,
            min_cpu_mhz: b.4,
            max_cpu_mhz: b.5,
            current_cpu_mhz: b.6,
            current_cpu_source: b.7,
            ports: c.0,
            hooks: c.1,
            health_check: c.2,
            certs: c.3,
            deployment_seq: c.4,
        })
        .boxed()
}

fn action() -> BoxedStrategy<Action> {
    prop_oneof![
        Just(Action::Start),
        Just(Action::Restart),
        Just(Action::Reload),
        Just(Action::Sync),
        Just(Action::Skip),
        Just(Action::Disabled),
        Just(Action::Ready),
    ]
    .boxed()
}

fn rollout() -> BoxedStrategy<JobRollout> {
    let alloc = (s(), s(), action(), s(), s(), s(), s(), strings(), strings()).prop_map(
        |(ip, alloc_id, action, tree_hash, current_hash, current_version, new_version, matched, changed)| AllocPlan {
            ip,
            alloc_id,
            action,
            tree_hash,
            current_hash,
            current_version,
            new_version,
            matched,
            changed,
        },
    );
    let plan = (s(), any::<u64>(), vec(alloc, 0..3), strings(), s(), vec(strings(), 0..2), vec(strings(), 0..2))
        .prop_map(|(job, deployment_seq, allocations, order, order_source, start_batches, update_batches)| JobPlan {
            job,
            deployment_seq,
            allocations,
            order,
            order_source,
            start_batches,
            update_batches,
        });
    (any::<u64>(), any::<bool>(), any::<bool>(), btree_map(s(), smap(), 0..2), plan)
        .prop_map(|(update_seq, force, sync_only, staged, plan)| JobRollout {
            update_seq,
            flags: RolloutFlags { force, sync_only },
            staged,
            plan,
        })
        .boxed()
}

/// Every domain event kind with arbitrary contents.
fn event() -> BoxedStrategy<Event> {
    let i = any::<i64>;
    let u = any::<u64>;
    let oc = any::<Option<i32>>;
    let arms: Vec<BoxedStrategy<Event>> = vec![
        (s(), strings(), s(), s(), s(), any::<u32>(), i(), strings())
            .prop_map(|(command, command_line, user, host, maand_version, pid, started_at, test_switches)| {
                Event::SessionOpened(SessionInfo {
                    command,
                    command_line,
                    user,
                    host,
                    maand_version,
                    pid,
                    started_at,
                    test_switches,
                })
            })
            .boxed(),
        s().prop_map(|label| Event::Checkpoint { label }).boxed(),
        i().prop_map(|ended_at| Event::SessionCommitted { ended_at }).boxed(),
        (i(), s()).prop_map(|(ended_at, error)| Event::SessionFailed { ended_at, error }).boxed(),
        (i(), s()).prop_map(|(detected_at, reason)| Event::SessionAborted { detected_at, reason }).boxed(),
        (s(), s()).prop_map(|(bucket_id, id_source)| Event::BucketInitialized { bucket_id, id_source }).boxed(),
        strings().prop_map(|paths| Event::BucketFilesCreated { paths }).boxed(),
        (s(), i()).prop_map(|(fingerprint, not_after)| Event::CaCreated { fingerprint, not_after }).boxed(),
        (any::<u16>(), any::<u16>()).prop_map(|(from, to)| Event::FormatUpgraded { from, to }).boxed(),
        u().prop_map(|update_seq| Event::UpdateSeqSet { update_seq }).boxed(),
        (s(), s(), kv_value(), u(), i())
            .prop_map(|(namespace, key, value, ttl, at)| Event::KvPut { namespace, key, value, ttl, at })
            .boxed(),
        (s(), s(), i()).prop_map(|(namespace, key, at)| Event::KvDeleted { namespace, key, at }).boxed(),
        (s(), s()).prop_map(|(namespace, key)| Event::KvPurged { namespace, key }).boxed(),
        worker().prop_map(Event::WorkerUpserted).boxed(),
        s().prop_map(|ip| Event::WorkerRemoved { ip }).boxed(),
        job_spec().prop_map(|j| Event::JobUpserted(Box::new(j))).boxed(),
        s().prop_map(|name| Event::JobRemoved { name }).boxed(),
        (s(), s(), any::<u32>(), vec(any::<u8>(), 0..16))
            .prop_map(|(job, path, mode, content)| Event::JobFilePut { job, path, file: JobFile { mode, content } })
            .boxed(),
        (s(), s()).prop_map(|(job, path)| Event::JobFileRemoved { job, path }).boxed(),
        (s(), s(), s(), any::<bool>(), any::<bool>(), s())
            .prop_map(|(alloc_id, job, worker_ip, disabled, removed, new_version)| {
                Event::AllocationUpserted(Allocation { alloc_id, job, worker_ip, disabled, removed, new_version })
            })
            .boxed(),
        (s(), s(), s(), s(), s(), i(), s(), strings())
            .prop_map(|(job, name, ip, ca_fingerprint, config_hash, not_after, serial, sans)| Event::CertIssued {
                job,
                name,
                ip,
                record: CertRecord { ca_fingerprint, config_hash, not_after, serial, sans },
            })
            .boxed(),
        (s(), s(), s()).prop_map(|(job, name, ip)| Event::CertRetired { job, name, ip }).boxed(),
        (s(), s(), s(), s(), s(), u(), u(), strings(), oc(), oc(), u())
            .prop_map(
                |(
                    job,
                    hook,
                    event,
                    alloc_id,
                    ip,
                    batch_index,
                    batch_count,
                    batch_allocations,
                    exit_code,
                    signal,
                    duration_ms,
                )| {
                    Event::HookInvoked(Box::new(HookInvocation {
                        job,
                        hook,
                        event,
                        alloc_id,
                        ip,
                        batch_index,
                        batch_count,
                        batch_allocations,
                        exit_code,
                        signal,
                        duration_ms,
                    }))
                },
            )
            .boxed(),
        rollout().prop_map(|r| Event::JobRolloutPlanned(Box::new(r))).boxed(),
        (s(), s(), u(), u(), strings(), s())
            .prop_map(|(job, phase, index, count, allocations, order_source)| Event::BatchStarted {
                job,
                phase,
                index,
                count,
                allocations,
                order_source,
            })
            .boxed(),
        (s(), s(), u(), any::<bool>())
            .prop_map(|(job, phase, index, ok)| Event::BatchEnded { job, phase, index, ok })
            .boxed(),
        (s(), s(), s(), oc(), u())
            .prop_map(|(job, ip, target, exit_code, duration_ms)| Event::LifecycleRan {
                job,
                ip,
                target,
                exit_code,
                duration_ms,
            })
            .boxed(),
        (s(), strings(), any::<bool>(), s())
            .prop_map(|(job, allocations, ok, detail)| Event::HealthChecked { job, allocations, ok, detail })
            .boxed(),
        (s(), s(), s(), s(), smap(), s(), any::<bool>())
            .prop_map(|(job, ip, alloc_id, hash, files, version, running)| Event::AllocationPromoted {
                job,
                ip,
                alloc_id,
                hash,
                files,
                version,
                running,
            })
            .boxed(),
        (s(), s()).prop_map(|(job, ip)| Event::AllocationUndeployed { job, ip }).boxed(),
        (s(), s()).prop_map(|(job, ip)| Event::AllocationStopped { job, ip }).boxed(),
        (s(), s(), s(), s())
            .prop_map(|(job, ip, hash, version)| Event::AllocationReady { job, ip, hash, version })
            .boxed(),
        (s(), s()).prop_map(|(job, ip)| Event::AllocationPurged { job, ip }).boxed(),
        (s(), s(), i())
            .prop_map(|(namespace, key, older_than)| Event::KvHistoryPruned { namespace, key, older_than })
            .boxed(),
        (s(), s(), oc(), u())
            .prop_map(|(ip, command, exit_code, duration_ms)| Event::RemoteCommandRan {
                ip,
                command,
                exit_code,
                duration_ms,
            })
            .boxed(),
        (u(), any::<[u8; 32]>(), s())
            .prop_map(|(seq, head, signature)| Event::SessionSigned { seq, head, signature })
            .boxed(),
        (s(), u(), any::<u32>(), any::<bool>(), s())
            .prop_map(|(url, series, attempts, ok, detail)| Event::CertMetricsPushed {
                url,
                series,
                attempts,
                ok,
                detail,
            })
            .boxed(),
        (s(), u(), (u(), u(), u(), u()))
            .prop_map(|(backup, schema_version, (workers, jobs, allocations, kv_versions))| Event::LegacyImported {
                backup,
                schema_version,
                workers,
                jobs,
                allocations,
                kv_versions,
            })
            .boxed(),
        (s(), s(), u(), proptest::option::of(kv_value()), u(), any::<i64>())
            .prop_map(|(namespace, key, version, value, ttl, at)| Event::KvImported {
                namespace,
                key,
                version,
                value,
                ttl,
                at,
            })
            .boxed(),
        (s(), s(), s(), s(), s())
            .prop_map(|(job, ip, alloc_id, hash, version)| Event::LegacyDeploymentImported {
                job,
                ip,
                alloc_id,
                hash,
                version,
            })
            .boxed(),
        (s(), s(), s(), s())
            .prop_map(|(job, ip, hash, version)| Event::AllocationHealthFailed { job, ip, hash, version })
            .boxed(),
        (any::<bool>(), s(), proptest::collection::vec(s(), 0..4), any::<i64>())
            .prop_map(|(job, name, members, at)| Event::PeerSetRecorded {
                scope: if job { PeerScope::Job(name) } else { PeerScope::Label(name) },
                members,
                at,
            })
            .boxed(),
        (s(), s()).prop_map(|(job, renderer)| Event::JobStaged(Box::new(Staging { job, renderer }))).boxed(),
        (s(), s(), i(), any::<bool>())
            .prop_map(|(name, text, now, purge_job_kv)| {
                let files: BTreeMap<String, String> = [(name.clone(), text.clone())].into();
                Event::BuildPlanned(Box::new(BuildInputs {
                    files: files.clone(),
                    job_overrides_file: name.clone(),
                    job_files: [(name, files.clone())].into(),
                    now,
                    ca_pem: text,
                    ca_fingerprint: "fp".into(),
                    certs_renewal_buffer_days: 30,
                    purge_job_kv,
                    scrape_rendered: files,
                }))
            })
            .boxed(),
        (s(), s(), any::<bool>(), any::<bool>())
            .prop_map(|(job, ip, removed, all_jobs)| {
                let item = ReconcileItem {
                    job: job.clone(),
                    ip,
                    removed,
                    worker_gone: !removed,
                    version: "1.0.0".into(),
                    stop: true,
                };
                Event::ReconcilePlanned(Box::new(ReconcilePlan { jobs: vec![job], all_jobs, items: vec![item] }))
            })
            .boxed(),
        (s(), s(), s(), any::<bool>())
            .prop_map(|(job, hook, ip, first_start)| {
                let env: std::collections::BTreeMap<String, String> = [("JOB".to_string(), job.clone())].into();
                Event::HookRunPlanned(Box::new(HookRunPlan {
                    job,
                    hook,
                    event: "cli".into(),
                    phase: "cli".into(),
                    filter: Some(vec![ip.clone()]),
                    first_start,
                    bucket_root: "/b".into(),
                    extra: env.clone(),
                    batches: vec![vec![PlannedHook { alloc_id: "a".into(), ip: ip.clone(), env }]],
                    lifecycle: first_start.then(|| LifecycleBatch {
                        index: 0,
                        count: 1,
                        allocations: vec![ip.clone()],
                        order: vec![ip],
                        order_source: "default".into(),
                    }),
                }))
            })
            .boxed(),
        (s(), u(), s()).prop_map(|(job, wave, reason)| Event::JobDeployFailed { job, wave, reason }).boxed(),
        (s(), u(), s()).prop_map(|(job, wave, reason)| Event::JobDeploySkipped { job, wave, reason }).boxed(),
        (s(), s(), s(), s())
            .prop_map(|(job, ip, target, tail)| Event::LifecycleOutput { job, ip, target, tail })
            .boxed(),
    ];
    Union::new(arms).boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// domain → record → bytes → record → domain is the identity, for every
    /// event kind, and the stored hash checks.
    #[test]
    fn record_codec_round_trips_every_domain_event(
        ev in event(), seq in 1u64.., session in any::<u64>(), prev in any::<[u8; 32]>(), at in any::<i64>()
    ) {
        let (bytes, hash) = codec::encode(seq, session, prev, at, &ev).unwrap();
        prop_assert!(codec::check(&bytes));
        let env = codec::decode(&bytes).unwrap();
        prop_assert_eq!((env.seq, env.session_id, env.prev_hash, env.recorded_at, env.hash), (seq, session, prev, at, hash));
        prop_assert_eq!(env.event, ev);
    }
}

/// A step of a generated journal.
#[derive(Debug, Clone)]
enum Rec {
    Change(Event),
    Checkpoint,
}

/// How a generated session ends.
#[derive(Debug, Clone, Copy)]
enum End {
    Commit,
    Fail,
    Abort,
    Open,
}

fn change() -> BoxedStrategy<Event> {
    let key = "[ab]{1,2}";
    prop_oneof![
        (key, "[xyz]{0,3}", 0i64..50).prop_map(|(k, v, at)| Event::KvPut {
            namespace: "vars/job/a".into(),
            key: k,
            value: KvValue::Plain(v),
            ttl: 0,
            at
        }),
        (key, 0i64..50).prop_map(|(k, at)| Event::KvDeleted { namespace: "vars/job/a".into(), key: k, at }),
        key.prop_map(|k| Event::KvPurged { namespace: "vars/job/a".into(), key: k }),
        (0u64..9).prop_map(|update_seq| Event::UpdateSeqSet { update_seq }),
        "10\\.0\\.0\\.[1-3]".prop_map(|ip| Event::WorkerUpserted(Worker { ip, ..Default::default() })),
        "10\\.0\\.0\\.[1-3]".prop_map(|ip| Event::WorkerRemoved { ip }),
        ("[jk]", "10\\.0\\.0\\.[1-3]", any::<bool>()).prop_map(|(job, ip, disabled)| Event::AllocationUpserted(
            // Allocation ids are derived from (job, worker), as build makes them.
            Allocation {
                alloc_id: alloc_id(&job, &ip),
                job,
                worker_ip: ip,
                disabled,
                removed: false,
                new_version: "1".into()
            }
        )),
        ("[jk]", "10\\.0\\.0\\.[1-3]", "[hg]").prop_map(|(job, ip, hash)| Event::AllocationPromoted {
            alloc_id: alloc_id(&job, &ip),
            job,
            ip,
            hash,
            files: BTreeMap::new(),
            version: "1".into(),
            running: true
        }),
        ("[jk]", "10\\.0\\.0\\.[1-3]", "[hg]").prop_map(|(job, ip, hash)| Event::AllocationReady {
            job,
            ip,
            hash,
            version: "1".into()
        }),
        ("[jk]", "10\\.0\\.0\\.[1-3]").prop_map(|(job, ip)| Event::AllocationStopped { job, ip }),
        // Peer sets, and stored copies of the keys they derive (journals from
        // before peer sets): the projection must hide and show them exactly
        // as a rebuild does.
        (
            any::<bool>(),
            "[jk]",
            proptest::sample::subsequence(vec!["10.0.0.1", "10.0.0.2", "10.0.0.3"], 0..=3),
            0i64..50
        )
            .prop_map(|(job, name, members, at)| Event::PeerSetRecorded {
                scope: if job { PeerScope::Job(name) } else { PeerScope::Label(name) },
                members: members.into_iter().map(String::from).collect(),
                at,
            }),
        ("[jk]", "10\\.0\\.0\\.[1-3]", "[xyz]{0,3}").prop_map(|(job, ip, v)| Event::KvPut {
            namespace: format!("maand/job/{job}/worker/{ip}"),
            key: "peer_workers".into(),
            value: KvValue::Plain(v),
            ttl: 0,
            at: 1
        }),
        ("[jk]", "10\\.0\\.0\\.[1-3]").prop_map(|(label, ip)| Event::KvDeleted {
            namespace: format!("maand/worker/{ip}"),
            key: format!("{label}_peers"),
            at: 2
        }),
        // Job ids are derived from names, as build makes them.
        "[jk]".prop_map(|name| Event::JobUpserted(Box::new(JobSpec {
            job_id: maand::state::ids::job_id(&name),
            name,
            version: "1".into(),
            ..Default::default()
        }))),
        ("[jk]", "[fg]", "[xy]{0,2}").prop_map(|(job, path, c)| Event::JobFilePut {
            job,
            path,
            file: JobFile { mode: 0o644, content: c.into_bytes() }
        }),
    ]
    .boxed()
}

fn sessions() -> BoxedStrategy<Vec<(Vec<Rec>, End)>> {
    let rec = prop_oneof![4 => change().prop_map(Rec::Change), 1 => Just(Rec::Checkpoint)];
    let end = prop_oneof![Just(End::Commit), Just(End::Fail), Just(End::Abort), Just(End::Open)];
    vec((vec(rec, 0..12), end), 1..6).boxed()
}

/// The envelopes of generated sessions, in journal order.
fn envelopes(sessions: &[(Vec<Rec>, End)]) -> Vec<Envelope> {
    let mut out = Vec::new();
    let mut seq = 0;
    let mut push = |session: u64, event: Event| {
        seq += 1;
        out.push(Envelope {
            format_version: 2,
            seq,
            session_id: session,
            prev_hash: [0; 32],
            hash: [0; 32],
            recorded_at: 0,
            event,
        });
    };
    for (i, (recs, end)) in sessions.iter().enumerate() {
        let id = i as u64 + 1;
        push(id, Event::SessionOpened(SessionInfo { started_at: 0, ..session_info("p") }));
        for r in recs {
            match r {
                Rec::Change(e) => push(id, e.clone()),
                Rec::Checkpoint => push(id, Event::Checkpoint { label: "c".into() }),
            }
        }
        match end {
            End::Commit => push(id, Event::SessionCommitted { ended_at: 0 }),
            End::Fail => push(id, Event::SessionFailed { ended_at: 0, error: "x".into() }),
            End::Abort => push(id, Event::SessionAborted { detected_at: 0, reason: "dead".into() }),
            End::Open => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Folding a journal in one go equals folding up to any checkpoint,
    /// snapshotting (through the snapshot encoding) and folding the rest.
    #[test]
    fn fold_equals_fold_split_at_any_checkpoint(sessions in sessions()) {
        let envs = envelopes(&sessions);
        let mut whole = Fold::default();
        for e in &envs {
            whole.push(e);
        }
        let whole = whole.finish();
        for (k, env) in envs.iter().enumerate() {
            if !matches!(env.event, Event::Checkpoint { .. } | Event::SessionCommitted { .. }) {
                continue;
            }
            let mut head = Fold::default();
            for e in &envs[..=k] {
                head.push(e);
            }
            let snap = snapshot::decode_state(&snapshot::encode_state(&head.finish()).unwrap()).unwrap();
            let mut tail = Fold::from_state(snap);
            for e in &envs[k + 1..] {
                tail.push(e);
            }
            prop_assert_eq!(&tail.finish(), &whole, "split after seq {}", env.seq);
        }
    }
}

fn open(dir: &std::path::Path) -> Bucket {
    Bucket::open(BucketPaths::new(dir), &OpenOptions { command: "prop".into(), lock_wait: Duration::from_secs(5) })
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// `maand.db` updated checkpoint by checkpoint (and across failed and
    /// cut-off sessions) dumps identically to a fresh projection of the
    /// folded state.
    #[test]
    fn incremental_projection_equals_a_full_rebuild(sessions in sessions()) {
        let dir = sim::sim_tempdir();
        sim::copy_dir(sim::template(), dir.path());
        for (recs, end) in &sessions {
            let mut b = open(dir.path());
            let mut s = b.begin(session_info("prop")).unwrap();
            for r in recs {
                match r {
                    Rec::Change(e) => s.record(e.clone()).unwrap(),
                    Rec::Checkpoint => s.checkpoint("c").unwrap(),
                }
            }
            match end {
                End::Commit => s.commit().unwrap(),
                End::Fail => s.fail(&maand::error::Error::op("x")).unwrap(),
                // A cut-off session: the next opener marks it aborted.
                End::Abort | End::Open => {
                    s.flush().unwrap();
                    std::mem::forget(s);
                }
            }
        }
        let b = open(dir.path());
        let incremental = maand::projection::canonical_dump(
            &rusqlite_open(&b.paths.db())
        ).unwrap();
        let mut fresh = rusqlite::Connection::open_in_memory().unwrap();
        maand::projection::write_all(&mut fresh, &b.state, &b.journal_meta().journal_id).unwrap();
        let fresh = maand::projection::canonical_dump(&fresh).unwrap();
        prop_assert_eq!(incremental, fresh);
    }
}

fn rusqlite_open(p: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// A state with one job on `n` workers, some disabled, some promoted
/// (running or not, at some tree), some ready.
fn rollout_state() -> BoxedStrategy<(State, BTreeMap<String, Tree>, RolloutFlags)> {
    let tree = btree_map("[abc]", "[xy]", 0..3);
    (
        1usize..5,
        vec((any::<bool>(), proptest::option::of((tree.clone(), "[12]", any::<bool>())), any::<bool>()), 4),
        vec(tree, 4),
        "[12]",
        0u64..3,
        0u64..3,
        prop_oneof![Just("always"), Just("reload"), Just("never")],
        any::<bool>(),
    )
        .prop_map(|(n, allocs, trees, version, starts, upgrades, policy, force)| {
            let mut st = State::default();
            let spec = JobSpec {
                name: "j".into(),
                version: version.clone(),
                max_concurrent_starts: starts,
                max_concurrent_upgrades: upgrades,
                restart_policy: policy.into(),
                restart_globs: vec!["a".into()],
                ..Default::default()
            };
            st.catalog.jobs.insert("j".into(), Job { spec, files: BTreeMap::new() });
            let mut staged = BTreeMap::new();
            for i in 0..n {
                let ip = format!("10.0.0.{}", i + 1);
                let (disabled, promoted, ready) = allocs[i].clone();
                st.apply(&Event::WorkerUpserted(Worker { ip: ip.clone(), position: i as u64, ..Default::default() }));
                st.apply(&Event::AllocationUpserted(Allocation {
                    alloc_id: format!("a{i}"),
                    job: "j".into(),
                    worker_ip: ip.clone(),
                    disabled,
                    removed: false,
                    new_version: version.clone(),
                }));
                if let Some((files, v, running)) = promoted {
                    st.apply(&Event::AllocationPromoted {
                        job: "j".into(),
                        ip: ip.clone(),
                        alloc_id: format!("a{i}"),
                        hash: maand::plan::rollout::tree_hash(&files),
                        files,
                        version: v.to_string(),
                        running,
                    });
                }
                if ready {
                    st.apply(&Event::AllocationReady {
                        job: "j".into(),
                        ip: ip.clone(),
                        hash: maand::plan::rollout::tree_hash(&trees[i]),
                        version: version.clone(),
                    });
                }
                staged.insert(ip, trees[i].clone());
            }
            (st, staged, RolloutFlags { force, sync_only: false })
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Plan, promote what is not skipped (as deploy does), plan again on
    /// the same trees: nothing is left to do — every active allocation
    /// `skip`, every disabled one promoted at its tree.
    #[test]
    fn rollout_converges_after_promotion((mut state, staged, flags) in rollout_state()) {
        let plan = plan_job(&state, "j", &staged, &flags).unwrap();
        for a in plan.allocations.iter().filter(|a| a.action != Action::Skip) {
            state.apply(&Event::AllocationPromoted {
                job: "j".into(),
                ip: a.ip.clone(),
                alloc_id: a.alloc_id.clone(),
                hash: a.tree_hash.clone(),
                files: staged[&a.ip].clone(),
                version: a.new_version.clone(),
                running: a.action != Action::Disabled,
            });
        }
        let again = plan_job(&state, "j", &staged, &RolloutFlags::default()).unwrap();
        prop_assert!(!again.needs_rollout(), "{:?}", again.allocations);
        for a in &again.allocations {
            prop_assert!(matches!(a.action, Action::Skip | Action::Disabled), "{} {:?}", a.ip, a.action);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Building an unchanged workspace a second time records no
    /// state-changing event.
    #[test]
    fn a_second_build_records_no_change(seed in any::<u64>()) {
        use rand::SeedableRng;
        let dir = sim::sim_tempdir();
        sim::copy_dir(sim::template(), dir.path());
        let ws = sim::SimWorkspace::random(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        ws.write(dir.path());
        sim::build(dir.path()).unwrap();
        let mut b = open(dir.path());
        let r = maand::build::run(&mut b, &Default::default()).unwrap();
        prop_assert_eq!(r.changes, 0);
        drop(b);
        let reader = maand::journal::JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
        let txn = reader.begin_read().unwrap();
        let mut changed = Vec::new();
        maand::journal::for_each_event(&txn, .., |env| {
            if env.session_id == r.session && env.event.changes_state() {
                changed.push(env.event.kind());
            }
            Ok(std::ops::ControlFlow::Continue(()))
        })
        .unwrap();
        prop_assert!(changed.is_empty(), "{:?}", changed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A template's output is a function of its inputs alone: the same
    /// source, context and state render the same, whatever was rendered
    /// before (on this thread or another).
    #[test]
    fn template_rendering_is_a_pure_function_of_its_inputs(
        ip in "10\\.0\\.[0-9]\\.[0-9]", current in "[0-9]\\.[0-9]", new in "[0-9]\\.[0-9]", value in "[a-z]{0,6}",
        other_ip in "10\\.1\\.[0-9]\\.[0-9]",
    ) {
        use maand::templates::{KvView, TemplateContext, render};
        let mut st = State::default();
        st.apply(&Event::KvPut {
            namespace: "vars/job/web".into(), key: "k".into(), value: KvValue::Plain(value), ttl: 0, at: 0,
        });
        let st = std::sync::Arc::new(st);
        let key = maand::kv::seal::KvKey::from_bytes(&[7; 32]).unwrap();
        let src = "{{ .WorkerIP }} {{ .CurrentVersion }} {{ .NewVersion }} {{ get \"vars/job/web\" \"k\" }}\n";
        let ctx = |ip: &str| TemplateContext {
            job: "web".into(),
            worker_ip: ip.into(),
            current_version: current.clone(),
            new_version: new.clone(),
            ..Default::default()
        };
        let first = render("t.tpl", src, &ctx(&ip), KvView::new(st.clone(), key.clone(), "web", &ip, vec![])).unwrap();
        let _ = render("t.tpl", src, &ctx(&other_ip), KvView::new(st.clone(), key.clone(), "web", &other_ip, vec![]));
        let again = render("t.tpl", src, &ctx(&ip), KvView::new(st.clone(), key.clone(), "web", &ip, vec![])).unwrap();
        let elsewhere = std::thread::scope(|s| {
            s.spawn(|| render("t.tpl", src, &ctx(&ip), KvView::new(st.clone(), key.clone(), "web", &ip, vec![])).unwrap()).join().unwrap()
        });
        prop_assert_eq!(&first, &again);
        prop_assert_eq!(&first, &elsewhere);
        prop_assert!(first.starts_with(&format!("{ip} {current} {new} ")), "{}", first);
    }
}
