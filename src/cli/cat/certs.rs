//! `maand cat certs`: the CA and every leaf certificate with its expiry and
//! status (`ok`, `expiring` within certs_renewal_buffer days, `expired`,
//! `invalid`: unreadable or not issued by the bucket CA).

use super::Filters;
use crate::bucket::BucketView;
use crate::certs::inspect;
use crate::cli::table::Table;
use crate::clock;
use crate::error::Result;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let now = clock::now_ms();
    let ca = std::fs::read_to_string(view.paths.ca_crt()).ok();
    let mut t = Table::new(&["scope", "job", "worker", "name", "common_name", "not_after", "days_left", "status"]);
    for c in inspect::all(&view.state, ca.as_deref(), now, view.conf.certs_renewal_buffer) {
        let shown = if c.scope == "ca" {
            f.jobs.is_empty() && f.workers.is_empty()
        } else {
            f.job(&c.job) && f.worker(&c.worker)
        };
        if !shown {
            continue;
        }
        let fa = &c.facts;
        t.row(vec![
            json!(c.scope),
            json!(c.job),
            json!(c.worker),
            json!(c.name),
            json!(fa.as_ref().map(|x| x.cn.clone())),
            json!(fa.as_ref().map(|x| clock::format_ms(x.not_after))),
            json!(fa.as_ref().map(|x| (x.not_after - now).div_euclid(86_400_000))),
            json!(c.status),
        ]);
    }
    t.print(f.json);
    Ok(())
}
