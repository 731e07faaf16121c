//! Job templates (`*.tpl`): Go `text/template` syntax through the `gtmpl`
//! crate, with maand's functions (`get`, `getOptional`, `getSecret`, `keys`,
//! string and integer helpers) and the allocation context (`.WorkerIP`,
//! `.NewVersion`, ...). KV reads obey the hook read rules of
//! [`crate::kv::access`].
//!
//! gtmpl's custom functions are plain `fn` pointers, so the KV they read is
//! handed over through a thread-local for the duration of one render.

mod funcs;

use crate::error::{Error, Result};
use crate::kv::seal::KvKey;
use crate::state::State;
use gtmpl::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

/// The dot context of a render: one allocation.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    /// `.AllocationID`.
    pub allocation_id: String,
    /// `.Job`.
    pub job: String,
    /// `.CurrentVersion`.
    pub current_version: String,
    /// `.NewVersion`.
    pub new_version: String,
    /// `.WorkerIP`.
    pub worker_ip: String,
    /// `.WorkerID`.
    pub worker_id: String,
    /// `.Labels`.
    pub labels: Vec<String>,
    /// `.BucketPath`: `/opt/worker/<bucket_id>`.
    pub bucket_path: String,
    /// `.JobPath`: `/opt/worker/<bucket_id>/jobs/<job>`.
    pub job_path: String,
}

impl TemplateContext {
    fn value(&self) -> Value {
        let s = |v: &str| Value::String(v.to_string());
        let mut m = HashMap::new();
        m.insert("AllocationID".to_string(), s(&self.allocation_id));
        m.insert("Job".to_string(), s(&self.job));
        m.insert("CurrentVersion".to_string(), s(&self.current_version));
        m.insert("NewVersion".to_string(), s(&self.new_version));
        m.insert("WorkerIP".to_string(), s(&self.worker_ip));
        m.insert("WorkerID".to_string(), s(&self.worker_id));
        m.insert("Labels".to_string(), Value::Array(self.labels.iter().map(|l| s(l)).collect()));
        m.insert("BucketPath".to_string(), s(&self.bucket_path));
        m.insert("JobPath".to_string(), s(&self.job_path));
        Value::Object(m)
    }
}

/// What a render may read.
pub(crate) struct RenderData {
    pub state: Arc<State>,
    pub kv_key: KvKey,
    pub job: String,
    pub ip: String,
    pub upstream: Vec<String>,
    /// The first KV failure, for the error message (namespace, key, reason).
    pub failure: RefCell<Option<(String, String, String)>>,
}

thread_local! {
    static DATA: RefCell<Option<Rc<RenderData>>> = const { RefCell::new(None) };
}

pub(crate) fn with_data<T>(f: impl FnOnce(&RenderData) -> T) -> Option<T> {
    DATA.with(|d| d.borrow().as_ref().map(|r| f(r)))
}

/// Render template `file` (for messages) with source `src` for one allocation.
pub fn render(
    file: &str,
    src: &str,
    ctx: &TemplateContext,
    state: Arc<State>,
    kv_key: &KvKey,
    upstream: &[String],
) -> Result<String> {
    let data = Rc::new(RenderData {
        state,
        kv_key: kv_key.clone(),
        job: ctx.job.clone(),
        ip: ctx.worker_ip.clone(),
        upstream: upstream.to_vec(),
        failure: RefCell::new(None),
    });
    render_with(file, src, ctx.value(), funcs::ALL, data)
}

/// Render a job's `_prometheus/scrape.yaml.tpl` at build (docs/prometheus.md):
/// the dot has only `.Job`, `.CurrentVersion` and `.NewVersion` (both the
/// job's version), the functions are `get getSecret keys split join upper
/// lower add sub mul div int`, and KV reads follow the hook read rules of
/// the job without an allocation.
pub fn render_scrape_template(
    file: &str,
    src: &str,
    job: &str,
    version: &str,
    state: Arc<State>,
    kv_key: &KvKey,
    upstream: &[String],
) -> Result<String> {
    let data = Rc::new(RenderData {
        state,
        kv_key: kv_key.clone(),
        job: job.to_string(),
        ip: String::new(),
        upstream: upstream.to_vec(),
        failure: RefCell::new(None),
    });
    let mut m = HashMap::new();
    for (k, v) in [("Job", job), ("CurrentVersion", version), ("NewVersion", version)] {
        m.insert(k.to_string(), Value::String(v.to_string()));
    }
    render_with(file, src, Value::Object(m), funcs::SCRAPE_TEMPLATE, data)
}

fn render_with(
    file: &str,
    src: &str,
    dot: Value,
    funcs: &[(&str, gtmpl::Func)],
    data: Rc<RenderData>,
) -> Result<String> {
    let mut tmpl = gtmpl::Template::default();
    tmpl.add_funcs(funcs);
    tmpl.parse(src).map_err(|e| Error::input(format!("template {file}: {e}")))?;
    DATA.with(|d| *d.borrow_mut() = Some(data.clone()));
    let out = tmpl.render(&gtmpl::Context::from(dot));
    DATA.with(|d| *d.borrow_mut() = None);
    out.map_err(|e| match data.failure.borrow().clone() {
        Some((ns, key, why)) => {
            let line = line_of(src, &key).map(|l| format!("line {l}, ")).unwrap_or_default();
            Error::op(format!("template {file}: {line}key {key:?} in {ns:?}: {why}"))
        }
        None => Error::op(format!("template {file}: {e}")),
    })
}

/// The first line mentioning `"key"` (templates name keys as literals).
fn line_of(src: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    src.lines().position(|l| l.contains(&quoted)).map(|i| i + 1)
}

#[cfg(test)]
mod tests;
