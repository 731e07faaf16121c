//! `bucket.conf`, `bucket.jobs[.<selector>].conf`, `vars.toml`,
//! `disabled.json`.

use super::json_input::parse_json;
use super::toml_input::{line_of_key, parse_toml};
use super::units::{Unit, parse_quantity};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Flat string variables from a TOML table of scalars.
pub type Vars = BTreeMap<String, String>;

fn scalar(file: &str, src: &str, key: &str, v: &toml::Value) -> Result<String> {
    Ok(match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            let at = line_of_key(src, key).map(|l| format!("line {l}, ")).unwrap_or_default();
            return Err(Error::input(format!(
                "{file}: {at}key `{key}`: only strings, numbers and booleans are allowed here"
            )));
        }
    })
}

/// Parse a TOML file of scalar keys (`bucket.conf`, `vars.toml`).
pub fn parse_vars(file: &str, src: &str) -> Result<Vars> {
    let table: toml::Table = parse_toml(file, src)?;
    table.iter().map(|(k, v)| Ok((k.clone(), scalar(file, src, k, v)?))).collect()
}

/// The port pool from `bucket.conf` (`port_min`..=`port_max`).
pub fn port_pool(vars: &Vars, src: &str) -> Result<Option<(u16, u16)>> {
    const FILE: &str = "workspace/bucket.conf";
    let get = |k: &str| -> Result<Option<u16>> {
        vars.get(k)
            .map(|v| {
                v.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    let at = line_of_key(src, k).map(|l| format!("line {l}, ")).unwrap_or_default();
                    Error::input(format!("{FILE}: {at}key `{k}`: {v:?} is not a port number (1-65535)"))
                })
            })
            .transpose()
    };
    match (get("port_min")?, get("port_max")?) {
        (Some(a), Some(b)) if a <= b => Ok(Some((a, b))),
        (Some(a), Some(b)) => {
            Err(Error::input(format!("{FILE}: key `port_min` ({a}) is greater than `port_max` ({b})")))
        }
        (None, None) => Ok(None),
        _ => Err(Error::input(format!("{FILE}: set both `port_min` and `port_max`, or neither"))),
    }
}

/// One job's section of `bucket.jobs*.conf`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobOverrides {
    /// All keys, as strings (→ `vars/bucket/job/<job>`).
    pub vars: Vars,
    /// `memory` reservation in MB.
    pub memory_mb: Option<u64>,
    /// `cpu` reservation in MHz.
    pub cpu_mhz: Option<u64>,
}

/// Parse `bucket.jobs*.conf` (named `file`): `[job]` sections.
pub fn parse_job_overrides(file: &str, src: &str) -> Result<BTreeMap<String, JobOverrides>> {
    let table: toml::Table = parse_toml(file, src)?;
    let mut out = BTreeMap::new();
    for (job, section) in &table {
        let toml::Value::Table(t) = section else {
            let at = line_of_key(src, job).map(|l| format!("line {l}, ")).unwrap_or_default();
            return Err(Error::input(format!("{file}: {at}key `{job}`: expected a [{job}] section of job settings")));
        };
        let mut o = JobOverrides::default();
        for (k, v) in t {
            let s = scalar(file, src, k, v)?;
            let bad = |e: String| Error::input(format!("{file}: [{job}] key `{k}`: {e}"));
            match k.as_str() {
                "memory" => o.memory_mb = Some(parse_quantity(&s, Unit::Memory).map_err(bad)?),
                "cpu" => o.cpu_mhz = Some(parse_quantity(&s, Unit::Cpu).map_err(bad)?),
                _ => {}
            }
            o.vars.insert(k.clone(), s);
        }
        out.insert(job.clone(), o);
    }
    Ok(out)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DisabledJson {
    #[serde(default)]
    jobs: BTreeMap<String, DisabledJob>,
    #[serde(default)]
    workers: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DisabledJob {
    allocations: Option<Vec<String>>,
}

/// What `disabled.json` disables.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disabled {
    /// Jobs disabled everywhere.
    pub jobs: BTreeSet<String>,
    /// (job, worker) pairs disabled.
    pub allocations: BTreeSet<(String, String)>,
    /// Workers with every job disabled.
    pub workers: BTreeSet<String>,
}

impl Disabled {
    /// Whether the allocation (job, worker) is disabled.
    pub fn is_disabled(&self, job: &str, ip: &str) -> bool {
        self.jobs.contains(job)
            || self.workers.contains(ip)
            // Asked for every allocation of a build: no key built when none is listed.
            || (!self.allocations.is_empty() && self.allocations.contains(&(job.to_string(), ip.to_string())))
    }
}

/// Parse `disabled.json`, checking names against the known jobs and
/// workers. Names that are gone are dropped with one warning each (the
/// second value): the original ignores them, and a stale entry left after
/// removing a job must not block builds, but it is never dropped silently.
pub fn parse_disabled(src: &str, jobs: &BTreeSet<&str>, workers: &BTreeSet<&str>) -> Result<(Disabled, Vec<String>)> {
    const FILE: &str = "workspace/disabled.json";
    let d: DisabledJson = parse_json(FILE, src)?;
    let mut out = Disabled::default();
    let mut stale = Vec::new();
    for (job, spec) in d.jobs {
        if !jobs.contains(job.as_str()) {
            stale.push(format!("{FILE}: field `jobs.{job}`: no job {job:?} in workspace/jobs; ignored"));
            continue;
        }
        match spec.allocations {
            None => {
                out.jobs.insert(job);
            }
            Some(ips) => {
                for ip in ips {
                    if !workers.contains(ip.as_str()) {
                        stale.push(format!(
                            "{FILE}: field `jobs.{job}.allocations`: {ip:?} is not a worker in workers.json; ignored"
                        ));
                        continue;
                    }
                    out.allocations.insert((job.clone(), ip));
                }
            }
        }
    }
    for ip in d.workers {
        if !workers.contains(ip.as_str()) {
            stale.push(format!("{FILE}: field `workers`: {ip:?} is not a worker in workers.json; ignored"));
            continue;
        }
        out.workers.insert(ip);
    }
    Ok((out, stale))
}
