//! What staging the Prometheus server job adds to its tree (docs/prometheus.md,
//! "Deploy"): every job's alert files under `rules/<job>/` (runbook
//! annotations turned into `runbook_url`s on this allocation's UI), the
//! built-in certificate rules, runbook pages and dashboards under
//! `consoles/`. Everything comes from the catalog (the last build), in
//! sorted order, so an unchanged catalog stages identical bytes.

use super::consoles;
use crate::error::{Error, Result};
use crate::plan::prometheus::{self as prom, alerts};
use crate::state::State;
use std::collections::BTreeMap;

/// The files (path under the job directory → content) the server job `job`
/// gets on worker `ip`; empty for any other job.
pub fn server_files(state: &State, job: &str, ip: &str) -> Result<BTreeMap<String, Vec<u8>>> {
    let cat = &state.catalog;
    let mut out: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if !cat.jobs.get(job).is_some_and(|j| prom::is_server(j.files.keys())) {
        return Ok(out);
    }
    let base = prom::base_url(cat, job, ip);
    let mut runbooks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dashboards: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for name in cat.jobs.keys() {
        let files = prom::catalog_job_files(cat, name);
        for (file, content) in &files.alerts {
            let shown = format!("workspace/jobs/{name}/{}alerts/{file}", prom::DIR);
            let text = std::str::from_utf8(content).map_err(|_| Error::op(format!("{shown}: not UTF-8")))?;
            let deployed = alerts::with_runbook_urls(text, name, &base).map_err(|e| e.context(&shown))?;
            out.insert(format!("rules/{name}/{file}"), deployed.into_bytes());
        }
        for (rb, content) in &files.runbooks {
            let page = consoles::runbook_page(name, rb, &String::from_utf8_lossy(content));
            out.insert(format!("consoles/runbooks/{name}/{rb}.html"), page.into_bytes());
            runbooks.entry(name.clone()).or_default().push(rb.to_string());
        }
        for (rel, content) in &files.dashboards {
            if *rel != consoles::DASHBOARD_IGNORE {
                out.insert(format!("consoles/dashboards/{name}/{rel}"), content.to_vec());
            }
            dashboards.entry(name.clone()).or_default().push((rel.to_string(), content.to_vec()));
        }
    }
    out.insert(prom::CERT_RULES_FILE.to_string(), prom::CERT_RULES.as_bytes().to_vec());
    if !runbooks.is_empty() {
        out.insert("consoles/runbooks/index.html".into(), consoles::runbook_index(&runbooks).into_bytes());
        out.insert("consoles/runbooks/style.css".into(), consoles::STYLE_CSS.as_bytes().to_vec());
    }
    if !dashboards.is_empty() {
        out.insert("consoles/dashboards/index.html".into(), consoles::dashboard_index(&dashboards).into_bytes());
        out.insert("consoles/dashboards/style.css".into(), consoles::STYLE_CSS.as_bytes().to_vec());
    }
    Ok(out)
}

/// Whether a job file is never shipped to the job's own workers: hook
/// scripts (`_hooks/`, the original's `_modules/`) run on the control host,
/// and `_prometheus/` is assembled into the server job instead.
pub fn control_host_only(path: &str) -> bool {
    path.starts_with("_hooks/") || path.starts_with("_modules/") || path.starts_with(prom::DIR)
}
