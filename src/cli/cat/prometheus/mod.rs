//! `maand cat prometheus`: the jobs with `_prometheus/` material in the
//! catalog (scrape file, alert, runbook and dashboard counts); `get` prints
//! one of those files, `scrape` the scrape configs as deploy expands them.

mod get;
mod scrape;

use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::error::{Error, Result};
use crate::plan::prometheus as prom;
use clap::{Args, Subcommand};
use serde_json::json;

/// `maand cat prometheus`.
#[derive(Args, Debug)]
pub struct PrometheusArgs {
    #[command(subcommand)]
    command: Option<PrometheusCommand>,
    /// Only these jobs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    jobs: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum PrometheusCommand {
    /// Print one file of a job's `_prometheus/` (`scrape`, `alerts/x.yaml`, …).
    Get(get::GetArgs),
    /// Print the scrape configs with placeholders expanded, as deploy writes them.
    Scrape(scrape::ScrapeArgs),
}

/// Unknown job names are a usage error.
fn check_jobs(view: &BucketView, jobs: &[String]) -> Result<()> {
    let unknown: Vec<&str> =
        jobs.iter().filter(|j| !view.state.catalog.jobs.contains_key(*j)).map(String::as_str).collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Error::usage(format!("unknown job(s): {} (see `maand cat jobs`)", unknown.join(", "))))
    }
}

pub(super) fn run(view: &BucketView, args: &PrometheusArgs) -> Result<()> {
    match &args.command {
        Some(PrometheusCommand::Get(a)) => return get::run(view, a),
        Some(PrometheusCommand::Scrape(a)) => return scrape::run(view, a),
        None => {}
    }
    check_jobs(view, &args.jobs)?;
    let cat = &view.state.catalog;
    let servers = prom::server_jobs(cat);
    let mut t = Table::new(&["job", "server", "scrape", "alerts", "runbooks", "dashboards"]);
    for name in cat.jobs.keys() {
        if !args.jobs.is_empty() && !args.jobs.contains(name) {
            continue;
        }
        let f = prom::catalog_job_files(cat, name);
        let server = servers.contains(&name.as_str());
        if f.is_empty() && !server {
            continue;
        }
        let scrape = match (f.scrape, f.scrape_template) {
            (Some(_), _) => Some(prom::SCRAPE_FILE),
            (None, Some(_)) => Some(prom::SCRAPE_TEMPLATE),
            _ => None,
        };
        let dashboards = f.dashboards.keys().filter(|p| **p != crate::prometheus::consoles::DASHBOARD_IGNORE).count();
        t.row(vec![
            json!(name),
            json!(server),
            json!(scrape),
            json!(f.alerts.len()),
            json!(f.runbooks.len()),
            json!(dashboards),
        ]);
    }
    t.print(args.json);
    Ok(())
}
