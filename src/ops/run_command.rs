//! `maand run_command "<sh>"`: a shell command on workers, in their bucket
//! directory when it exists, with `BUCKET_ID` and `WORKER_IP` exported;
//! output prefixed per worker; fails listing the workers that failed.

use crate::bucket::Session;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::transport::{Transport, shell_quote};

/// Run `command` on `ips` in batches of `concurrency`; records each run.
/// After each batch that succeeded, `after_batch` runs (the health check of
/// `--health_check`); the first failing batch, or `after_batch` failing,
/// stops the run, as the original does, so a bad command does not reach
/// the whole fleet.
pub fn run(
    session: &mut Session<'_>,
    transport: &Transport,
    bucket_id: &str,
    ips: &[String],
    command: &str,
    concurrency: usize,
    after_batch: &mut dyn FnMut(&mut Session<'_>) -> Result<()>,
) -> Result<()> {
    let script = format!(
        "cd /opt/worker/{b} 2>/dev/null || cd; export BUCKET_ID={b}; export WORKER_IP=\"$MAAND_WORKER_IP\"; {command}",
        b = shell_quote(bucket_id)
    );
    let batches: Vec<&[String]> = ips.chunks(concurrency.max(1)).collect();
    for (index, chunk) in batches.iter().enumerate() {
        let mut failed = Vec::new();
        let step = crate::progress::step_aside(format!(
            "run_command batch {}/{} [{}]",
            index + 1,
            batches.len(),
            chunk.join(",")
        ));
        let cmds: Vec<(String, String)> = chunk
            .iter()
            .map(|ip| (ip.clone(), format!("MAAND_WORKER_IP={} bash -c {}", shell_quote(ip), shell_quote(&script))))
            .collect();
        let results = super::run_batch(transport, &cmds, step);
        for (ip, r, ms) in results {
            let code = super::show_output(None, &ip, "run_command", &r);
            session.record(Event::RemoteCommandRan {
                ip: ip.clone(),
                command: command.to_string(),
                exit_code: code,
                duration_ms: ms,
            })?;
            if code != Some(0) {
                failed.push(format!("{ip} ({})", code.map_or("unreachable".into(), |c| format!("exit {c}"))));
            }
        }
        let left: Vec<&str> = batches[index + 1..].iter().flat_map(|b| b.iter().map(String::as_str)).collect();
        let skipped =
            if left.is_empty() { String::new() } else { format!("; not run on {} (stopped)", left.join(", ")) };
        if !failed.is_empty() {
            return Err(Error::op(format!(
                "batch {}/{}: command failed on {} worker(s): {}{skipped}",
                index + 1,
                batches.len(),
                failed.len(),
                failed.join(", ")
            )));
        }
        after_batch(session)
            .map_err(|e| Error::op(format!("after batch {}/{}: {}{skipped}", index + 1, batches.len(), e.message())))?;
    }
    Ok(())
}
