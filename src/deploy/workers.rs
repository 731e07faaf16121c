//! Worker access for deploy, behind a trait: [`SshWorkers`] (OpenSSH and
//! rsync through [`Transport`]) is the real implementation; the deploy
//! simulation of the tests implements it with a seeded, fault-injecting
//! fleet. Operations are named by what they mean (ship, run a lifecycle
//! target, probe), not by the shell text that does them, so a fake need
//! not parse commands.

use super::stage::worker_dir;
use crate::bucket::BucketPaths;
use crate::error::{Error, Result};
use crate::plan::rollout::Tree;
use crate::state::JobSpec;
use crate::transport::{Remote, Transport, shell_quote};
use crate::workspace::manifest::Probe;
use std::time::{Duration, Instant};

/// What deploy does on workers. Implementations must be usable from many
/// threads at once (batches run in parallel).
pub trait Workers: Sync {
    /// The tools deploy needs (`python3 make rsync bash timeout`) that are
    /// missing on `ip`; an error when it cannot be reached.
    fn missing_tools(&self, ip: &str) -> Result<Vec<String>>;
    /// Write `/opt/worker/<bucket>/worker.json` (`body`) and `jobs.json`
    /// (`jobs`; refreshed on every deploy, as the original's final sync).
    fn write_worker_json(&self, ip: &str, body: &str, jobs: &str) -> Result<()>;
    /// Ship the staged `job` (and the worker's top files) to `ip`; `tree`
    /// is the staged tree being shipped.
    fn ship(&self, ip: &str, job: &str, tree: &Tree) -> Result<()>;
    /// Run a lifecycle target (`runner.py <target> --jobs <job>`) with the
    /// version variables. `Ok` with the exit code; `Err` when it could not run.
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

/// The remote command running a lifecycle target through `bin/runner.py`.
pub fn runner_command(bucket_id: &str, job: &str, target: &str, current: &str, new: &str) -> String {
    format!(
        "cd /opt/worker/{b} && CURRENT_VERSION={c} NEW_VERSION={n} timeout 900 python3 bin/runner.py {b} {t} --jobs {j}",
        b = bucket_id,
        c = shell_quote(current),
        n = shell_quote(new),
        t = shell_quote(target),
        j = shell_quote(job)
    )
}

impl Workers for SshWorkers<'_> {
    fn missing_tools(&self, ip: &str) -> Result<Vec<String>> {
        let script =
            "for t in python3 make rsync bash timeout; do command -v $t >/dev/null 2>&1 || echo \"missing $t\"; done";
        let r = self.transport.run(ip, script)?;
        Ok(r.stdout.lines().filter_map(|l| l.strip_prefix("missing ")).map(|t| t.trim().to_string()).collect())
    }

    fn write_worker_json(&self, ip: &str, body: &str, jobs: &str) -> Result<()> {
        let script = format!(
            "mkdir -p /opt/worker/{b} && printf %s {body} > /opt/worker/{b}/worker.json && printf %s {jobs} > /opt/worker/{b}/jobs.json",
            b = shell_quote(self.bucket_id),
            body = shell_quote(body),
            jobs = shell_quote(jobs)
        );
        let r = self.transport.run(ip, &script)?;
        if !r.ok() {
            return Err(Error::op(format!("worker {ip}: writing worker.json failed: {}", r.stderr.trim())));
        }
        Ok(())
    }

    fn ship(&self, ip: &str, job: &str, _tree: &Tree) -> Result<()> {
        let root = worker_dir(self.paths, ip);
        let dest = format!("/opt/worker/{}/", self.bucket_id);
        let top =
            ["--include=/worker.json", "--include=/jobs.json", "--include=/bin/***", "--exclude=*"].map(String::from);
        self.transport.rsync(ip, &root, &dest, &top)?;
        let keep = ["--delete", "--filter=protect /data/", "--filter=protect /logs/", "--filter=protect /bin/"]
            .map(String::from);
        self.transport.rsync(ip, &root.join("jobs").join(job), &format!("{dest}jobs/{job}/"), &keep)?;
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
        self.transport.run(ip, &runner_command(self.bucket_id, job, target, current, new))
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
    fn only_content_presence_and_mode_differ() {
        let out = ".d..t...... ./\n.f..t...... Makefile\n>fcst...... config.env\n>f+++++++++ new.txt\n.f...p..... run.sh\n*deleting   old.txt\ncd+++++++++ sub/\n.f....og... owned\n";
        assert_eq!(super::itemized_differences(out), ["config.env", "new.txt", "run.sh", "old.txt", "sub/"]);
        assert!(super::itemized_differences(".d..t...... ./\n.f..t...... Makefile\n").is_empty());
    }
}
