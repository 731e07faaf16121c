//! Writes the build fixture replayed by `tests/fixture.rs`:
//! `cargo run --example make_build_fixture -- tests/fixtures/format1-build/bucket`
//! (run from the repository root, with `target/debug/maand` built). It is
//! the acceptance workspace of the build issue, built twice (the second
//! build after removing a worker), so the journal holds every catalog event
//! kind. Never regenerate a shipped format's fixture.

use std::path::Path;
use std::process::Command;

fn maand(dir: &Path, args: &[&str]) {
    let st =
        Command::new("target/debug/maand").args(args).arg("--bucket").arg(dir).status().expect("target/debug/maand");
    assert!(st.success(), "maand {args:?}");
}

fn write(dir: &Path, rel: &str, body: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: make_build_fixture <empty dir>");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    maand(dir, &["init"]);
    write(
        dir,
        "workspace/workers.json",
        r#"[
  {"host": "10.0.0.1", "labels": ["db", "app"], "memory": "4 gb", "cpu": "4 ghz", "tags": {"zone": "a"}},
  {"host": "10.0.0.2", "labels": ["app"], "memory": "2 gb", "cpu": "2 ghz", "hostname": "node-b"},
  {"host": "10.0.0.3", "labels": ["app", "web"]}
]"#,
    );
    write(
        dir,
        "workspace/jobs/database/manifest.json",
        r#"{"version": "2.1", "selectors": ["db"], "resources": {"memory": {"min": "256 mb", "max": "1 gb"}, "ports": {"database_port": 5432}}, "hooks": {"hook_schema": {"executed_on": ["pre_deploy"]}}, "health_check": {"checks": [{"type": "tcp", "port": "database_port"}]}}"#,
    );
    write(dir, "workspace/jobs/database/_hooks/hook_schema.py", "print('schema')\n");
    write(
        dir,
        "workspace/jobs/api/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["app"], "restart_policy": "reload", "restart_globs": ["*.conf"], "resources": {"ports": {"api_http_port": {}}}, "hooks": {"hook_migrate": {"executed_on": ["pre_deploy", "cli"], "demands": {"job": "database", "hook": "hook_schema", "config": {"min_version": "2"}}}}, "certs": {"tls": {"subject": {"common_name": "api.internal"}, "one": true}}}"#,
    );
    write(dir, "workspace/jobs/api/_hooks/hook_migrate.py", "print('migrate')\n");
    for j in ["database", "api"] {
        write(dir, &format!("workspace/jobs/{j}/Makefile"), "start:\n\ttrue\n");
    }
    write(dir, "workspace/jobs/api/vars.toml", "replicas = 2\n");
    write(dir, "workspace/bucket.jobs.conf", "[database]\nmemory = \"512 mb\"\n");
    write(dir, "workspace/disabled.json", r#"{"jobs": {"api": {"allocations": ["10.0.0.2"]}}}"#);
    maand(dir, &["build"]);
    write(
        dir,
        "workspace/workers.json",
        r#"[
  {"host": "10.0.0.1", "labels": ["db", "app"], "memory": "4 gb", "cpu": "4 ghz", "tags": {"zone": "a"}},
  {"host": "10.0.0.2", "labels": ["app"], "memory": "2 gb", "cpu": "2 ghz", "hostname": "node-b"}
]"#,
    );
    std::fs::remove_file(dir.join("workspace/jobs/api/vars.toml")).unwrap();
    maand(dir, &["build"]);
    println!("fixture written to {}", dir.display());
}
