//! The `-w ips | -l labels` flags shared by commands that act on a chosen
//! set of workers (`run_command`, `worker_facts`).

use crate::error::Result;
use crate::ops::select_workers;
use crate::state::State;

/// Which workers a command acts on; neither flag means all of them.
#[derive(clap::Args, Debug)]
pub struct WorkerSelection {
    /// Only these workers (comma-separated addresses).
    #[arg(short = 'w', long = "workers", value_delimiter = ',', conflicts_with = "labels")]
    pub workers: Vec<String>,
    /// Only workers carrying any of these labels (comma-separated), as
    /// the original selects.
    #[arg(short = 'l', long = "labels", value_delimiter = ',')]
    pub labels: Vec<String>,
}

impl WorkerSelection {
    /// The selected workers' addresses in catalog order.
    pub fn resolve(&self, state: &State) -> Result<Vec<String>> {
        select_workers(state, &self.workers, &self.labels)
    }
}
