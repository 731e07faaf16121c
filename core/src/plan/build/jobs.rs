//! Job specs from manifests: demands and deployment_seq, ports, resources.

use crate::error::{Error, Result};
use crate::state::{CertConfig, Hook, HookDemand, JobSpec, Port, State};
use crate::workspace::Workspace;
use crate::workspace::manifest::{Bounds, PortDecl};
use std::collections::{BTreeMap, BTreeSet};

fn manifest_err(job: &str, field: &str, why: impl std::fmt::Display) -> Error {
    Error::input(format!("workspace/jobs/{job}/manifest.json: field `{field}`: {why}"))
}

/// The spec every workspace job should have.
pub(super) fn desired_jobs(state: &State, ws: &Workspace) -> Result<BTreeMap<String, JobSpec>> {
    check_demands(ws)?;
    let seqs = deployment_seqs(ws)?;
    let ports = assign_ports(state, ws)?;
    let mut out = BTreeMap::new();
    for (name, input) in &ws.jobs {
        let m = &input.manifest;
        let o = ws.job_overrides.get(name);
        let (min_memory_mb, max_memory_mb, current_memory_mb, current_memory_source) =
            reservation(name, "memory", "MB", m.memory, o.and_then(|o| o.memory_mb), &ws.job_overrides_file)?;
        let (min_cpu_mhz, max_cpu_mhz, current_cpu_mhz, current_cpu_source) =
            reservation(name, "cpu", "MHz", m.cpu, o.and_then(|o| o.cpu_mhz), &ws.job_overrides_file)?;
        let hooks = m
            .hooks
            .iter()
            .map(|(h, d)| {
                let hook = Hook {
                    script: input.hook_scripts.get(h).cloned().unwrap_or_default(),
                    executed_on: d.executed_on.iter().map(|e| e.as_str().to_string()).collect(),
                    demand: d.demand.as_ref().map(|d| HookDemand {
                        job: d.job.clone(),
                        hook: d.hook.clone(),
                        config: d.config.clone(),
                    }),
                };
                (h.clone(), hook)
            })
            .collect();
        let spec = JobSpec {
            job_id: state.catalog.job_id(name),
            name: name.clone(),
            version: m.version.as_ref().map_or_else(|| "0.0.0".to_string(), |v| v.to_string()),
            version_declared: m.version.is_some(),
            selectors: m.selectors.clone(),
            max_concurrent_upgrades: m.max_concurrent_upgrades,
            max_concurrent_starts: m.max_concurrent_starts,
            min_allocations_count: m.min_allocations_count,
            restart_policy: m.restart_policy.as_str().to_string(),
            restart_globs: m.restart_globs.clone(),
            min_memory_mb,
            max_memory_mb,
            current_memory_mb,
            current_memory_source,
            min_cpu_mhz,
            max_cpu_mhz,
            current_cpu_mhz,
            current_cpu_source,
            ports: ports.get(name).cloned().unwrap_or_default(),
            hooks,
            health_check: m.health_check.as_ref().map(|h| serde_json::to_string(h).unwrap_or_default()),
            certs: m
                .certs
                .iter()
                .map(|(n, c)| {
                    (n.clone(), CertConfig { common_name: c.common_name.clone(), pkcs8: c.pkcs8, one: c.one })
                })
                .collect(),
            deployment_seq: seqs.get(name).copied().unwrap_or(0),
        };
        out.insert(name.clone(), spec);
    }
    Ok(out)
}

/// Bounds and reservation: (min, max, current, source).
fn reservation(
    job: &str,
    what: &str,
    unit: &str,
    bounds: Option<Bounds>,
    over: Option<u64>,
    file: &str,
) -> Result<(u64, u64, u64, String)> {
    Ok(match (bounds, over) {
        (Some(b), Some(v)) => {
            if (b.min > 0 && v < b.min) || (b.max > 0 && v > b.max) {
                return Err(Error::input(format!(
                    "workspace/{file}: [{job}] key `{what}`: {v} {unit} is outside the manifest bounds {}-{} {unit} \
                     (workspace/jobs/{job}/manifest.json resources.{what})",
                    b.min, b.max
                )));
            }
            (b.min, b.max, v, file.to_string())
        }
        (Some(b), None) => (b.min, b.max, b.max, "manifest".to_string()),
        (None, Some(v)) => (v, v, v, file.to_string()),
        (None, None) => (0, 0, 0, "manifest".to_string()),
    })
}

/// Demands name existing jobs and hooks; participants declare versions;
/// upstream versions lie within min/max.
fn check_demands(ws: &Workspace) -> Result<()> {
    for (job, input) in &ws.jobs {
        for (hook, decl) in &input.manifest.hooks {
            let Some(d) = &decl.demand else { continue };
            let field = format!("hooks.{hook}.demands");
            let Some(up) = ws.jobs.get(&d.job) else {
                return Err(manifest_err(
                    job,
                    &format!("{field}.job"),
                    format!("job {:?} does not exist in workspace/jobs", d.job),
                ));
            };
            if !up.manifest.hooks.contains_key(&d.hook) {
                return Err(manifest_err(
                    job,
                    &format!("{field}.hook"),
                    format!("job {} has no hook {:?}", d.job, d.hook),
                ));
            }
            if input.manifest.version.is_none() {
                return Err(manifest_err(
                    job,
                    "version",
                    format!("required because hook {hook} demands job {}", d.job),
                ));
            }
            let Some(v) = &up.manifest.version else {
                return Err(manifest_err(
                    &d.job,
                    "version",
                    format!("required because job {job} demands it (hook {hook})"),
                ));
            };
            if let Some(min) = &d.min_version
                && v < min
            {
                return Err(manifest_err(
                    job,
                    &format!("{field}.config.min_version"),
                    format!("job {} is version {v}, below min_version {min}", d.job),
                ));
            }
            if let Some(max) = &d.max_version
                && v > max
            {
                return Err(manifest_err(
                    job,
                    &format!("{field}.config.max_version"),
                    format!("job {} is version {v}, above max_version {max}", d.job),
                ));
            }
        }
    }
    Ok(())
}

/// `deployment_seq` per job: 0 without demands, else 1 + the highest
/// upstream level. A cycle is an error naming it.
fn deployment_seqs(ws: &Workspace) -> Result<BTreeMap<String, u64>> {
    let edges: BTreeMap<&str, BTreeSet<&str>> = ws
        .jobs
        .iter()
        .map(|(j, i)| {
            (j.as_str(), i.manifest.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.as_str()).collect())
        })
        .collect();
    let mut done: BTreeMap<String, u64> = BTreeMap::new();
    for job in edges.keys() {
        let mut stack = Vec::new();
        visit(job, &edges, &mut done, &mut stack)?;
    }
    Ok(done)
}

fn visit<'a>(
    job: &'a str,
    edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    done: &mut BTreeMap<String, u64>,
    stack: &mut Vec<&'a str>,
) -> Result<u64> {
    if let Some(s) = done.get(job) {
        return Ok(*s);
    }
    if let Some(pos) = stack.iter().position(|j| *j == job) {
        let mut cycle: Vec<&str> = stack[pos..].to_vec();
        cycle.push(job);
        return Err(Error::input(format!(
            "workspace/jobs: hook demands form a cycle: {} (a job cannot depend on itself through other jobs)",
            cycle.join(" -> ")
        )));
    }
    stack.push(job);
    let mut level = 0;
    for up in edges.get(job).into_iter().flatten() {
        level = level.max(visit(up, edges, done, stack)? + 1);
    }
    stack.pop();
    done.insert(job.to_string(), level);
    Ok(level)
}

/// Port numbers: fixed as given; `{}` keeps its previous number while that
/// stays in the pool and free, else takes the lowest free one.
fn assign_ports(state: &State, ws: &Workspace) -> Result<BTreeMap<String, BTreeMap<String, Port>>> {
    let mut used: BTreeMap<u16, (String, String)> = BTreeMap::new();
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut out: BTreeMap<String, BTreeMap<String, Port>> = BTreeMap::new();
    for (job, input) in &ws.jobs {
        for (name, decl) in &input.manifest.ports {
            let field = format!("resources.ports.{name}");
            if let Some(other) = names.insert(name, job) {
                return Err(manifest_err(
                    job,
                    &field,
                    format!(
                        "port name {name:?} is also declared by job {other}; port names are bucket-wide (KV maand/bucket)"
                    ),
                ));
            }
            if let PortDecl::Fixed(p) = decl {
                if let Some((oj, on)) = used.get(p) {
                    return Err(manifest_err(job, &field, format!("port {p} is also used by job {oj} ({on})")));
                }
                used.insert(*p, (job.clone(), name.clone()));
                out.entry(job.clone()).or_default().insert(name.clone(), Port { port: *p, fixed: true });
            }
        }
    }
    let pool = ws.port_pool;
    let in_pool = |p: u16| pool.is_some_and(|(a, b)| (a..=b).contains(&p));
    let mut pending = Vec::new();
    for (job, input) in &ws.jobs {
        for (name, decl) in &input.manifest.ports {
            if *decl != PortDecl::Pool {
                continue;
            }
            let prev = state.catalog.jobs.get(job).and_then(|j| j.spec.ports.get(name)).map(|p| p.port);
            match prev {
                Some(p) if in_pool(p) && !used.contains_key(&p) => {
                    used.insert(p, (job.clone(), name.clone()));
                    out.entry(job.clone()).or_default().insert(name.clone(), Port { port: p, fixed: false });
                }
                _ => pending.push((job.clone(), name.clone())),
            }
        }
    }
    let mut next = pool.map(|(a, _)| a);
    for (job, name) in pending {
        let Some((lo, hi)) = pool else {
            return Err(manifest_err(
                &job,
                &format!("resources.ports.{name}"),
                "{} asks for a port from the pool, but workspace/bucket.conf sets no port_min/port_max",
            ));
        };
        let mut p = next.unwrap_or(lo);
        while used.contains_key(&p) && p < hi {
            p += 1;
        }
        if used.contains_key(&p) {
            return Err(Error::input(format!(
                "workspace/bucket.conf: the port pool {lo}-{hi} is exhausted (job {job} needs a port for {name}); widen port_min/port_max"
            )));
        }
        used.insert(p, (job.clone(), name.clone()));
        next = Some(p);
        out.entry(job).or_default().insert(name, Port { port: p, fixed: false });
    }
    Ok(out)
}
