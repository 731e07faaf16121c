//! `maand cat jobs`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::Result;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let cat = &view.state.catalog;
    let mut jobs: Vec<_> = cat.jobs.values().filter(|j| f.job(&j.spec.name)).collect();
    jobs.sort_by_key(|j| (j.spec.deployment_seq, j.spec.name.clone()));
    let mut t = Table::new(&[
        "job_id",
        "name",
        "version",
        "disabled",
        "deployment_seq",
        "selectors",
        "memory_mb",
        "memory_source",
        "cpu_mhz",
        "cpu_source",
    ]);
    for j in jobs {
        let s = &j.spec;
        let disabled = !cat.allocations_of(&s.name).iter().any(|a| !a.disabled && !a.removed);
        t.row(vec![
            json!(s.job_id),
            json!(s.name),
            json!(s.version),
            json!(disabled),
            json!(s.deployment_seq),
            json!(s.selectors.join(",")),
            json!(s.current_memory_mb),
            json!(s.current_memory_source),
            json!(s.current_cpu_mhz),
            json!(s.current_cpu_source),
        ]);
    }
    t.print(f.json);
    Ok(())
}
