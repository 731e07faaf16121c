//! Job templates (`*.tpl`): Go's `text/template` through the [`gotmpl`]
//! crate (a port of Go's engine: same syntax, same `printf`, maps iterated in
//! sorted key order), with the original maand's functions (`get`,
//! `getOptional`, `getSecret`, `keys`, string and integer helpers) and the
//! allocation context (`.WorkerIP`, `.NewVersion`, ...). KV reads obey the
//! hook read rules of [`crate::kv::access`].
//!
//! Per-render state is explicit: [`Template::parse`] binds the template to
//! one [`KvView`] (the KV functions are closures over it), so nothing is
//! shared between renders and nothing lives in a thread-local.
//!
//! Rendering is a pure function of (template text, [`TemplateContext`],
//! [`KvView`]): the dot is a map and every list and map the engine sees
//! iterates in a fixed (sorted) order.
//!
//! gotmpl reports no source position for execution errors, so maand
//! instruments the parsed trees (see `instrument`) and names the file, the
//! line and the failing key or function itself.

mod funcs;
mod gofmt;
mod instrument;

use crate::error::{Error, Result};
use crate::kv::seal::KvKey;
use crate::state::State;
use gotmpl::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The dot context of a render: one allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateContext {
    /// `.AllocationID`.
    pub allocation_id: String,
    /// `.Job`.
    pub job: String,
    /// `.CurrentVersion`: the version running on this allocation (the
    /// promoted one), `0.0.0` before its first deploy.
    pub current_version: String,
    /// `.NewVersion`: the job's version in the catalog (the target).
    pub new_version: String,
    /// `.WorkerIP`.
    pub worker_ip: String,
    /// `.WorkerID`.
    pub worker_id: String,
    /// `.Labels`.
    pub labels: Vec<String>,
    /// `.BucketID`.
    pub bucket_id: String,
    /// `.UpdateSeq`: the deploy's update sequence number.
    pub update_seq: u64,
    /// `.BucketPath`: `/opt/worker/<bucket_id>`.
    pub bucket_path: String,
    /// `.JobPath`: `/opt/worker/<bucket_id>/jobs/<job>`.
    pub job_path: String,
}

impl TemplateContext {
    /// The context change detection renders with: the allocation as it will
    /// be once this deploy is promoted and nothing changes any more
    /// (`.CurrentVersion` = `.NewVersion`, `.UpdateSeq` = 0). The bytes
    /// shipped use the real context; the staged tree hash uses this one, so
    /// neither field alone ever makes an allocation restart (docs/templates.md).
    pub fn steady(&self) -> TemplateContext {
        TemplateContext { current_version: self.new_version.clone(), update_seq: 0, ..self.clone() }
    }

    /// The dot: a map from field name to value.
    pub fn value(&self) -> Value {
        let s = |v: &str| Value::String(v.into());
        let mut m: BTreeMap<Arc<str>, Value> = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.into(), v);
        };
        put("AllocationID", s(&self.allocation_id));
        put("Job", s(&self.job));
        put("CurrentVersion", s(&self.current_version));
        put("NewVersion", s(&self.new_version));
        put("WorkerIP", s(&self.worker_ip));
        put("WorkerID", s(&self.worker_id));
        put("Labels", Value::List(self.labels.iter().map(|l| s(l)).collect()));
        put("BucketID", s(&self.bucket_id));
        put("UpdateSeq", Value::Int(i64::try_from(self.update_seq).unwrap_or(i64::MAX)));
        put("BucketPath", s(&self.bucket_path));
        put("JobPath", s(&self.job_path));
        Value::Map(Arc::new(m))
    }
}

/// What the KV functions of one render may read: the state's KV under the
/// hook read rules of allocation (`job`, `ip`), secrets opened with `kv_key`.
pub struct KvView {
    /// State holding the KV.
    pub state: Arc<State>,
    /// Key opening sealed values.
    pub kv_key: KvKey,
    /// The allocation's job.
    pub job: String,
    /// The allocation's worker.
    pub ip: String,
    /// Jobs named in the job's hook demands (their namespaces are readable).
    pub upstream: Vec<String>,
    /// Whether a render through this view opened a sealed value (a secret or
    /// a private key); its output is then written 0600. Per view: a clone
    /// starts afresh.
    read_sealed: std::sync::atomic::AtomicBool,
    /// The maand functions templates of this view may call (`None`: all).
    only: Option<&'static [&'static str]>,
}

impl KvView {
    /// A view for allocation (`job`, `ip`) of `state`.
    pub fn new(state: Arc<State>, kv_key: KvKey, job: &str, ip: &str, upstream: Vec<String>) -> KvView {
        KvView {
            state,
            kv_key,
            job: job.to_string(),
            ip: ip.to_string(),
            upstream,
            read_sealed: Default::default(),
            only: None,
        }
    }

    /// Whether templates of this view may call maand function `name`.
    pub(crate) fn allows(&self, name: &str) -> bool {
        self.only.is_none_or(|only| only.contains(&name))
    }

    /// Note that a sealed value was opened.
    pub(crate) fn mark_sealed_read(&self) {
        self.read_sealed.store(true, Ordering::SeqCst);
    }
}

impl Clone for KvView {
    fn clone(&self) -> Self {
        let mut v = KvView::new(self.state.clone(), self.kv_key.clone(), &self.job, &self.ip, self.upstream.clone());
        v.only = self.only;
        v
    }
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

/// Why a render failed, as the functions saw it.
#[derive(Debug, Clone)]
struct Failure {
    line: usize,
    /// The function that failed (its template name); `None` for maand's own
    /// checks.
    func: Option<String>,
    /// `(namespace, key)` for KV failures.
    kv: Option<(String, String)>,
    message: String,
}

/// The state of one template's renders: its KV view, the node being
/// executed (1 + its index in the sites; 0 before the first) and the first
/// failure of a maand function.
struct Scope {
    view: KvView,
    site: AtomicUsize,
    failure: Mutex<Option<Failure>>,
}

impl Scope {
    fn fail(&self, f: Failure) {
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(f);
        }
    }
}

/// A parsed template bound to one allocation's KV view.
pub struct Template {
    file: String,
    inner: gotmpl::Template,
    sites: Vec<instrument::Site>,
    scope: Arc<Scope>,
}

impl Template {
    /// Parse `src` (from `file`, named in messages) for renders reading `view`.
    /// A syntax error, or a function that does not exist (Go checks this when
    /// parsing too), is bad input: `template <file>: line N: reason`.
    pub fn parse(file: &str, src: &str, view: KvView) -> Result<Template> {
        let scope = Arc::new(Scope { view, site: AtomicUsize::new(0), failure: Mutex::new(None) });
        let (inner, sites) = instrument::compile(src, &scope)
            .map_err(|(line, why)| Error::input(format!("template {file}: line {line}: {why}")))?;
        Ok(Template { file: file.to_string(), inner, sites, scope })
    }

    /// Render with `ctx` as the dot.
    pub fn render(&self, ctx: &TemplateContext) -> Result<String> {
        self.render_full(ctx).map(|r| r.text)
    }

    /// [`Template::render`], also telling whether the output holds a secret.
    pub fn render_full(&self, ctx: &TemplateContext) -> Result<Rendered> {
        self.render_dot(&ctx.value())
    }

    fn render_dot(&self, dot: &Value) -> Result<Rendered> {
        self.scope.site.store(0, Ordering::SeqCst);
        self.scope.view.read_sealed.store(false, Ordering::SeqCst);
        if let Ok(mut f) = self.scope.failure.lock() {
            *f = None;
        }
        match self.inner.execute_to_string(dot) {
            Ok(text) => Ok(Rendered { text, secret: self.scope.view.read_sealed.load(Ordering::SeqCst) }),
            Err(e) => Err(self.error(e)),
        }
    }

    fn error(&self, e: gotmpl::TemplateError) -> Error {
        let file = &self.file;
        let failure = self.scope.failure.lock().ok().and_then(|f| f.clone());
        match failure {
            Some(Failure { line, kv: Some((ns, key)), message, .. }) => {
                Error::op(format!("template {file}: line {line}, key {key:?} in {ns:?}: {message}"))
            }
            Some(Failure { line, func: Some(func), message, .. }) => {
                Error::op(format!("template {file}: line {line}: error calling {func}: {message}"))
            }
            Some(Failure { line, func: None, message, .. }) => {
                Error::op(format!("template {file}: line {line}: {message}"))
            }
            None => match self.scope.site.load(Ordering::SeqCst).checked_sub(1).and_then(|i| self.sites.get(i)) {
                Some(site) => Error::op(format!("template {file}: line {}: {}: {e}", site.line, site.text)),
                None => Error::op(format!("template {file}: {e}")),
            },
        }
    }
}

/// Render a job's `_prometheus/scrape.yaml.tpl` at build (docs/prometheus.md):
/// the dot has only `.Job`, `.CurrentVersion` and `.NewVersion` (both the
/// job's version), and only the original's smaller set of functions exists.
pub fn render_scrape_template(
    file: &str,
    src: &str,
    job: &str,
    version: &str,
    state: Arc<State>,
    kv_key: &KvKey,
    upstream: &[String],
) -> Result<String> {
    let mut view = KvView::new(state, kv_key.clone(), job, "", upstream.to_vec());
    view.only = Some(funcs::SCRAPE_TEMPLATE_FUNCS);
    let tpl = Template::parse(file, src, view)?;
    let dot: BTreeMap<Arc<str>, Value> = [("Job", job), ("CurrentVersion", version), ("NewVersion", version)]
        .into_iter()
        .map(|(k, v)| (Arc::from(k), Value::String(v.into())))
        .collect();
    Ok(tpl.render_dot(&Value::Map(Arc::new(dot)))?.text)
}

/// Parse and render `src` once (see [`Template`]).
pub fn render(file: &str, src: &str, ctx: &TemplateContext, view: KvView) -> Result<String> {
    Template::parse(file, src, view)?.render(ctx)
}

#[cfg(test)]
mod tests;
