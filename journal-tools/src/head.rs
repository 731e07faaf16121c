//! `maand-journal head [--at SEQ] [--json]`: the chain head's hash (or the
//! hash of event SEQ), to anchor the journal elsewhere — a ticket, a CI log —
//! and compare later. The hash covers every event up to it; `verify`
//! checks that the chain leading to it is intact.

use maand::bucket::BucketPaths;
use maand::error::{Error, Result};
use maand::journal::{self, JournalReader};
use std::ops::ControlFlow;

/// Flags of `maand-journal head`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The hash of this event instead of the last one (to check an anchor).
    #[arg(long, value_name = "SEQ")]
    at: Option<u64>,
    /// Print JSON (`seq`, `session`, `hash`, `recorded_at`).
    #[arg(long)]
    json: bool,
}

/// Run `maand-journal head`.
pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let mut head = None;
    let range = match args.at {
        Some(0) => return Err(Error::usage("--at: events are numbered from 1")),
        Some(seq) => seq..=seq,
        None => {
            let n = journal::reader_event_count(&txn)?;
            n.max(1)..=u64::MAX
        }
    };
    journal::for_each_event(&txn, range, |env| {
        head = Some(env);
        Ok(ControlFlow::Continue(()))
    })?;
    let env = head.ok_or_else(|| match args.at {
        Some(seq) => Error::usage(format!("--at {seq}: the journal has no event {seq}")),
        None => Error::op("the journal holds no event"),
    })?;
    let hash: String = env.hash.iter().map(|b| format!("{b:02x}")).collect();
    if args.json {
        let j = serde_json::json!({
            "seq": env.seq,
            "session": env.session_id,
            "hash": hash,
            "recorded_at": env.recorded_at,
        });
        println!("{j}");
    } else {
        println!("{hash} {}", env.seq);
    }
    Ok(())
}
