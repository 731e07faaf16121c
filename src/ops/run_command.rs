//! `maand run_command "<sh>"`: a shell command on workers, in their bucket
//! directory when it exists, with `BUCKET_ID` and `WORKER_IP` exported;
//! output prefixed per worker; fails listing the workers that failed.

use crate::bucket::Session;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::transport::{Transport, shell_quote};

/// Run `command` on `ips`, `concurrency` at a time; records each run.
/// `after_batch` runs after every batch that succeeded (`--health_check`:
/// every job's gate, as the original), before the next one starts.
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
    let mut failed = Vec::new();
    for chunk in ips.chunks(concurrency.max(1)) {
        let cmds: Vec<(String, String)> = chunk
            .iter()
            .map(|ip| (ip.clone(), format!("MAAND_WORKER_IP={} bash -c {}", shell_quote(ip), shell_quote(&script))))
            .collect();
        for (ip, r, ms) in super::run_parallel(transport, &cmds) {
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
        if failed.is_empty() {
            after_batch(session)?;
        }
    }
    if !failed.is_empty() {
        return Err(Error::op(format!("command failed on {} worker(s): {}", failed.len(), failed.join(", "))));
    }
    Ok(())
}
