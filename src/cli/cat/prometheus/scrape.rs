//! `maand cat prometheus scrape`: the scrape configs `{{ scrapeConfigs }}`
//! would write now (placeholders expanded with the live allocations and
//! ports; jobs without a target left out), as YAML or `--json`.

use super::check_jobs;
use crate::bucket::BucketView;
use crate::error::Result;
use crate::plan::prometheus as prom;
use clap::Args;
use serde_json::Value;

/// `maand cat prometheus scrape`.
#[derive(Args, Debug)]
pub struct ScrapeArgs {
    /// Only these jobs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    jobs: Vec<String>,
    /// Print a JSON array instead of YAML.
    #[arg(long)]
    json: bool,
}

pub(super) fn run(view: &BucketView, a: &ScrapeArgs) -> Result<()> {
    check_jobs(view, &a.jobs)?;
    let configs = prom::expanded_scrape_configs(&view.state, &a.jobs)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&Value::Array(configs)).unwrap_or_default());
    } else {
        print!("{}", prom::yaml::emit(&Value::Array(configs)));
    }
    Ok(())
}
