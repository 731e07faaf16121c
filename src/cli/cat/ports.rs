//! `maand cat job_ports`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::Result;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let mut t = Table::new(&["job", "name", "port", "source"]);
    for (name, job) in &view.state.catalog.jobs {
        if !f.job(name) {
            continue;
        }
        for (p, port) in &job.spec.ports {
            t.row(vec![json!(name), json!(p), json!(port.port), json!(if port.fixed { "fixed" } else { "pool" })]);
        }
    }
    t.print(f.json);
    Ok(())
}
