//! `maand-journal replay [--until <seq|s<session>>] [--db PATH]` and
//! `maand-journal replay --check [--session S]`.

use maand::bucket::BucketPaths;
use maand::error::{Error, Result};
use maand::journal::{self, JournalReader};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Re-run the rollout planner on every recorded deploy plan and fail on
    /// the first divergence (the determinism check).
    #[arg(long)]
    check: bool,
    /// With --check: only this session.
    #[arg(long, requires = "check")]
    session: Option<u64>,
    /// Fold up to this sequence number, or to the end of session `sN`.
    #[arg(long, conflicts_with = "check")]
    until: Option<String>,
    /// Write a maand.db of the replayed state here.
    #[arg(long, conflicts_with = "check")]
    db: Option<std::path::PathBuf>,
    /// Test only: simulate a non-deterministic planner (must make --check
    /// fail). It can only turn a pass into a failure, and it announces
    /// itself on stderr every time, so it cannot alter a real check unseen.
    #[arg(long, hide = true, requires = "check")]
    inject_nondeterminism: bool,
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<i32> {
    if args.check {
        if args.inject_nondeterminism {
            eprintln!("replay --check: TEST SWITCH --inject-nondeterminism is on: the planner is perturbed on purpose");
        }
        let r = maand::replay::check(paths, args.session, args.inject_nondeterminism)?;
        if let Some(d) = r.divergence {
            eprintln!(
                "replay --check: the plan recorded at event {} (session {}) for job {} differs when planned again",
                d.seq, d.session, d.recorded.job
            );
            eprintln!("recorded:  {}", maand::journal::plan_json(&d.recorded));
            match d.replanned {
                Ok(p) => eprintln!("replanned: {}", maand::journal::plan_json(&p)),
                Err(e) => eprintln!("replanned: error: {e}"),
            }
            return Ok(1);
        }
        println!("replay --check: {} plan(s) in {} deploy session(s) replanned identically", r.plans, r.sessions.len());
        return Ok(0);
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
