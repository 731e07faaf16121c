//! The deploy simulation: a seeded, fault-injecting fleet behind the
//! [`Workers`] trait and a fake [`HookRunner`], driving the real deploy
//! (the core's deploy machine through the shell's executor, the real
//! journal, staging and projection) on random workspaces, then checking
//! invariants on the journal it leaves.
//!
//! Everything random comes from the seed: a per-seed ChaCha stream for the
//! workspace and fault rates, and for each worker operation a value derived
//! from (seed, operation, worker, job, n-th call), so parallel batches draw
//! the same faults in any thread order and a seed replays exactly.
#![allow(dead_code)]

use maand::bucket::{Bucket, BucketPaths, OpenOptions, Session};
use maand::deploy::{DeployOptions, DeployReport, Workers, run_with};
use maand::error::{Error, Result};
use maand::event::{Event, HookInvocation, KvValue};
use maand::hooks::{HookRequest, HookRunner};
use maand::journal::{self, DeathPoint, JournalReader};
use maand::plan::deploy::Prepared;
use maand::plan::hooks::HookRun;
use maand::plan::rollout::{Action, JobPlan, Tree, tree_hash};
use maand::state::{Fold, JobSpec, State};
use maand::transport::Remote;
use maand::workspace::manifest::Probe;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Fault rates of one simulated run (0 = never).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// An SSH operation fails to connect.
    pub ssh: f64,
    /// rsync fails.
    pub rsync: f64,
    /// A lifecycle target exits non-zero.
    pub exit: f64,
    /// A started service never becomes healthy (until its next lifecycle).
    pub broken: f64,
    /// Upper bound of a slow start (ms of virtual time before healthy).
    pub slow_ms: u64,
    /// A hook process fails.
    pub hook: f64,
    /// A worker task panics.
    pub panic: f64,
}

impl Faults {
    /// Random rates (each fault kind on in about half the seeds).
    pub fn random(rng: &mut ChaCha8Rng) -> Faults {
        let slow_ms = if rng.random_bool(0.5) { rng.random_range(0..3000) } else { 0 };
        let mut p = |max: f64| if rng.random_bool(0.5) { rng.random_range(0.0..max) } else { 0.0 };
        Faults { ssh: p(0.08), rsync: p(0.1), exit: p(0.15), broken: p(0.15), slow_ms, hook: p(0.1), panic: p(0.03) }
    }
}

/// One allocation as the simulated worker sees it.
#[derive(Debug, Clone, Default)]
pub struct SimAlloc {
    /// Hash of the tree last shipped.
    pub shipped: Option<String>,
    /// What runs: (tree hash, version).
    pub running: Option<(String, String)>,
    /// Virtual time at which it answers probes.
    pub healthy_at: u64,
    /// Never healthy until its next lifecycle.
    pub broken: bool,
}

#[derive(Debug, Default)]
struct World {
    allocs: BTreeMap<(String, String), SimAlloc>,
    lifecycle_runs: u64,
}

/// The simulated fleet: every worker the catalog names, reachable or not
/// as the faults decide.
pub struct SimFleet {
    seed: u64,
    faults: Mutex<Faults>,
    world: Mutex<World>,
    clock_ms: AtomicU64,
    counters: Mutex<BTreeMap<String, u64>>,
    death: Mutex<Option<Arc<DeathPoint>>>,
    /// Tests: this operation (`lifecycle`, `probe`) panics on this worker.
    pub panic_on: Mutex<Option<(String, String)>>,
    /// Faults injected so far, by kind.
    pub injected: Mutex<BTreeMap<&'static str, u64>>,
}

/// FNV-1a, stable across platforms and Rust versions (seeds must replay).
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.iter().chain(&[0xff]) {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl SimFleet {
    /// A fleet for `seed` with no faults yet.
    pub fn new(seed: u64) -> SimFleet {
        SimFleet {
            seed,
            faults: Mutex::new(Faults::default()),
            world: Mutex::new(World::default()),
            clock_ms: AtomicU64::new(0),
            counters: Mutex::new(BTreeMap::new()),
            death: Mutex::new(None),
            panic_on: Mutex::new(None),
            injected: Mutex::new(BTreeMap::new()),
        }
    }

    /// Set the fault rates.
    pub fn set_faults(&self, f: Faults) {
        *self.faults.lock().unwrap() = f;
    }

    /// The simulated process dies with `d` (workers stop acting too).
    pub fn set_death(&self, d: Option<Arc<DeathPoint>>) {
        *self.death.lock().unwrap() = d;
    }

    fn dead(&self) -> bool {
        self.death.lock().unwrap().as_ref().is_some_and(|d| d.is_dead())
    }

    /// A deterministic uniform draw in [0, 1) for the n-th call of `key`.
    pub fn draw(&self, key: &str) -> f64 {
        let n = {
            let mut c = self.counters.lock().unwrap();
            let n = c.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let mut rng = ChaCha8Rng::seed_from_u64(fnv(&[&self.seed.to_le_bytes(), key.as_bytes(), &n.to_le_bytes()]));
        rng.random::<f64>()
    }

    fn roll(&self, kind: &'static str, key: &str, p: f64) -> bool {
        let hit = p > 0.0 && self.draw(&format!("{kind}/{key}")) < p;
        if hit {
            *self.injected.lock().unwrap().entry(kind).or_insert(0) += 1;
        }
        hit
    }

    fn panics(&self, op: &str, ip: &str) -> bool {
        self.panic_on.lock().unwrap().as_ref().is_some_and(|(o, i)| o == op && i == ip)
    }

    fn now_ms(&self) -> u64 {
        self.clock_ms.load(Ordering::SeqCst)
    }

    fn connect(&self, op: &str, ip: &str, job: &str) -> Result<()> {
        if self.dead() {
            return Err(Error::op("simulated process death: no more worker operations"));
        }
        let f = self.faults.lock().unwrap().clone();
        if self.roll("panic", &format!("{op}/{ip}/{job}"), f.panic) {
            panic!("simulated panic in {op} on {ip}");
        }
        if self.roll("ssh", &format!("{op}/{ip}/{job}"), f.ssh) {
            return Err(Error::op(format!("worker {ip}: cannot connect over SSH (simulated)")));
        }
        Ok(())
    }

    /// A copy of what the workers hold.
    pub fn allocs(&self) -> BTreeMap<(String, String), SimAlloc> {
        self.world.lock().unwrap().allocs.clone()
    }

    /// Lifecycle targets run so far.
    pub fn lifecycle_runs(&self) -> u64 {
        self.world.lock().unwrap().lifecycle_runs
    }

    /// Whether an allocation answers probes now.
    pub fn healthy(&self, a: &SimAlloc) -> bool {
        a.running.is_some() && !a.broken && self.now_ms() >= a.healthy_at
    }
}

fn ok_remote() -> Remote {
    Remote { code: Some(0), stdout: String::new(), stderr: String::new() }
}

impl Workers for SimFleet {
    fn prepare(&self, ip: &str, check: bool, _files: Option<(&str, &str)>) -> Result<Prepared> {
        self.connect(if check { "check" } else { "worker_json" }, ip, "")?;
        Ok(Prepared::default())
    }

    fn ship(&self, ip: &str, job: &str, tree: &Tree) -> Result<()> {
        self.connect("ship", ip, job)?;
        let p = self.faults.lock().unwrap().rsync;
        if self.roll("rsync", &format!("{ip}/{job}"), p) {
            return Err(Error::op(format!("worker {ip}: rsync to /opt/worker/b/ failed: simulated")));
        }
        let mut w = self.world.lock().unwrap();
        w.allocs.entry((job.to_string(), ip.to_string())).or_default().shipped = Some(tree_hash(tree));
        Ok(())
    }

    fn lifecycle(&self, ip: &str, job: &str, target: &str, _current: &str, new: &str) -> Result<Remote> {
        if self.panics("lifecycle", ip) {
            panic!("simulated panic in the lifecycle of {job} on {ip}");
        }
        self.connect("lifecycle", ip, job)?;
        let f = self.faults.lock().unwrap().clone();
        let key = format!("{ip}/{job}/{target}");
        if self.roll("exit", &key, f.exit) {
            return Ok(Remote {
                code: Some(2),
                stdout: String::new(),
                stderr: "make: *** [start] Error 2 (simulated)".into(),
            });
        }
        let broken = self.roll("broken", &key, f.broken);
        let slow = if f.slow_ms > 0 { (self.draw(&format!("slow/{key}")) * f.slow_ms as f64) as u64 } else { 0 };
        let now = self.now_ms();
        let mut w = self.world.lock().unwrap();
        w.lifecycle_runs += 1;
        let a = w.allocs.entry((job.to_string(), ip.to_string())).or_default();
        match target {
            "stop" => a.running = None,
            _ => {
                let hash = a.shipped.clone().unwrap_or_default();
                a.running = Some((hash, new.to_string()));
                a.healthy_at = now + slow;
                a.broken = broken;
            }
        }
        Ok(ok_remote())
    }

    fn remove(&self, ip: &str, job: &str, worker_gone: bool) -> Result<Remote> {
        self.connect("remove", ip, job)?;
        let mut w = self.world.lock().unwrap();
        if worker_gone {
            w.allocs.retain(|(_, i), _| i != ip);
        } else if let Some(a) = w.allocs.get_mut(&(job.to_string(), ip.to_string())) {
            a.shipped = None;
        }
        Ok(ok_remote())
    }

    fn probe(&self, spec: &JobSpec, _probe: &Probe, ip: &str, _timeout: Duration) -> std::result::Result<(), String> {
        if self.dead() {
            return Err("simulated process death".into());
        }
        if self.panics("probe", ip) {
            panic!("simulated panic in a health probe on {ip}");
        }
        let w = self.world.lock().unwrap();
        match w.allocs.get(&(spec.name.clone(), ip.to_string())) {
            Some(a) if self.healthy(a) => Ok(()),
            _ => Err(format!("tcp {ip}: connection refused (simulated)")),
        }
    }

    fn now(&self) -> Duration {
        Duration::from_millis(self.now_ms())
    }

    fn sleep(&self, d: Duration) {
        self.clock_ms.fetch_add(d.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Hooks faked: planned by the real hook planner, recorded like the real
/// runner records them, failing as the faults decide; a `pre_deploy` hook
/// sometimes sets the job's rollout order.
pub struct SimHooks<'a> {
    /// The fleet (faults, determinism, death).
    pub fleet: &'a SimFleet,
}

impl HookRunner for SimHooks<'_> {
    fn run(&self, session: &mut Session<'_>, req: &HookRequest) -> Result<usize> {
        if self.fleet.dead() {
            return Err(Error::op("simulated process death: no hooks"));
        }
        let todo = maand::hooks::hooks_on(session.state(), req);
        if todo.is_empty() {
            return Ok(0);
        }
        let state = session.state().clone();
        let versions = maand::plan::hooks::promoted_versions(&state, &req.jobs);
        let p = self.fleet.faults.lock().unwrap().hook;
        for (job, hook, _script) in &todo {
            let run = HookRun {
                job,
                hook,
                event: req.event,
                phase: req.phase,
                filter: req.filter.as_deref(),
                first_start: false,
                bucket_root: "/sim",
                current_versions: &versions,
                extra: req.extra.clone(),
                lifecycle: req.lifecycle.as_ref(),
            };
            // Planned and recorded as the real runner does (HookRunPlanned),
            // on the session's state now: a rollout order an earlier hook
            // of this request wrote counts, as it does for real hooks.
            let batches = maand::hooks::plan_and_record(session, &run)?;
            for batch in &batches {
                let count = batch.count as u64;
                let ips: Vec<String> = batch.invocations.iter().map(|i| i.ip.clone()).collect();
                let mut events = Vec::new();
                if req.event.as_str() == "pre_deploy"
                    && batch.index == 0
                    && self.fleet.draw(&format!("order/{job}")) < 0.3
                {
                    let mut active: Vec<String> = state
                        .catalog
                        .allocations_of(job)
                        .into_iter()
                        .filter(|a| a.active())
                        .map(|a| a.worker_ip.clone())
                        .collect();
                    let mut rng = ChaCha8Rng::seed_from_u64(fnv(&[job.as_bytes(), &self.fleet.seed.to_le_bytes()]));
                    for i in (1..active.len()).rev() {
                        active.swap(i, rng.random_range(0..=i));
                    }
                    events.push(Event::KvPut {
                        namespace: format!("maand/job/{job}"),
                        key: "rollout_order".into(),
                        value: KvValue::Plain(active.join(",")),
                        ttl: 0,
                        at: 0,
                    });
                }
                let mut failed = Vec::new();
                for inv in &batch.invocations {
                    let mut fail = self.fleet.roll("hook", &format!("{job}/{hook}/{}", inv.ip), p);
                    // A job_control hook drives the lifecycle itself.
                    if !fail && req.event.as_str() == "job_control" {
                        let new = req.extra.get("NEW_ALLOCATIONS").is_some_and(|l| l.split(',').any(|i| i == inv.ip));
                        let updated =
                            req.extra.get("UPDATED_ALLOCATIONS").is_some_and(|l| l.split(',').any(|i| i == inv.ip));
                        if new || updated {
                            let version = &state.catalog.jobs[job].spec.version;
                            let target = if new { "start" } else { "restart" };
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                self.fleet.lifecycle(&inv.ip, job, target, "", version)
                            }));
                            fail = !matches!(r, Ok(Ok(r)) if r.ok());
                        }
                    }
                    if fail {
                        failed.push(format!("  {}: exit 1 (simulated)", inv.ip));
                    }
                    events.push(Event::HookInvoked(Box::new(HookInvocation {
                        job: job.clone(),
                        hook: hook.clone(),
                        event: req.event.as_str().to_string(),
                        alloc_id: inv.alloc_id.clone(),
                        ip: inv.ip.clone(),
                        batch_index: batch.index as u64,
                        batch_count: count,
                        batch_allocations: ips.clone(),
                        exit_code: Some(if fail { 1 } else { 0 }),
                        signal: None,
                        duration_ms: 1,
                    })));
                }
                for e in events {
                    session.record(e)?;
                }
                session.flush()?;
                if !failed.is_empty() {
                    return Err(Error::op(format!(
                        "hook {hook} of job {job} ({}) failed in batch {}/{count} on {} worker(s):\n{}",
                        req.event.as_str(),
                        batch.index + 1,
                        failed.len(),
                        failed.join("\n")
                    )));
                }
            }
        }
        Ok(todo.len())
    }
}

/// Where simulated buckets live: tmpfs when there is one (fsyncs are free).
pub fn sim_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() { tempfile::tempdir_in(shm).unwrap() } else { tempfile::tempdir().unwrap() }
}

/// A bucket made by `maand init` once per test process (the CA key is slow
/// to make), copied for each seed.
pub fn template() -> &'static Path {
    static T: OnceLock<tempfile::TempDir> = OnceLock::new();
    T.get_or_init(|| {
        let d = sim_tempdir();
        maand::bucket::init::run(&BucketPaths::new(d.path()), Duration::ZERO).unwrap();
        d
    })
    .path()
}

/// Recursively copy a directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn write(dir: &Path, rel: &str, content: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

/// One simulated job's shape.
#[derive(Debug, Clone)]
pub struct SimJob {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Selector label.
    pub selector: String,
    /// Widths.
    pub upgrades: u64,
    /// 0 = all at once.
    pub starts: u64,
    /// always / reload / never.
    pub policy: String,
    /// Has a health gate.
    pub health: bool,
    /// Hook events it registers.
    pub hooks: Vec<&'static str>,
    /// Its `pre_deploy` hook demands the previous job's (a later wave).
    pub demands_previous: bool,
    /// Has a template using `.CurrentVersion`.
    pub template: bool,
    /// Content of index.html.
    pub content: u32,
}

/// A random workspace.
#[derive(Debug, Clone)]
pub struct SimWorkspace {
    /// Worker addresses.
    pub workers: Vec<String>,
    /// Jobs.
    pub jobs: Vec<SimJob>,
    /// Disabled (job, worker).
    pub disabled: Vec<(String, String)>,
}

impl SimWorkspace {
    /// Draw a workspace.
    pub fn random(rng: &mut ChaCha8Rng) -> SimWorkspace {
        let n = rng.random_range(2..=5);
        let workers = (1..=n).map(|i| format!("10.0.0.{i}")).collect();
        let m = rng.random_range(1..=3);
        let all = ["pre_deploy", "post_deploy", "after_allocation_started", "health_check", "job_control"];
        let jobs = (0..m)
            .map(|j| {
                let hooks = all
                    .iter()
                    .copied()
                    .filter(|e| rng.random_bool(if *e == "job_control" { 0.15 } else { 0.4 }))
                    .collect();
                SimJob {
                    name: format!("j{j}"),
                    version: "1.0.0".into(),
                    selector: if rng.random_bool(0.7) { "worker".into() } else { "even".into() },
                    upgrades: rng.random_range(1..=3),
                    starts: rng.random_range(0..=2),
                    policy: ["always", "always", "reload", "never"][rng.random_range(0..4)].into(),
                    health: rng.random_bool(0.8),
                    hooks,
                    demands_previous: j > 0 && rng.random_bool(0.4),
                    template: rng.random_bool(0.7),
                    content: 1,
                }
            })
            .collect();
        SimWorkspace { workers, jobs, disabled: Vec::new() }
    }

    /// Change it as an operator would between deploys.
    pub fn change(&mut self, rng: &mut ChaCha8Rng) {
        for _ in 0..rng.random_range(1..=3) {
            let j = rng.random_range(0..self.jobs.len());
            match rng.random_range(0..5) {
                0 => self.jobs[j].version = format!("1.{}.0", rng.random_range(1..9)),
                1 => self.jobs[j].content += 1,
                2 => {
                    let ip = self.workers[rng.random_range(0..self.workers.len())].clone();
                    let key = (self.jobs[j].name.clone(), ip);
                    if !self.disabled.contains(&key) {
                        self.disabled.push(key);
                    }
                }
                3 if self.workers.len() > 2 => {
                    self.workers.pop();
                }
                _ => {
                    let next = self.workers.len() + 1;
                    self.workers.push(format!("10.0.0.{next}"));
                }
            }
        }
        self.disabled.retain(|(_, ip)| self.workers.contains(ip));
    }

    /// Write it into the bucket at `dir` (replacing the previous one).
    pub fn write(&self, dir: &Path) {
        let _ = std::fs::remove_dir_all(dir.join("workspace/jobs"));
        let ws: Vec<String> = self
            .workers
            .iter()
            .enumerate()
            .map(|(i, ip)| {
                let parity = if i % 2 == 0 { "even" } else { "odd" };
                format!(r#"{{"host": "{ip}", "labels": ["{parity}"]}}"#)
            })
            .collect();
        write(dir, "workspace/workers.json", &format!("[{}]\n", ws.join(",\n")));
        write(dir, "workspace/bucket.conf", "port_min = \"30000\"\nport_max = \"30999\"\n");
        let mut disabled: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (j, ip) in &self.disabled {
            disabled.entry(j).or_default().push(ip);
        }
        let d: Vec<String> = disabled
            .iter()
            .map(|(j, ips)| {
                format!(
                    r#""{j}": {{"allocations": [{}]}}"#,
                    ips.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        write(dir, "workspace/disabled.json", &format!("{{\"jobs\": {{{}}}}}\n", d.join(",")));
        for (i, job) in self.jobs.iter().enumerate() {
            let mut hooks: Vec<String> = Vec::new();
            for e in &job.hooks {
                let demand = if *e == "pre_deploy" && job.demands_previous {
                    format!(r#", "demands": {{"job": "j{}", "hook": "hook_anchor"}}"#, i - 1)
                } else {
                    String::new()
                };
                hooks.push(format!(r#""hook_{e}": {{"executed_on": ["{e}"]{demand}}}"#));
            }
            if job.demands_previous && !job.hooks.contains(&"pre_deploy") {
                hooks.push(format!(
                    r#""hook_pre_deploy": {{"executed_on": ["pre_deploy"], "demands": {{"job": "j{}", "hook": "hook_anchor"}}}}"#,
                    i - 1
                ));
            }
            hooks.push(r#""hook_anchor": {"executed_on": ["cli"]}"#.into());
            let health = if job.health {
                format!(
                    r#", "health_check": {{"checks": [{{"type": "tcp", "port": "{}_port"}}], "timeout_seconds": 1, "wait": {{"attempts": 2, "interval_seconds": 1}}}}"#,
                    job.name
                )
            } else {
                String::new()
            };
            let globs = if job.policy == "reload" { r#", "restart_globs": ["Makefile"]"# } else { "" };
            let manifest = format!(
                r#"{{"version": "{}", "selectors": ["{}"], "max_concurrent_upgrades": {}, "max_concurrent_starts": {},
 "restart_policy": "{}"{globs}, "resources": {{"ports": {{"{}_port": {{}}}}}}, "hooks": {{{}}}{health}}}"#,
                job.version,
                job.selector,
                job.upgrades,
                job.starts,
                job.policy,
                job.name,
                hooks.join(", ")
            );
            let base = format!("workspace/jobs/{}", job.name);
            write(dir, &format!("{base}/manifest.json"), &manifest);
            write(
                dir,
                &format!("{base}/Makefile"),
                "start:\n\ttrue\nstop:\n\ttrue\nrestart: stop start\nreload:\n\ttrue\n",
            );
            write(dir, &format!("{base}/index.html"), &format!("<h1>{}</h1>\n", job.content));
            if job.template {
                write(
                    dir,
                    &format!("{base}/config.env.tpl"),
                    "IP={{ .WorkerIP }}\nCURRENT={{ .CurrentVersion }}\nNEW={{ .NewVersion }}\n",
                );
            }
            for name in hooks.iter().filter_map(|h| h.split('"').nth(1)) {
                write(dir, &format!("{base}/_hooks/{name}.py"), "pass\n");
            }
        }
    }
}

fn open(dir: &Path) -> Result<Bucket> {
    Bucket::open(BucketPaths::new(dir), &OpenOptions { command: "sim".into(), lock_wait: Duration::from_secs(5) })
}

/// `maand build` through the library.
pub fn build(dir: &Path) -> std::result::Result<(), String> {
    let mut b = open(dir).map_err(|e| e.to_string())?;
    maand::build::run(&mut b, &Default::default()).map(|_| ()).map_err(|e| format!("build failed: {e}"))
}

/// One deploy through the library with the simulated fleet and hooks,
/// dying at `death` when given.
pub fn deploy(
    dir: &Path,
    fleet: &SimFleet,
    death: Option<Arc<DeathPoint>>,
    plant: bool,
) -> std::result::Result<DeployReport, String> {
    deploy_with(dir, fleet, death, DeployOptions { plant_promote_before_gate: plant, ..Default::default() })
}

/// [`deploy`] with any options (`--force`, `--jobs`, ...).
pub fn deploy_with(
    dir: &Path,
    fleet: &SimFleet,
    death: Option<Arc<DeathPoint>>,
    opts: DeployOptions,
) -> std::result::Result<DeployReport, String> {
    let mut b = open(dir).map_err(|e| format!("open: {e}"))?;
    if let Some(d) = &death {
        b.arm_death(d.clone());
    }
    fleet.set_death(death);
    let r = run_with(&mut b, &opts, fleet, &SimHooks { fleet });
    drop(b);
    fleet.set_death(None);
    r.map_err(|e| e.to_string())
}

/// What one seed did.
#[derive(Debug, Default, Clone)]
pub struct SeedReport {
    /// Deploys run.
    pub deploys: u64,
    /// Deploys that failed (faults).
    pub failed: u64,
    /// Simulated process deaths.
    pub deaths: u64,
    /// Faults injected by kind.
    pub injected: BTreeMap<&'static str, u64>,
    /// The journal's events as `session:kind` (times and durations left
    /// out): equal for two runs of one seed.
    pub trace: Vec<String>,
}

/// Run seed `seed`: random workspace, deploys under faults and deaths,
/// fault-free reruns until converged, a change, the same again; then every
/// invariant. `Err` says which failed.
pub fn run_seed(seed: u64, plant: bool) -> std::result::Result<SeedReport, String> {
    let dir = sim_tempdir();
    copy_dir(template(), dir.path());
    let d = dir.path();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ws = SimWorkspace::random(&mut rng);
    let fleet = SimFleet::new(seed);
    let faults = Faults::random(&mut rng);
    let mut report = SeedReport::default();
    for round in 0..2 {
        if round == 1 {
            ws.change(&mut rng);
        }
        ws.write(d);
        build(d)?;
        // Up to two deploys under faults, each possibly cut by a death.
        let mut forced_failed = false;
        for _ in 0..2 {
            fleet.set_faults(faults.clone());
            let death = rng.random_bool(0.5).then(|| DeathPoint::new(rng.random_range(1..120)));
            report.deploys += 1;
            // Sometimes only some jobs, sometimes --force.
            let mut opts = DeployOptions { plant_promote_before_gate: plant, ..Default::default() };
            match rng.random_range(0..10) {
                0 => opts.force = true,
                1 | 2 => opts.jobs = vec![ws.jobs[rng.random_range(0..ws.jobs.len())].name.clone()],
                _ => {}
            }
            let forced = opts.force;
            if deploy_with(d, &fleet, death.clone(), opts).is_err() {
                report.failed += 1;
                // A failed --force leaves what it restarted promoted as it
                // was: the operator repeats --force (docs/deploy.md).
                forced_failed |= forced;
            }
            if death.is_some_and(|d| d.is_dead()) {
                report.deaths += 1;
            }
        }
        // Fault-free: converges within three deploys ...
        fleet.set_faults(Faults::default());
        let mut last = Err(String::new());
        for i in 0..3 {
            report.deploys += 1;
            let opts = DeployOptions {
                plant_promote_before_gate: plant,
                force: forced_failed && i == 0,
                ..Default::default()
            };
            last = deploy_with(d, &fleet, None, opts);
            if last.is_ok() {
                break;
            }
        }
        last.map_err(|e| format!("round {round}: no convergence without faults: {e}"))?;
        // ... and stays converged: nothing to promote, no lifecycle runs.
        let runs = fleet.lifecycle_runs();
        let again = deploy(d, &fleet, None, plant).map_err(|e| format!("round {round}: redeploy failed: {e}"))?;
        report.deploys += 1;
        if !again.promoted.is_empty() || fleet.lifecycle_runs() != runs {
            return Err(format!(
                "round {round}: a converged bucket rolled again on an unchanged workspace: promoted {:?}",
                again.promoted
            ));
        }
        check_world(d, &fleet).map_err(|e| format!("round {round}: {e}"))?;
    }
    check_journal(d)?;
    report.injected = fleet.injected.lock().unwrap().clone();
    report.trace = trace(d);
    Ok(report)
}

/// The journal as `session:kind` lines, plus the decisions' content.
pub fn trace(dir: &Path) -> Vec<String> {
    let reader = JournalReader::open(&BucketPaths::new(dir).journal()).unwrap();
    let txn = reader.begin_read().unwrap();
    let mut out = Vec::new();
    journal::for_each_event(&txn, .., |env| {
        let detail = match &env.event {
            Event::JobRolloutPlanned(r) => format!("{:?}", r.plan),
            Event::AllocationPromoted { job, ip, hash, .. } => format!("{job} {ip} {hash}"),
            Event::HealthChecked { job, allocations, ok, .. } => format!("{job} {allocations:?} {ok}"),
            Event::LifecycleRan { job, ip, target, exit_code, .. } => format!("{job} {ip} {target} {exit_code:?}"),
            _ => String::new(),
        };
        out.push(format!("{}:{}:{detail}", env.session_id, env.event.kind()));
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    out
}

/// Converged: every active allocation runs (healthy) what is promoted;
/// disabled ones run nothing.
pub fn check_world(dir: &Path, fleet: &SimFleet) -> std::result::Result<(), String> {
    let state = open(dir).map_err(|e| e.to_string())?.state.clone();
    let world = fleet.allocs();
    for ((job, ip), a) in &state.catalog.allocations {
        if a.removed {
            continue;
        }
        let spec = &state.catalog.jobs[job].spec;
        let d = state.deployed.get(&(job.clone(), ip.clone())).ok_or(format!("{job} on {ip} is not promoted"))?;
        if d.version != spec.version {
            return Err(format!("{job} on {ip} promoted version {} != {}", d.version, spec.version));
        }
        let w = world.get(&(job.clone(), ip.clone()));
        // A job_control job is stopped by its own hooks, not by maand.
        let control = spec.hooks.values().any(|h| h.executed_on.iter().any(|e| e == "job_control"));
        if a.disabled {
            if !control && w.is_some_and(|w| w.running.is_some()) {
                return Err(format!("disabled {job} on {ip} still runs"));
            }
            continue;
        }
        let w = w.ok_or(format!("{job} on {ip}: nothing on the worker"))?;
        if w.running.is_none() && !control {
            return Err(format!("{job} on {ip} is promoted but does not run"));
        }
        if w.shipped.as_deref() != Some(d.hash.as_str()) {
            return Err(format!("{job} on {ip}: the worker has {:?}, promoted {}", w.shipped, d.hash));
        }
        // Without a health gate maand cannot know; with one, it must be.
        if spec.health_check.is_some() && !fleet.healthy(w) {
            return Err(format!(
                "{job} on {ip} is promoted but not healthy (running {:?}, broken {})",
                w.running, w.broken
            ));
        }
        if spec.restart_policy != "never" && w.running.as_ref().is_none_or(|(h, v)| *h != d.hash || *v != d.version) {
            return Err(format!("{job} on {ip} runs {:?}, promoted {} {}", w.running, d.hash, d.version));
        }
    }
    Ok(())
}

/// The journal's invariants: it verifies; every recorded plan replans
/// identically; nothing was promoted without a successful lifecycle and a
/// passed gate (in this deploy, or — `ready` — an earlier one); no
/// allocation whose gate passed durably was run again on resume.
pub fn check_journal(dir: &Path) -> std::result::Result<(), String> {
    let paths = BucketPaths::new(dir);
    let v = maand::verify::verify(&paths).map_err(|e| e.to_string())?;
    if !v.ok() {
        return Err(format!("journal does not verify: {:?}", v.problems));
    }
    let replay = maand::replay::check(&paths, &maand::replay::CheckOptions::default()).map_err(|e| e.to_string())?;
    if let Some(d) = replay.divergence {
        return Err(format!("replay --check: plan at seq {} differs", d.seq));
    }
    // Every simulated hook run recorded its plan, as real runs do.
    if let Some(c) = replay.kinds.get(&maand::replay::Kind::Hooks)
        && !c.not_rederivable.is_empty()
    {
        return Err(format!("replay --check: hook runs without a recorded plan: {:?}", c.not_rederivable));
    }
    let reader = JournalReader::open(&paths.journal()).map_err(|e| e.to_string())?;
    let txn = reader.begin_read().map_err(|e| e.to_string())?;
    let mut fold = Fold::default();
    let mut s = SessionCheck::default();
    let mut problem: Option<String> = None;
    journal::for_each_event(&txn, .., |env| {
        if let Err(e) = s.event(&env.event, fold.state()) {
            problem = Some(format!("seq {}: {e}", env.seq));
            return Ok(ControlFlow::Break(()));
        }
        fold.push(&env);
        Ok(ControlFlow::Continue(()))
    })
    .map_err(|e| e.to_string())?;
    problem.map_or(Ok(()), Err)
}

/// Per-session bookkeeping of [`check_journal`].
#[derive(Default)]
struct SessionCheck {
    committed: State,
    force: bool,
    plans: BTreeMap<String, JobPlan>,
    ran: BTreeSet<(String, String)>,
    gated: BTreeSet<(String, String)>,
}

impl SessionCheck {
    fn event(&mut self, event: &Event, committed: &State) -> std::result::Result<(), String> {
        let ready_matches = |job: &str, ip: &str, hash: &str, version: &str, state: &State| {
            state.ready.get(&(job.to_string(), ip.to_string())) == Some(&(hash.to_string(), version.to_string()))
        };
        match event {
            Event::SessionOpened(_) => {
                *self = SessionCheck { committed: committed.clone(), ..Default::default() };
            }
            Event::JobRolloutPlanned(r) => {
                self.force = r.flags.force;
                for a in &r.plan.allocations {
                    let lifecycle = matches!(a.action, Action::Start | Action::Restart | Action::Reload);
                    if lifecycle
                        && !self.force
                        && ready_matches(&r.plan.job, &a.ip, &a.tree_hash, &a.new_version, &self.committed)
                    {
                        return Err(format!(
                            "{} on {} passed its gate durably but is planned to {} again",
                            r.plan.job,
                            a.ip,
                            a.action.as_str()
                        ));
                    }
                }
                self.ran.retain(|(j, _)| *j != r.plan.job);
                self.gated.retain(|(j, _)| *j != r.plan.job);
                self.plans.insert(r.plan.job.clone(), r.plan.clone());
            }
            Event::LifecycleRan { job, ip, target, exit_code, .. } if target != "stop" => {
                let plan = self.plans.get(job).ok_or(format!("{job}: lifecycle without a plan"))?;
                let a = plan.action(ip).ok_or(format!("{job} on {ip}: lifecycle outside the plan"))?;
                if a.action.as_str() != target {
                    return Err(format!("{job} on {ip}: ran {target}, planned {}", a.action.as_str()));
                }
                if *exit_code == Some(0) {
                    self.ran.insert((job.clone(), ip.clone()));
                }
            }
            Event::HookInvoked(h) if h.event == "job_control" && h.ok() => {
                self.ran.insert((h.job.clone(), h.ip.clone()));
            }
            Event::HealthChecked { job, allocations, ok: true, .. } => {
                for ip in allocations {
                    if self.ran.contains(&(job.clone(), ip.clone())) {
                        self.gated.insert((job.clone(), ip.clone()));
                    }
                }
            }
            Event::AllocationPromoted { job, ip, hash, version, .. } => {
                let plan = self.plans.get(job).ok_or(format!("{job} on {ip}: promoted without a plan"))?;
                let a = plan.action(ip).ok_or(format!("{job} on {ip}: promoted outside the plan"))?;
                if a.tree_hash != *hash || a.new_version != *version {
                    return Err(format!("{job} on {ip}: promoted another tree or version than planned"));
                }
                let key = (job.clone(), ip.clone());
                let gate = self.committed.catalog.jobs.get(job).is_some_and(|j| j.spec.health_check.is_some());
                match a.action {
                    Action::Start | Action::Restart | Action::Reload => {
                        if !self.ran.contains(&key) {
                            return Err(format!("{job} on {ip}: promoted without a successful lifecycle"));
                        }
                        if gate && !self.gated.contains(&key) {
                            return Err(format!("{job} on {ip}: promoted before its health gate passed"));
                        }
                    }
                    Action::Ready => {
                        if !ready_matches(job, ip, hash, version, &self.committed) {
                            return Err(format!("{job} on {ip}: promoted as ready without a durable ready record"));
                        }
                    }
                    Action::Skip => return Err(format!("{job} on {ip}: a skipped allocation was promoted")),
                    Action::Sync | Action::Disabled => {}
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The seeds to run: `MAAND_SIM_SEED=N` for one, else `0..count`.
pub fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("MAAND_SIM_SEED") {
        Ok(s) => vec![s.trim().parse().expect("MAAND_SIM_SEED must be a number")],
        Err(_) => (0..count).collect(),
    }
}

/// Run `seeds` on two threads; per seed its result.
pub fn run_seeds(seeds: &[u64], plant: bool) -> Vec<(u64, std::result::Result<SeedReport, String>)> {
    quiet_simulated_panics();
    let next = AtomicU64::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst) as usize;
                    if i >= seeds.len() {
                        break;
                    }
                    let seed = seeds[i];
                    let r = std::panic::catch_unwind(|| run_seed(seed, plant))
                        .unwrap_or_else(|_| Err("the simulation panicked (see above)".into()));
                    out.lock().unwrap().push((seed, r));
                }
            });
        }
    });
    let mut v = out.into_inner().unwrap();
    v.sort_by_key(|(s, _)| *s);
    v
}

/// Injected panics are expected: keep them off stderr; others print as usual.
pub fn quiet_simulated_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if !msg.starts_with("simulated panic") {
                default(info);
            }
        }));
    });
}
