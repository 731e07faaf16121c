//! `maand-journal replay [--until <seq|s<session>>] [--db PATH]` and
//! `maand-journal replay --check [--session S]`.

use maand::bucket::BucketPaths;
use maand::error::{Error, Result};
use maand::journal::{self, JournalReader};
use maand::replay::{CheckOptions, CheckReport, Kind};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Derive every recorded decision again (reconcile plans, staged trees,
    /// rollout plans, hook runs) where it was made, and fail on the first
    /// divergence (the determinism check).
    #[arg(long)]
    check: bool,
    /// With --check: only this session.
    #[arg(long, requires = "check")]
    session: Option<u64>,
    /// With --check: print the report as JSON (for CI).
    #[arg(long, requires = "check")]
    json: bool,
    /// Fold up to this sequence number, or to the end of session `sN`.
    #[arg(long, conflicts_with = "check")]
    until: Option<String>,
    /// Write a maand.db of the replayed state here.
    #[arg(long, conflicts_with = "check")]
    db: Option<std::path::PathBuf>,
    /// Test only: perturb the re-derivation of one decision kind (`rollout`
    /// when no kind is named; `all` for every kind) so --check must fail.
    /// It can only turn a pass into a failure, and it announces itself on
    /// stderr every time, so it cannot alter a real check unseen.
    #[arg(long, hide = true, requires = "check", num_args = 0..=1, default_missing_value = "rollout")]
    inject_nondeterminism: Option<String>,
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<i32> {
    if args.check {
        return check(paths, args);
    }
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let meta = journal::reader_meta(&txn)?;
    let until = match args.until.as_deref() {
        None => u64::MAX,
        Some(s) if s.starts_with('s') => {
            let id: u64 =
                s[1..].parse().map_err(|_| Error::usage(format!("--until {s}: expected a sequence number or sN")))?;
            journal::reader_session(&txn, id)?.ok_or_else(|| Error::usage(format!("no session {id}")))?.last_seq
        }
        Some(s) => s.parse().map_err(|_| Error::usage(format!("--until {s}: expected a sequence number or sN")))?,
    };
    drop(txn);
    let state = maand::replay::state_until(paths, until)?;
    let s = serde_json::json!({
        "committed_seq": state.seq,
        "bucket_id": state.bucket_id(),
        "update_seq": state.update_seq,
        "workers": state.catalog.workers.len(),
        "jobs": state.catalog.jobs.len(),
        "allocations": state.catalog.allocations.len(),
        "deployed": state.deployed.len(),
        "kv_keys": state.kv.key_count(),
        "digest": hex(&maand::journal::snapshot::digest(&state)?),
    });
    println!("{}", serde_json::to_string_pretty(&s)?);
    if let Some(db) = &args.db {
        maand::projection::rebuild(db, &state, &meta.journal_id)?;
        println!("wrote {}", db.display());
    }
    Ok(0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check(paths: &BucketPaths, args: &Args) -> Result<i32> {
    let perturb = match args.inject_nondeterminism.as_deref() {
        None => Vec::new(),
        Some("all") => Kind::ALL.to_vec(),
        Some(k) => vec![Kind::parse(k)?],
    };
    if let Some(k) = &args.inject_nondeterminism {
        eprintln!(
            "replay --check: TEST SWITCH --inject-nondeterminism is on ({k}): the planner is perturbed on purpose"
        );
    }
    let r = maand::replay::check(paths, &CheckOptions { only: args.session, perturb })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&r))?);
    } else {
        print_report(&r);
    }
    Ok(if r.divergence.is_some() { 1 } else { 0 })
}

fn print_report(r: &CheckReport) {
    if let Some(d) = &r.divergence {
        let on = d.allocation.as_deref().map(|a| format!(" on {a}")).unwrap_or_default();
        let job = if d.job.is_empty() { String::new() } else { format!(" for job {}", d.job) };
        if d.kind == Kind::Rollout {
            // The rollout wording predates the other kinds (CI greps it).
            eprintln!(
                "replay --check: the plan recorded at event {} (session {}) for job {}{on} differs when planned again",
                d.seq, d.session, d.job
            );
        } else {
            eprintln!(
                "replay --check: the {} decision recorded at event {} (session {}){job}{on} differs when derived again: {}",
                d.kind.name(),
                d.seq,
                d.session,
                d.field
            );
        }
        eprintln!("recorded:  {}", d.recorded);
        eprintln!("replanned: {}", d.rederived);
        return;
    }
    println!(
        "replay --check: {} plan(s) replanned identically; {} decision(s) re-derived in {} session(s)",
        r.rederived(Kind::Rollout),
        r.kinds.values().map(|c| c.rederived).sum::<usize>(),
        r.sessions.len()
    );
    for kind in Kind::ALL {
        let c = r.kinds.get(&kind).cloned().unwrap_or_default();
        println!("  {:<10} {} re-derived", kind.name(), c.rederived);
        for (reason, n) in &c.not_rederivable {
            println!("  {:<10} {n} not re-derivable: {reason}", kind.name());
        }
    }
}

fn report_json(r: &CheckReport) -> serde_json::Value {
    let kinds: serde_json::Map<String, serde_json::Value> = Kind::ALL
        .iter()
        .map(|k| {
            let c = r.kinds.get(k).cloned().unwrap_or_default();
            let not: Vec<serde_json::Value> = c
                .not_rederivable
                .iter()
                .map(|(reason, n)| serde_json::json!({ "reason": reason, "count": n }))
                .collect();
            (k.name().to_string(), serde_json::json!({ "rederived": c.rederived, "not_rederivable": not }))
        })
        .collect();
    serde_json::json!({
        "ok": r.divergence.is_none(),
        "sessions": r.sessions.len(),
        "kinds": kinds,
        "divergence": r.divergence.as_ref().map(|d| serde_json::json!({
            "kind": d.kind.name(),
            "seq": d.seq,
            "session": d.session,
            "job": d.job,
            "allocation": d.allocation,
            "field": d.field,
            "recorded": d.recorded,
            "rederived": d.rederived,
        })),
    })
}
