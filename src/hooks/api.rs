//! The hook runtime API (seed 001 "Runtime HTTP API"): served on
//! 127.0.0.1 for the life of a build/deploy/health_check/hooks session.
//! Every request needs the bearer token maand gave the calling hook process
//! (beyond the seed: other local users cannot touch KV, and one hook cannot
//! speak for another's allocation or event); then the seed's headers,
//! bodies, status codes and messages apply exactly.

use super::kv_session::KvSession;
use super::semaphores::Semaphores;
use crate::clock;
use crate::error::{Error, Result};
use crate::event::KvValue;
use crate::kv::access::{self, HookScope, KvOp};
use crate::kv::seal::KvKey;
use crate::workspace::manifest::HookEvent;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request body accepted.
const BODY_LIMIT: usize = 1 << 20;

/// Longest `ttl` a key may be given: 10 years, in seconds. Larger values
/// are refused (they used to overflow and expire at once).
pub const MAX_TTL_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// A hook process currently running for an allocation. The API knows a
/// caller only through the token maand gave this one process, so a hook
/// can speak for its own allocation and event and no other.
#[derive(Debug, Clone)]
pub struct Running {
    /// Allocation it runs for (may be a removed one: `after_allocation_stopped`).
    pub alloc_id: String,
    /// Job.
    pub job: String,
    /// Worker address.
    pub ip: String,
    /// Event it runs on.
    pub event: HookEvent,
    /// Hook name.
    pub hook: String,
}

/// State shared by the API handlers and the runner.
pub struct Shared {
    /// Key sealing secrets.
    pub kv_key: KvKey,
    /// KV view and pending writes.
    pub kv: Mutex<KvSession>,
    /// Hook processes running now, by their own bearer token.
    pub running: Mutex<BTreeMap<String, Running>>,
    /// Semaphores.
    pub semaphores: Semaphores,
}

/// A running API server; stops when dropped.
pub struct ApiServer {
    /// The port it listens on.
    pub port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Listen on 127.0.0.1:`port` (0 = any free port) and serve in the
    /// background.
    pub fn start(port: u16, shared: Arc<Shared>) -> Result<ApiServer> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("maand-hook-api")
            .build()
            .map_err(|e| Error::op(format!("starting the hook API runtime: {e}")))?;
        let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).map_err(|e| {
            Error::op(format!(
                "hook API: cannot listen on 127.0.0.1:{port} ({e}); free the port or set hook_api_port (0 = any free port) in maand.conf"
            ))
        })?;
        let port = listener.local_addr().map_err(|e| Error::op(e.to_string()))?.port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared);
        let limits = super::serve::Limits::for_process(BODY_LIMIT);
        let thread = std::thread::Builder::new()
            .name("maand-hook-api".into())
            .spawn(move || rt.block_on(super::serve::serve(listener, app, limits, rx)))
            .map_err(|e| Error::op(format!("starting the hook API: {e}")))?;
        Ok(ApiServer { port, shutdown: Some(tx), thread: Some(thread) })
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/kv", get(kv_get).put(kv_put).delete(kv_delete))
        .route("/kv/secret", axum::routing::put(secret_put).delete(secret_delete))
        .route("/kv/keys", get(kv_keys))
        .route("/demands", get(demands))
        .route("/semaphore/acquire", post(sem_acquire))
        .route("/semaphore/release", post(sem_release))
        .route("/semaphore/status", get(sem_status))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// A refused request (small, so helper `Result`s stay cheap).
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        fail(self.0, &self.1)
    }
}

fn err(status: StatusCode, message: &str) -> ApiError {
    ApiError(status, message.to_string())
}

/// Who is calling: the allocation, its job, the event and the hook.
struct Caller {
    alloc_id: String,
    job: String,
    ip: String,
    event: HookEvent,
    command: String,
    upstream: Vec<String>,
}

impl Caller {
    fn scope(&self) -> HookScope<'_> {
        HookScope { job: &self.job, ip: &self.ip, event: self.event, upstream: &self.upstream }
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty())
}

/// The running process whose token `given` is. Every token is compared in
/// constant time (how long a wrong guess takes says nothing about how much
/// of it was right, nor which process it was close to).
fn token_owner(running: &BTreeMap<String, Running>, given: Option<&str>) -> Option<Running> {
    use subtle::ConstantTimeEq;
    let given = given?;
    let mut found = None;
    for (token, r) in running {
        if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
            found = Some(r.clone());
        }
    }
    found
}

/// Who is calling: the process the bearer token belongs to. The seed's
/// headers must name that process's allocation and event; anything else is
/// the seed's 404 `Invalid allocation ID` / 400 `EVENT…`.
fn caller(shared: &Shared, h: &HeaderMap) -> std::result::Result<Caller, ApiError> {
    let token = header(h, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    let owner = token_owner(&shared.running.lock().unwrap_or_else(|p| p.into_inner()), token);
    let Some(owner) = owner else {
        return Err(err(StatusCode::UNAUTHORIZED, "Missing or invalid Authorization: Bearer <HOOK_API_TOKEN>"));
    };
    let Some(alloc_id) = header(h, "x-allocation-id") else {
        return Err(err(StatusCode::BAD_REQUEST, "X-ALLOCATION-ID header is missing"));
    };
    if alloc_id != owner.alloc_id {
        return Err(err(StatusCode::NOT_FOUND, "Invalid allocation ID"));
    }
    let Some(event) = header(h, "event") else {
        return Err(err(StatusCode::BAD_REQUEST, "EVENT header is missing"));
    };
    let Ok(event) = serde_json::from_value::<HookEvent>(Value::String(event.to_string())) else {
        return Err(err(StatusCode::BAD_REQUEST, "EVENT header names no hook event"));
    };
    if event != owner.event {
        return Err(err(StatusCode::BAD_REQUEST, "EVENT header does not match the running hook"));
    }
    let Some(command) = header(h, "command") else {
        return Err(err(StatusCode::BAD_REQUEST, "COMMAND header is missing"));
    };
    let kv = shared.kv.lock().unwrap_or_else(|p| p.into_inner());
    let upstream = kv
        .base()
        .catalog
        .jobs
        .get(&owner.job)
        .map(|j| j.spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect())
        .unwrap_or_default();
    Ok(Caller { alloc_id: owner.alloc_id, job: owner.job, ip: owner.ip, event, command: command.to_string(), upstream })
}

/// The JSON body, with the seed's 415/400 answers.
fn json_body(h: &HeaderMap, body: &Bytes) -> std::result::Result<Option<Value>, ApiError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let ct = header(h, "content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(err(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        _ => Err(err(StatusCode::BAD_REQUEST, "Invalid JSON format")),
    }
}

fn field(v: &Option<Value>, q: &BTreeMap<String, String>, name: &str) -> Option<String> {
    match v.as_ref().and_then(|v| v.get(name)) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Null) | None => q.get(name).filter(|s| !s.is_empty()).cloned(),
        Some(Value::String(_)) => None,
        Some(other) => Some(other.to_string()),
    }
}

struct Target {
    caller: Caller,
    body: Option<Value>,
    namespace: String,
    key: String,
}

fn target(
    shared: &Shared,
    h: &HeaderMap,
    q: &BTreeMap<String, String>,
    body: &Bytes,
) -> std::result::Result<Target, ApiError> {
    let caller = caller(shared, h)?;
    let body = json_body(h, body)?;
    match (field(&body, q, "namespace"), field(&body, q, "key")) {
        (Some(namespace), Some(key)) => Ok(Target { caller, body, namespace, key }),
        _ => Err(err(StatusCode::BAD_REQUEST, "Both namespace and key are required")),
    }
}

fn allowed(t: &Target, op: KvOp) -> std::result::Result<(), ApiError> {
    access::check(&t.caller.scope(), op, &t.namespace, &t.key)
        .map_err(|d| err(StatusCode::from_u16(d.status()).unwrap_or(StatusCode::BAD_REQUEST), d.message()))
}

type Q = Query<BTreeMap<String, String>>;

async fn kv_get(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    let t = match target(&s, &h, &q, &body) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = allowed(&t, KvOp::Get) {
        return r.into_response();
    }
    let kv = s.kv.lock().unwrap_or_else(|p| p.into_inner());
    let Some(v) = kv.get(&t.namespace, &t.key, clock::now_ms()) else {
        return fail(StatusCode::NOT_FOUND, "KV get operation failed");
    };
    match s.kv_key.open(&t.namespace, &t.key, &v) {
        Ok(value) => axum::Json(json!({ "namespace": t.namespace, "key": t.key, "value": value })).into_response(),
        Err(_) => fail(StatusCode::NOT_FOUND, "KV get operation failed"),
    }
}

fn write(s: &Shared, h: &HeaderMap, q: &BTreeMap<String, String>, body: &Bytes, op: KvOp) -> Response {
    let t = match target(s, h, q, body) {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    if let Err(r) = allowed(&t, op) {
        return r.into_response();
    }
    let now = clock::now_ms();
    let mut kv = s.kv.lock().unwrap_or_else(|p| p.into_inner());
    match op {
        KvOp::Put | KvOp::PutSecret => {
            let Some(value) = field(&t.body, q, "value") else {
                return fail(StatusCode::BAD_REQUEST, "value is required");
            };
            let ttl = match t.body.as_ref().and_then(|b| b.get("ttl")) {
                None | Some(Value::Null) => 0,
                Some(v) => match v.as_u64() {
                    Some(n) if n <= MAX_TTL_SECONDS => n,
                    Some(_) => {
                        return fail(
                            StatusCode::BAD_REQUEST,
                            &format!("ttl must be at most {MAX_TTL_SECONDS} seconds (10 years)"),
                        );
                    }
                    None => return fail(StatusCode::BAD_REQUEST, "ttl must be a whole number of seconds"),
                },
            };
            let stored = if op == KvOp::PutSecret {
                match s.kv_key.seal(&t.namespace, &t.key, &value) {
                    Ok(v) => v,
                    Err(_) => return fail(StatusCode::INTERNAL_SERVER_ERROR, "sealing the secret failed"),
                }
            } else {
                KvValue::Plain(value)
            };
            kv.put(&t.namespace, &t.key, stored, ttl, now);
            axum::Json(json!({ "namespace": t.namespace, "key": t.key, "ttl": ttl })).into_response()
        }
        _ => {
            if !kv.delete(&t.namespace, &t.key, now) {
                // The seed's table has no delete message: a missing key is
                // the get answer, as in the original.
                return fail(StatusCode::NOT_FOUND, "KV get operation failed");
            }
            axum::Json(json!({ "namespace": t.namespace, "key": t.key, "deleted": true })).into_response()
        }
    }
}

async fn kv_put(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    write(&s, &h, &q, &body, KvOp::Put)
}
async fn kv_delete(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    write(&s, &h, &q, &body, KvOp::Delete)
}
async fn secret_put(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    write(&s, &h, &q, &body, KvOp::PutSecret)
}
async fn secret_delete(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    write(&s, &h, &q, &body, KvOp::DeleteSecret)
}

async fn kv_keys(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    let c = match caller(&s, &h) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let body = match json_body(&h, &body) {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    let namespaces = match field(&body, &q, "namespace") {
        Some(ns) => vec![ns],
        None => vec![format!("vars/job/{}", c.job), format!("secrets/job/{}", c.job)],
    };
    let mut out = serde_json::Map::new();
    let kv = s.kv.lock().unwrap_or_else(|p| p.into_inner());
    for ns in namespaces {
        if let Err(d) = access::check(&c.scope(), KvOp::ListKeys, &ns, "") {
            return fail(StatusCode::BAD_REQUEST, d.message());
        }
        out.insert(ns.clone(), json!(kv.keys(&ns, clock::now_ms())));
    }
    axum::Json(Value::Object(out)).into_response()
}

async fn demands(State(s): State<Arc<Shared>>, h: HeaderMap) -> Response {
    let c = match caller(&s, &h) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let kv = s.kv.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    for (name, job) in &kv.base().catalog.jobs {
        for (hook, hk) in &job.spec.hooks {
            if let Some(d) = &hk.demand
                && d.job == c.job
                && d.hook == c.command
            {
                let config: Value = serde_json::from_str(&d.config).unwrap_or(json!({}));
                out.push(json!({ "job": name, "hook": hook, "demand_config": config }));
            }
        }
    }
    axum::Json(Value::Array(out)).into_response()
}

/// Caller, body and semaphore name of a semaphore request.
fn sem_request(
    s: &Shared,
    h: &HeaderMap,
    q: &BTreeMap<String, String>,
    body: &Bytes,
) -> std::result::Result<(Caller, Option<Value>, String), ApiError> {
    let c = caller(s, h)?;
    let body = json_body(h, body)?;
    let name = field(&body, q, "name").ok_or_else(|| err(StatusCode::BAD_REQUEST, "name is required"))?;
    Ok((c, body, name))
}

async fn sem_acquire(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    let (c, body, name) = match sem_request(&s, &h, &q, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let num = |k: &str, default: u64| body.as_ref().and_then(|b| b.get(k)).map_or(Some(default), |v| v.as_u64());
    let Some(capacity) = num("capacity", 1).filter(|c| (1..=64).contains(c)) else {
        return fail(StatusCode::BAD_REQUEST, "capacity must be between 1 and 64");
    };
    let Some(timeout) = num("timeout_seconds", 600).filter(|t| *t <= 3600) else {
        return fail(StatusCode::BAD_REQUEST, "timeout_seconds must be at most 3600");
    };
    let key = (c.job.clone(), c.event.as_str().to_string(), name.clone());
    if s.semaphores.acquire(key, &c.alloc_id, capacity as usize, Duration::from_secs(timeout)).await {
        axum::Json(json!({ "name": name, "allocation_id": c.alloc_id, "capacity": capacity, "acquired": true }))
            .into_response()
    } else {
        fail(StatusCode::REQUEST_TIMEOUT, "Timed out waiting for semaphore")
    }
}

async fn sem_release(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap, body: Bytes) -> Response {
    let (c, _, name) = match sem_request(&s, &h, &q, &body) {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let key = (c.job.clone(), c.event.as_str().to_string(), name.clone());
    if s.semaphores.release(&key, &c.alloc_id) {
        axum::Json(json!({ "name": name, "allocation_id": c.alloc_id, "released": true })).into_response()
    } else {
        fail(StatusCode::CONFLICT, "Semaphore acquire or release failed")
    }
}

async fn sem_status(State(s): State<Arc<Shared>>, Query(q): Q, h: HeaderMap) -> Response {
    let c = match caller(&s, &h) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let Some(name) = q.get("name").filter(|n| !n.is_empty()) else {
        return fail(StatusCode::BAD_REQUEST, "name is required");
    };
    let key = (c.job.clone(), c.event.as_str().to_string(), name.clone());
    axum::Json(s.semaphores.status(&key)).into_response()
}

#[cfg(test)]
mod tests {
    use super::{Running, token_owner};
    use crate::workspace::manifest::HookEvent;
    use std::collections::BTreeMap;

    #[test]
    fn a_token_names_exactly_one_running_process() {
        let mut running = BTreeMap::new();
        for (t, id) in [("ab".repeat(32), "a1"), ("cd".repeat(32), "a2")] {
            let r = Running {
                alloc_id: id.into(),
                job: "api".into(),
                ip: "10.0.0.1".into(),
                event: HookEvent::Cli,
                hook: "h".into(),
            };
            running.insert(t, r);
        }
        assert_eq!(token_owner(&running, Some(&"ab".repeat(32))).unwrap().alloc_id, "a1");
        assert_eq!(token_owner(&running, Some(&"cd".repeat(32))).unwrap().alloc_id, "a2");
        assert!(token_owner(&running, Some(&"ab".repeat(31))).is_none());
        assert!(token_owner(&running, Some(&format!("{}ac", "ab".repeat(31)))).is_none());
        assert!(token_owner(&running, None).is_none());
    }
}
