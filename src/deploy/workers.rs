//! Worker access for deploy, behind a trait: [`SshWorkers`] (OpenSSH and
//! rsync through [`Transport`]) is the real implementation; the deploy
//! simulation of the tests implements it with a seeded, fault-injecting
//! fleet. Operations are named by what they mean (ship, run a lifecycle
//! target, probe), not by the shell text that does them, so a fake need
//! not parse commands.

use super::stage::worker_dir;
use crate::bucket::BucketPaths;
use crate::error::{Error, Result};
use crate::plan::deploy::Prepared;
use crate::plan::rollout::Tree;
use crate::state::JobSpec;
use crate::transport::{Remote, Transport, shell_quote};
use crate::workspace::manifest::Probe;
use std::time::{Duration, Instant};

/// What deploy does on workers. Implementations must be usable from many
/// threads at once (batches run in parallel).
pub trait Workers: Sync {
    /// One round trip to `ip` before a deploy changes anything: with
    /// `check`, which tools deploy needs (`python3 make rsync bash timeout`)
    /// are missing; with `files` = `(worker.json, jobs.json)`, write them to
    /// `/opt/worker/<bucket>/` (refreshed on every deploy, as the original's
    /// final sync). An error when `ip` cannot be reached.
    fn prepare(&self, ip: &str, check: bool, files: Option<(&str, &str)>) -> Result<Prepared>;
    /// Ship the staged `job` (and the worker's top files) to `ip`; `tree`
    /// is the staged tree being shipped.
    fn ship(&self, ip: &str, job: &str, tree: &Tree) -> Result<()>;
    /// Run a lifecycle target (`make <target>` in the job's directory, see
    /// [`lifecycle_command`]) with the version variables. `Ok` with the exit code; `Err` when it could not run.
    fn lifecycle(&self, ip: &str, job: &str, target: &str, current: &str, new: &str) -> Result<Remote>;
    /// Delete a removed allocation's files (keeping `data/`, `logs/`), or
    /// with `worker_gone` the whole bucket directory.
    fn remove(&self, ip: &str, job: &str, worker_gone: bool) -> Result<Remote>;
    /// One health probe of `spec` on `ip`; `Err` names what failed.
    fn probe(&self, spec: &JobSpec, probe: &Probe, ip: &str, timeout: Duration) -> std::result::Result<(), String>;
    /// Time since an origin of the implementation's choice (health gate budgets).
    fn now(&self) -> Duration;
    /// Pause between health probe attempts.
    fn sleep(&self, d: Duration);
    /// The paths of the staged `job` whose content, presence or mode differ
    /// on `ip` (empty: equal), changing nothing. Only allocations the
    /// original maand deployed are compared; a fleet that cannot compare
    /// says so, and they stay updates.
    fn differences(&self, ip: &str, job: &str, tree: &Tree) -> Result<Vec<String>> {
        let _ = (job, tree);
        Err(Error::op(format!("worker {ip}: these workers cannot compare files")))
    }
}

/// Paths an `rsync --itemize-changes` run would change in content, presence
/// or mode; a changed time, owner or group alone is no difference (the
/// original maand shipped the same bytes at another time).
pub fn itemized_differences(itemized: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in itemized.lines() {
        if let Some(p) = line.strip_prefix("*deleting ") {
            out.push(p.trim().to_string());
            continue;
        }
        let Some((code, path)) = line.split_once(' ') else { continue };
        let c: Vec<char> = code.chars().collect();
        if c.len() != 11 || !"<>ch.*".contains(c[0]) {
            continue;
        }
        let new = code.contains('+');
        let changed = c[1] != 'd' && (c[2] == 'c' || c[3] == 's' || c[5] == 'p');
        if new || changed {
            out.push(path.trim().to_string());
        }
    }
    out
}

/// The rsync filters of [`Workers::ship`]: one transfer carries the
/// worker's top files (`worker.json`, `jobs.json`, `bin/`) and the job's
/// directory, which is mirrored (`--delete`) except its `data/`, `logs/`
/// and `bin/`. Nothing else under the bucket directory is touched: other
/// jobs are excluded, and excluded paths are never deleted. Job names hold
/// no rsync pattern characters (letters, digits, `_`, `-`).
pub fn ship_filters(job: &str) -> Vec<String> {
    let j = format!("/jobs/{job}");
    vec![
        "--delete".into(),
        format!("--filter=protect {j}/data/"),
        format!("--filter=protect {j}/logs/"),
        format!("--filter=protect {j}/bin/"),
        // The top files were never mirrored; keep it so.
        "--filter=protect /bin/***".into(),
        "--include=/worker.json".into(),
        "--include=/jobs.json".into(),
        "--include=/bin/***".into(),
        "--include=/jobs/".into(),
        format!("--include={j}/***"),
        "--exclude=*".into(),
    ]
}

/// The script of [`Workers::prepare`]: one line per finding on stdout
/// (`missing <tool>`, `worker.json: <why>`), so a single session answers
/// both questions.
pub fn prepare_script(bucket_id: &str, check: bool, files: Option<(&str, &str)>) -> String {
    let mut script = String::new();
    if check {
        script.push_str(
            "for t in python3 make rsync bash timeout; do command -v $t >/dev/null 2>&1 || echo \"missing $t\"; done\n",
        );
    }
    if let Some((body, jobs)) = files {
        let b = shell_quote(&format!("/opt/worker/{bucket_id}"));
        script.push_str(&format!(
            "e=$({{ mkdir -p {b} && printf %s {body} > {b}/worker.json && printf %s {jobs} > {b}/jobs.json; }} 2>&1) || echo \"worker.json: $e\"\n",
            body = shell_quote(body),
            jobs = shell_quote(jobs)
        ));
    }
    script.push_str("true\n");
    script
}

/// Read what [`prepare_script`] printed.
pub fn parse_prepared(stdout: &str) -> Prepared {
    let mut p = Prepared::default();
    let mut why: Vec<&str> = Vec::new();
    for line in stdout.lines() {
        if let Some(tool) = line.strip_prefix("missing ") {
            p.missing.push(tool.trim().to_string());
        } else if let Some(e) = line.strip_prefix("worker.json: ") {
            why.push(e.trim());
        } else if !why.is_empty() {
            // The rest of a multi-line error.
            why.push(line.trim());
        }
    }
    if !why.is_empty() {
        p.worker_json_error = Some(why.join(" ").trim().to_string());
    }
    p
}

/// The real workers: OpenSSH and rsync.
pub struct SshWorkers<'a> {
    /// The SSH transport.
    pub transport: &'a Transport,
    /// Bucket paths (the staging directory).
    pub paths: &'a BucketPaths,
    /// Bucket id (`/opt/worker/<bucket_id>`).
    pub bucket_id: &'a str,
    origin: Instant,
}

impl<'a> SshWorkers<'a> {
    /// Workers reached through `transport`.
    pub fn new(transport: &'a Transport, paths: &'a BucketPaths, bucket_id: &'a str) -> Self {
        SshWorkers { transport, paths, bucket_id, origin: Instant::now() }
    }
}

/// The remote command running a lifecycle target of one job: what
/// `bin/runner.py <bucket> <target> --jobs <job>` does (make sure `data/`
/// and `logs/` exist, `make -s -C jobs/<job> <target>` with the version
/// variables, exit with make's status), as one shell line, so no Python
/// interpreter starts per step. `runner.py` stays on the worker for the
/// original's interface (reboot recovery, hooks' `run_runner_target`).
pub fn lifecycle_command(bucket_id: &str, job: &str, target: &str, current: &str, new: &str) -> String {
    let dir = shell_quote(&format!("/opt/worker/{bucket_id}/jobs/{job}"));
    format!(
        "cd {dir} 2>/dev/null || {{ echo {missing} >&2; exit 2; }}; mkdir -p data logs && CURRENT_VERSION={c} NEW_VERSION={n} exec timeout 900 make -s -C {dir} {t}",
        missing = shell_quote(&format!("job {job} is not deployed here")),
        c = shell_quote(current),
        n = shell_quote(new),
        t = shell_quote(target),
    )
}

impl Workers for SshWorkers<'_> {
    fn prepare(&self, ip: &str, check: bool, files: Option<(&str, &str)>) -> Result<Prepared> {
        let r = self.transport.run(ip, &prepare_script(self.bucket_id, check, files))?;
        Ok(parse_prepared(&r.stdout))
    }

    fn ship(&self, ip: &str, job: &str, _tree: &Tree) -> Result<()> {
        let root = worker_dir(self.paths, ip);
        let dest = format!("/opt/worker/{}/", self.bucket_id);
        self.transport.rsync(ip, &root, &dest, &ship_filters(job))?;
        Ok(())
    }

    fn differences(&self, ip: &str, job: &str, _tree: &Tree) -> Result<Vec<String>> {
        let root = worker_dir(self.paths, ip).join("jobs").join(job);
        let dest = format!("/opt/worker/{}/jobs/{job}/", self.bucket_id);
        // What `ship` would do, dry: the same filters, content compared.
        let flags = [
            "--dry-run",
            "--itemize-changes",
            "--delete",
            "--filter=protect /data/",
            "--filter=protect /logs/",
            "--filter=protect /bin/",
        ]
        .map(String::from);
        let r = self.transport.rsync(ip, &root, &dest, &flags)?;
        Ok(itemized_differences(&r.stdout))
    }

    fn lifecycle(&self, ip: &str, job: &str, target: &str, current: &str, new: &str) -> Result<Remote> {
        self.transport.run(ip, &lifecycle_command(self.bucket_id, job, target, current, new))
    }

    fn remove(&self, ip: &str, job: &str, worker_gone: bool) -> Result<Remote> {
        let script = if worker_gone {
            format!("rm -rf /opt/worker/{}", self.bucket_id)
        } else {
            format!(
                "d=/opt/worker/{}/jobs/{}; [ -d \"$d\" ] && find \"$d\" -mindepth 1 -maxdepth 1 ! -name data ! -name logs -exec rm -rf {{}} + ; true",
                self.bucket_id,
                shell_quote(job)
            )
        };
        let r = self.transport.run(ip, &script);
        if worker_gone {
            // Its connection must not linger for the next command.
            self.transport.retire(ip);
        }
        r
    }

    fn probe(&self, spec: &JobSpec, probe: &Probe, ip: &str, timeout: Duration) -> std::result::Result<(), String> {
        super::health::probe(spec, probe, ip, timeout, self.transport)
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_script_checks_tools_and_writes_worker_json() {
        let s = super::prepare_script("b1", true, Some(("{\"a\": 'x'}", "[]")));
        assert!(s.contains("command -v $t"), "{s}");
        assert!(s.contains("printf %s '{\"a\": '\\''x'\\''}' > /opt/worker/b1/worker.json"), "{s}");
        assert!(!super::prepare_script("b1", true, None).contains("worker.json"), "a dry run writes nothing");
        let p = super::parse_prepared(
            "missing make\nmissing rsync\nworker.json: mkdir: cannot create\n directory: Read-only\n",
        );
        assert_eq!(p.missing, ["make", "rsync"]);
        assert_eq!(p.worker_json_error.as_deref(), Some("mkdir: cannot create directory: Read-only"));
        assert_eq!(super::parse_prepared(""), super::Prepared::default());
    }

    #[test]
    fn only_content_presence_and_mode_differ() {
        let out = ".d..t...... ./\n.f..t...... Makefile\n>fcst...... config.env\n>f+++++++++ new.txt\n.f...p..... run.sh\n*deleting   old.txt\ncd+++++++++ sub/\n.f....og... owned\n";
        assert_eq!(super::itemized_differences(out), ["config.env", "new.txt", "run.sh", "old.txt", "sub/"]);
        assert!(super::itemized_differences(".d..t...... ./\n.f..t...... Makefile\n").is_empty());
    }
}
