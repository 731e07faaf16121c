//! Pure planning of hook invocations (seed 001 "Execution model",
//! "Batching", "Environment variables"; seed 000): which allocations an
//! event runs on, in which order, in which batches, with which environment.
//! The runner (shell) executes the plan; nothing here spawns or reads.

use crate::state::{Allocation, Catalog, KvStore, State};
use crate::workspace::manifest::HookEvent;
use std::collections::{BTreeMap, BTreeSet};

/// Where a rollout order came from (`ROLLOUT_ORDER_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    /// `maand/job/<job>` `rollout_order` named exactly the worker set.
    Kv,
    /// Catalog order (worker position).
    Default,
}

impl OrderSource {
    /// Env spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSource::Kv => "kv",
            OrderSource::Default => "default",
        }
    }
}

/// Which allocations of `job` an event runs on (seed 001 "Workers
/// included"), in catalog order.
///
/// - `pre_deploy`, `post_deploy`, `post_build`, `cli`, `health_check`, and
///   `job_control` during deploy: every non-removed allocation, disabled
///   ones included;
/// - `job_control` from `maand job ...` (`filter` given): active allocations
///   whose worker is in `filter` (all active ones when `filter` is empty);
/// - `after_allocation_started` / `after_allocation_stopped`: the caller
///   passes the batch's or the stopped allocations as `filter`.
pub fn allocations_for<'a>(
    catalog: &'a Catalog,
    job: &str,
    event: HookEvent,
    filter: Option<&[String]>,
) -> Vec<&'a Allocation> {
    let all = catalog.allocations_of(job);
    let wanted = |a: &&Allocation| filter.is_none_or(|f| f.is_empty() || f.contains(&a.worker_ip));
    match (event, filter) {
        (HookEvent::JobControl, Some(_)) => all.into_iter().filter(|a| a.active()).filter(wanted).collect(),
        (HookEvent::AfterAllocationStarted | HookEvent::AfterAllocationStopped, _) => {
            all.into_iter().filter(wanted).collect()
        }
        _ => all.into_iter().filter(|a| !a.removed).filter(wanted).collect(),
    }
}

/// Order `workers` by the job's `rollout_order` KV when it names exactly
/// that set (no more, no fewer, no repeats), else keep catalog order.
pub fn rollout_order(kv: &KvStore, job: &str, workers: &[String]) -> (Vec<String>, OrderSource) {
    if let Some(crate::event::KvValue::Plain(order)) = kv.get(&format!("maand/job/{job}"), "rollout_order").as_deref() {
        let listed: Vec<String> = order.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        let set: BTreeSet<&String> = listed.iter().collect();
        let want: BTreeSet<&String> = workers.iter().collect();
        if set.len() == listed.len() && set == want {
            return (listed, OrderSource::Kv);
        }
    }
    (workers.to_vec(), OrderSource::Default)
}

/// Split `order` into batches of `width` (0 = one batch of everything).
pub fn batches(order: &[String], width: u64) -> Vec<Vec<String>> {
    if order.is_empty() {
        return Vec::new();
    }
    let w = if width == 0 { order.len() } else { width as usize };
    order.chunks(w).map(|c| c.to_vec()).collect()
}

/// The batch width an event uses: `max_concurrent_starts` for first-start
/// hooks (`first_start`), else `max_concurrent_upgrades` (at least 1).
pub fn batch_width(max_concurrent_upgrades: u64, max_concurrent_starts: u64, first_start: bool) -> u64 {
    if first_start { max_concurrent_starts } else { max_concurrent_upgrades.max(1) }
}

/// One planned hook process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Allocation it runs for.
    pub alloc_id: String,
    /// Worker address.
    pub ip: String,
    /// Its environment (seed 001 variables; the runtime adds the API port and token).
    pub env: BTreeMap<String, String>,
}

/// A batch of invocations run in parallel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Zero-based index (`BATCH_INDEX`).
    pub index: usize,
    /// Batches in the run (`BATCH_COUNT`).
    pub count: usize,
    /// Invocations, in rollout order.
    pub invocations: Vec<Invocation>,
}

/// `CURRENT_VERSION` of every allocation of `jobs` that was ever promoted
/// (allocation id → promoted version); [`plan_hook_run`] supplies `0.0.0`
/// for the others. One function, so the real runner and the simulated one
/// give hooks the same value.
pub fn promoted_versions(state: &State, jobs: &[String]) -> BTreeMap<String, String> {
    state
        .deployed
        .iter()
        .filter(|((job, _), _)| jobs.contains(job))
        .filter_map(|(key, d)| state.catalog.allocations.get(key).map(|a| (a.alloc_id.clone(), d.version.clone())))
        .collect()
}

pub use crate::model::decision::LifecycleBatch;

/// What a hook run needs to know besides the catalog.
#[derive(Debug, Clone)]
pub struct HookRun<'a> {
    /// Job.
    pub job: &'a str,
    /// Hook name (`HOOK`, `COMMAND`).
    pub hook: &'a str,
    /// Event (`EVENT`).
    pub event: HookEvent,
    /// `DEPLOY_PHASE` label (`pre_deploy`, `new`, `update`, `cli`, ...).
    pub phase: &'a str,
    /// Worker filter (see [`allocations_for`]).
    pub filter: Option<&'a [String]>,
    /// Use `max_concurrent_starts` (first starts).
    pub first_start: bool,
    /// Absolute bucket path (`BUCKET_ROOT`).
    pub bucket_root: &'a str,
    /// Promoted version per allocation id (`CURRENT_VERSION`; 0.0.0 when absent).
    pub current_versions: &'a BTreeMap<String, String>,
    /// Event-specific variables (`TARGET`, `NEW_ALLOCATIONS`, ...).
    pub extra: BTreeMap<String, String>,
    /// The lifecycle batch this run is (`after_allocation_started`); `None`
    /// plans the event's own batches.
    pub lifecycle: Option<&'a LifecycleBatch>,
}

/// Order, source and batches of a run: the lifecycle batch as given, or
/// the event's worker set in rollout order split by the event's width.
fn shape(
    spec: &crate::state::JobSpec,
    kv: &KvStore,
    run: &HookRun,
    ips: &[String],
) -> (Vec<String>, String, Vec<Vec<String>>, usize) {
    if let Some(l) = run.lifecycle {
        let group: Vec<String> = l.allocations.iter().filter(|ip| ips.contains(ip)).cloned().collect();
        let groups = if group.is_empty() { Vec::new() } else { vec![group] };
        return (l.order.clone(), l.order_source.clone(), groups, l.index as usize);
    }
    let (order, source) = rollout_order(kv, run.job, ips);
    let width = batch_width(spec.max_concurrent_upgrades, spec.max_concurrent_starts, run.first_start);
    let groups = batches(&order, width);
    (order, source.as_str().to_string(), groups, 0)
}

/// `ALLOCATION_INDEX` of every allocation of `job`: its position among the
/// non-removed allocations (seed 001); removed ones (`after_allocation_stopped`)
/// are numbered after them, so a removed allocation never carries a live
/// peer's index (nor `is_one_shot()`'s 0 while live peers exist).
fn allocation_indexes(catalog: &Catalog, job: &str) -> BTreeMap<String, usize> {
    let all = catalog.allocations_of(job);
    let live = all.iter().filter(|a| !a.removed);
    let removed = all.iter().filter(|a| a.removed);
    live.chain(removed).enumerate().map(|(i, a)| (a.alloc_id.clone(), i)).collect()
}

/// Plan the batches of one hook run on one job.
pub fn plan_hook_run(catalog: &Catalog, kv: &KvStore, run: &HookRun) -> Vec<Batch> {
    let Some(job) = catalog.jobs.get(run.job) else {
        return Vec::new();
    };
    let spec = &job.spec;
    let allocs = allocations_for(catalog, run.job, run.event, run.filter);
    let ips: Vec<String> = allocs.iter().map(|a| a.worker_ip.clone()).collect();
    let (order, source, groups, first_index) = shape(spec, kv, run, &ips);
    let indexes = allocation_indexes(catalog, run.job);
    let count = match run.lifecycle {
        Some(l) => l.count as usize,
        None => groups.len(),
    };
    groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let index = first_index + i;
            let invocations = group
                .iter()
                .filter_map(|ip| allocs.iter().find(|a| a.worker_ip == *ip))
                .map(|a| {
                    let mut env = BTreeMap::new();
                    let mut set = |k: &str, v: String| {
                        env.insert(k.to_string(), v);
                    };
                    set("ALLOCATION_ID", a.alloc_id.clone());
                    set("ALLOCATION_IP", a.worker_ip.clone());
                    set("ALLOCATION_INDEX", indexes.get(&a.alloc_id).copied().unwrap_or_default().to_string());
                    set("JOB", run.job.to_string());
                    set("EVENT", run.event.as_str().to_string());
                    set("COMMAND", run.hook.to_string());
                    set("HOOK", run.hook.to_string());
                    set("DISABLED", if a.disabled { "1" } else { "0" }.to_string());
                    let current = run.current_versions.get(&a.alloc_id).cloned().unwrap_or_else(|| "0.0.0".into());
                    set("CURRENT_VERSION", current);
                    set("NEW_VERSION", spec.version.clone());
                    set("HOOK_API_HOST", "127.0.0.1".to_string());
                    set("BUCKET_ROOT", run.bucket_root.to_string());
                    set("BATCH_ALLOCATIONS", group.join(","));
                    set("BATCH_INDEX", index.to_string());
                    set("BATCH_COUNT", count.to_string());
                    set("DEPLOY_PHASE", run.phase.to_string());
                    set("ROLLOUT_ORDER", order.join(","));
                    set("ROLLOUT_ORDER_SOURCE", source.clone());
                    for (k, v) in &run.extra {
                        set(k, v.clone());
                    }
                    Invocation { alloc_id: a.alloc_id.clone(), ip: a.worker_ip.clone(), env }
                })
                .collect();
            Batch { index, count, invocations }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::KvValue;
    use crate::state::{Job, JobSpec, Worker};

    fn catalog(width: u64, disabled: &[&str], removed: &[&str]) -> Catalog {
        let mut c = Catalog::default();
        for (i, ip) in ["10.0.0.1", "10.0.0.2", "10.0.0.3"].iter().enumerate() {
            c.workers.insert(ip.to_string(), Worker { ip: ip.to_string(), position: i as u64, ..Default::default() });
            c.allocations.insert(
                ("api".into(), ip.to_string()),
                Allocation {
                    alloc_id: format!("id-{i}"),
                    job: "api".into(),
                    worker_ip: ip.to_string(),
                    disabled: disabled.contains(ip),
                    removed: removed.contains(ip),
                    new_version: "1.0.0".into(),
                },
            );
        }
        let spec = JobSpec {
            name: "api".into(),
            version: "1.0.0".into(),
            max_concurrent_upgrades: width,
            ..Default::default()
        };
        c.jobs.insert("api".into(), Job { spec, files: BTreeMap::new() });
        c
    }

    fn run<'a>(event: HookEvent, filter: Option<&'a [String]>, versions: &'a BTreeMap<String, String>) -> HookRun<'a> {
        HookRun {
            job: "api",
            hook: "hook_status",
            event,
            phase: event.as_str(),
            filter,
            first_start: false,
            bucket_root: "/b",
            current_versions: versions,
            extra: BTreeMap::new(),
            lifecycle: None,
        }
    }

    fn env(b: &[Batch], batch: usize, inv: usize, k: &str) -> String {
        b[batch].invocations[inv].env[k].clone()
    }

    #[test]
    fn width_one_gives_one_batch_per_worker_and_width_eight_one_batch() {
        let v = BTreeMap::new();
        let b = plan_hook_run(&catalog(1, &[], &[]), &KvStore::default(), &run(HookEvent::Cli, None, &v));
        assert_eq!(b.len(), 3);
        assert_eq!(env(&b, 2, 0, "BATCH_COUNT"), "3");
        assert_eq!(env(&b, 2, 0, "BATCH_INDEX"), "2");
        assert_eq!(env(&b, 1, 0, "BATCH_ALLOCATIONS"), "10.0.0.2");
        let b = plan_hook_run(&catalog(8, &[], &[]), &KvStore::default(), &run(HookEvent::Cli, None, &v));
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].invocations.len(), 3);
        assert_eq!(env(&b, 0, 1, "BATCH_ALLOCATIONS"), "10.0.0.1,10.0.0.2,10.0.0.3");
        assert_eq!(env(&b, 0, 1, "BATCH_COUNT"), "1");
        // is_one_shot(): exactly one invocation has BATCH_INDEX 0 and ALLOCATION_INDEX 0.
        let leaders =
            b[0].invocations.iter().filter(|i| i.env["BATCH_INDEX"] == "0" && i.env["ALLOCATION_INDEX"] == "0").count();
        assert_eq!(leaders, 1);
    }

    #[test]
    fn every_seed_variable_is_set() {
        let mut v = BTreeMap::new();
        v.insert("id-0".to_string(), "0.9.0".to_string());
        let b =
            plan_hook_run(&catalog(1, &["10.0.0.2"], &[]), &KvStore::default(), &run(HookEvent::PreDeploy, None, &v));
        let e = &b[0].invocations[0].env;
        for k in [
            "ALLOCATION_ID",
            "ALLOCATION_IP",
            "ALLOCATION_INDEX",
            "JOB",
            "EVENT",
            "COMMAND",
            "HOOK",
            "DISABLED",
            "CURRENT_VERSION",
            "NEW_VERSION",
            "HOOK_API_HOST",
            "BUCKET_ROOT",
            "BATCH_ALLOCATIONS",
            "BATCH_INDEX",
            "BATCH_COUNT",
            "DEPLOY_PHASE",
            "ROLLOUT_ORDER",
            "ROLLOUT_ORDER_SOURCE",
        ] {
            assert!(e.contains_key(k), "{k}");
        }
        assert_eq!((e["CURRENT_VERSION"].as_str(), e["NEW_VERSION"].as_str()), ("0.9.0", "1.0.0"));
        assert_eq!(env(&b, 1, 0, "CURRENT_VERSION"), "0.0.0");
        assert_eq!(env(&b, 1, 0, "DISABLED"), "1", "pre_deploy includes disabled allocations");
        assert_eq!(e["EVENT"], "pre_deploy");
        assert_eq!(e["HOOK_API_HOST"], "127.0.0.1");
    }

    #[test]
    fn worker_sets_per_event() {
        let v = BTreeMap::new();
        let c = catalog(8, &["10.0.0.2"], &["10.0.0.3"]);
        let ips = |b: Vec<Batch>| b.iter().flat_map(|b| b.invocations.iter().map(|i| i.ip.clone())).collect::<Vec<_>>();
        assert_eq!(
            ips(plan_hook_run(&c, &KvStore::default(), &run(HookEvent::Cli, None, &v))),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(
            ips(plan_hook_run(&c, &KvStore::default(), &run(HookEvent::HealthCheck, None, &v))),
            ["10.0.0.1", "10.0.0.2"]
        );
        let only = vec!["10.0.0.2".to_string(), "10.0.0.1".to_string()];
        // `maand job ... --allocations`: active ones among the filter.
        assert_eq!(
            ips(plan_hook_run(&c, &KvStore::default(), &run(HookEvent::JobControl, Some(&only), &v))),
            ["10.0.0.1"]
        );
        let one = vec!["10.0.0.1".to_string()];
        let b = plan_hook_run(&c, &KvStore::default(), &run(HookEvent::JobControl, Some(&one), &v));
        assert_eq!(
            (env(&b, 0, 0, "BATCH_COUNT").as_str(), env(&b, 0, 0, "BATCH_ALLOCATIONS").as_str()),
            ("1", "10.0.0.1")
        );
    }

    #[test]
    fn rollout_order_kv_is_used_only_when_it_names_exactly_the_set() {
        let v = BTreeMap::new();
        let c = catalog(1, &[], &[]);
        let mut kv = KvStore::default();
        kv.push("maand/job/api", "rollout_order", Some(KvValue::Plain("10.0.0.3,10.0.0.1,10.0.0.2".into())), 0, 0);
        let b = plan_hook_run(&c, &kv, &run(HookEvent::Cli, None, &v));
        assert_eq!(env(&b, 0, 0, "ALLOCATION_IP"), "10.0.0.3");
        assert_eq!(env(&b, 0, 0, "ROLLOUT_ORDER_SOURCE"), "kv");
        assert_eq!(env(&b, 0, 0, "ROLLOUT_ORDER"), "10.0.0.3,10.0.0.1,10.0.0.2");
        assert_eq!(env(&b, 0, 0, "ALLOCATION_INDEX"), "2", "index among peers, not rollout position");
        for bad in ["10.0.0.3,10.0.0.1", "10.0.0.3,10.0.0.1,10.0.0.2,10.0.0.9", "10.0.0.3,10.0.0.3,10.0.0.1"] {
            kv.push("maand/job/api", "rollout_order", Some(KvValue::Plain(bad.into())), 0, 0);
            let b = plan_hook_run(&c, &kv, &run(HookEvent::Cli, None, &v));
            assert_eq!(env(&b, 0, 0, "ROLLOUT_ORDER_SOURCE"), "default", "{bad}");
            assert_eq!(env(&b, 0, 0, "ALLOCATION_IP"), "10.0.0.1");
        }
    }

    #[test]
    fn first_starts_use_max_concurrent_starts_zero_meaning_all() {
        assert_eq!(batch_width(2, 0, true), 0);
        assert_eq!(batch_width(0, 5, false), 1);
        assert_eq!(batches(&["a".into(), "b".into(), "c".into()], 0).len(), 1);
        assert_eq!(
            batches(&["a".into(), "b".into(), "c".into()], 2),
            vec![vec!["a".to_string(), "b".into()], vec!["c".into()]]
        );
        assert!(batches(&[], 3).is_empty());
    }

    #[test]
    fn a_lifecycle_batch_is_one_run_with_the_rollouts_numbering_and_order() {
        let v = BTreeMap::new();
        let c = catalog(1, &[], &[]);
        let l = LifecycleBatch {
            index: 1,
            count: 2,
            allocations: vec!["10.0.0.2".into(), "10.0.0.1".into()],
            order: vec!["10.0.0.3".into(), "10.0.0.2".into(), "10.0.0.1".into()],
            order_source: "kv".into(),
        };
        let two = vec!["10.0.0.2".to_string(), "10.0.0.1".to_string()];
        let mut r = run(HookEvent::AfterAllocationStarted, Some(&two), &v);
        r.phase = "new";
        r.lifecycle = Some(&l);
        // Width 1 would split it; a lifecycle batch is never split again.
        let b = plan_hook_run(&c, &KvStore::default(), &r);
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].index, b[0].count), (1, 2));
        let ips: Vec<&str> = b[0].invocations.iter().map(|i| i.ip.as_str()).collect();
        assert_eq!(ips, ["10.0.0.2", "10.0.0.1"], "rollout order");
        for (k, want) in [
            ("BATCH_INDEX", "1"),
            ("BATCH_COUNT", "2"),
            ("BATCH_ALLOCATIONS", "10.0.0.2,10.0.0.1"),
            ("ROLLOUT_ORDER", "10.0.0.3,10.0.0.2,10.0.0.1"),
            ("ROLLOUT_ORDER_SOURCE", "kv"),
            ("DEPLOY_PHASE", "new"),
        ] {
            assert_eq!(env(&b, 0, 0, k), want, "{k}");
        }
    }

    #[test]
    fn a_removed_allocation_never_carries_a_live_peers_index() {
        let v = BTreeMap::new();
        let c = catalog(8, &[], &["10.0.0.1"]);
        let gone = vec!["10.0.0.1".to_string()];
        let b = plan_hook_run(&c, &KvStore::default(), &run(HookEvent::AfterAllocationStopped, Some(&gone), &v));
        assert_eq!(env(&b, 0, 0, "ALLOCATION_INDEX"), "2", "after the two live peers");
        let b = plan_hook_run(&c, &KvStore::default(), &run(HookEvent::Cli, None, &v));
        assert_eq!(env(&b, 0, 0, "ALLOCATION_INDEX"), "0");
        assert_eq!(env(&b, 0, 1, "ALLOCATION_INDEX"), "1");
    }
}
