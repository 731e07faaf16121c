//! Running planned hook batches: batches one after another, the
//! allocations of a batch in parallel; output streamed as `job@worker | line`
//! (stderr `!`) and written under `logs/runs/<session>/`; the first failing
//! batch stops the run with one error listing every failed worker.

use super::api::{Running, Shared};
use super::stage::stage;
use crate::bucket::BucketPaths;
use crate::error::{Error, Result};
use crate::event::{Event, HookInvocation};
use crate::plan::hooks::Batch;
use crate::state::State;
use crate::workspace::manifest::HookEvent;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Runs hook processes for one session.
pub struct Runner<'a> {
    /// Bucket paths.
    pub paths: &'a BucketPaths,
    /// API state (token, KV, semaphores).
    pub shared: Arc<Shared>,
    /// Port of the runtime API.
    pub port: u16,
    /// Stream output to the terminal.
    pub verbose: bool,
    /// Journal session id (names the log directory).
    pub session: u64,
    /// Where this run stages job copies ([`super::stage::HookStaging`]).
    pub stage_root: &'a Path,
}

struct Outcome {
    invocation: HookInvocation,
    tail: Vec<String>,
    start_error: Option<String>,
}

/// The interpreter for a hook script (SPEC §5): the `.venv` or `venv`
/// Python of the script's folder (`_hooks/`, or the original's
/// `_modules/`), else `python3` on PATH; `bun` for .ts/.js.
pub fn interpreter(paths: &BucketPaths, job: &str, script: &str) -> PathBuf {
    if script.ends_with(".py") {
        let folder = if script.starts_with("_modules/") { "_modules" } else { "_hooks" };
        let hooks = paths.jobs_dir().join(job).join(folder);
        for venv in [".venv", "venv"] {
            let p = hooks.join(venv).join("bin/python3");
            if p.exists() {
                return p;
            }
        }
        PathBuf::from("python3")
    } else {
        PathBuf::from("bun")
    }
}

impl Runner<'_> {
    /// Run `batches` of `hook` (`script`) of `job` for `event`. After each
    /// batch, `record` receives the KV writes the hooks made and one
    /// `HookInvoked` event per process.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        state: &State,
        job: &str,
        hook: &str,
        script: &str,
        event: HookEvent,
        batches: &[Batch],
        record: &mut dyn FnMut(Vec<Event>) -> Result<()>,
    ) -> Result<()> {
        for batch in batches {
            let count = batch.count as u64;
            let ips: Vec<String> = batch.invocations.iter().map(|i| i.ip.clone()).collect();
            // Operator-run hooks show their batches; a deploy shows its own steps.
            let step = matches!(event, HookEvent::Cli | HookEvent::JobControl).then(|| {
                crate::progress::step(format!("{job} {hook} batch {}/{count} [{}]", batch.index + 1, ips.join(",")))
            });
            let outcomes: Vec<Outcome> = crate::ops::fanout::fan_out(
                &batch.invocations,
                |inv| format!("hook {hook} of job {job} on {}", inv.ip),
                |inv| self.one(state, job, hook, script, event, batch.index as u64, count, ips.clone(), inv),
            )
            .into_iter()
            .zip(&batch.invocations)
            .map(|(r, inv)| {
                // A panicked runner thread is that invocation's failure.
                r.unwrap_or_else(|e| Outcome {
                    invocation: HookInvocation {
                        job: job.to_string(),
                        hook: hook.to_string(),
                        event: event.as_str().to_string(),
                        alloc_id: inv.alloc_id.clone(),
                        ip: inv.ip.clone(),
                        batch_index: batch.index as u64,
                        batch_count: count,
                        batch_allocations: ips.clone(),
                        exit_code: None,
                        signal: None,
                        duration_ms: 0,
                    },
                    tail: Vec::new(),
                    start_error: Some(e.message().to_string()),
                })
            })
            .collect();
            let mut events = self.shared.kv.lock().unwrap_or_else(|p| p.into_inner()).drain();
            events.extend(outcomes.iter().map(|o| Event::HookInvoked(Box::new(o.invocation.clone()))));
            let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.invocation.ok()).collect();
            if let Some(step) = step {
                step.finish(if failed.is_empty() { "ok" } else { "failed" });
            }
            for o in &outcomes {
                emit_result(o);
            }
            record(events)?;
            if !failed.is_empty() {
                let lines: Vec<String> = failed
                    .iter()
                    .map(|o| {
                        let how = match (&o.start_error, o.invocation.exit_code, o.invocation.signal) {
                            (Some(e), _, _) => e.clone(),
                            (None, Some(c), _) => format!("exit {c}"),
                            (None, None, Some(sig)) => format!("killed by signal {sig}"),
                            _ => "failed".into(),
                        };
                        format!("  {}: {how}{}", o.invocation.ip, failure_tail(&o.tail))
                    })
                    .collect();
                return Err(Error::op(format!(
                    "hook {hook} of job {job} ({}) failed in batch {}/{} on {} worker(s):\n{}",
                    event.as_str(),
                    batch.index + 1,
                    count,
                    failed.len(),
                    lines.join("\n")
                )));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn one(
        &self,
        state: &State,
        job: &str,
        hook: &str,
        script: &str,
        event: HookEvent,
        batch_index: u64,
        batch_count: u64,
        batch_allocations: Vec<String>,
        inv: &crate::plan::hooks::Invocation,
    ) -> Outcome {
        let started = Instant::now();
        let mut invocation = HookInvocation {
            job: job.to_string(),
            hook: hook.to_string(),
            event: event.as_str().to_string(),
            alloc_id: inv.alloc_id.clone(),
            ip: inv.ip.clone(),
            batch_index,
            batch_count,
            batch_allocations,
            exit_code: None,
            signal: None,
            duration_ms: 0,
        };
        let fail = |mut invocation: HookInvocation, e: String| {
            invocation.duration_ms = started.elapsed().as_millis() as u64;
            Outcome { invocation, tail: Vec::new(), start_error: Some(e) }
        };
        let dir = match stage(self.stage_root, state, &self.shared.kv_key, job, &inv.ip) {
            Ok(d) => d,
            Err(e) => return fail(invocation, format!("staging failed: {e}")),
        };
        let interp = interpreter(self.paths, job, script);
        // One token per process binds its API calls to its own allocation and event.
        let token = match super::new_token() {
            Ok(t) => t,
            Err(e) => return fail(invocation, e.message().to_string()),
        };
        let mut cmd = Command::new(&interp);
        if script.ends_with(".py") {
            cmd.arg("-u");
        } else {
            if let Err(e) = link_node_modules(self.paths, job, &dir) {
                return fail(invocation, format!("staging failed: {e}"));
            }
            // Never a registry download from a hook: packages come from
            // the workspace's `_hooks/node_modules` (`bun install` there).
            cmd.arg("--no-install");
        }
        cmd.arg(dir.join(script))
            .current_dir(self.paths.root())
            .envs(&inv.env)
            .env("HOOK_API_PORT", self.port.to_string())
            // The original's name of HOOK_API_HOST, for scripts written for it.
            .env("JOB_COMMAND_API_HOST", "127.0.0.1")
            .env("HOOK_API_TOKEN", &token)
            .env("PYTHONPATH", pythonpath(&dir))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.shared.running.lock().unwrap_or_else(|p| p.into_inner()).insert(
            token.clone(),
            Running {
                alloc_id: inv.alloc_id.clone(),
                job: job.to_string(),
                ip: inv.ip.clone(),
                event,
                hook: hook.to_string(),
            },
        );
        let result = self.spawn_and_wait(cmd, job, hook, &inv.ip, event.as_str());
        // The token dies with the process: a leftover child cannot use it.
        self.shared.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&token);
        // A hook that exits (or crashes) holding a semaphore releases it.
        self.shared.semaphores.release_all(job, event.as_str(), &inv.alloc_id);
        match result {
            Ok((status, tail)) => {
                invocation.exit_code = status.code();
                invocation.signal = status.signal();
                invocation.duration_ms = started.elapsed().as_millis() as u64;
                Outcome { invocation, tail, start_error: None }
            }
            Err(e) => fail(invocation, format!("cannot start {}: {e}", interp.display())),
        }
    }

    fn spawn_and_wait(
        &self,
        mut cmd: Command,
        job: &str,
        hook: &str,
        ip: &str,
        event: &str,
    ) -> std::io::Result<(std::process::ExitStatus, Vec<String>)> {
        let log_path = self
            .paths
            .logs()
            .join("runs")
            .join(self.session.to_string())
            .join(job)
            .join(hook)
            .join(format!("{ip}.log"));
        if let Some(p) = log_path.parent() {
            std::fs::create_dir_all(p)?;
        }
        let log = Arc::new(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(&log_path)?));
        let mut child = cmd.spawn()?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let prefix = format!("{job}@{ip}");
        let pipes: Vec<(Box<dyn std::io::Read + Send>, char)> = vec![
            (Box::new(child.stdout.take().expect("piped stdout")), '|'),
            (Box::new(child.stderr.take().expect("piped stderr")), '!'),
        ];
        let readers: Vec<_> = pipes
            .into_iter()
            .map(|(pipe, mark)| {
                let (log, tail, prefix, verbose) = (log.clone(), tail.clone(), prefix.clone(), self.verbose);
                let (job_name, worker, phase, hook_name) =
                    (job.to_string(), ip.to_string(), event.to_string(), hook.to_string());
                std::thread::spawn(move || {
                    for line in BufReader::new(pipe).lines().map_while(|l| l.ok()) {
                        let shown = format!("{prefix} {mark} {line}");
                        if verbose {
                            crate::output::stream(&shown);
                        }
                        let _ = writeln!(log.lock().unwrap_or_else(|p| p.into_inner()), "{shown}");
                        crate::logs::record(&[
                            ("event", "hook_output"),
                            ("job", &job_name),
                            ("worker", &worker),
                            ("phase", &phase),
                            ("hook", &hook_name),
                            ("stream", if mark == '!' { "stderr" } else { "stdout" }),
                            ("msg", &line),
                        ]);
                        // Both streams: a hook that reports on stdout and
                        // exits 1 must show why, not only the exit code.
                        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                        t.push(format!("{mark} {line}"));
                        if t.len() > TAIL_LINES {
                            t.remove(0);
                        }
                    }
                })
            })
            .collect();
        let status = child.wait()?;
        // The result is the process's exit status above; a reader thread
        // only copies output, so one that died loses lines, not a failure.
        for r in readers {
            if r.join().is_err() {
                tail.lock().unwrap_or_else(|p| p.into_inner()).push("(maand: an output reader failed)".into());
            }
        }
        let tail = tail.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Ok((status, tail))
    }
}

/// The `result` object of `--json` output for one hook invocation.
fn emit_result(o: &Outcome) {
    let i = &o.invocation;
    let mut r = serde_json::json!({
        "type": "result", "job": i.job, "worker": i.ip, "phase": i.event, "hook": i.hook,
        "ok": i.ok(), "exit_code": i.exit_code, "duration_ms": i.duration_ms,
    });
    if let Some(e) = &o.start_error {
        r["error"] = e.clone().into();
    }
    if let Some(last) = o.tail.last() {
        // The tail keeps the stream mark (`| ` stdout, `! ` stderr).
        let text = last.strip_prefix("| ").or_else(|| last.strip_prefix("! ")).unwrap_or(last);
        r["detail"] = text.into();
    }
    crate::output::emit(r);
}

/// Lines of a hook's output kept for its failure message (`| ` stdout,
/// `! ` stderr, in the order they arrived).
const TAIL_LINES: usize = 20;

/// How many of them a failure message shows.
const SHOWN_LINES: usize = 5;

/// The end of a failed hook's output for its message: the last stderr line
/// after a dash (or the last stdout line when it wrote no stderr), then the
/// last few lines of both streams, indented.
fn failure_tail(tail: &[String]) -> String {
    let text = |l: &String| l.get(2..).unwrap_or_default().to_string();
    let headline = tail.iter().rev().find(|l| l.starts_with('!')).or_else(|| tail.last()).map(text);
    let mut out = headline.map(|h| format!(" — {h}")).unwrap_or_default();
    if tail.len() > 1 {
        for l in &tail[tail.len().saturating_sub(SHOWN_LINES)..] {
            out.push_str(&format!("\n      {l}"));
        }
    }
    out
}

/// Make the workspace's `jobs/<job>/_hooks/node_modules` (what `bun
/// install` wrote there; build skips it) resolvable from the staged copy,
/// as Python hooks use the workspace's venv: a link, not a copy.
fn link_node_modules(paths: &BucketPaths, job: &str, staged: &Path) -> std::io::Result<()> {
    let installed = paths.jobs_dir().join(job).join("_hooks").join("node_modules");
    if !installed.is_dir() {
        return Ok(());
    }
    let hooks = staged.join("_hooks");
    std::fs::create_dir_all(&hooks)?;
    std::os::unix::fs::symlink(&installed, hooks.join("node_modules"))
}

fn pythonpath(dir: &Path) -> String {
    let mut parts = vec![
        dir.join("_hooks").display().to_string(),
        dir.join("_modules").display().to_string(),
        dir.display().to_string(),
    ];
    if let Ok(existing) = std::env::var("PYTHONPATH")
        && !existing.is_empty()
    {
        parts.push(existing);
    }
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::failure_tail;

    #[test]
    fn a_failure_shows_stdout_when_there_is_no_stderr_and_the_last_lines() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            failure_tail(&t(&["| checking disk", "| disk full on /data"])),
            " — disk full on /data\n      | checking disk\n      | disk full on /data"
        );
        assert_eq!(failure_tail(&t(&["! boom"])), " — boom");
        let mixed = failure_tail(&t(&["| a", "! err", "| b", "| c", "| d", "| e", "| f"]));
        assert!(mixed.starts_with(" — err\n") && mixed.ends_with("| f") && !mixed.contains("| a"), "{mixed}");
        assert_eq!(failure_tail(&[]), "");
    }
}
