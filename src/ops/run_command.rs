//! `maand run_command "<sh>"`: a shell command on workers, in their bucket
//! directory when it exists, with `BUCKET_ID` and `WORKER_IP` exported;
//! output prefixed per worker; fails listing the workers that failed.

use crate::bucket::Session;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::transport::{Transport, shell_quote};

/// Run `command` on `ips`, `concurrency` at a time; records each run.
pub fn run(
    session: &mut Session<'_>,
    transport: &Transport,
    bucket_id: &str,
    ips: &[String],
    command: &str,
    concurrency: usize,
) -> Result<()> {
    let script = format!(
        "cd /opt/worker/{b} 2>/dev/null || cd; export BUCKET_ID={b}; export WORKER_IP=\"$MAAND_WORKER_IP\"; {command}",
        b = shell_quote(bucket_id)
    );
    let mut failed = Vec::new();
    let count = ips.len().div_ceil(concurrency.max(1));
    for (i, chunk) in ips.chunks(concurrency.max(1)).enumerate() {
        let step = crate::progress::step_aside(format!("run_command batch {}/{count} [{}]", i + 1, chunk.join(",")));
        let cmds: Vec<(String, String)> = chunk
            .iter()
            .map(|ip| (ip.clone(), format!("MAAND_WORKER_IP={} bash -c {}", shell_quote(ip), shell_quote(&script))))
            .collect();
        let results = super::run_parallel(transport, &cmds);
        step.finish(if results.iter().all(|(_, r, _)| r.as_ref().is_ok_and(|r| r.code == Some(0))) {
            "ok"
        } else {
            "failed"
        });
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
    }
    if !failed.is_empty() {
        return Err(Error::op(format!("command failed on {} worker(s): {}", failed.len(), failed.join(", "))));
    }
    Ok(())
}
