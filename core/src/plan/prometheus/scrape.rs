//! `_prometheus/scrape.yaml`: a YAML list of Prometheus `scrape_config`
//! items whose targets may name maand placeholders, validated at build and
//! expanded at deploy.

use super::yaml::{self, Doc, index_path, key_path};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Prefix of a port placeholder target: `maand:port/<key>[/<worker>]`.
pub const PORT_PLACEHOLDER: &str = "maand:port/";
/// The placeholder for the maand job's name (`job_name`, label values).
pub const JOB_PLACEHOLDER: &str = "maand:job";
/// Port key resolved to the job's metrics port.
pub const IMPLICIT_PORT: &str = "_implicit";

/// What a scrape file is checked against.
pub struct ScrapeScope<'a> {
    /// The maand job.
    pub job: &'a str,
    /// Its declared port names.
    pub ports: &'a BTreeSet<String>,
    /// Workers it is allocated on (non-removed), for pinned targets.
    pub workers: &'a BTreeSet<String>,
}

fn err(file: &str, doc: &Doc, path: &str, why: impl std::fmt::Display) -> Error {
    Error::input(format!("{file}: line {}, field `{path}`: {why}", doc.line(path)))
}

/// Parse and check a scrape file's text; returns its configs, unexpanded.
pub fn check(file: &str, text: &str, scope: &ScrapeScope) -> Result<Vec<Value>> {
    if text.trim().is_empty() {
        return Err(Error::input(format!("{file}: is empty; it must be a YAML list of Prometheus scrape configs")));
    }
    let doc = yaml::parse(text).map_err(|(line, why)| Error::input(format!("{file}: line {line}: {why}")))?;
    let Value::Array(items) = &doc.value else {
        return Err(Error::input(format!(
            "{file}: line {}: the root must be a YAML list of scrape configs (`- job_name: …`)",
            doc.line("")
        )));
    };
    if items.is_empty() {
        return Err(Error::input(format!("{file}: the list is empty; give at least one scrape config")));
    }
    for (i, item) in items.iter().enumerate() {
        let path = index_path("", i);
        let Value::Object(cfg) = item else {
            return Err(err(file, &doc, &path, "a scrape config must be a mapping"));
        };
        for key in cfg.keys() {
            if key.ends_with("_sd_configs") {
                return Err(err(
                    file,
                    &doc,
                    &key_path(&path, key),
                    "service discovery is not supported; use static_configs with maand:port/<port> targets",
                ));
            }
        }
        match cfg.get("job_name") {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => return Err(err(file, &doc, &key_path(&path, "job_name"), "a non-empty string is required")),
        }
        let sc_path = key_path(&path, "static_configs");
        let Some(Value::Array(blocks)) = cfg.get("static_configs") else {
            return Err(err(file, &doc, &sc_path, "a list of {targets, labels} is required"));
        };
        if blocks.is_empty() {
            return Err(err(file, &doc, &sc_path, "must not be empty"));
        }
        for (b, block) in blocks.iter().enumerate() {
            let bpath = index_path(&sc_path, b);
            let Value::Object(block) = block else {
                return Err(err(file, &doc, &bpath, "must be a mapping with `targets`"));
            };
            let tpath = key_path(&bpath, "targets");
            let Some(Value::Array(targets)) = block.get("targets") else {
                return Err(err(file, &doc, &tpath, "a list of targets is required"));
            };
            if targets.is_empty() {
                return Err(err(file, &doc, &tpath, "must not be empty"));
            }
            for (t, target) in targets.iter().enumerate() {
                let path = index_path(&tpath, t);
                let Value::String(target) = target else {
                    return Err(err(file, &doc, &path, "a target must be a string"));
                };
                check_target(target, scope).map_err(|why| err(file, &doc, &path, why))?;
            }
            if let Some(labels) = block.get("labels") {
                let lpath = key_path(&bpath, "labels");
                let Value::Object(labels) = labels else {
                    return Err(err(file, &doc, &lpath, "must be a mapping of label names to strings"));
                };
                for (k, v) in labels {
                    if !v.is_string() {
                        return Err(err(file, &doc, &key_path(&lpath, k), "a label value must be a string"));
                    }
                }
            }
        }
    }
    Ok(items.clone())
}

/// A parsed port placeholder.
struct Placeholder<'a> {
    key: &'a str,
    worker: Option<&'a str>,
}

fn placeholder(target: &str) -> std::result::Result<Option<Placeholder<'_>>, String> {
    let Some(rest) = target.strip_prefix(PORT_PLACEHOLDER) else {
        if target.starts_with("maand:") {
            return Err(format!(
                "unknown placeholder {target:?} (targets take maand:port/<port>, maand:port/_implicit or maand:port/<port>/<worker>)"
            ));
        }
        return Ok(None);
    };
    let mut parts = rest.split('/');
    let key = parts.next().unwrap_or_default();
    let worker = parts.next();
    if key.is_empty() || worker.is_some_and(str::is_empty) || parts.next().is_some() {
        return Err(format!(
            "invalid placeholder {target:?} (use maand:port/<port>, maand:port/_implicit or maand:port/<port>/<worker>)"
        ));
    }
    Ok(Some(Placeholder { key, worker }))
}

fn check_target(target: &str, scope: &ScrapeScope) -> std::result::Result<(), String> {
    let Some(p) = placeholder(target)? else { return Ok(()) };
    let key = resolve_port(scope.job, p.key, scope.ports)?;
    if !scope.ports.contains(&key) {
        return Err(format!("port {key:?} is not declared in the job's manifest.json resources.ports"));
    }
    if let Some(w) = p.worker
        && !scope.workers.contains(w)
    {
        return Err(format!("worker {w:?} has no allocation of job {}", scope.job));
    }
    Ok(())
}

/// The port key a placeholder key names: `_implicit` is `<job>_metrics_port`,
/// else `metrics_port`, else the only `*_metrics_port`.
pub fn resolve_port(job: &str, key: &str, ports: &BTreeSet<String>) -> std::result::Result<String, String> {
    if key != IMPLICIT_PORT {
        return Ok(key.to_string());
    }
    for name in [format!("{job}_metrics_port"), "metrics_port".to_string()] {
        if ports.contains(&name) {
            return Ok(name);
        }
    }
    let found: Vec<&String> = ports.iter().filter(|p| p.ends_with("_metrics_port")).collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "maand:port/_implicit needs a metrics port ({job}_metrics_port, metrics_port or one *_metrics_port) in resources.ports"
        )),
        many => Err(format!(
            "maand:port/_implicit is ambiguous: {} are declared; name the port",
            many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `job_name` with `maand:job` resolved.
pub fn job_name(job: &str, cfg: &Value) -> String {
    match cfg.get("job_name").and_then(Value::as_str) {
        Some(JOB_PLACEHOLDER) | None => job.to_string(),
        Some(s) => s.to_string(),
    }
}

/// Whether any target is a port placeholder (the job then needs an active
/// allocation to be scraped).
pub fn needs_allocations(configs: &[Value]) -> bool {
    targets(configs).any(|t| t.starts_with(PORT_PLACEHOLDER))
}

fn targets(configs: &[Value]) -> impl Iterator<Item = &str> {
    configs
        .iter()
        .filter_map(|c| c.get("static_configs").and_then(Value::as_array))
        .flatten()
        .filter_map(|b| b.get("targets").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
}

/// Where a job's placeholders point at deploy.
pub struct Live<'a> {
    /// Declared ports and their numbers.
    pub ports: &'a BTreeMap<String, u16>,
    /// Active allocations' workers, in catalog order.
    pub workers: &'a [String],
}

/// Expand `maand:job` and `maand:port/…` in a job's configs. `Ok(None)` when
/// a static block would have no target left (the job is skipped).
pub fn expand(job: &str, configs: &[Value], live: &Live) -> Result<Option<Vec<Value>>> {
    let names: BTreeSet<String> = live.ports.keys().cloned().collect();
    let mut out = Vec::with_capacity(configs.len());
    for cfg in configs {
        let mut cfg = cfg.clone();
        let Some(obj) = cfg.as_object_mut() else { continue };
        if obj.get("job_name").and_then(Value::as_str) == Some(JOB_PLACEHOLDER) {
            obj.insert("job_name".into(), Value::String(job.to_string()));
        }
        let Some(Value::Array(blocks)) = obj.get_mut("static_configs") else { continue };
        for block in blocks.iter_mut() {
            let Some(block) = block.as_object_mut() else { continue };
            if let Some(Value::Object(labels)) = block.get_mut("labels") {
                for v in labels.values_mut() {
                    if v.as_str() == Some(JOB_PLACEHOLDER) {
                        *v = Value::String(job.to_string());
                    }
                }
            }
            let mut expanded: Vec<Value> = Vec::new();
            for t in block.get("targets").and_then(Value::as_array).into_iter().flatten() {
                let Some(t) = t.as_str() else { continue };
                let p = placeholder(t).map_err(|why| Error::op(format!("job {job}: {why}")))?;
                let Some(p) = p else {
                    expanded.push(Value::String(t.to_string()));
                    continue;
                };
                let key = resolve_port(job, p.key, &names).map_err(|why| Error::op(format!("job {job}: {why}")))?;
                let Some(port) = live.ports.get(&key) else {
                    return Err(Error::op(format!(
                        "job {job}: scrape target {t:?}: port {key:?} is not in the catalog (run maand build)"
                    )));
                };
                for w in live.workers.iter().filter(|w| p.worker.is_none_or(|pin| pin == w.as_str())) {
                    expanded.push(Value::String(format!("{w}:{port}")));
                }
            }
            if expanded.is_empty() {
                return Ok(None);
            }
            block.insert("targets".into(), Value::Array(expanded));
        }
        out.push(cfg);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> BTreeSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn implicit_port_resolution() {
        assert_eq!(
            resolve_port("api", "_implicit", &set(&["api_metrics_port", "metrics_port"])).unwrap(),
            "api_metrics_port"
        );
        assert_eq!(
            resolve_port("api", "_implicit", &set(&["metrics_port", "x_metrics_port"])).unwrap(),
            "metrics_port"
        );
        assert_eq!(resolve_port("api", "_implicit", &set(&["x_metrics_port", "http"])).unwrap(), "x_metrics_port");
        assert!(
            resolve_port("api", "_implicit", &set(&["a_metrics_port", "b_metrics_port"]))
                .unwrap_err()
                .contains("ambiguous")
        );
        assert!(resolve_port("api", "_implicit", &set(&["http"])).is_err());
    }

    #[test]
    fn expansion_in_worker_order_with_pins_and_job_placeholders() {
        let ports = set(&["api_metrics_port"]);
        let workers = set(&["10.0.0.1", "10.0.0.2"]);
        let scope = ScrapeScope { job: "api", ports: &ports, workers: &workers };
        let src = "- job_name: maand:job\n  static_configs:\n    - targets: [maand:port/_implicit, 'lit:1']\n      labels: {maand_job: maand:job}\n- job_name: pinned\n  static_configs:\n    - targets: [maand:port/api_metrics_port/10.0.0.2]\n";
        let configs = check("f", src, &scope).unwrap();
        assert!(needs_allocations(&configs));
        let numbers: BTreeMap<String, u16> = [("api_metrics_port".to_string(), 9100)].into();
        let live = ["10.0.0.2".to_string(), "10.0.0.1".to_string()];
        let out = expand("api", &configs, &Live { ports: &numbers, workers: &live }).unwrap().unwrap();
        assert_eq!(out[0]["job_name"], "api");
        assert_eq!(
            out[0]["static_configs"][0]["targets"],
            serde_json::json!(["10.0.0.2:9100", "10.0.0.1:9100", "lit:1"])
        );
        assert_eq!(out[0]["static_configs"][0]["labels"]["maand_job"], "api");
        assert_eq!(out[1]["static_configs"][0]["targets"], serde_json::json!(["10.0.0.2:9100"]));
        // The pinned worker inactive: its block has no target, the job is skipped.
        let one = ["10.0.0.1".to_string()];
        assert!(expand("api", &configs, &Live { ports: &numbers, workers: &one }).unwrap().is_none());
    }
}
