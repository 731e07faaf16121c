//! `maand cat hooks`: one row per hook and event (the `cat_job_commands` view).

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::Result;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let mut t = Table::new(&["job", "hook", "executed_on", "script", "demand_job", "demand_hook", "demand_config"]);
    for (name, job) in &view.state.catalog.jobs {
        if !f.job(name) {
            continue;
        }
        for (hook, h) in &job.spec.hooks {
            for ev in &h.executed_on {
                let d = h.demand.as_ref();
                t.row(vec![
                    json!(name),
                    json!(hook),
                    json!(ev),
                    json!(h.script),
                    json!(d.map_or("", |d| d.job.as_str())),
                    json!(d.map_or("", |d| d.hook.as_str())),
                    json!(d.map_or("{}", |d| d.config.as_str())),
                ]);
            }
        }
    }
    t.print(f.json);
    Ok(())
}
