//! `maand-journal verify`: exit 0 when everything agrees, 1 naming the first
//! bad sequence number otherwise.

use maand::bucket::BucketPaths;
use maand::error::Result;

pub fn run(paths: &BucketPaths) -> Result<i32> {
    let report = maand::verify::verify(paths)?;
    for note in &report.notes {
        println!("note: {note}");
    }
    if let Some(first) = report.problems.first() {
        match first.seq {
            Some(seq) => eprintln!("verify failed at event {seq}: {}", first.what),
            None => eprintln!("verify failed: {}", first.what),
        }
        for p in &report.problems[1..] {
            eprintln!("  also: {}{}", p.seq.map(|s| format!("event {s}: ")).unwrap_or_default(), p.what);
        }
        return Ok(1);
    }
    println!(
        "ok: {} events in {} sessions, hash chain intact, {} snapshot(s) match, committed state at #{}",
        report.events, report.sessions, report.snapshots, report.state.seq
    );
    Ok(0)
}
