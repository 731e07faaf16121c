//! `maand-journal show <session | A..B>`.

use maand::bucket::BucketPaths;
use maand::clock::format_ms;
use maand::error::{Error, Result};
use maand::journal::{self, JournalReader};
use std::ops::ControlFlow;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A session id (`7`) or an inclusive range of sequence numbers (`10..20`).
    what: String,
    /// Print JSON (an array of envelopes) instead of lines.
    #[arg(long)]
    json: bool,
}

enum Selection {
    Session(u64),
    Range(u64, u64),
}

fn parse(what: &str) -> Result<Selection> {
    let bad =
        || Error::usage(format!("expected a session id like `7` or a sequence range like `10..20`, got {what:?}"));
    if let Some((a, b)) = what.split_once("..") {
        let a = if a.is_empty() { 1 } else { a.parse().map_err(|_| bad())? };
        let b = if b.is_empty() { u64::MAX } else { b.parse().map_err(|_| bad())? };
        if a > b {
            return Err(bad());
        }
        return Ok(Selection::Range(a, b));
    }
    what.parse().map(Selection::Session).map_err(|_| bad())
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    let sel = parse(&args.what)?;
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let (range, session) = match sel {
        Selection::Range(a, b) => (a..=b, None),
        Selection::Session(id) => {
            let rec = journal::reader_session(&txn, id)?
                .ok_or_else(|| Error::usage(format!("no session {id}; `maand-journal sessions` lists them")))?;
            // Events of an aborted session include the abort marker written later.
            (rec.first_seq..=u64::MAX, Some(id))
        }
    };
    let mut out = Vec::new();
    journal::for_each_event(&txn, range, |env| {
        if session.is_none_or(|id| env.session_id == id) {
            out.push(env);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    if args.json {
        let out: Vec<serde_json::Value> = out.iter().map(journal::envelope_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for env in &out {
        println!(
            "#{:<7} s{:<4} {}  {:<20} {}",
            env.seq,
            env.session_id,
            format_ms(env.recorded_at),
            env.event.kind(),
            env.event.summary()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sessions_and_ranges() {
        assert!(matches!(parse("7"), Ok(Selection::Session(7))));
        assert!(matches!(parse("10..20"), Ok(Selection::Range(10, 20))));
        assert!(matches!(parse("..5"), Ok(Selection::Range(1, 5))));
        assert!(matches!(parse("5.."), Ok(Selection::Range(5, u64::MAX))));
        for bad in ["", "x", "5..3", "1..x", "-1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
