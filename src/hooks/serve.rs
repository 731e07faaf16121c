//! The HTTP server under the hook API, built to keep serving maand's own
//! hooks while any local user (who can reach 127.0.0.1 but has no token)
//! tries to stall it:
//!
//! - at most [`Limits::max_connections`] connections are open at once (a
//!   quarter of the open-files limit, at most 512), so the API can never
//!   take the descriptors the rest of maand needs;
//! - when full, a new connection displaces the oldest connection that has
//!   no request in progress (an idle or slow client), so idle floods cycle
//!   through while a hook's connection, which sends its request at once, is
//!   served; when every slot is serving a request, the new one is closed;
//! - request headers must arrive within [`Limits::header_timeout`] (also
//!   between requests on a kept-alive connection), a body within
//!   [`Limits::body_timeout`]; a body announced larger than the limit is
//!   refused before it is read;
//! - a request without the session token is answered and the connection
//!   closed.
//!
//! `axum::serve` offers none of these knobs, so connections are accepted
//! here and handed to hyper's HTTP/1 server (with its header-read timer)
//! running the axum router.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a client to send a request's headers.
    pub header_timeout: Duration,
    /// Time for a client to send a request's body.
    pub body_timeout: Duration,
    /// Largest request body.
    pub body_limit: usize,
}

impl Limits {
    /// The limits for this process (see the module documentation).
    pub fn for_process(body_limit: usize) -> Limits {
        let fds = crate::process::open_files_limit();
        Limits {
            max_connections: (fds / 4).clamp(16, 512) as usize,
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            body_limit,
        }
    }
}

/// One open connection: whether a request is in progress, and how to close it.
struct Conn {
    busy: Arc<AtomicBool>,
    close: Arc<Notify>,
}

/// Serve `app` on `listener` under `limits` until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let app = app.layer(axum::middleware::from_fn_with_state(limits, guard));
    // Connection id (in accept order, so the first is the oldest) -> state.
    let conns: Arc<Mutex<BTreeMap<u64, Conn>>> = Default::default();
    let mut next_id = 0u64;
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors (or a transient error): let closing
                // connections free some, then go on accepting.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        {
            let mut live = conns.lock().unwrap_or_else(|p| p.into_inner());
            if live.len() >= limits.max_connections {
                let idle = live.iter().find(|(_, c)| !c.busy.load(Ordering::SeqCst)).map(|(id, _)| *id);
                match idle.and_then(|id| live.remove(&id)) {
                    Some(victim) => victim.close.notify_one(),
                    None => continue, // every slot serves a request: refuse this one
                }
            }
        }
        let (busy, close) = (Arc::new(AtomicBool::new(false)), Arc::new(Notify::new()));
        let id = next_id;
        next_id += 1;
        conns.lock().unwrap_or_else(|p| p.into_inner()).insert(id, Conn { busy: busy.clone(), close: close.clone() });
        let (conns, inner) = (conns.clone(), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                busy.store(true, Ordering::SeqCst);
                let fut = hyper::service::Service::call(&inner, req);
                let busy = busy.clone();
                async move {
                    let r = fut.await;
                    busy.store(false, Ordering::SeqCst);
                    r
                }
            });
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(64 << 10);
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = close.notified() => {}
            }
            conns.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        });
    }
    for (_, c) in std::mem::take(&mut *conns.lock().unwrap_or_else(|p| p.into_inner())) {
        c.close.notify_one();
    }
}

/// Per request: refuse a body announced too large, read the body within the
/// body timeout, and close the connection after a refused request.
async fn guard(axum::extract::State(limits): axum::extract::State<Limits>, req: Request, next: Next) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced.filter(|n| *n > limits.body_limit as u64) {
        // A client still writing its body when the answer comes would see a
        // broken pipe instead of the 413: read (and drop) a body of modest
        // size first. A huge announcement is answered at once.
        if n <= DRAIN_LIMIT {
            let (_, body) = req.into_parts();
            let _ = tokio::time::timeout(limits.body_timeout, drain(body)).await;
        }
        return closing(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    let (parts, body) = req.into_parts();
    let bytes = match tokio::time::timeout(limits.body_timeout, to_bytes(body, limits.body_limit)).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return closing(StatusCode::PAYLOAD_TOO_LARGE, "request body too large or malformed"),
        Err(_) => return closing(StatusCode::REQUEST_TIMEOUT, "request body not received in time"),
    };
    let mut resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// Largest announced body read and dropped before answering 413.
const DRAIN_LIMIT: u64 = 8 << 20;

/// Read a body to its end without keeping it.
async fn drain(mut body: Body) {
    use http_body_util::BodyExt;
    while let Some(Ok(_)) = body.frame().await {}
}

fn closing(status: StatusCode, message: &str) -> Response {
    let mut r = (status, axum::Json(serde_json::json!({ "error": message }))).into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}
