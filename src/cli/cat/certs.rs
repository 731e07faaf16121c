//! `maand cat certs`: the CA and every leaf certificate with its expiry and
//! status (`ok`, `expiring` within certs_renewal_buffer days, `expired`,
//! `invalid`: unreadable or not issued by the bucket CA).

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::clock;
use crate::error::Result;
use crate::event::KvValue;
use serde_json::json;

struct Facts {
    cn: String,
    issuer_cn: String,
    not_after: i64,
}

fn facts(pem: &str) -> Option<Facts> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let c = p.parse_x509().ok()?;
    let cn = |n: &x509_parser::x509::X509Name| {
        n.iter_common_name().next().and_then(|c| c.as_str().ok()).unwrap_or("").to_string()
    };
    Some(Facts { cn: cn(c.subject()), issuer_cn: cn(c.issuer()), not_after: c.validity().not_after.timestamp() * 1000 })
}

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let now = clock::now_ms();
    let buffer = view.conf.certs_renewal_buffer as i64 * 86_400_000;
    let status = |fa: &Option<Facts>, issuer: Option<&str>| match fa {
        None => "invalid",
        Some(fa) if issuer.is_some_and(|i| i != fa.issuer_cn) => "invalid",
        Some(fa) if now > fa.not_after => "expired",
        Some(fa) if buffer > 0 && now >= fa.not_after - buffer => "expiring",
        Some(_) => "ok",
    };
    let row = |t: &mut Table, scope: &str, job: &str, worker: &str, name: &str, fa: &Option<Facts>, st: &str| {
        t.row(vec![
            json!(scope),
            json!(job),
            json!(worker),
            json!(name),
            json!(fa.as_ref().map(|x| x.cn.clone())),
            json!(fa.as_ref().map(|x| clock::format_ms(x.not_after))),
            json!(fa.as_ref().map(|x| (x.not_after - now).div_euclid(86_400_000))),
            json!(st),
        ]);
    };
    let mut t = Table::new(&["scope", "job", "worker", "name", "common_name", "not_after", "days_left", "status"]);
    let ca = std::fs::read_to_string(view.paths.ca_crt()).ok().and_then(|p| facts(&p));
    let ca_cn = ca.as_ref().map(|c| c.cn.clone());
    if f.jobs.is_empty() && f.workers.is_empty() {
        let st = status(&ca, ca_cn.as_deref());
        row(&mut t, "ca", "", "", "ca", &ca, st);
    }
    for (job, name, ip) in view.state.catalog.certs.keys() {
        if !f.job(job) || !f.worker(ip) {
            continue;
        }
        let pem = match view.state.kv.get(&format!("maand/job/{job}/worker/{ip}"), &format!("certs/{name}.crt")) {
            Some(KvValue::Plain(p)) => Some(p.clone()),
            _ => None,
        };
        let fa = pem.as_deref().and_then(facts);
        let st = status(&fa, ca_cn.as_deref());
        row(&mut t, "job", job, ip, name, &fa, st);
    }
    t.print(f.json);
    Ok(())
}
