//! `maand-journal diff <a> <b> [--reveal] [--json]`: what changed between two
//! points of history (sequence numbers, `sN` sessions, `dN` deploys, `head`):
//! catalog, KV, job files, deployed state.

use maand::bucket::BucketPaths;
use maand::error::Result;
use maand::history::diff::{DiffOptions, diff_states, render_text};
use maand::history::{Point, state_at};
use maand::kv::seal::KvKey;

/// Flags of `maand-journal diff`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The earlier point: `123` (event), `s12` (end of session 12), `d7`
    /// (end of deploy 7, i.e. update_seq 7) or `head`.
    a: String,
    /// The later point (same forms).
    b: String,
    /// Show secret values in plain text (reads secrets/kv.key); without it
    /// secrets appear only as "changed".
    #[arg(long)]
    reveal: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Run `maand-journal diff`.
pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    let (pa, pb): (Point, Point) = (args.a.parse()?, args.b.parse()?);
    let key = if args.reveal { Some(KvKey::load(&paths.kv_key())?) } else { None };
    let (ra, sa) = state_at(paths, pa)?;
    let (rb, sb) = state_at(paths, pb)?;
    let d = diff_states(&sa, &sb, &DiffOptions { reveal: key.as_ref() })?;
    if args.json {
        let j = serde_json::json!({ "from": ra, "to": rb, "revealed": args.reveal, "diff": d });
        println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    println!(
        "diff {} = {} (up to event {}) → {} = {} (up to event {})",
        ra.point, ra.describe, ra.seq, rb.point, rb.describe, rb.seq
    );
    print!("{}", render_text(&d, args.reveal));
    Ok(())
}
