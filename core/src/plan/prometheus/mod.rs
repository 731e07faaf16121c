//! Prometheus integration (SPEC §10), the pure part: which job is the
//! Prometheus server, the validation of every job's `_prometheus/` folder at
//! build, the scrape KV (`maand/prometheus`), and what the server job's
//! staging assembles at deploy (expanded scrape configs, rule file list,
//! alert rules with runbook URLs). The shell reads files, renders templates
//! and Markdown, and writes the staged files.
//!
//! A job opts in with `_prometheus/` (`scrape.yaml` or `scrape.yaml.tpl`,
//! `alerts/*.yaml`, `runbooks/*.md`, `dashboards/**`); none of it is
//! shipped to that job's workers. All of it is ignored unless some job is a
//! server job (ships `prometheus.yml` or `prometheus.yml.tpl`).

pub mod alerts;
pub mod scrape;
pub mod yaml;

use crate::error::{Error, Result};
use crate::state::{Catalog, State};
use crate::workspace::Workspace;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A server job's static configuration file.
pub const SERVER_CONFIG: &str = "prometheus.yml";
/// A server job's configuration template.
pub const SERVER_TEMPLATE: &str = "prometheus.yml.tpl";
/// The folder of a job's Prometheus material (never shipped to its workers).
pub const DIR: &str = "_prometheus/";
/// The KV namespace build writes the scrape catalog to.
pub const KV_NAMESPACE: &str = "maand/prometheus";
/// A job's scrape file.
pub const SCRAPE_FILE: &str = "scrape.yaml";
/// A job's scrape template (rendered at build).
pub const SCRAPE_TEMPLATE: &str = "scrape.yaml.tpl";
/// Where the built-in certificate rules go in the server job.
pub const CERT_RULES_FILE: &str = "rules/maand/certs.yaml";
/// The built-in certificate rules (alerts on the pushed expiry gauges).
pub const CERT_RULES: &str = include_str!("cert_rules.yaml");
/// The port of the server job its URLs use, as the original names it.
pub const HTTP_PORT: &str = "prometheus_port_http";

/// Whether a job with these file paths is a Prometheus server job.
pub fn is_server<'a>(mut paths: impl Iterator<Item = &'a String>) -> bool {
    paths.any(|p| p == SERVER_CONFIG || p == SERVER_TEMPLATE)
}

/// The server jobs of the catalog, by name.
pub fn server_jobs(cat: &Catalog) -> Vec<&str> {
    cat.jobs.iter().filter(|(_, j)| is_server(j.files.keys())).map(|(n, _)| n.as_str()).collect()
}

/// One job's `_prometheus/` files, by kind (paths relative to `_prometheus/`).
#[derive(Debug, Default)]
pub struct JobFiles<'a> {
    /// `scrape.yaml`.
    pub scrape: Option<&'a [u8]>,
    /// `scrape.yaml.tpl`.
    pub scrape_template: Option<&'a [u8]>,
    /// `alerts/<file>.yaml|yml`: file name → content.
    pub alerts: BTreeMap<&'a str, &'a [u8]>,
    /// `runbooks/<name>.md`: name → content.
    pub runbooks: BTreeMap<&'a str, &'a [u8]>,
    /// `dashboards/<path>`: path → content.
    pub dashboards: BTreeMap<&'a str, &'a [u8]>,
}

impl JobFiles<'_> {
    /// Whether the job has any Prometheus material.
    pub fn is_empty(&self) -> bool {
        self.scrape.is_none()
            && self.scrape_template.is_none()
            && self.alerts.is_empty()
            && self.runbooks.is_empty()
            && self.dashboards.is_empty()
    }
}

/// Sort a job's files (job-relative paths and contents) into [`JobFiles`].
/// Alert and runbook files sit directly in their folders; others there are
/// not read.
pub fn job_files<'a>(files: impl Iterator<Item = (&'a str, &'a [u8])>) -> JobFiles<'a> {
    let mut out = JobFiles::default();
    for (path, content) in files {
        let Some(rel) = path.strip_prefix(DIR) else { continue };
        if rel == SCRAPE_FILE {
            out.scrape = Some(content);
        } else if rel == SCRAPE_TEMPLATE {
            out.scrape_template = Some(content);
        } else if let Some(f) = rel.strip_prefix("alerts/")
            && !f.contains('/')
            && (f.ends_with(".yaml") || f.ends_with(".yml"))
        {
            out.alerts.insert(f, content);
        } else if let Some(f) = rel.strip_prefix("runbooks/")
            && !f.contains('/')
            && let Some(name) = f.strip_suffix(".md")
        {
            out.runbooks.insert(name, content);
        } else if let Some(f) = rel.strip_prefix("dashboards/") {
            out.dashboards.insert(f, content);
        }
    }
    out
}

/// The `_prometheus/` files of a catalog job.
pub fn catalog_job_files<'a>(cat: &'a Catalog, job: &str) -> JobFiles<'a> {
    match cat.jobs.get(job) {
        Some(j) => job_files(j.files.iter().map(|(p, f)| (p.as_str(), f.content.as_slice()))),
        None => JobFiles::default(),
    }
}

fn utf8<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| Error::input(format!("{file}: not UTF-8 text")))
}

/// Jobs whose `scrape.yaml.tpl` the shell must render before planning (only
/// when the workspace has a server job).
pub fn scrape_templates(ws: &Workspace) -> BTreeMap<String, String> {
    if !ws.jobs.values().any(|j| is_server(j.files.keys())) {
        return BTreeMap::new();
    }
    ws.jobs
        .iter()
        .filter_map(|(name, j)| {
            let f = j.files.get(&format!("{DIR}{SCRAPE_TEMPLATE}"))?;
            Some((name.clone(), String::from_utf8_lossy(&f.content).into_owned()))
        })
        .collect()
}

/// The checked scrape configs of the workspace, by job (unexpanded).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checked {
    /// Scrape configs per job that has a scrape file.
    pub scrape: BTreeMap<String, Vec<Value>>,
}

/// Check the server jobs' configuration files and, when the workspace has a
/// server job, every job's `_prometheus/`: scrape files (against the job's
/// ports and allocations in `next`), alert files, and bucket-wide unique
/// scrape `job_name`s and alert names. `rendered` holds the rendered
/// `scrape.yaml.tpl` of jobs that have one (a job missing from it is
/// treated as having no scrape file). `Ok(None)`: no server job.
pub fn check_workspace(ws: &Workspace, next: &Catalog, rendered: &BTreeMap<String, String>) -> Result<Option<Checked>> {
    for (name, j) in &ws.jobs {
        if j.files.contains_key(SERVER_CONFIG) && j.files.contains_key(SERVER_TEMPLATE) {
            return Err(Error::input(format!(
                "workspace/jobs/{name}/: has both {SERVER_CONFIG} and {SERVER_TEMPLATE}; keep one"
            )));
        }
    }
    if !ws.jobs.values().any(|j| is_server(j.files.keys())) {
        return Ok(None);
    }
    let mut checked = Checked::default();
    let mut job_names: BTreeMap<String, String> = BTreeMap::new();
    let mut alert_names: BTreeMap<String, String> = BTreeMap::new();
    let builtin = alerts::check("built-in certificate rules", CERT_RULES, &BTreeSet::new())?;
    for a in builtin {
        alert_names.insert(a.name, format!("maand's built-in {CERT_RULES_FILE}"));
    }
    for (name, j) in &ws.jobs {
        let files = job_files(j.files.iter().map(|(p, f)| (p.as_str(), f.content.as_slice())));
        let base = format!("workspace/jobs/{name}/{DIR}");
        if files.scrape.is_some() && files.scrape_template.is_some() {
            return Err(Error::input(format!("{base}: has both {SCRAPE_FILE} and {SCRAPE_TEMPLATE}; keep one")));
        }
        let runbooks: BTreeSet<String> = files.runbooks.keys().map(|s| s.to_string()).collect();
        for (file, content) in &files.alerts {
            let shown = format!("{base}alerts/{file}");
            if name == "maand" && format!("rules/maand/{file}") == CERT_RULES_FILE {
                return Err(Error::input(format!(
                    "{shown}: would be deployed as {CERT_RULES_FILE}, which holds maand's certificate rules; rename it"
                )));
            }
            for a in alerts::check(&shown, utf8(&shown, content)?, &runbooks)? {
                if let Some(owner) = alert_names.get(&a.name) {
                    return Err(Error::input(format!(
                        "{shown}: line {}, field `alert`: alert name {:?} is already used by {owner}; alert names are unique in the bucket",
                        a.line, a.name
                    )));
                }
                alert_names.insert(a.name, shown.clone());
            }
        }
        let (shown, text) = match (files.scrape, rendered.get(name)) {
            (Some(c), _) => {
                let shown = format!("{base}{SCRAPE_FILE}");
                let text = utf8(&shown, c)?.to_string();
                (shown, text)
            }
            (None, Some(r)) if files.scrape_template.is_some() => {
                (format!("{base}{SCRAPE_TEMPLATE} (as rendered)"), r.clone())
            }
            _ => continue,
        };
        let ports: BTreeSet<String> = j.manifest.ports.keys().cloned().collect();
        let workers: BTreeSet<String> =
            next.allocations_of(name).iter().filter(|a| !a.removed).map(|a| a.worker_ip.clone()).collect();
        let scope = scrape::ScrapeScope { job: name, ports: &ports, workers: &workers };
        let configs = scrape::check(&shown, &text, &scope)?;
        for (i, cfg) in configs.iter().enumerate() {
            let jn = scrape::job_name(name, cfg);
            if let Some(owner) = job_names.get(&jn) {
                return Err(Error::input(format!(
                    "{shown}: field `[{i}].job_name`: scrape job_name {jn:?} is already used by {owner}; job_names are unique in the bucket"
                )));
            }
            job_names.insert(jn, shown.clone());
        }
        checked.scrape.insert(name.clone(), configs);
    }
    Ok(Some(checked))
}

/// The build-owned KV of the integration: namespace `maand/prometheus`
/// (`scrape/<job>`, `scrape_configs`, `scrape_jobs`, `scrape_jobs_length`)
/// and `job_name` in `maand/job/<job>` of active jobs with a scrape file.
/// Empty without a server job (so build clears the namespace).
pub fn desired_kv(checked: Option<&Checked>, next: &Catalog) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut kv: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let Some(checked) = checked else { return kv };
    let mut included: Vec<&str> = Vec::new();
    let mut all: Vec<Value> = Vec::new();
    for (job, configs) in &checked.scrape {
        let ns = kv.entry(KV_NAMESPACE.to_string()).or_default();
        ns.insert(format!("scrape/{job}"), Value::Array(configs.clone()).to_string());
        let active = next.allocations_of(job).iter().any(|a| a.active());
        if active && let Some(first) = configs.first() {
            kv.entry(format!("maand/job/{job}")).or_default().insert("job_name".into(), scrape::job_name(job, first));
        }
        if active || !scrape::needs_allocations(configs) {
            included.push(job);
            all.extend(configs.iter().cloned());
        }
    }
    let ns = kv.entry(KV_NAMESPACE.to_string()).or_default();
    ns.insert("scrape_configs".into(), Value::Array(all).to_string());
    ns.insert("scrape_jobs".into(), included.join(","));
    ns.insert("scrape_jobs_length".into(), included.len().to_string());
    kv
}

/// The scrape configs `{{ scrapeConfigs }}` renders: the jobs of
/// `maand/prometheus` `scrape_jobs` (only those in `only`, when given),
/// placeholders expanded with the catalog's ports and active allocations
/// (catalog order); a job left without a target is skipped.
pub fn expanded_scrape_configs(state: &State, only: &[String]) -> Result<Vec<Value>> {
    let Some(jobs) = plain(state, KV_NAMESPACE, "scrape_jobs") else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for job in jobs.split(',').filter(|j| !j.is_empty()) {
        if !only.is_empty() && !only.iter().any(|o| o == job) {
            continue;
        }
        let key = format!("scrape/{job}");
        let Some(raw) = plain(state, KV_NAMESPACE, &key) else { continue };
        let configs: Vec<Value> = serde_json::from_str(raw)
            .map_err(|e| Error::op(format!("KV {KV_NAMESPACE} {key}: not a JSON list of scrape configs: {e}")))?;
        let ports: BTreeMap<String, u16> = state
            .catalog
            .jobs
            .get(job)
            .map(|j| j.spec.ports.iter().map(|(n, p)| (n.clone(), p.port)).collect())
            .unwrap_or_default();
        let workers: Vec<String> =
            state.catalog.allocations_of(job).iter().filter(|a| a.active()).map(|a| a.worker_ip.clone()).collect();
        if let Some(expanded) = scrape::expand(job, &configs, &scrape::Live { ports: &ports, workers: &workers })? {
            out.extend(expanded);
        }
    }
    Ok(out)
}

fn plain<'a>(state: &'a State, ns: &str, key: &str) -> Option<&'a str> {
    match state.kv.stored_get(ns, key) {
        Some(crate::event::KvValue::Plain(s)) => Some(s),
        _ => None,
    }
}

/// The YAML fragment `{{ scrapeConfigs }}` writes: each config as a list
/// item indented two spaces, each line after a newline (so the call sits at
/// the start of a line under `scrape_configs:`); empty without configs.
pub fn scrape_configs_fragment(configs: &[Value]) -> String {
    if configs.is_empty() {
        return String::new();
    }
    let text = yaml::emit(&Value::Array(configs.to_vec()));
    text.lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("\n  {l}") }).collect()
}

/// The rule files the server job gets, relative to its directory: the
/// built-in certificate rules, then `rules/<job>/<file>` for every job's
/// alert files (sorted by job, then file).
pub fn rule_files(cat: &Catalog) -> Vec<String> {
    let mut out = Vec::new();
    if !server_jobs(cat).is_empty() {
        out.push(CERT_RULES_FILE.to_string());
    }
    for job in cat.jobs.keys() {
        for file in catalog_job_files(cat, job).alerts.keys() {
            out.push(format!("rules/{job}/{file}"));
        }
    }
    out
}

/// The `rule_files:` block `{{ ruleFiles }}` writes (empty when there are none).
pub fn rule_files_fragment(cat: &Catalog) -> String {
    let files = rule_files(cat);
    if files.is_empty() {
        return String::new();
    }
    let mut s = String::from("rule_files:\n");
    for f in files {
        s.push_str(&format!("  - {f}\n"));
    }
    s
}

/// The base URL of the Prometheus UI on a server allocation: its address
/// and the job's `prometheus_port_http`, else its only port, else 9090.
pub fn base_url(cat: &Catalog, job: &str, ip: &str) -> String {
    let ports = cat.jobs.get(job).map(|j| &j.spec.ports);
    let port = ports
        .and_then(|p| p.get(HTTP_PORT).or_else(|| if p.len() == 1 { p.values().next() } else { None }))
        .map_or(9090, |p| p.port);
    format!("http://{ip}:{port}")
}

#[cfg(test)]
mod tests;
