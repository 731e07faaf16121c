//! Build-time rendering of `_prometheus/scrape.yaml.tpl` (docs/prometheus.md):
//! against the state this build leads to, so the templates read the KV the
//! build writes (the original renders after its KV sync).

use crate::error::{Error, Result};
use crate::kv::seal::KvKey;
use crate::plan::build::{BuildContext, plan_build};
use crate::plan::prometheus::{DIR, SCRAPE_TEMPLATE};
use crate::state::State;
use crate::templates::render_scrape_template;
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Render `templates` (job → source of its `scrape.yaml.tpl`): plan the
/// build once without them, fold that plan into a copy of `state`, render
/// each template there. A template that fails to render is bad input.
pub fn render_scrape_templates(
    state: &State,
    ws: &Workspace,
    ctx: &BuildContext,
    templates: &BTreeMap<String, String>,
    kv_key: &std::path::Path,
) -> Result<BTreeMap<String, String>> {
    let first = plan_build(state, ws, ctx)?;
    let mut next = state.clone();
    for e in &first.events {
        next.apply(e);
    }
    let next = Arc::new(next);
    let key = KvKey::load(kv_key)?;
    let mut out = BTreeMap::new();
    for (job, src) in templates {
        let file = format!("workspace/jobs/{job}/{DIR}{SCRAPE_TEMPLATE}");
        let spec = next.catalog.jobs.get(job).map(|j| j.spec.clone()).unwrap_or_default();
        let upstream: Vec<String> =
            spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect();
        let text = render_scrape_template(&file, src, job, &spec.version, next.clone(), &key, &upstream)
            .map_err(|e| Error::input(e.message()))?;
        out.insert(job.clone(), text);
    }
    Ok(out)
}
