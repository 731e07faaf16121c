//! The bucket written by maand 0.1.0 (commit da5bed0) through an operator's
//! life on real workers — every event kind of 0.1.0, see
//! `tests/fixtures/v0.1.0/README.md` — keeps opening, verifying, replaying
//! and folding to exactly the state 0.1.0 itself printed
//! (`tests/fixtures/v0.1.0/expected/`), its secrets keep decrypting, and it
//! accepts new sessions. The fixture is never regenerated.
//!
//! Comparisons are on JSON values and table rows, not on text: an expected
//! object's keys must all be there with equal values (a later maand may add
//! keys or reorder columns, never change or drop one).

mod common;
use common::*;
use maand::event::Event;
use maand::journal::{self, JournalReader};
use maand::state::Fold;
use rusqlite::types::Value as Sql;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Every event kind of maand 0.1.0, in the order of its `Event` variants.
const ALL_KINDS: [&str; 35] = [
    "session_opened",
    "checkpoint",
    "session_committed",
    "session_failed",
    "session_aborted",
    "bucket_initialized",
    "bucket_files_created",
    "ca_created",
    "format_upgraded",
    "update_seq_set",
    "kv_put",
    "kv_deleted",
    "kv_purged",
    "worker_upserted",
    "worker_removed",
    "job_upserted",
    "job_removed",
    "job_file_put",
    "job_file_removed",
    "allocation_upserted",
    "cert_issued",
    "cert_retired",
    "hook_invoked",
    "job_rollout_planned",
    "batch_started",
    "batch_ended",
    "lifecycle_ran",
    "health_checked",
    "allocation_promoted",
    "allocation_undeployed",
    "allocation_stopped",
    "allocation_ready",
    "allocation_purged",
    "kv_history_pruned",
    "remote_command_ran",
];

/// The position in [`ALL_KINDS`] of an event's variant. Exhaustive on
/// purpose, so the list and the code cannot drift apart: a variant added
/// after 0.1.0 gets an arm returning `None` (no 0.1.0 journal can hold it).
fn kind_index(e: &Event) -> Option<usize> {
    Some(match e {
        Event::SessionOpened { .. } => 0,
        Event::Checkpoint { .. } => 1,
        Event::SessionCommitted { .. } => 2,
        Event::SessionFailed { .. } => 3,
        Event::SessionAborted { .. } => 4,
        Event::BucketInitialized { .. } => 5,
        Event::BucketFilesCreated { .. } => 6,
        Event::CaCreated { .. } => 7,
        Event::FormatUpgraded { .. } => 8,
        Event::UpdateSeqSet { .. } => 9,
        Event::KvPut { .. } => 10,
        Event::KvDeleted { .. } => 11,
        Event::KvPurged { .. } => 12,
        Event::WorkerUpserted { .. } => 13,
        Event::WorkerRemoved { .. } => 14,
        Event::JobUpserted { .. } => 15,
        Event::JobRemoved { .. } => 16,
        Event::JobFilePut { .. } => 17,
        Event::JobFileRemoved { .. } => 18,
        Event::AllocationUpserted { .. } => 19,
        Event::CertIssued { .. } => 20,
        Event::CertRetired { .. } => 21,
        Event::HookInvoked { .. } => 22,
        Event::JobRolloutPlanned { .. } => 23,
        Event::BatchStarted { .. } => 24,
        Event::BatchEnded { .. } => 25,
        Event::LifecycleRan { .. } => 26,
        Event::HealthChecked { .. } => 27,
        Event::AllocationPromoted { .. } => 28,
        Event::AllocationUndeployed { .. } => 29,
        Event::AllocationStopped { .. } => 30,
        Event::AllocationReady { .. } => 31,
        Event::AllocationPurged { .. } => 32,
        Event::KvHistoryPruned { .. } => 33,
        Event::RemoteCommandRan { .. } => 34,
        Event::SessionSigned { .. } => return None,
        Event::CertMetricsPushed { .. }
        | Event::LegacyImported { .. }
        | Event::LegacyDeploymentImported { .. }
        | Event::KvImported { .. }
        | Event::PeerSetRecorded { .. }
        | Event::AllocationHealthFailed { .. }
        | Event::JobStaged(_)
        | Event::ReconcilePlanned(_)
        | Event::HookRunPlanned(_)
        | Event::BuildPlanned(_)
        | Event::JobDeployFailed { .. }
        | Event::JobDeploySkipped { .. }
        | Event::LifecycleOutput { .. }
        | Event::StagedRecorded { .. }
        | Event::RollbackStarted { .. }
        | Event::JobPinned { .. }
        | Event::JobUnpinned { .. } => {
            return None;
        }
    })
}

/// Events, sessions and the state the fixture holds.
const EVENTS: usize = 834;
const SESSIONS: usize = 31;
const SECRET_NS: &str = "secrets/job/db";
const SECRET_KEY: &str = "admin_password";

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v0.1.0")
}

fn fixture_copy() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture_dir().join("bucket"), tmp.path());
    tmp
}

/// A copy upgraded the way an operator upgrades: read-only commands and
/// writers refuse a format-1 journal until `maand init` has moved it to the
/// current format (recorded as `FormatUpgraded`; no stored record changes).
/// The fixture ships no CA key (never commit one), so the copy gets a new
/// CA pair for the kept bucket id, as an operator restoring a lost key would.
fn upgraded_copy() -> tempfile::TempDir {
    let dir = fixture_copy();
    let p = dir.path();
    let refused = maand(p, &["info"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("run `maand init` to upgrade the bucket"), "{}", stderr(&refused));
    std::fs::remove_file(p.join("secrets/ca.crt")).unwrap();
    ok(&maand(p, &["init"]));
    let init = session_events(p, SESSIONS as u64 + 1);
    let upgraded =
        init.iter().any(|e| e["event"]["FormatUpgraded"]["from"] == 1 && e["event"]["FormatUpgraded"]["to"] == 2);
    assert!(upgraded, "init records the upgrade: {init:?}");
    dir
}

fn expected(name: &str) -> String {
    let p = fixture_dir().join("expected").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn expected_json(name: &str) -> Value {
    serde_json::from_str(&expected(name)).unwrap()
}

fn json_out(dir: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(&maand(dir, args))).unwrap()
}

/// `Ok` when `actual` holds everything `expected` holds: equal scalars,
/// arrays of the same length item by item, objects with every expected key
/// (more keys may appear). The error names the first difference.
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (k, ev) in e {
                let av = a.get(k).ok_or_else(|| format!("{at}.{k}: missing (expected {ev})"))?;
                contains(av, ev, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(e)) => {
            if a.len() != e.len() {
                return Err(format!("{at}: {} items, expected {}", a.len(), e.len()));
            }
            a.iter().zip(e).enumerate().try_for_each(|(i, (a, e))| contains(a, e, &format!("{at}[{i}]")))
        }
        (a, e) if a == e => Ok(()),
        (a, e) => Err(format!("{at}: {a}, expected {e}")),
    }
}

/// The same rows in any order: every expected row (without the `ignore`d
/// keys) is contained in its own actual row, and no row is left over.
fn assert_same_rows(what: &str, actual: &Value, expected: &Value, ignore: &[&str]) {
    let (a, e) = (actual.as_array().unwrap(), expected.as_array().unwrap());
    assert_eq!(a.len(), e.len(), "{what}: row count\nactual: {actual:#}");
    let mut used = vec![false; a.len()];
    for row in e {
        let mut row = row.clone();
        for k in ignore {
            row.as_object_mut().unwrap().remove(*k);
        }
        let hit = (0..a.len()).find(|&i| !used[i] && contains(&a[i], &row, what).is_ok());
        let i = hit.unwrap_or_else(|| panic!("{what}: no row holds {row:#}\nactual: {actual:#}"));
        used[i] = true;
    }
}

/// `maand-journal export --jsonl` variant names as `kind()` spells them
/// (`KvHistoryPruned` -> `kv_history_pruned`).
fn snake(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

fn export(dir: &Path) -> Vec<Value> {
    ok(&journal(dir, &["export", "--jsonl"])).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn v0_1_0_fixture_holds_every_event_kind() {
    let distinct: BTreeSet<&str> = ALL_KINDS.iter().copied().collect();
    assert_eq!(distinct.len(), 35, "ALL_KINDS names 35 different kinds");
    let dir = fixture_copy();

    // Decoded by this library: every event's kind() is the listed name.
    let reader = JournalReader::open(&dir.path().join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let mut seen = [0usize; 35];
    let mut n = 0;
    journal::for_each_event(&txn, .., |e| {
        let i = kind_index(&e.event).unwrap_or_else(|| panic!("#{}: {:?} is not a 0.1.0 kind", e.seq, e.event));
        assert_eq!(e.event.kind(), ALL_KINDS[i], "#{}", e.seq);
        seen[i] += 1;
        n += 1;
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    assert_eq!(n, EVENTS);
    let missing: Vec<&str> = (0..35).filter(|&i| seen[i] == 0).map(|i| ALL_KINDS[i]).collect();
    assert!(missing.is_empty(), "kinds missing from the fixture: {missing:?}");

    // And through `maand-journal export --jsonl`.
    let mut exported = BTreeMap::new();
    for line in export(dir.path()) {
        let obj = line["event"].as_object().unwrap();
        assert_eq!(obj.len(), 1, "{line}");
        let kind = snake(obj.keys().next().unwrap());
        assert!(ALL_KINDS.contains(&kind.as_str()), "exported kind {kind} is not a 0.1.0 kind");
        *exported.entry(kind).or_insert(0usize) += 1;
    }
    assert_eq!(exported.len(), 35, "{exported:?}");
    for (i, k) in ALL_KINDS.iter().enumerate() {
        assert_eq!(exported[*k], seen[i], "{k}");
    }
}

#[test]
fn v0_1_0_fixture_verifies_replays_and_exports_what_0_1_0_wrote() {
    let dir = fixture_copy();
    let p = dir.path();
    let v = ok(&journal(p, &["verify"]));
    assert!(v.contains(&format!("ok: {EVENTS} events in {SESSIONS} sessions")), "{v}");
    let replay = ok(&journal(p, &["replay", "--check"]));
    // 0.1.0 recorded rollout plans with their inputs, not the other
    // decisions: those are reported as not re-derivable, never failed.
    assert!(!replay.contains("replay --check: 0 plan"), "{replay}");
    for line in [
        "staged     ",
        "not re-derivable: recorded before format 2 recorded staging decisions (job_staged)",
        "not re-derivable: recorded before format 2 recorded hook plans (hook_run_planned)",
        "not re-derivable: recorded before format 2 recorded build inputs (build_planned)",
        "not re-derivable: recorded before format 2 recorded reconcile decisions (reconcile_planned)",
    ] {
        assert!(replay.contains(line), "{line}: {replay}");
    }

    // The journal reads back as 0.1.0 exported it: same envelopes, hashes
    // and event contents (so no recorded action, version or flag is read
    // back as another).
    let actual = export(p);
    let want: Vec<Value> = expected("export.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(actual.len(), want.len());
    for (a, e) in actual.iter().zip(&want) {
        contains(a, e, &format!("event #{}", e["seq"])).unwrap();
    }

    // The session index, outcomes included.
    let sessions: Value = serde_json::from_str(&ok(&journal(p, &["sessions", "--json"]))).unwrap();
    contains(&sessions, &expected_json("sessions.json"), "sessions").unwrap();
    let outcomes: Vec<&str> = sessions.as_array().unwrap().iter().map(|s| s["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "failed").count(), 2, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == "aborted").count(), 1, "{outcomes:?}");
}

#[test]
fn v0_1_0_fixture_folds_to_the_state_0_1_0_printed() {
    let dir = upgraded_copy();
    let p = dir.path();

    // `maand info`: identity and counts (not the path or the file format).
    let info = json_out(p, &["info", "--json"]);
    let want = expected_json("info.json");
    for k in ["bucket_id", "update_seq", "workers", "jobs", "allocations", "kv_keys", "kv_versions"] {
        assert_eq!(info[k], want[k], "info {k}");
    }
    // The journal grew by exactly the upgrade's session, nothing else.
    let upgrade = session_events(p, SESSIONS as u64 + 1).len() as u64;
    assert_eq!(info["journal_events"].as_u64().unwrap(), want["journal_events"].as_u64().unwrap() + upgrade);
    assert_eq!(info["journal_sessions"].as_u64().unwrap(), want["journal_sessions"].as_u64().unwrap() + 1);
    assert_eq!(info["committed_seq"].as_u64().unwrap(), want["committed_seq"].as_u64().unwrap() + upgrade);

    // Every listing, row for row (certificates: not the days left or the
    // status, which depend on today's date).
    for what in ["workers", "jobs", "allocations", "deployments", "hooks", "job_ports", "certs", "kv"] {
        let actual = json_out(p, &["cat", what, "--json"]);
        // The upgraded copy's CA pair is new (the fixture ships no CA key),
        // so the CA row keeps only its name and common name (the bucket id).
        // Deployments: 0.1.0's previous_hash was the promotion before the
        // last; it now means what the original meant (the last promoted,
        // equal to current_hash once promoted), checked below.
        let ignore: &[&str] = match what {
            "certs" => &["days_left", "status", "not_after"],
            "deployments" => &["previous_hash"],
            _ => &[],
        };
        assert_same_rows(&format!("cat {what}"), &actual, &expected_json(&format!("cat_{what}.json")), ignore);
        if what == "deployments" {
            for row in actual.as_array().unwrap() {
                assert_eq!(row["previous_hash"], row["current_hash"], "{row}");
            }
        }
    }

    // The fold itself, through the library: snapshot-less load equals a
    // full fold, and agrees with what 0.1.0 printed.
    let dump = expected_db();
    // The library reads the untouched 0.1.0 journal (readers need no upgrade).
    let raw = fixture_copy();
    let reader = JournalReader::open(&raw.path().join("data/journal.redb")).unwrap();
    let txn = reader.begin_read().unwrap();
    let loaded = journal::load_state(&txn).unwrap();
    let mut full = Fold::default();
    journal::for_each_event(&txn, .., |e| {
        full.push(&e);
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    let full = full.finish();
    assert_eq!(loaded.state, full);
    let s = &loaded.state;
    assert_eq!(Value::from(s.seq), want["committed_seq"]);
    assert_eq!(Value::from(s.update_seq), want["update_seq"]);
    assert_eq!(s.bucket_id().map(Value::from), Some(want["bucket_id"].clone()));
    // Allocations with their ids and flags.
    let allocs = expected_json("cat_allocations.json");
    assert_eq!(s.catalog.allocations.len(), allocs.as_array().unwrap().len());
    for row in allocs.as_array().unwrap() {
        let key = (row["job"].as_str().unwrap().to_string(), row["worker_ip"].as_str().unwrap().to_string());
        let a = &s.catalog.allocations[&key];
        assert_eq!(
            (Value::from(a.alloc_id.as_str()), Value::from(a.disabled), Value::from(a.removed)),
            (row["alloc_id"].clone(), row["disabled"].clone(), row["removed"].clone()),
            "{key:?}"
        );
        assert_eq!(Value::from(a.new_version.as_str()), row["new_version"], "{key:?}");
    }
    // Deployed hashes and versions.
    let mut deployed = 0;
    for row in expected_json("cat_deployments.json").as_array().unwrap() {
        let key = (row["job"].as_str().unwrap().to_string(), row["worker_ip"].as_str().unwrap().to_string());
        let Some(d) = s.deployed.get(&key) else {
            // Undeployed (the removed ctl allocation): nothing promoted.
            assert_eq!(
                (&row["current_hash"], &row["current_version"]),
                (&Value::from(""), &Value::from("")),
                "{key:?}"
            );
            continue;
        };
        deployed += 1;
        assert_eq!(Value::from(d.hash.as_str()), row["current_hash"], "{key:?}");
        assert_eq!(Value::from(d.previous_hash.as_str()), row["previous_hash"], "{key:?}");
        assert_eq!(Value::from(d.version.as_str()), row["current_version"], "{key:?}");
        assert_eq!(d.alloc_id, row["alloc_id"].as_str().unwrap());
    }
    assert_eq!((s.deployed.len(), deployed), (4, 4));
    // Every KV version: history lengths, values (sealed ones as stored),
    // TTLs, times and tombstones.
    let mut kv_rows: BTreeMap<(String, String), Vec<BTreeMap<String, Sql>>> = BTreeMap::new();
    for r in &dump["key_value"] {
        let text = |c: &str| match &r[c] {
            Sql::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        };
        kv_rows.entry((text("namespace"), text("key"))).or_default().push(r.clone());
    }
    let mut keys = 0;
    for (ns, key, history) in s.kv.iter() {
        keys += 1;
        let rows =
            kv_rows.get(&(ns.to_string(), key.to_string())).unwrap_or_else(|| panic!("{ns} {key}: not in 0.1.0"));
        assert_eq!(history.len(), rows.len(), "{ns} {key}: history length");
        for v in history.iter() {
            let r = rows
                .iter()
                .find(|r| r["version"] == Sql::Integer(v.version as i64))
                .unwrap_or_else(|| panic!("{ns} {key} version {}", v.version));
            let value = v.value.as_ref().map_or(String::new(), |x| x.stored_text());
            assert_eq!(Sql::Text(value), r["value"], "{ns} {key} v{}", v.version);
            assert_eq!(Sql::Text(v.ttl.to_string()), r["ttl"], "{ns} {key} v{}", v.version);
            assert_eq!(Sql::Text(maand::clock::format_ms(v.created_at)), r["created_date"], "{ns} {key}");
            assert_eq!(Sql::Integer(v.value.is_none() as i64), r["deleted"], "{ns} {key} v{}", v.version);
        }
    }
    assert_eq!(keys, kv_rows.len());

    // The projection, rebuilt by this binary, holds 0.1.0's rows.
    ok(&journal(p, &["rebuild-db"]));
    let actual = db_tables(&rusqlite::Connection::open(p.join("data/maand.db")).unwrap());
    for (table, rows) in &dump {
        if table == "schema_version" {
            continue; // the projection's own schema, not state
        }
        let got = actual.get(table).unwrap_or_else(|| panic!("maand.db has no table {table}"));
        assert_eq!(got.len(), rows.len(), "maand.db {table}: row count");
        for row in rows {
            let mut row = row.clone();
            if table == "maand_projection" {
                row.remove("format"); // the journal's file format, not state
                row.remove("seq"); // the upgrade session came after it (checked above)
            }
            if table == "hash" {
                // The original's meaning since schema 2: previous = the last
                // promoted (= current once promoted), its files likewise.
                let current = row["current_hash"].clone();
                let files = row["current_files"].clone();
                row.insert("previous_hash".into(), current);
                row.insert("previous_files".into(), files);
            }
            assert!(
                got.iter().any(|g| row.iter().all(|(c, v)| g.get(c) == Some(v))),
                "maand.db {table}: no row holds {row:?}"
            );
        }
    }
}

/// Tables of a SQLite database: name -> rows (column -> value).
fn db_tables(conn: &rusqlite::Connection) -> BTreeMap<String, Vec<BTreeMap<String, Sql>>> {
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut out = BTreeMap::new();
    for t in names {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let cols: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let rows = stmt
            .query_map([], |r| {
                (0..cols.len()).map(|i| Ok((cols[i].clone(), r.get::<_, Sql>(i)?))).collect::<rusqlite::Result<_>>()
            })
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        out.insert(t, rows);
    }
    out
}

/// 0.1.0's projection (`sqlite3 data/maand.db .dump`), loaded.
fn expected_db() -> BTreeMap<String, Vec<BTreeMap<String, Sql>>> {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&expected("maand_db.sql")).unwrap();
    db_tables(&conn)
}

#[test]
fn v0_1_0_fixture_secrets_decrypt_with_its_kv_key() {
    let dir = upgraded_copy();
    let p = dir.path();
    // The secret a pre_deploy hook wrote through the runtime API.
    let want = expected("kv_get_secrets_job_db_admin_password.txt");
    assert_eq!(ok(&maand(p, &["cat", "kv", "get", SECRET_NS, SECRET_KEY, "--reveal"])), want);
    assert_eq!(want, "fixture-admin-pw-0.1.0\n");
    let o = maand(p, &["cat", "kv", "get", SECRET_NS, SECRET_KEY]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "[encrypted]\n"), "not printed without --reveal");
    // The certificate keys build sealed (PKCS#1 and PKCS#8).
    let kv = expected_json("cat_kv.json");
    let sealed: Vec<(&str, &str)> = kv
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["value"] == "[encrypted]" && r["key"].as_str().unwrap().ends_with(".key"))
        .map(|r| (r["namespace"].as_str().unwrap(), r["key"].as_str().unwrap()))
        .collect();
    assert_eq!(sealed.len(), 4, "{sealed:?}");
    for (ns, key) in sealed {
        let pem = ok(&maand(p, &["cat", "kv", "get", ns, key, "--reveal"]));
        let pkcs8 = key == "certs/cluster.key";
        let head = if pkcs8 { "-----BEGIN PRIVATE KEY-----" } else { "-----BEGIN RSA PRIVATE KEY-----" };
        assert!(pem.starts_with(head), "{ns} {key}: not a {head} PEM");
        let crt = ok(&maand(p, &["cat", "kv", "get", ns, &key.replace(".key", ".crt")]));
        assert!(crt.starts_with("-----BEGIN CERTIFICATE-----"), "{ns} {key}");
    }
}

#[test]
fn v0_1_0_fixture_accepts_new_sessions() {
    let dir = upgraded_copy();
    let p = dir.path();
    // A build (no SSH; its post_build hook runs) and a cli hook that reads
    // the hook-written secret back through the runtime API.
    ok(&maand(p, &["build"]));
    ok(&maand(p, &["hooks", "hook_schema", "db"]));
    assert!(ok(&journal(p, &["verify"])).contains(&format!("in {} sessions", SESSIONS + 3)));
    let sessions: Value = serde_json::from_str(&ok(&journal(p, &["sessions", "--json"]))).unwrap();
    let new: Vec<(&str, &str)> = sessions.as_array().unwrap()[SESSIONS + 1..]
        .iter()
        .map(|s| (s["command"].as_str().unwrap(), s["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(new, [("build", "committed"), ("hooks", "committed")]);
    // The hook checked the password it read (it exits 1 otherwise).
    let ran = session_events(p, SESSIONS as u64 + 3)
        .iter()
        .filter(|e| e["event"]["HookInvoked"]["hook"] == "hook_schema" && e["event"]["HookInvoked"]["exit_code"] == 0)
        .count();
    assert_eq!(ran, 2, "hook_schema ran on both db allocations");
    assert_eq!(kv_get(p, "vars/job/db", "last_check"), "password ok (22 chars)");
    // What 0.1.0 wrote is untouched.
    let actual = export(p);
    let want: Vec<Value> = expected("export.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    for (a, e) in actual.iter().zip(&want) {
        contains(a, e, &format!("event #{}", e["seq"])).unwrap();
    }
    assert_eq!(ok(&maand(p, &["cat", "kv", "get", SECRET_NS, SECRET_KEY, "--reveal"])), "fixture-admin-pw-0.1.0\n");
}
