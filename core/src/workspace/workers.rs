//! `workspace/workers.json`: the workers (SSH hosts).

use super::json_input::parse_json;
use super::names::{check_host, check_label, quoted};
use super::units::{Unit, parse_quantity};
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

const FILE: &str = "workspace/workers.json";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkerJson {
    host: String,
    #[serde(default)]
    labels: Vec<String>,
    memory: Option<String>,
    cpu: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    hostname: Option<String>,
    /// The original's explicit position (the array index when absent).
    position: Option<u64>,
}

/// One worker as declared, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// SSH address, unique.
    pub host: String,
    /// Labels, sorted, always including `worker`.
    pub labels: Vec<String>,
    /// Memory capacity in MB.
    pub memory_mb: Option<u64>,
    /// CPU capacity in MHz.
    pub cpu_mhz: Option<u64>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Host name, if declared.
    pub hostname: Option<String>,
    /// Index in the file, or the original's `position` field when given.
    pub position: u64,
}

/// Parse and validate the contents of `workers.json`.
pub fn parse_workers(src: &str) -> Result<Vec<WorkerSpec>> {
    let raw: Vec<WorkerJson> = parse_json(FILE, src)?;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, w) in raw.into_iter().enumerate() {
        // Quoted input is cut short: a 40 MB host must not make a 40 MB message.
        let host = if w.host.len() > 64 { quoted(&w.host) } else { w.host.clone() };
        let at =
            |field: &str, why: String| Error::input(format!("{FILE}: worker {i} ({host}), field `{field}`: {why}"));
        check_host(&w.host).map_err(|why| at("host", why))?;
        if let Some(first) = seen.insert(w.host.clone(), i) {
            return Err(at("host", format!("{host} is listed twice (also worker {first})")));
        }
        let mut labels: BTreeSet<String> = BTreeSet::new();
        for l in &w.labels {
            check_label(l).map_err(|why| at("labels", why))?;
            labels.insert(l.clone());
        }
        labels.insert("worker".into());
        let memory_mb =
            w.memory.as_deref().map(|m| parse_quantity(m, Unit::Memory)).transpose().map_err(|e| at("memory", e))?;
        let cpu_mhz = w.cpu.as_deref().map(|c| parse_quantity(c, Unit::Cpu)).transpose().map_err(|e| at("cpu", e))?;
        for k in w.tags.keys() {
            if k.is_empty() || k.contains('/') || k.chars().any(char::is_whitespace) {
                return Err(at("tags", format!("tag name {} must be non-empty without '/' or spaces", quoted(k))));
            }
        }
        if let Some(h) = &w.hostname
            && (h.is_empty() || h.chars().any(char::is_whitespace))
        {
            return Err(at("hostname", format!("{} is not a host name", quoted(h))));
        }
        out.push(WorkerSpec {
            host: w.host.clone(),
            labels: labels.into_iter().collect(),
            memory_mb,
            cpu_mhz,
            tags: w.tags,
            hostname: w.hostname,
            position: w.position.unwrap_or(i as u64),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let w = parse_workers(r#"[{"host":"10.0.0.1","labels":["db"],"memory":"2 gb","cpu":"2 ghz","tags":{"zone":"a"}},{"host":"10.0.0.2"}]"#)
            .unwrap();
        assert_eq!(w[0].labels, ["db", "worker"]);
        assert_eq!((w[0].memory_mb, w[0].cpu_mhz), (Some(2048), Some(2000)));
        assert_eq!(w[1].position, 1);
        let e = parse_workers(r#"[{"host":"a"},{"host":"a"}]"#).unwrap_err();
        assert!(e.message().contains("worker 1 (a), field `host`: a is listed twice (also worker 0)"), "{e}");
        let e = parse_workers(r#"[{"host":"a","memory":"lots"}]"#).unwrap_err();
        assert!(e.message().contains("field `memory`"), "{e}");
        let p = parse_workers(r#"[{"host":"a","position":1},{"host":"b","position":0}]"#).unwrap();
        assert_eq!((p[0].position, p[1].position), (1, 0));
        let e = parse_workers(r#"[{"host":"a","label":["x"]}]"#).unwrap_err();
        assert!(e.message().contains("unknown field `label`"), "{e}");
        let e = parse_workers(r#"[{"host":"a; rm -rf /"}]"#).unwrap_err();
        assert!(e.message().contains("field `host`"), "{e}");
    }
}
