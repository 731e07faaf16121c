//! `maand cat ...`: read-only listings of the catalog and KV, from the
//! folded state (never from maand.db). Works while another maand writes.

mod allocations;
mod certs;
mod hooks;
mod jobs;
mod kv;
mod ports;
mod prometheus;
mod workers;

use crate::bucket::{BucketPaths, BucketView};
use crate::error::{Error, Result};
use clap::{Args, Subcommand};

/// `maand cat` and its listings.
#[derive(Args, Debug)]
pub struct CatArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Workers: id, address, capacity, position, labels, zone.
    Workers(Filters),
    /// Jobs: id, name, version, disabled, deployment_seq, selectors, reservations.
    Jobs(Filters),
    /// Allocations: id, worker, job, disabled, removed, target version.
    Allocations(Filters),
    /// Deployments: allocations with their promoted hash and version.
    Deployments(Filters),
    /// Hooks: one row per hook and event, with demands.
    Hooks(Filters),
    /// Ports of every job.
    #[command(name = "job_ports")]
    JobPorts(Filters),
    /// Certificates: CA and leaves, with expiry and status.
    Certs(Filters),
    /// KV: latest version of each key (secrets masked); `kv get` for one value.
    Kv(kv::KvArgs),
    /// Prometheus material of jobs (`_prometheus/`); `get` one file; `scrape` the expanded scrape configs.
    Prometheus(prometheus::PrometheusArgs),
}

/// Filters shared by the listings.
#[derive(Args, Debug, Default, Clone)]
pub struct Filters {
    /// Only these jobs (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub jobs: Vec<String>,
    /// Only these workers (comma-separated addresses).
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<String>,
    /// Only active rows (allocations neither disabled nor removed; KV keys not deleted).
    #[arg(long)]
    pub active: bool,
    /// Only deleted rows (removed allocations; KV tombstones).
    #[arg(long, conflicts_with = "active")]
    pub deleted: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Filters {
    fn job(&self, j: &str) -> bool {
        self.jobs.is_empty() || self.jobs.iter().any(|x| x == j)
    }
    fn worker(&self, w: &str) -> bool {
        self.workers.is_empty() || self.workers.iter().any(|x| x == w)
    }
    /// Unknown job or worker names are a usage error, not an empty table.
    fn check(&self, view: &BucketView) -> Result<()> {
        let cat = &view.state.catalog;
        let unknown_jobs: Vec<&str> =
            self.jobs.iter().filter(|j| !cat.jobs.contains_key(*j)).map(String::as_str).collect();
        if !unknown_jobs.is_empty() {
            return Err(Error::usage(format!("unknown job(s): {} (see `maand cat jobs`)", unknown_jobs.join(", "))));
        }
        let unknown: Vec<&str> = self
            .workers
            .iter()
            .filter(|w| !cat.workers.contains_key(*w) && !cat.allocations.keys().any(|(_, ip)| ip == *w))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(Error::usage(format!("unknown worker(s): {} (see `maand cat workers`)", unknown.join(", "))));
        }
        Ok(())
    }
}

pub(super) fn run(paths: &BucketPaths, args: &CatArgs) -> Result<()> {
    let view = BucketView::open(paths.clone())?;
    match &args.what {
        What::Workers(f) => workers::run(&view, f),
        What::Jobs(f) => jobs::run(&view, f),
        What::Allocations(f) => allocations::run(&view, f, false),
        What::Deployments(f) => allocations::run(&view, f, true),
        What::Hooks(f) => hooks::run(&view, f),
        What::JobPorts(f) => ports::run(&view, f),
        What::Certs(f) => certs::run(&view, f),
        What::Kv(a) => kv::run(&view, a),
        What::Prometheus(a) => prometheus::run(&view, a),
    }
}
