//! `maand cat prometheus get <job> <path>`: one file of a job's
//! `_prometheus/`, as the last build stored it.

use super::check_jobs;
use crate::bucket::BucketView;
use crate::error::{Error, Result};
use crate::plan::prometheus as prom;
use clap::Args;

/// `maand cat prometheus get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// The job.
    job: String,
    /// Path under `_prometheus/`: `scrape` (its scrape file), `alerts/x.yaml`,
    /// `runbooks/x.md`, `dashboards/…`.
    path: String,
    /// Print `{"job", "path", "content"}` as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(view: &BucketView, a: &GetArgs) -> Result<()> {
    check_jobs(view, std::slice::from_ref(&a.job))?;
    let files = &view.state.catalog.jobs[&a.job].files;
    let rel = a.path.trim().trim_start_matches('/');
    let rel = match rel {
        "" | "scrape" if files.contains_key(&format!("{}{}", prom::DIR, prom::SCRAPE_TEMPLATE)) => {
            prom::SCRAPE_TEMPLATE
        }
        "" | "scrape" => prom::SCRAPE_FILE,
        "scrape.tpl" => prom::SCRAPE_TEMPLATE,
        other => other,
    };
    let Some(file) = files.get(&format!("{}{rel}", prom::DIR)) else {
        return Err(Error::op(format!(
            "job {} has no {}{rel} in the catalog (see `maand cat prometheus`; run `maand build` after adding it)",
            a.job,
            prom::DIR
        )));
    };
    let content = String::from_utf8_lossy(&file.content);
    if a.json {
        let v = serde_json::json!({ "job": a.job, "path": rel, "content": content });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if content.ends_with('\n') {
        print!("{content}");
    } else {
        println!("{content}");
    }
    Ok(())
}
