//! Deriving one recorded decision again from the state at its point in
//! history and its recorded inputs, with the same planner or renderer the
//! shell used. Each returns the first difference, named down to the
//! allocation and the field. `perturb` (tests only) changes the derived
//! value to prove the comparison catches it.

use crate::deploy::exec::staging_state;
use crate::deploy::stage::render_job;
use crate::event::{HookRunPlan, JobRollout, PlannedHook, ReconcileItem, ReconcilePlan};
use crate::kv::seal::KvKey;
use crate::plan::deploy::plan_reconcile;
use crate::plan::hooks::{HookRun, plan_hook_run, promoted_versions};
use crate::plan::rollout::plan_job;
use crate::state::State;
use crate::workspace::manifest::HookEvent;
use std::sync::Arc;

/// Where a re-derived decision differs from the recorded one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Job.
    pub job: String,
    /// Allocation (worker) the difference is in, when it is in one.
    pub allocation: Option<String>,
    /// What differs (`plan`, `file config.env`, `env BATCH_INDEX`, …).
    pub field: String,
    /// The recorded value.
    pub recorded: String,
    /// The re-derived value.
    pub rederived: String,
    /// The event that recorded the decision, when it is not the event at
    /// which it is checked (a build is checked at its checkpoint).
    pub at: Option<u64>,
}

fn diff(job: &str, allocation: Option<&str>, field: &str, recorded: String, rederived: String) -> Box<Diff> {
    Box::new(Diff {
        job: job.to_string(),
        allocation: allocation.map(String::from),
        field: field.to_string(),
        recorded,
        rederived,
        at: None,
    })
}

/// The rollout planner on the recorded staged trees and flags.
pub fn rollout(state: &State, r: &JobRollout, perturb: bool) -> Result<(), Box<Diff>> {
    let job = &r.plan.job;
    let mut replanned = plan_job(state, job, &r.staged, &r.flags).map_err(|e| e.message().to_string());
    if perturb && let Ok(p) = replanned.as_mut() {
        p.allocations.reverse();
        p.order.reverse();
        // A single allocation reverses into itself.
        p.order_source.push_str(" (injected)");
    }
    if replanned.as_ref() == Ok(&r.plan) {
        return Ok(());
    }
    let recorded = crate::journal::plan_json(&r.plan).to_string();
    let (ip, again) = match &replanned {
        Ok(p) => {
            let ip = r.plan.allocations.iter().zip(&p.allocations).find(|(a, b)| a != b).map(|(a, _)| a.ip.clone());
            (ip, crate::journal::plan_json(p).to_string())
        }
        Err(e) => (None, format!("error: {e}")),
    };
    Err(diff(job, ip.as_deref(), "plan", recorded, again))
}

/// Re-render and re-hash every staged file of every allocation the job was
/// staged for, from the job files, catalog and KV in `state`.
pub fn staged(state: &State, r: &JobRollout, kv_key: &KvKey, perturb: bool) -> Result<usize, Box<Diff>> {
    let job = &r.plan.job;
    let ips: Vec<String> = r.staged.keys().cloned().collect();
    let view = Arc::new(staging_state(state, job, &ips));
    let bucket_id = state.bucket_id().unwrap_or_default().to_string();
    for (n, (ip, recorded)) in r.staged.iter().enumerate() {
        let mut tree = match render_job(&view, kv_key, &bucket_id, r.update_seq, job, ip) {
            Ok(rendered) => rendered.tree,
            Err(e) => return Err(diff(job, Some(ip), "render", "a staged tree".into(), format!("error: {e}"))),
        };
        if perturb && n == 0 {
            match tree.iter_mut().next() {
                Some((_, hash)) => hash.push_str("-injected"),
                None => drop(tree.insert("injected".into(), "injected".into())),
            }
        }
        let paths: std::collections::BTreeSet<&String> = recorded.keys().chain(tree.keys()).collect();
        for path in paths {
            let (a, b) = (recorded.get(path), tree.get(path));
            if a != b {
                let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(absent)".into());
                return Err(diff(job, Some(ip), &format!("file {path}"), show(a), show(b)));
            }
        }
    }
    Ok(r.staged.len())
}

fn item_line(it: &ReconcileItem) -> String {
    format!(
        "{} on {}: {} (stop {}, worker gone {}, version {})",
        it.job,
        it.ip,
        if it.removed { "remove" } else { "stop" },
        it.stop,
        it.worker_gone,
        it.version
    )
}

/// The reconcile planner on the recorded selection.
pub fn reconcile(state: &State, p: &ReconcilePlan, perturb: bool) -> Result<(), Box<Diff>> {
    let mut items = plan_reconcile(state, &p.jobs, p.all_jobs);
    if perturb {
        let first = p.jobs.first().cloned().unwrap_or_default();
        items.push(ReconcileItem { job: first, ip: "injected".into(), ..Default::default() });
    }
    let n = p.items.len().max(items.len());
    for i in 0..n {
        let (a, b) = (p.items.get(i), items.get(i));
        if a != b {
            let at = a.or(b).map(|it| (it.job.clone(), it.ip.clone())).unwrap_or_default();
            let show = |v: Option<&ReconcileItem>| v.map_or_else(|| "(none)".into(), item_line);
            return Err(diff(&at.0, Some(&at.1), &format!("item {}", i + 1), show(a), show(b)));
        }
    }
    Ok(())
}

/// The event a recorded hook run names.
pub fn hook_event(name: &str) -> Option<HookEvent> {
    use HookEvent::*;
    [PostBuild, PreDeploy, PostDeploy, JobControl, HealthCheck, Cli, AfterAllocationStarted, AfterAllocationStopped]
        .into_iter()
        .find(|e| e.as_str() == name)
}

/// The hook planner on the recorded inputs: worker set, batches, order and
/// every variable of every invocation.
pub fn hooks(state: &State, p: &HookRunPlan, perturb: bool) -> Result<(), Box<Diff>> {
    let Some(event) = hook_event(&p.event) else {
        return Err(diff(&p.job, None, "event", p.event.clone(), "(unknown event)".into()));
    };
    let versions = promoted_versions(state, std::slice::from_ref(&p.job));
    let run = HookRun {
        job: &p.job,
        hook: &p.hook,
        event,
        phase: &p.phase,
        filter: p.filter.as_deref(),
        first_start: p.first_start,
        bucket_root: &p.bucket_root,
        current_versions: &versions,
        extra: p.extra.clone(),
        lifecycle: p.lifecycle.as_ref(),
    };
    let mut batches: Vec<Vec<PlannedHook>> = plan_hook_run(&state.catalog, &state.kv, &run)
        .into_iter()
        .map(|b| {
            b.invocations.into_iter().map(|i| PlannedHook { alloc_id: i.alloc_id, ip: i.ip, env: i.env }).collect()
        })
        .collect();
    if perturb && let Some(first) = batches.first_mut().and_then(|b| b.first_mut()) {
        first.env.insert("INJECTED".into(), "1".into());
    }
    let ips = |b: &[Vec<PlannedHook>]| -> Vec<Vec<String>> {
        b.iter().map(|b| b.iter().map(|i| i.ip.clone()).collect()).collect()
    };
    let (recorded, again) = (ips(&p.batches), ips(&batches));
    if recorded != again {
        let field = format!("batches of hook {}", p.hook);
        return Err(diff(&p.job, None, &field, format!("{recorded:?}"), format!("{again:?}")));
    }
    for (rb, db) in p.batches.iter().zip(&batches) {
        for (ri, di) in rb.iter().zip(db) {
            if ri.alloc_id != di.alloc_id {
                return Err(diff(&p.job, Some(&di.ip), "allocation id", ri.alloc_id.clone(), di.alloc_id.clone()));
            }
            let keys: std::collections::BTreeSet<&String> = ri.env.keys().chain(di.env.keys()).collect();
            for k in keys {
                let (a, b) = (ri.env.get(k), di.env.get(k));
                if a != b {
                    let show = |v: Option<&String>| v.map_or_else(|| "(unset)".into(), |v| format!("{v:?}"));
                    return Err(diff(&p.job, Some(&di.ip), &format!("hook {} env {k}", p.hook), show(a), show(b)));
                }
            }
        }
    }
    Ok(())
}
