//! `maand-journal verify [--allowed-signers FILE]`: exit 0 when everything
//! agrees, 1 naming the first bad sequence number otherwise. With
//! `--allowed-signers`, also every session's signature: who signed it, and
//! a failure for a bad signature or a missing one where one is required.

use maand::bucket::BucketPaths;
use maand::error::{Error, Result};
use maand::signing::{AllowedSigners, SignatureReport, SignatureStatus, check_signatures};
use std::path::PathBuf;

/// Flags of `maand-journal verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Check session signatures against this `ssh-keygen` allowed-signers
    /// file (`principals [options] keytype base64-key` per line).
    #[arg(long, value_name = "FILE")]
    allowed_signers: Option<PathBuf>,
    /// Committed sessions from this one on must be signed (default: from
    /// the first signed session on). `1` requires every session.
    #[arg(long, value_name = "SESSION", requires = "allowed_signers")]
    require_signed_from: Option<u64>,
}

/// Run `maand-journal verify`.
pub fn run(paths: &BucketPaths, args: &Args) -> Result<i32> {
    if args.require_signed_from == Some(0) {
        return Err(Error::usage("--require-signed-from: sessions are numbered from 1"));
    }
    let allowed = args.allowed_signers.as_deref().map(AllowedSigners::load).transpose()?;
    let report = maand::verify::verify(paths)?;
    for note in &report.notes {
        println!("note: {note}");
    }
    let mut code = 0;
    if let Some(first) = report.problems.first() {
        match first.seq {
            Some(seq) => eprintln!("verify failed at event {seq}: {}", first.what),
            None => eprintln!("verify failed: {}", first.what),
        }
        for p in &report.problems[1..] {
            eprintln!("  also: {}{}", p.seq.map(|s| format!("event {s}: ")).unwrap_or_default(), p.what);
        }
        code = 1;
    }
    if let (Some(allowed), Some(file)) = (&allowed, &args.allowed_signers) {
        for note in &allowed.notes {
            println!("note: {}: {note}", file.display());
        }
        let sigs = check_signatures(paths, allowed, args.require_signed_from)?;
        print_signatures(&sigs);
        if !sigs.ok() {
            let bad: Vec<String> = sigs.sessions.iter().filter(|s| !s.ok()).map(|s| s.session.to_string()).collect();
            eprintln!("verify failed: session signature(s) bad or missing: session {}", bad.join(", "));
            code = 1;
        }
    }
    if code == 0 {
        println!(
            "ok: {} events in {} sessions, hash chain intact, {} snapshot(s) match, committed state at #{}",
            report.events, report.sessions, report.snapshots, report.state.seq
        );
    }
    Ok(code)
}

fn print_signatures(r: &SignatureReport) {
    match r.required_from {
        Some(from) => println!("signatures (committed sessions from {from} on must be signed):"),
        None => println!("signatures (no session is signed):"),
    }
    for s in &r.sessions {
        let what = match &s.status {
            SignatureStatus::Signed { principals, key_type, fingerprint, seq, head } => format!(
                "signed by {} ({key_type} {fingerprint}) over head {}… at event {seq}",
                principals.join(" / "),
                &hex(head)[..16]
            ),
            SignatureStatus::Bad(why) => format!("BAD SIGNATURE: {why}"),
            SignatureStatus::Unsigned if s.required => "UNSIGNED (a signature is required)".into(),
            SignatureStatus::Unsigned => "unsigned".into(),
            SignatureStatus::NotCommitted(outcome) => {
                format!("{outcome}, not signed (sessions sign at commit; the next signed head covers it)")
            }
        };
        println!("  session {:<5} {:<16} {what}", s.session, s.command);
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
