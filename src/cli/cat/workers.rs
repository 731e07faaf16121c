//! `maand cat workers`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::Result;
use serde_json::json;

pub(super) fn run(view: &BucketView, f: &Filters) -> Result<()> {
    f.check(view)?;
    let mut t =
        Table::new(&["worker_id", "worker_ip", "memory_mb", "cpu_mhz", "position", "labels", "zone", "hostname"]);
    for w in view.state.catalog.workers_in_order() {
        if !f.worker(&w.ip) {
            continue;
        }
        t.row(vec![
            json!(w.worker_id),
            json!(w.ip),
            json!(w.memory_mb),
            json!(w.cpu_mhz),
            json!(w.position),
            json!(w.labels.join(",")),
            json!(w.tags.get("zone")),
            json!(w.hostname),
        ]);
    }
    t.print(f.json);
    Ok(())
}
