//! Job `web` on test workers (history, rollback and deploy tests): a
//! bucket whose workers carry the `web` label and a port pool, and the
//! Makefile that serves the job's folder with Python's http.server —
//! except on a worker whose "broken" marker file exists, where `make
//! start` records a start but runs nothing, so its health gate fails.

use super::workers::TestWorkers;
use super::{fresh_bucket, write};
use std::path::PathBuf;

/// `web`'s Makefile; `marker` names the marker files (one per test file,
/// so test binaries running at once never share one).
pub fn makefile(marker: &str) -> String {
    format!(
        "include config.env
start:
\t@mkdir -p data logs
\t@if [ -f /tmp/{marker}-$(IP) ]; then echo 'start (broken)' >> data/history; \\
\t else nohup python3 -m http.server $(PORT) --bind $(IP) --directory . > logs/http.log 2>&1 < /dev/null & echo $$! > data/pid; \\
\t echo \"start $(NEW_VERSION)\" >> data/history; fi
stop:
\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi
\t@echo stop >> data/history
restart: stop start
"
    )
}

/// The marker that makes worker `ip`'s `make start` skip the service.
pub fn broken_marker(marker: &str, ip: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/{marker}-{ip}"))
}

/// A bucket configured for `workers`, each labelled `web`, with the port
/// pool 38000–38999; the job's files are the caller's.
pub fn web_bucket(workers: &TestWorkers) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    // Test workers' buckets take any free hook API port (hook_api_port = 0).
    workers.configure_bucket(p);
    let ws: Vec<String> = workers.ips.iter().map(|ip| format!(r#"{{"host": "{ip}", "labels": ["web"]}}"#)).collect();
    write(p, "workspace/workers.json", &format!("[{}]", ws.join(",")));
    write(p, "workspace/bucket.conf", "port_min = \"38000\"\nport_max = \"38999\"\n");
    dir
}
