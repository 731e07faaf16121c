//! `maand-journal sessions`.

use maand::bucket::BucketPaths;
use maand::clock::format_ms;
use maand::error::Result;
use maand::journal::{self, JournalReader};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let sessions = journal::reader_sessions(&txn)?;
    if args.json {
        let rows: Vec<_> = sessions
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "command": s.info.command,
                    "command_line": s.info.command_line,
                    "user": s.info.user,
                    "host": s.info.host,
                    "maand_version": s.info.maand_version,
                    "pid": s.info.pid,
                    "started_at": format_ms(s.info.started_at),
                    "ended_at": s.ended_at.map(format_ms),
                    "outcome": s.outcome.word(),
                    "detail": match &s.outcome {
                        journal::Outcome::Failed(e) | journal::Outcome::Aborted(e) => Some(e.clone()),
                        _ => None,
                    },
                    "first_seq": s.first_seq,
                    "last_seq": s.last_seq,
                    "events": s.events,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:<24}  {:<10}  {:>7}  {:<15}  {:<20}  command",
        "id", "started", "outcome", "events", "seq", "user@host"
    );
    for s in &sessions {
        println!(
            "{:>5}  {:<24}  {:<10}  {:>7}  {:<15}  {:<20}  {}",
            s.id,
            format_ms(s.info.started_at),
            s.outcome.word(),
            s.events,
            format!("{}..{}", s.first_seq, s.last_seq),
            format!("{}@{}", s.info.user, s.info.host),
            s.info.command
        );
    }
    Ok(())
}
