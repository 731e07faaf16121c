//! `maand-journal export --jsonl`: every event as one JSON object per line
//! (secrets as ciphertext).

use maand::bucket::BucketPaths;
use maand::error::{Error, Result};
use maand::journal::{self, JournalReader};
use std::io::Write;
use std::ops::ControlFlow;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per line (the only format so far; required).
    #[arg(long)]
    jsonl: bool,
}

pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    if !args.jsonl {
        return Err(Error::usage("choose an export format: --jsonl"));
    }
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    // The whole chain is checked as it is exported: an edited or damaged
    // event stops the export naming its sequence number.
    journal::for_each_checked(&txn, 0, |env| {
        serde_json::to_writer(&mut out, &journal::envelope_json(&env))?;
        out.write_all(b"\n")?;
        Ok(ControlFlow::Continue(()))
    })?;
    out.flush()?;
    Ok(())
}
