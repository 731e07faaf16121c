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
    /// Whether the render read a sealed value (a secret or a private key).
    pub read_sealed: std::cell::Cell<bool>,
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The output.
    pub text: String,
    /// Whether it holds plaintext of a sealed value (`getSecret`, a
    /// certificate key): such output is written 0600 on the control host
    /// and on workers.
    pub secret: bool,
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
    render_full(file, src, ctx, state, kv_key, upstream).map(|r| r.text)
}

/// [`render`], also telling whether the output holds a secret.
pub fn render_full(
    file: &str,
    src: &str,
    ctx: &TemplateContext,
    state: Arc<State>,
    kv_key: &KvKey,
    upstream: &[String],
) -> Result<Rendered> {
    let data = Rc::new(RenderData {
        state,
        kv_key: kv_key.clone(),
        job: ctx.job.clone(),
        ip: ctx.worker_ip.clone(),
        upstream: upstream.to_vec(),
        failure: RefCell::new(None),
        read_sealed: std::cell::Cell::new(false),
    });
    let mut tmpl = gtmpl::Template::default();
    tmpl.add_funcs(funcs::ALL);
    tmpl.parse(src).map_err(|e| Error::input(format!("template {file}: {e}")))?;
    DATA.with(|d| *d.borrow_mut() = Some(data.clone()));
    let out = tmpl.render(&gtmpl::Context::from(ctx.value()));
    DATA.with(|d| *d.borrow_mut() = None);
    let secret = data.read_sealed.get();
    out.map(|text| Rendered { text, secret }).map_err(|e| match data.failure.borrow().clone() {
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
