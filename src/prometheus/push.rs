//! Certificate expiry gauges pushed to the Prometheus server job after a
//! deploy (remote write), best-effort: a failure is logged and recorded
//! (`cert_metrics_pushed`) and never fails the deploy.
//!
//! Series, one sample each at the push time, per certificate (the bucket CA
//! and every leaf): `maand_cert_not_after_seconds` (expiry, Unix seconds;
//! not sent for unreadable certificates), `maand_cert_expiring` (1 within
//! `certs_renewal_buffer` days of expiry) and `maand_cert_expired`; labels
//! `scope` (`ca`/`job`), `job`, `worker`, `cert`, `common_name`, `status`
//! (empty values left out).

use super::remote_write::{self, Label, Sample, TimeSeries, WriteRequest};
use crate::bucket::Session;
use crate::certs::inspect::{self, CertEntry};
use crate::clock;
use crate::error::Result;
use crate::event::{Event, Millis};
use crate::kv::seal::KvKey;
use crate::plan::prometheus as prom;
use crate::state::State;
use std::time::Duration;

/// Attempts per push (network errors, 429 and 5xx are retried).
pub const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each later one.
pub const BACKOFF: Duration = Duration::from_secs(1);
/// Time limit of one attempt.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The remote-write URL: the first active allocation of the first server
/// job (by name), on its `prometheus_port_http` (else its only port, else
/// 9090). `None` without a server job or allocation.
pub fn target(state: &State) -> Option<(String, String)> {
    let cat = &state.catalog;
    for job in prom::server_jobs(cat) {
        if let Some(a) = cat.allocations_of(job).into_iter().find(|a| a.active()) {
            return Some((job.to_string(), format!("{}/api/v1/write", prom::base_url(cat, job, &a.worker_ip))));
        }
    }
    None
}

/// The series for `certs` at time `now`.
pub fn series(certs: &[CertEntry], now: Millis) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for c in certs {
        let mut labels: Vec<(&str, String)> = vec![
            ("cert", c.name.clone()),
            ("common_name", c.facts.as_ref().map(|f| f.cn.clone()).unwrap_or_default()),
            ("job", c.job.clone()),
            ("scope", c.scope.to_string()),
            ("status", c.status.to_string()),
            ("worker", c.worker.clone()),
        ];
        labels.retain(|(_, v)| !v.is_empty());
        let mut one = |name: &str, value: f64| {
            let mut l: Vec<Label> =
                labels.iter().map(|(k, v)| Label { name: k.to_string(), value: v.clone() }).collect();
            l.push(Label { name: "__name__".into(), value: name.into() });
            l.sort_by(|a, b| a.name.cmp(&b.name));
            out.push(TimeSeries { labels: l, samples: vec![Sample { value, timestamp: now }] });
        };
        if let Some(f) = &c.facts
            && c.status != "invalid"
        {
            one("maand_cert_not_after_seconds", (f.not_after / 1000) as f64);
        }
        one("maand_cert_expiring", if c.status == "expiring" { 1.0 } else { 0.0 });
        one("maand_cert_expired", if c.status == "expired" { 1.0 } else { 0.0 });
    }
    out
}

/// How a push went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Attempts made.
    pub attempts: u32,
    /// The last error, if it failed.
    pub error: Option<String>,
}

/// POST `req` to `url`, retrying as [`ATTEMPTS`] and [`BACKOFF`] say.
pub fn send(url: &str, req: &WriteRequest, auth: Option<(&str, &str)>, backoff: Duration) -> Outcome {
    let body = remote_write::encode(req);
    let mut wait = backoff;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match remote_write::post(url, &body, auth, TIMEOUT) {
            Ok(()) => return Outcome { attempts, error: None },
            Err(e) if !e.retryable || attempts >= ATTEMPTS => return Outcome { attempts, error: Some(e.message) },
            Err(e) => {
                tracing::info!(attempt = attempts, error = %e.message, "cert metrics push: retrying");
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
    }
}

/// Basic-auth credentials from `secrets/job/<job>` (`admin_username`,
/// `admin_password`): both or neither.
fn credentials(state: &State, kv_key: &KvKey, job: &str) -> std::result::Result<Option<(String, String)>, String> {
    let ns = format!("secrets/job/{job}");
    let read = |k: &str| -> std::result::Result<Option<String>, String> {
        match state.kv.get(&ns, k) {
            None => Ok(None),
            Some(v) => kv_key.open(&ns, k, &v).map(Some).map_err(|e| format!("{ns} {k}: {e}")),
        }
    };
    match (read("admin_username")?, read("admin_password")?) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        _ => Err(format!("{ns} has only one of admin_username and admin_password; set both (or neither)")),
    }
}

/// After a deploy's last checkpoint: push the gauges to the server job,
/// print and log the outcome, and record it. Only an error recording the
/// event is returned; the push itself never fails the deploy.
pub fn after_deploy(session: &mut Session<'_>, kv_key: &KvKey) -> Result<()> {
    let state = session.state();
    let Some((job, url)) = target(state) else { return Ok(()) };
    let bucket = session.bucket();
    let ca = std::fs::read_to_string(bucket.paths.ca_crt()).ok();
    let now = clock::now_ms();
    let certs = inspect::all(state, ca.as_deref(), now, bucket.conf.certs_renewal_buffer);
    let req = WriteRequest { timeseries: series(&certs, now) };
    let count = req.timeseries.len() as u64;
    let outcome = match credentials(state, kv_key, &job) {
        Ok(auth) => send(&url, &req, auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str())), BACKOFF),
        Err(e) => Outcome { attempts: 0, error: Some(e) },
    };
    let ok = outcome.error.is_none();
    let detail = outcome.error.clone().unwrap_or_default();
    let msg = if ok {
        format!("cert metrics: pushed {count} series to {url}")
    } else {
        format!("cert metrics: push to {url} failed (the deploy is not affected): {detail}")
    };
    crate::output::say(&msg);
    crate::logs::record(&[("event", "cert_metrics"), ("job", &job), ("msg", &msg)]);
    session.record(Event::CertMetricsPushed { url, series: count, attempts: outcome.attempts, ok, detail })
}
