//! `maand deploy` (SPEC §6). Every decision is made by the pure deploy
//! machine ([`crate::plan::deploy`]); this module checks the control host,
//! opens the session and executes the machine's steps ([`exec`]) on the
//! workers ([`workers::Workers`]: OpenSSH and rsync, or the simulated
//! fleet of the tests) and the hook runner.

pub mod exec;
pub mod health;
pub mod http_probe;
pub mod recorded;
pub mod stage;
pub mod workers;

use crate::bucket::{Bucket, session_info};
use crate::error::{Error, Result};
use crate::hooks::{HookRunner, ProcessHooks};
use crate::kv::seal::KvKey;
use crate::plan::deploy::{DeployInput, DeployResult, JobIssue};
use crate::plan::rollout::RolloutFlags;
use crate::transport::Transport;
pub use workers::{SshWorkers, Workers, lifecycle_command};

/// Flags of a deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    /// Only these jobs (empty = all).
    pub jobs: Vec<String>,
    /// Plan and print, change nothing.
    pub dry_run: bool,
    /// Update every active allocation.
    pub force: bool,
    /// Ship files only; a needed start is an error.
    pub sync_only: bool,
    /// Stream hook output.
    pub verbose: bool,
    /// Test-only planted bug: promote each batch before its health gate
    /// (the deploy simulation must catch it). Recorded as a test switch.
    #[cfg(feature = "plant-promote-before-gate")]
    pub plant_promote_before_gate: bool,
}

/// What a deploy did.
#[derive(Debug, Clone, Default)]
pub struct DeployReport {
    /// Journal session.
    pub session: u64,
    /// The deploy's update_seq.
    pub update_seq: u64,
    /// Jobs promoted.
    pub promoted: Vec<String>,
    /// Jobs already up to date.
    pub up_to_date: Vec<String>,
    /// Jobs that failed, and why (the other jobs went on).
    pub failed: Vec<JobIssue>,
    /// Jobs skipped because they demand a failed or skipped job, and why.
    pub skipped: Vec<JobIssue>,
}

impl DeployReport {
    /// `Err` with the summary of every failed and skipped job (exit 1)
    /// when there is one, else the report.
    pub fn into_result(self) -> Result<DeployReport> {
        let summary = DeployResult {
            promoted: self.promoted.clone(),
            up_to_date: self.up_to_date.clone(),
            failed: self.failed.clone(),
            skipped: self.skipped.clone(),
        };
        match summary.failure() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

/// Run a deploy on an open bucket over SSH, with hook processes. A deploy
/// that failed or skipped jobs is `Ok` with them listed
/// ([`DeployReport::into_result`] makes it the command's error).
pub fn run(bucket: &mut Bucket, opts: &DeployOptions) -> Result<DeployReport> {
    check_jobs(bucket, opts)?;
    check_bun(bucket, &opts.jobs)?;
    with_ssh_workers(bucket, |bucket, workers| run_report(bucket, opts, workers, &ProcessHooks))
}

/// Bun is installed when a selected job (all when `jobs` is empty) has
/// `.ts`/`.js` hooks.
pub(crate) fn check_bun(bucket: &Bucket, jobs: &[String]) -> Result<()> {
    let needs_bun = bucket
        .state
        .catalog
        .jobs
        .values()
        .filter(|j| jobs.is_empty() || jobs.contains(&j.spec.name))
        .any(|j| j.spec.hooks.values().any(|h| !h.script.ends_with(".py")));
    if needs_bun && which::which("bun").is_err() {
        return Err(Error::usage(
            "bun is not installed on this control host, and a selected job has .ts/.js hooks (npm install -g bun)",
        ));
    }
    Ok(())
}

/// Run `f` with the bucket's SSH workers after the control host checks a
/// deploy needs (`maand rollback` ships through the same path).
pub(crate) fn with_ssh_workers<T>(
    bucket: &mut Bucket,
    f: impl FnOnce(&mut Bucket, &dyn Workers) -> Result<T>,
) -> Result<T> {
    let bucket_id = bucket.require_id()?;
    let transport = Transport::new(&bucket.paths, &bucket.conf);
    transport.check_local()?;
    for tool in ["ssh", "rsync", "python3"] {
        if which::which(tool).is_err() {
            return Err(Error::usage(format!("{tool} is not installed on this control host")));
        }
    }
    let paths = bucket.paths.clone();
    let workers = SshWorkers::new(&transport, &paths, &bucket_id);
    f(bucket, &workers)
}

/// `--jobs` names only known jobs.
fn check_jobs(bucket: &Bucket, opts: &DeployOptions) -> Result<()> {
    let cat = &bucket.state.catalog;
    let unknown: Vec<&str> = opts.jobs.iter().filter(|j| !cat.jobs.contains_key(*j)).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(Error::usage(format!("--jobs: unknown job(s) {} (see `maand cat jobs`)", unknown.join(", "))));
    }
    Ok(())
}

/// Run a deploy on an open bucket with the given workers and hook runner
/// (the real ones, or the simulation's); failed or skipped jobs are the
/// error.
pub fn run_with(
    bucket: &mut Bucket,
    opts: &DeployOptions,
    workers: &dyn Workers,
    hooks: &dyn HookRunner,
) -> Result<DeployReport> {
    run_report(bucket, opts, workers, hooks)?.into_result()
}

/// [`run_with`], a deploy that failed or skipped jobs being `Ok` with them
/// listed in the report (the session then ends failed, what was promoted
/// staying promoted).
pub fn run_report(
    bucket: &mut Bucket,
    opts: &DeployOptions,
    workers: &dyn Workers,
    hooks: &dyn HookRunner,
) -> Result<DeployReport> {
    check_jobs(bucket, opts)?;
    let cat = &bucket.state.catalog;
    let mut jobs: Vec<(u64, String)> = cat
        .jobs
        .values()
        .filter(|j| opts.jobs.is_empty() || opts.jobs.contains(&j.spec.name))
        .map(|j| (j.spec.deployment_seq, j.spec.name.clone()))
        .collect();
    // A rolled-back job stays as it was rolled back until released.
    jobs.retain(|(_, job)| match bucket.state.pinned.get(job) {
        Some((to, _)) => {
            crate::output::say(&format!(
                "{job}: pinned (rolled back to {to}); skipped — `maand rollback --release {job}` or a change to its \
                 workspace files releases it"
            ));
            false
        }
        None => true,
    });
    jobs.sort();
    let update_seq = bucket.state.update_seq + if opts.dry_run { 0 } else { 1 };
    let input = DeployInput {
        jobs,
        all_jobs: opts.jobs.is_empty(),
        update_seq,
        flags: RolloutFlags { force: opts.force, sync_only: opts.sync_only },
        dry_run: opts.dry_run,
        #[cfg(feature = "plant-promote-before-gate")]
        plant_promote_before_gate: opts.plant_promote_before_gate,
    };
    #[allow(unused_mut)]
    let mut info = session_info(if opts.dry_run { "deploy --dry-run" } else { "deploy" });
    #[cfg(feature = "plant-promote-before-gate")]
    if opts.plant_promote_before_gate {
        info.test_switches.push("PLANT_PROMOTE_BEFORE_GATE".into());
    }
    drive(bucket, opts, Drive { workers, hooks, input, info, release: None, first: Vec::new() })
}

/// One deploy session: what runs it and what it is.
pub(crate) struct Drive<'a> {
    /// The workers.
    pub workers: &'a dyn Workers,
    /// The hook runner.
    pub hooks: &'a dyn HookRunner,
    /// The machine's input.
    pub input: DeployInput,
    /// The session's description.
    pub info: crate::event::SessionInfo,
    /// A rollback's recorded bytes.
    pub release: Option<&'a recorded::Release>,
    /// Events recorded (and checkpointed) before the machine starts.
    pub first: Vec<crate::event::Event>,
}

/// Run one deploy session to its end (commit, or fail; a dry run persists
/// nothing).
pub(crate) fn drive(bucket: &mut Bucket, opts: &DeployOptions, d: Drive<'_>) -> Result<DeployReport> {
    let bucket_id = bucket.require_id()?;
    let kv_key = KvKey::load(&bucket.paths.kv_key())?;
    let Drive { workers, hooks, input, info, release, first } = d;
    let update_seq = input.update_seq;
    let env = exec::Env { workers, hooks, kv_key: &kv_key, bucket_id: &bucket_id, verbose: opts.verbose, release };
    // Staged trees hold rendered secrets and decrypted keys: start from an
    // empty staging area (a dry run's or a killed deploy's is removed) and
    // leave none behind, except a dry run's, which is its output.
    let staging = StagingCleanup { dir: stage::workers_dir(&bucket.paths), keep: opts.dry_run };
    staging.clear()?;
    let mut session = bucket.begin(info)?;
    if !first.is_empty() {
        for e in first {
            if let Err(e) = session.record(e) {
                return session.finish(Err(e));
            }
        }
        let r = if opts.dry_run { session.flush() } else { session.checkpoint("rollback source") };
        if let Err(e) = r {
            return session.finish(Err(e));
        }
    }
    let result = exec::execute(&mut session, &env, input);
    match result {
        // A job failed or was skipped: the others ran (and what they
        // promoted is checkpointed); the command fails with the summary.
        Ok(r) if r.failure().is_some() => {
            let e = r.failure().unwrap_or_else(|| Error::op("deploy failed"));
            crate::logs::record(&[("event", "deploy_failed"), ("msg", e.message())]);
            let session_id = session.id();
            session.fail(&e)?;
            let (promoted, up_to_date, failed, skipped) = (r.promoted, r.up_to_date, r.failed, r.skipped);
            Ok(DeployReport { session: session_id, update_seq, promoted, up_to_date, failed, skipped })
        }
        Ok(r) if !opts.dry_run => {
            let report = DeployReport {
                session: session.id(),
                update_seq,
                promoted: r.promoted,
                up_to_date: r.up_to_date,
                ..Default::default()
            };
            // Best-effort; only a journal error stops the commit.
            if let Err(e) = crate::prometheus::push::after_deploy(&mut session, &kv_key) {
                return session.finish(Err(e));
            }
            session.commit()?;
            Ok(report)
        }
        Ok(r) => {
            // A dry run persists nothing: end the session without committing.
            session.fail(&Error::op("dry run: nothing persisted"))?;
            Ok(DeployReport {
                session: 0,
                update_seq,
                promoted: r.promoted,
                up_to_date: r.up_to_date,
                ..Default::default()
            })
        }
        Err(e) => session.finish(Err(e)),
    }
}

/// Empties deploy's staging area when the deploy ends, however it ends.
///
/// Every staged *file* goes (they hold rendered secrets and decrypted
/// keys); the directories stay for the next deploy to stage into. Removing
/// a directory frees its block, and on a filesystem mounted with `discard`
/// (common on cloud disks) each freed block is a synchronous discard: 16
/// workers' staging trees cost ~250 ms to delete that way here, and almost
/// nothing when only their files go (docs/performance.md). Directories no
/// deploy staged into for a week are removed.
struct StagingCleanup {
    dir: std::path::PathBuf,
    keep: bool,
}

impl StagingCleanup {
    fn clear(&self) -> Result<()> {
        stage::remove_staged_files(&self.dir, std::time::Duration::from_secs(7 * 24 * 3600))
            .map_err(|e| Error::op(format!("clearing {}: {e}", self.dir.display())))
    }
}

impl Drop for StagingCleanup {
    fn drop(&mut self) {
        if !self.keep {
            let _ = self.clear();
        }
    }
}
