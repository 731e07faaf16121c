//! Reading issued certificates back: the facts `maand cat certs` lists and
//! the certificate metrics a deploy pushes to Prometheus share.

use crate::event::{KvValue, Millis};
use crate::state::State;

/// What a certificate PEM says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// Subject common name.
    pub cn: String,
    /// Issuer common name.
    pub issuer_cn: String,
    /// Expiry.
    pub not_after: Millis,
}

/// The facts of a certificate PEM; `None` when it does not parse.
pub fn facts(pem: &str) -> Option<CertFacts> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let c = p.parse_x509().ok()?;
    let cn = |n: &x509_parser::x509::X509Name| {
        n.iter_common_name().next().and_then(|c| c.as_str().ok()).unwrap_or("").to_string()
    };
    Some(CertFacts {
        cn: cn(c.subject()),
        issuer_cn: cn(c.issuer()),
        not_after: c.validity().not_after.timestamp() * 1000,
    })
}

/// `ok`, `expiring` (within `buffer_days` of expiry), `expired`, or
/// `invalid` (unreadable, or not issued by the CA named `issuer`).
pub fn status(f: &Option<CertFacts>, issuer: Option<&str>, now: Millis, buffer_days: u32) -> &'static str {
    let buffer = buffer_days as i64 * 86_400_000;
    match f {
        None => "invalid",
        Some(f) if issuer.is_some_and(|i| i != f.issuer_cn) => "invalid",
        Some(f) if now > f.not_after => "expired",
        Some(f) if buffer > 0 && now >= f.not_after - buffer => "expiring",
        Some(_) => "ok",
    }
}

/// One certificate of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertEntry {
    /// `ca` or `job`.
    pub scope: &'static str,
    /// Job (empty for the CA).
    pub job: String,
    /// Worker address (empty for the CA).
    pub worker: String,
    /// Certificate name (`ca` for the CA).
    pub name: String,
    /// What it says, when readable.
    pub facts: Option<CertFacts>,
    /// See [`status`].
    pub status: &'static str,
}

/// The CA (from its PEM; `invalid` when missing) and every issued leaf certificate of
/// `state`, in catalog order.
pub fn all(state: &State, ca_pem: Option<&str>, now: Millis, buffer_days: u32) -> Vec<CertEntry> {
    let ca = ca_pem.and_then(facts);
    let ca_cn = ca.as_ref().map(|c| c.cn.clone());
    let mut out = Vec::new();
    let status_ca = status(&ca, ca_cn.as_deref(), now, buffer_days);
    out.push(CertEntry {
        scope: "ca",
        job: String::new(),
        worker: String::new(),
        name: "ca".into(),
        facts: ca,
        status: status_ca,
    });
    for (job, name, ip) in state.catalog.certs.keys() {
        let pem = match state.kv.stored_get(&format!("maand/job/{job}/worker/{ip}"), &format!("certs/{name}.crt")) {
            Some(KvValue::Plain(p)) => Some(p.as_str()),
            _ => None,
        };
        let f = pem.and_then(facts);
        let status = status(&f, ca_cn.as_deref(), now, buffer_days);
        out.push(CertEntry {
            scope: "job",
            job: job.clone(),
            worker: ip.clone(),
            name: name.clone(),
            facts: f,
            status,
        });
    }
    out
}
