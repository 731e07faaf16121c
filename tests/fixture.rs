//! The checked-in format-1 journal stays readable: it verifies, folds to the
//! exact expected state (with and without its snapshot), and accepts new
//! sessions.

mod common;
use common::*;
use maand::event::{Event, KvValue};
use maand::journal::{self, JournalReader, Outcome, snapshot};
use maand::state::Fold;
use std::ops::ControlFlow;
use std::path::Path;

fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1/bucket"), tmp.path());
    tmp
}

#[test]
fn format1_fixture_folds_to_the_expected_state() {
    let dir = fixture_copy();
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.contains("ok: 26 events in 5 sessions"), "{v}");
    assert!(v.contains("1 snapshot(s) use an older state encoding"), "{v}");

    let reader = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let loaded = journal::load_state(&txn).unwrap();
    // The fixture's snapshot was written with state encoding 1; this binary
    // encodes state differently, so it must be ignored (not misread) and
    // the journal re-folded.
    let snaps = journal::reader_snapshots(&txn).unwrap();
    assert_eq!((snaps.len(), snaps[0].seq, snaps[0].state_version), (1, 13, 1));
    assert_eq!(loaded.snapshot_seq, None, "an old-encoding snapshot is not used");
    let mut full = Fold::default();
    journal::for_each_event(&txn, .., |e| {
        full.push(&e);
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    let full = full.finish();
    assert_eq!(loaded.state, full, "snapshot + tail equals a full re-fold");
    assert_eq!(snapshot::digest(&loaded.state).unwrap(), snapshot::digest(&full).unwrap());

    let s = &loaded.state;
    assert_eq!(s.seq, 26);
    assert_eq!(s.update_seq, 3);
    assert!(uuid::Uuid::parse_str(s.bucket_id().unwrap()).is_ok());
    let plain = |ns: &str, k: &str| match s.kv.get(ns, k).as_deref() {
        Some(KvValue::Plain(v)) => Some(v.clone()),
        Some(other) => panic!("{other:?}"),
        None => None,
    };
    assert_eq!(plain("vars/job/api", "db_url").as_deref(), Some("postgres://db2/api"));
    let h = s.kv.history("vars/job/api", "db_url");
    assert_eq!(h.len(), 2, "failed and aborted tails are not state");
    assert_eq!((h[0].ttl, h[0].created_at), (3600, 1_001));
    assert_eq!(plain("vars/bucket", "port_min"), None);
    assert_eq!(s.kv.history("vars/bucket", "port_min").len(), 2, "delete is a tombstone version");
    assert_eq!(s.kv.history("vars/job/web", "gone").len(), 0, "purged");
    assert_eq!(plain("vars/job/web", "replicas").as_deref(), Some("3"));
    assert_eq!(
        s.kv.get("secrets/job/api", "password").as_deref(),
        Some(&KvValue::Sealed {
            alg: maand::event::SealAlg::Aes256Gcm,
            nonce: vec![9; 12],
            ciphertext: vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
        })
    );
    let outcomes: Vec<&str> = journal::reader_sessions(&txn).unwrap().iter().map(|r| r.outcome.word()).collect();
    assert_eq!(outcomes, ["committed", "committed", "failed", "aborted", "committed"]);
    assert!(matches!(journal::reader_sessions(&txn).unwrap()[3].outcome, Outcome::Aborted(_)));
}

#[test]
fn format1_fixture_accepts_new_sessions_and_rebuilds_its_projection() {
    let dir = fixture_copy();
    assert!(!dir.path().join("data/maand.db").exists());
    // Format 1 is read by every command, but written to only after
    // `maand init` upgraded the bucket (and recorded that it did).
    let refused = maand(dir.path(), &["build"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("run `maand init` to upgrade the bucket"), "{}", stderr(&refused));
    // The fixture ships no CA key; a new CA pair is made for the kept id.
    std::fs::remove_file(dir.path().join("secrets/ca.crt")).unwrap();
    ok(&maand(dir.path(), &["init"]));
    let init_events = ok(&journal(dir.path(), &["show", "6", "--json"]));
    assert!(init_events.contains("\"FormatUpgraded\"") && init_events.contains("\"to\": 2"), "{init_events}");
    write_session(dir.path(), "vars/job/new", 3, "x");
    assert!(dir.path().join("data/maand.db").exists());
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.contains("in 7 sessions"), "{v}");
    let info: serde_json::Value = serde_json::from_str(&ok(&maand(dir.path(), &["info", "--json"]))).unwrap();
    assert_eq!(info["kv_keys"], 7);
}

fn build_fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1-build/bucket"), tmp.path());
    tmp
}

#[test]
fn format1_build_fixture_replays_to_the_expected_catalog() {
    let dir = build_fixture_copy();
    let v = ok(&journal(dir.path(), &["verify"]));
    assert!(v.contains("ok: 190 events in 3 sessions"), "{v}");
    let reader = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let state = journal::load_state(&txn).unwrap().state;
    let cat = &state.catalog;
    assert_eq!(cat.workers.keys().collect::<Vec<_>>(), ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(cat.workers["10.0.0.2"].hostname.as_deref(), Some("node-b"));
    let api = &cat.jobs["api"].spec;
    assert_eq!((api.deployment_seq, api.restart_policy.as_str(), api.version.as_str()), (1, "reload", "1.0.0"));
    assert_eq!(api.restart_globs, ["*.conf"]);
    assert_eq!(api.ports["api_http_port"].port, 30000);
    assert_eq!(api.hooks["hook_migrate"].demand.as_ref().unwrap().job, "database");
    assert!(cat.jobs["database"].spec.health_check.as_deref().unwrap().contains("database_port"));
    assert_eq!(cat.jobs["database"].spec.current_memory_mb, 512);
    let flags: Vec<(String, String, bool, bool)> =
        cat.allocations.values().map(|a| (a.job.clone(), a.worker_ip.clone(), a.disabled, a.removed)).collect();
    assert_eq!(
        flags,
        [
            ("api".into(), "10.0.0.1".into(), false, false),
            ("api".into(), "10.0.0.2".into(), true, false),
            ("api".into(), "10.0.0.3".into(), false, true),
            ("database".into(), "10.0.0.1".into(), false, false),
        ]
    );
    assert_eq!(cat.certs.len(), 2, "one: true cert re-issued for the two remaining workers");
    assert!(cat.certs.values().all(|c| c.sans == ["127.0.0.1", "10.0.0.1", "10.0.0.2"]));
    assert!(cat.jobs["api"].files.contains_key("_hooks/hook_migrate.py"));
    assert_eq!(
        state.kv.get("vars/job/api", "replicas").as_deref(),
        Some(&KvValue::Plain("2".into())),
        "vars merge never deletes"
    );
    assert!(state.kv.get("maand/job/api/worker/10.0.0.3", "peer_workers").is_none());

    // The current planner agrees with what the old binary recorded: planning
    // the same workspace at the recorded time changes nothing.
    let paths = maand::bucket::BucketPaths::new(dir.path());
    let conf = maand::bucket::MaandConf::load(&paths.conf()).unwrap();
    let ws = maand::workspace::load(&paths, &conf).unwrap();
    let last = journal::reader_sessions(&txn).unwrap().into_iter().rfind(|s| s.info.command == "build").unwrap();
    let mut at = 0;
    journal::for_each_event(&txn, last.first_seq..=last.last_seq, |e| {
        if let maand::event::Event::KvPut { at: t, .. } = e.event {
            at = t;
        }
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    let ca = std::fs::read_to_string(paths.ca_crt()).unwrap();
    let ctx = maand::plan::build::BuildContext {
        bucket_id: state.bucket_id().unwrap().to_string(),
        now: at,
        ca_fingerprint: maand::certs::inspect_ca(&ca).unwrap().1,
        ca_pem: ca,
        certs_renewal_buffer_days: conf.certs_renewal_buffer,
        purge_job_kv: false,
        scrape_rendered: Default::default(),
    };
    let plan = maand::plan::build::plan_build(&state, &ws, &ctx).unwrap();
    assert!(plan.certs.is_empty());
    // Except the move to peer sets: this journal predates them, so the first
    // build records each set once and tombstones the per-member copies.
    let (migration, rest): (Vec<_>, Vec<_>) = plan.events.iter().partition(|e| match e {
        Event::PeerSetRecorded { .. } => true,
        Event::KvDeleted { namespace, key, .. } => {
            key == "peer_workers" && namespace.contains("/worker/")
                || key.ends_with("_peers") && namespace.starts_with("maand/worker/")
        }
        _ => false,
    });
    // `job_name` in maand/job/<job> (the original's key, added since) is
    // the only other thing a current build adds.
    let rest: Vec<_> =
        rest.into_iter().filter(|e| !matches!(e, Event::KvPut { key, .. } if key == "job_name")).collect();
    assert!(rest.is_empty(), "{rest:?}");
    assert!(migration.iter().any(|e| matches!(e, Event::PeerSetRecorded { .. })));
    // Every value reads the same after it: the derived keys equal the
    // copies they replace, through the same read API.
    let mut after = state.clone();
    for e in &plan.events {
        after.apply(e);
    }
    let live = |s: &maand::state::State| -> Vec<(String, String, String)> {
        s.kv.iter()
            .filter_map(|(n, k, h)| {
                let v = h.last()?.value.as_ref()?.stored_text();
                Some((n.into_owned(), k.into_owned(), v))
            })
            .collect()
    };
    let without_job_name =
        |v: Vec<(String, String, String)>| -> Vec<_> { v.into_iter().filter(|(_, k, _)| k != "job_name").collect() };
    assert!(without_job_name(live(&after)) == live(&state), "the move to peer sets changed a value");
    assert!(live(&after).iter().any(|(_, k, v)| k == "peer_workers" && !v.is_empty()));
}
