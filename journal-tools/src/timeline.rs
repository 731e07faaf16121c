//! `maand-journal timeline <session> [--html FILE] [--width N]`: a deploy's
//! waves, jobs, batches, per-worker lifecycle and hook runs and health
//! gates on a time axis — a compact Gantt chart in the terminal, or a
//! self-contained HTML page (no network, no external assets).

use maand::bucket::BucketPaths;
use maand::error::{Context, Error, Result};
use maand::history::timeline;
use std::path::PathBuf;

/// Flags of `maand-journal timeline`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Session id (see `maand-journal sessions`).
    session: u64,
    /// Write a self-contained HTML page here instead of printing the chart
    /// (`-` for standard output).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Width of the terminal chart in characters.
    #[arg(long, default_value_t = 60, value_name = "N")]
    width: usize,
}

/// Run `maand-journal timeline`.
pub fn run(paths: &BucketPaths, args: &Args) -> Result<()> {
    if !(20..=1000).contains(&args.width) {
        return Err(Error::usage(format!("--width {}: expected 20 to 1000 characters", args.width)));
    }
    let t = timeline::load(paths, args.session)?;
    match &args.html {
        None => print!("{}", timeline::render_text(&t, args.width)),
        Some(p) if p.as_os_str() == "-" => print!("{}", timeline::render_html(&t)),
        Some(p) => {
            let page = timeline::render_html(&t);
            std::fs::write(p, &page).with_context(|| format!("writing {}", p.display()))?;
            let bars = t.bars().count();
            let failed = t.bars().filter(|b| b.failed).count();
            println!("wrote {} ({} bytes, {bars} bars, {failed} failed)", p.display(), page.len());
        }
    }
    Ok(())
}
