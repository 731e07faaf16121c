//! `maand job ...`. So far: `maand job create <job> [--selectors a,b]`,
//! which scaffolds a job directory. (start/stop/restart/status/run arrive
//! with the day-2 commands.)

use crate::bucket::BucketPaths;
use crate::error::{Error, Result};
use crate::workspace::names::{check_job_name, check_label};
use clap::{Args, Subcommand};
use std::io::Write;

/// `maand job`.
#[derive(Args, Debug)]
pub struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Subcommand, Debug)]
enum JobCommand {
    /// Scaffold workspace/jobs/<job>/ with a manifest and a Makefile.
    Create {
        /// Job name.
        job: String,
        /// Worker labels the job needs (default: the job name).
        #[arg(long, value_delimiter = ',')]
        selectors: Vec<String>,
    },
}

const MAKEFILE: &str = "# Lifecycle targets maand runs on each worker (in /opt/worker/<bucket>/jobs/<job>).
# CURRENT_VERSION and NEW_VERSION are set by deploy.
.PHONY: start stop restart reload status

start:
\t@echo \"starting $(notdir $(CURDIR)) $(NEW_VERSION)\"

stop:
\t@echo \"stopping $(notdir $(CURDIR))\"

restart: stop start

reload:
\t@echo \"reloading $(notdir $(CURDIR))\"

status:
\t@echo \"$(notdir $(CURDIR)) is running\"
";

pub(super) fn run(paths: &BucketPaths, args: &JobArgs) -> Result<()> {
    match &args.command {
        JobCommand::Create { job, selectors } => create(paths, job, selectors),
    }
}

fn create(paths: &BucketPaths, job: &str, selectors: &[String]) -> Result<()> {
    check_job_name(job).map_err(Error::usage)?;
    for s in selectors {
        check_label(s).map_err(|e| Error::usage(format!("--selectors: {e}")))?;
    }
    if !paths.workspace().is_dir() {
        return Err(Error::usage(format!("{} has no workspace/: run `maand init` first", paths.root().display())));
    }
    let dir = paths.jobs_dir().join(job);
    if dir.exists() {
        return Err(Error::usage(format!("workspace/jobs/{job} already exists; not overwriting it")));
    }
    let selectors: Vec<String> = if selectors.is_empty() { vec![job.to_string()] } else { selectors.to_vec() };
    let manifest = serde_json::json!({
        "version": "0.1.0",
        "selectors": selectors,
        "max_concurrent_upgrades": 1,
        "max_concurrent_starts": 0,
        "restart_policy": "always",
        "resources": { "ports": {} },
    });
    std::fs::create_dir_all(&dir).map_err(|e| Error::op(format!("creating {}: {e}", dir.display())))?;
    let write = |name: &str, body: &str| -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(name))
            .map_err(|e| Error::op(format!("creating workspace/jobs/{job}/{name}: {e}")))?;
        f.write_all(body.as_bytes())?;
        Ok(())
    };
    write("manifest.json", &(serde_json::to_string_pretty(&manifest)? + "\n"))?;
    write("Makefile", MAKEFILE)?;
    println!("created workspace/jobs/{job}/ (manifest.json, Makefile); selectors: {}", selectors.join(","));
    if selectors.iter().any(|s| s != "worker") {
        println!("label workers with {} in workspace/workers.json, then run `maand build`", selectors.join(", "));
    }
    Ok(())
}
