//! Day-2 operations on a deployed bucket: commands on workers, job
//! lifecycle targets, health checks.

pub mod fanout;
pub mod gc;
pub mod health_check;
pub mod job;
pub mod run_command;
pub mod worker_facts;

use crate::error::{Error, Result};
use crate::state::State;

/// Workers selected by `-w ips` or `-l labels` (all labels must match), in
/// catalog order; unknown addresses are a usage error.
pub fn select_workers(state: &State, ips: &[String], labels: &[String]) -> Result<Vec<String>> {
    let cat = &state.catalog;
    let unknown: Vec<&str> = ips.iter().filter(|ip| !cat.workers.contains_key(*ip)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!("unknown worker(s): {} (see `maand cat workers`)", unknown.join(", "))));
    }
    let picked: Vec<String> = cat
        .workers_in_order()
        .into_iter()
        .filter(|w| ips.is_empty() || ips.contains(&w.ip))
        // Any of the labels, as the original's `-l a,b`.
        .filter(|w| labels.is_empty() || labels.iter().any(|l| w.labels.contains(l)))
        .map(|w| w.ip.clone())
        .collect();
    if picked.is_empty() {
        return Err(Error::usage("no worker matches the selection"));
    }
    Ok(picked)
}

/// [`run_parallel`] as one progress `step`, finished `ok` when every
/// command exited 0, else `failed`.
pub fn run_batch(
    transport: &crate::transport::Transport,
    cmds: &[(String, String)],
    step: crate::progress::Step,
) -> Vec<(String, Result<crate::transport::Remote>, u64)> {
    let results = run_parallel(transport, cmds);
    let all_ok = results.iter().all(|(_, r, _)| r.as_ref().is_ok_and(|r| r.code == Some(0)));
    step.finish(if all_ok { "ok" } else { "failed" });
    results
}

/// Run `(worker, command)` pairs in parallel; one result per pair, in
/// input order, with each command's wall time in milliseconds (a panicked
/// run is that worker's failure, see [`fanout`]).
pub fn run_parallel(
    transport: &crate::transport::Transport,
    cmds: &[(String, String)],
) -> Vec<(String, Result<crate::transport::Remote>, u64)> {
    let out = fanout::fan_out(
        cmds,
        |(ip, _)| format!("worker {ip}"),
        |(ip, cmd)| {
            let t = std::time::Instant::now();
            (transport.run(ip, cmd), t.elapsed().as_millis() as u64)
        },
    );
    cmds.iter()
        .zip(out)
        .map(|((ip, _), r)| match r {
            Ok((r, ms)) => (ip.clone(), r, ms),
            Err(e) => (ip.clone(), Err(e), 0),
        })
        .collect()
}

/// Print a remote result's output prefixed `job@worker |` (stderr `!`) and
/// log it; the exit code, `None` when the worker could not be reached.
pub fn show_output(job: Option<&str>, ip: &str, phase: &str, r: &Result<crate::transport::Remote>) -> Option<i32> {
    let who = job.map_or_else(|| ip.to_string(), |j| format!("{j}@{ip}"));
    match r {
        Ok(out) => {
            for (mark, text) in [('|', &out.stdout), ('!', &out.stderr)] {
                for line in text.lines() {
                    crate::output::stream(&format!("{who} {mark} {line}"));
                }
            }
            log_output(job, ip, phase, out);
            crate::output::emit(serde_json::json!({
                "type": "result", "job": job, "worker": ip, "phase": phase, "ok": out.code == Some(0),
                "exit_code": out.code, "stdout": out.stdout, "stderr": out.stderr,
            }));
            out.code
        }
        Err(e) => {
            crate::output::stream(&format!("{who} ! {e}"));
            crate::output::emit(serde_json::json!({
                "type": "result", "job": job, "worker": ip, "phase": phase, "ok": false,
                "exit_code": null, "error": e.message(),
            }));
            None
        }
    }
}

/// Log every line of a remote result's output (`logs/`: the run's file and
/// the worker's), one `output` record per line with its stream.
pub fn log_output(job: Option<&str>, ip: &str, phase: &str, out: &crate::transport::Remote) {
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for line in text.lines() {
            crate::logs::record(&[
                ("event", "output"),
                ("job", job.unwrap_or("")),
                ("worker", ip),
                ("phase", phase),
                ("stream", stream),
                ("msg", line),
            ]);
        }
    }
}
