//! Scripts shipped to every worker under `/opt/worker/<bucket_id>/bin/`
//! (Python standard library only).

/// `bin/runner.py <bucket_id> <target> --jobs <job>`: runs `make -s -C jobs/<job> <target>`.
pub const RUNNER_PY: &str = include_str!("runner.py");

/// `bin/worker.py`: prints worker.json and the deployed jobs.
pub const WORKER_PY: &str = include_str!("worker.py");
