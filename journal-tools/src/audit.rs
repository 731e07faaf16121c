//! `maand-journal audit <session>`: a deploy's (or any session's) timeline:
//! waves and plans, batches with workers and order source, lifecycle and
//! hook runs with exit status and duration, health results, KV changes,
//! promotions, outcome. `--json`: JSON Lines instead
//! (`docs/schema/audit.schema.json`): the session, each of its events, a
//! summary.

use maand::bucket::BucketPaths;
use maand::clock::format_ms;
use maand::error::{Error, Result};
use maand::event::Event;
use maand::journal::{self, JournalReader};
use std::ops::ControlFlow;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Session id (see `maand-journal sessions`).
    session: u64,
    /// JSON Lines (docs/schema/audit.schema.json): a `session` object, one
    /// `event` object per event of the session, then a `summary`.
    #[arg(long)]
    json: bool,
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let rec = journal::reader_session(&txn, args.session)?
        .ok_or_else(|| Error::usage(format!("no session {}; `maand-journal sessions` lists them", args.session)))?;
    if args.json {
        return json_lines(&reader, &rec);
    }
    println!(
        "session {} — {} by {}@{} at {} (maand {})",
        rec.id,
        rec.info.command_line.join(" "),
        rec.info.user,
        rec.info.host,
        format_ms(rec.info.started_at),
        rec.info.maand_version
    );
    let mut kv = 0usize;
    journal::for_each_event(&txn, rec.first_seq.., |env| {
        if env.session_id != args.session {
            return Ok(ControlFlow::Continue(()));
        }
        let t = format_ms(env.recorded_at);
        let t = &t[11..23];
        let line = match &env.event {
            Event::UpdateSeqSet { update_seq } => Some(format!("update_seq {update_seq}")),
            Event::JobRolloutPlanned(r) => {
                let mut s = format!(
                    "wave {} job {} — order {} ({})",
                    r.plan.deployment_seq,
                    r.plan.job,
                    r.plan.order.join(","),
                    r.plan.order_source
                );
                for a in &r.plan.allocations {
                    let matched =
                        if a.matched.is_empty() { String::new() } else { format!(" matched={}", a.matched.join(",")) };
                    s.push_str(&format!(
                        "\n               {:<15} {:<8} {} -> {}{matched}",
                        a.ip,
                        a.action.as_str(),
                        a.current_version,
                        a.new_version
                    ));
                }
                Some(s)
            }
            Event::LifecycleOutput { tail, .. } => {
                let mut s = format!("{:<20} {}", env.event.kind(), env.event.summary());
                for line in tail.lines() {
                    s.push_str(&format!("\n               | {line}"));
                }
                Some(s)
            }
            Event::BatchStarted { .. }
            | Event::BatchEnded { .. }
            | Event::LifecycleRan { .. }
            | Event::HealthChecked { .. }
            | Event::HookInvoked(_)
            | Event::AllocationPromoted { .. }
            | Event::AllocationReady { .. }
            | Event::AllocationHealthFailed { .. }
            | Event::AllocationStopped { .. }
            | Event::AllocationUndeployed { .. }
            | Event::LegacyImported { .. }
            | Event::LegacyDeploymentImported { .. }
            | Event::JobDeployFailed { .. }
            | Event::JobDeploySkipped { .. }
            | Event::RollbackStarted { .. }
            | Event::Checkpoint { .. } => Some(format!("{:<20} {}", env.event.kind(), env.event.summary())),
            Event::KvPut { .. } | Event::KvDeleted { .. } | Event::KvPurged { .. } | Event::KvImported { .. } => {
                kv += 1;
                Some(format!("{:<20} {}", env.event.kind(), env.event.summary()))
            }
            Event::SessionCommitted { .. } => Some("outcome: committed".into()),
            Event::SessionFailed { error, .. } => Some(format!("outcome: failed — {error}")),
            Event::SessionAborted { reason, .. } => Some(format!("outcome: aborted — {reason}")),
            _ => None,
        };
        if let Some(l) = line {
            println!("  {t}  {l}");
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if rec.outcome == journal::Outcome::Open {
        println!("  outcome: still open (running, or cut off and not yet marked)");
    }
    if let Some(u) = maand::history::unfinished::of_session(&txn, &rec)? {
        println!("  unfinished: {}", u.sentence());
    }
    println!("  ({} events, {kv} KV change(s))", rec.events);
    Ok(())
}

/// `audit --json`: every event of the session, unfiltered, each with its
/// record's JSON form (as `maand-journal export --jsonl` writes it).
fn json_lines(reader: &JournalReader, rec: &journal::SessionRecord) -> Result<()> {
    let txn = &reader.begin_read()?;
    use serde_json::json;
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut line = |v: serde_json::Value| -> Result<()> {
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(json!({
        "type": "session", "session": rec.id, "command": rec.info.command,
        "command_line": rec.info.command_line, "user": rec.info.user, "host": rec.info.host,
        "maand_version": rec.info.maand_version, "started_at": format_ms(rec.info.started_at),
    }))?;
    let mut kv = 0u64;
    journal::for_each_event(txn, rec.first_seq.., |env| {
        if env.session_id != rec.id {
            return Ok(ControlFlow::Continue(()));
        }
        if matches!(
            env.event,
            Event::KvPut { .. } | Event::KvDeleted { .. } | Event::KvPurged { .. } | Event::KvImported { .. }
        ) {
            kv += 1;
        }
        let record = journal::envelope_json(&env);
        line(json!({
            "type": "event", "seq": env.seq, "recorded_at": format_ms(env.recorded_at),
            "kind": env.event.kind(), "summary": env.event.summary(), "record": record["event"],
        }))?;
        Ok(ControlFlow::Continue(()))
    })?;
    let unfinished = maand::history::unfinished::of_session(txn, rec)?.map(|u| u.sentence());
    line(json!({
        "type": "summary", "command": "audit", "session": rec.id, "outcome": rec.outcome.word(),
        "error": match &rec.outcome {
            journal::Outcome::Failed(e) | journal::Outcome::Aborted(e) => Some(e.clone()),
            _ => None,
        },
        "events": rec.events, "kv_changes": kv, "unfinished": unfinished,
    }))?;
    out.flush()?;
    Ok(())
}
