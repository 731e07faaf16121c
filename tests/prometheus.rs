//! Prometheus integration (issue 19, docs/prometheus.md): the scrape KV
//! build writes, `maand cat prometheus` in all its forms, the certificate
//! expiry push against a local receiver, and the whole path on real
//! loopback workers with a real `promtool` checking what was staged.

mod common;
use common::workers::start_or_skip;
use common::*;
use maand::prometheus::remote_write;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const WORKERS: &[(&str, &[&str])] =
    &[("10.0.0.1", &["app", "db", "mon"]), ("10.0.0.2", &["app"]), ("10.0.0.3", &["app"])];

fn built() -> tempfile::TempDir {
    let dir = fresh_bucket();
    common::prom::workspace(dir.path(), WORKERS);
    ok(&maand(dir.path(), &["build"]));
    dir
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn build_writes_the_documented_scrape_kv() {
    let dir = built();
    let p = dir.path();
    assert_eq!(kv_get(p, "maand/prometheus", "scrape_jobs"), "api,db,node_exporter");
    assert_eq!(kv_get(p, "maand/prometheus", "scrape_jobs_length"), "3");
    let api: Value = serde_json::from_str(&kv_get(p, "maand/prometheus", "scrape/api")).unwrap();
    assert_eq!(api[0]["job_name"], "api", "scrape.yaml.tpl rendered at build");
    assert_eq!(api[0]["metrics_path"], "/api/metrics", "get reads the KV this build writes");
    assert_eq!(api[0]["static_configs"][0]["targets"][0], "maand:port/api_metrics_port", "stored unexpanded");
    assert_eq!(api[0]["static_configs"][0]["labels"]["maand_job"], "maand:job");
    assert_eq!(api[0]["static_configs"][0]["labels"]["version"], "1.0.0");
    let all: Vec<Value> = serde_json::from_str(&kv_get(p, "maand/prometheus", "scrape_configs")).unwrap();
    let names: Vec<&str> = all.iter().map(|c| c["job_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "db", "db_external", "maand:job"]);
    assert_eq!(kv_get(p, "maand/job/node_exporter", "job_name"), "node_exporter");
    assert_eq!(kv_get(p, "maand/job/db", "job_name"), "db");
    assert_eq!(kv_get(p, "maand/job/api", "job_name"), "api");
    // Rebuilding changes nothing.
    assert!(ok(&maand(p, &["build"])).contains("nothing changed"));

    // db loses its worker: literal targets keep it in the aggregate; a job
    // whose targets all need allocations leaves it but keeps scrape/<job>.
    let mut ws: Vec<(&str, &[&str])> = WORKERS.to_vec();
    ws[0] = ("10.0.0.1", &["app", "mon"]);
    common::prom::workspace(p, &ws);
    write(
        p,
        "workspace/jobs/db/_prometheus/scrape.yaml",
        "- job_name: db\n  static_configs:\n    - targets: [maand:port/db_metrics_port]\n",
    );
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "maand/prometheus", "scrape_jobs"), "api,node_exporter");
    assert_eq!(kv_get(p, "maand/prometheus", "scrape_jobs_length"), "2");
    assert!(kv_get(p, "maand/prometheus", "scrape/db").contains("db_metrics_port"));
    ok(&journal(p, &["verify"]));
}

#[test]
fn without_a_server_job_prometheus_folders_are_ignored_and_the_scrape_kv_cleared() {
    let dir = built();
    let p = dir.path();
    std::fs::remove_file(p.join("workspace/jobs/prometheus/prometheus.yml.tpl")).unwrap();
    // Now invalid material is not even read.
    write(p, "workspace/jobs/db/_prometheus/scrape.yaml", "not: [valid");
    write(p, "workspace/jobs/db/_prometheus/scrape.yaml.tpl", "{{ nope }}");
    ok(&maand(p, &["build"]));
    for key in ["scrape_jobs", "scrape_jobs_length", "scrape_configs", "scrape/api"] {
        let o = maand(p, &["cat", "kv", "get", "maand/prometheus", key]);
        assert_eq!(o.status.code(), Some(1), "{key}: {}", stdout(&o));
        assert!(stderr(&o).contains("was deleted"), "{key}: {}", stderr(&o));
    }
    // The scrape job name goes; job_name is the job's own name again (the original's default).
    assert_eq!(kv_get(p, "maand/job/api", "job_name"), "api");
    let rows = json(&maand(p, &["cat", "prometheus", "--json"]));
    assert!(rows.as_array().unwrap().iter().all(|r| r["server"] == false), "{rows}");
}

#[test]
fn cat_prometheus_list_get_and_scrape() {
    let dir = built();
    let p = dir.path();
    let table = ok(&maand(p, &["cat", "prometheus"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["JOB", "SERVER", "SCRAPE", "ALERTS", "RUNBOOKS", "DASHBOARDS"]
    );
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["api", "false", "scrape.yaml.tpl", "1", "1", "0"]);
    let rows = json(&maand(p, &["cat", "prometheus", "--json"]));
    let want = serde_json::json!([
        {"job": "api", "server": false, "scrape": "scrape.yaml.tpl", "alerts": 1, "runbooks": 1, "dashboards": 0},
        {"job": "db", "server": false, "scrape": "scrape.yaml", "alerts": 1, "runbooks": 1, "dashboards": 1},
        {"job": "node_exporter", "server": false, "scrape": "scrape.yaml", "alerts": 1, "runbooks": 1, "dashboards": 3},
        {"job": "prometheus", "server": true, "scrape": null, "alerts": 0, "runbooks": 0, "dashboards": 0},
    ]);
    assert_eq!(rows, want);
    assert_eq!(json(&maand(p, &["cat", "prometheus", "--jobs", "db", "--json"])).as_array().unwrap().len(), 1);

    // get: the shorthand `scrape` finds the template; --json wraps it.
    let tpl = ok(&maand(p, &["cat", "prometheus", "get", "api", "scrape"]));
    assert!(tpl.starts_with("- job_name: {{ .Job }}"), "{tpl}");
    let got = json(&maand(p, &["cat", "prometheus", "get", "node_exporter", "alerts/host.yaml", "--json"]));
    assert_eq!(got["job"], "node_exporter");
    assert_eq!(got["path"], "alerts/host.yaml");
    assert!(got["content"].as_str().unwrap().contains("alert: NodeDown"));
    let o = maand(p, &["cat", "prometheus", "get", "api", "alerts/nope.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("job api has no _prometheus/alerts/nope.yaml"), "{}", stderr(&o));
    let o = maand(p, &["cat", "prometheus", "get", "nope", "scrape"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown job(s): nope"), "{}", stderr(&o));

    // scrape: expanded with the catalog's ports and active allocations.
    let port = |name: &str| kv_get(p, "maand/bucket", name);
    let configs = json(&maand(p, &["cat", "prometheus", "scrape", "--json"]));
    let names: Vec<&str> = configs.as_array().unwrap().iter().map(|c| c["job_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "db", "db_external", "node_exporter"]);
    let api_port = port("api_metrics_port");
    assert_eq!(
        configs[0]["static_configs"][0]["targets"],
        serde_json::json!(WORKERS.iter().map(|(ip, _)| format!("{ip}:{api_port}")).collect::<Vec<_>>())
    );
    assert_eq!(configs[0]["static_configs"][0]["labels"]["maand_job"], "api");
    assert_eq!(
        configs[1]["static_configs"][0]["targets"],
        serde_json::json!([format!("10.0.0.1:{}", port("db_metrics_port"))])
    );
    assert_eq!(configs[2]["static_configs"][0]["targets"], serde_json::json!(["127.0.0.1:9187"]));
    let yaml = ok(&maand(p, &["cat", "prometheus", "scrape", "--jobs", "node_exporter"]));
    assert!(yaml.starts_with("- job_name: node_exporter\n"), "{yaml}");
    assert!(yaml.contains(&format!("10.0.0.3:{}", port("node_exporter_metrics_port"))), "{yaml}");
    assert_eq!(maand(p, &["cat", "prometheus", "scrape", "--jobs", "nope"]).status.code(), Some(2));
}

/// A local remote-write receiver on 127.0.0.1 (port 0): answers 503 to the
/// first request, 204 after; keeps what it received.
type Got = std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

struct Receiver {
    port: u16,
    got: Got,
    _rt: tokio::runtime::Runtime,
}

fn receiver() -> Receiver {
    use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
    let got: Got = Default::default();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    async fn write(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> StatusCode {
        let mut g = got.lock().unwrap();
        g.push((headers, body.to_vec()));
        if g.len() == 1 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::NO_CONTENT }
    }
    let app = Router::new().route("/api/v1/write", post(write)).with_state(got.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { port, got, _rt: rt }
}

#[test]
fn cert_metrics_are_pushed_by_remote_write_and_recorded() {
    let rx = receiver();
    let dir = fresh_bucket();
    let p = dir.path();
    common::prom::workspace(p, &[("127.0.0.1", &["app", "db", "mon"])]);
    // The server job's UI port is the receiver's.
    write(
        p,
        "workspace/jobs/prometheus/manifest.json",
        &format!(r#"{{"selectors": ["mon"], "resources": {{"ports": {{"prometheus_port_http": {}}}}}}}"#, rx.port),
    );
    ok(&maand(p, &["build"]));

    // Push through a session, as a deploy does after its last checkpoint;
    // with basic-auth credentials in secrets/job/prometheus.
    let key = maand::kv::seal::KvKey::load(&p.join("secrets/kv.key")).unwrap();
    let mut b = open(p, "test");
    let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
    for (k, v) in [("admin_username", "admin"), ("admin_password", "s3cret")] {
        let sealed = key.seal("secrets/job/prometheus", k, v).unwrap();
        s.record(maand::event::Event::KvPut {
            namespace: "secrets/job/prometheus".into(),
            key: k.into(),
            value: sealed,
            ttl: 0,
            at: 1,
        })
        .unwrap();
    }
    let before = std::time::Instant::now();
    maand::prometheus::push::after_deploy(&mut s, &key).unwrap();
    s.commit().unwrap();
    drop(b);
    assert!(before.elapsed() >= maand::prometheus::push::BACKOFF, "the 503 was retried after the backoff");

    let got = rx.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "one 503, then accepted");
    let (headers, body) = &got[1];
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["content-encoding"], "snappy");
    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
    assert_eq!(headers["authorization"], "Basic YWRtaW46czNjcmV0", "admin:s3cret");
    let req = remote_write::decode(body).unwrap();
    let series: Vec<std::collections::BTreeMap<String, String>> =
        req.timeseries.iter().map(|t| t.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()).collect();
    // The CA and api's one certificate: three gauges each.
    assert_eq!(req.timeseries.len(), 6, "{series:?}");
    for t in &req.timeseries {
        let names: Vec<&str> = t.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "labels sorted by name");
        assert_eq!(t.samples.len(), 1);
    }
    let find = |name: &str, scope: &str| {
        req.timeseries
            .iter()
            .find(|t| {
                t.labels.iter().any(|l| l.name == "__name__" && l.value == name)
                    && t.labels.iter().any(|l| l.name == "scope" && l.value == scope)
            })
            .unwrap_or_else(|| panic!("{name} {scope} in {series:?}"))
    };
    let leaf = find("maand_cert_not_after_seconds", "job");
    let label = |t: &remote_write::TimeSeries, n: &str| t.labels.iter().find(|l| l.name == n).map(|l| l.value.clone());
    assert_eq!(label(leaf, "job").as_deref(), Some("api"));
    assert_eq!(label(leaf, "worker").as_deref(), Some("127.0.0.1"));
    assert_eq!(label(leaf, "cert").as_deref(), Some("tls"));
    assert_eq!(label(leaf, "common_name").as_deref(), Some("api.internal"));
    assert_eq!(label(leaf, "status").as_deref(), Some("ok"));
    let days = (leaf.samples[0].value - leaf.samples[0].timestamp as f64 / 1000.0) / 86_400.0;
    assert!((59.0..=60.1).contains(&days), "certs_ttl 60 days: {days}");
    assert_eq!(find("maand_cert_expiring", "job").samples[0].value, 0.0);
    assert_eq!(find("maand_cert_expired", "ca").samples[0].value, 0.0);
    let ca = find("maand_cert_not_after_seconds", "ca");
    assert_eq!(label(ca, "job"), None, "empty labels are left out");

    // Recorded in the journal.
    let shown = ok(&journal(p, &["show", &last_session(p).to_string()]));
    assert!(shown.contains("cert_metrics_pushed"), "{shown}");
    assert!(
        shown.contains(&format!("6 series to http://127.0.0.1:{}/api/v1/write: accepted after 2 attempt(s)", rx.port)),
        "{shown}"
    );
    ok(&journal(p, &["verify"]));
}

#[test]
fn a_failed_push_is_recorded_and_never_an_error() {
    // Nothing listens on the server job's port.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = fresh_bucket();
    let p = dir.path();
    common::prom::workspace(p, &[("127.0.0.1", &["app", "db", "mon"])]);
    write(
        p,
        "workspace/jobs/prometheus/manifest.json",
        &format!(r#"{{"selectors": ["mon"], "resources": {{"ports": {{"prometheus_port_http": {free}}}}}}}"#),
    );
    ok(&maand(p, &["build"]));
    let key = maand::kv::seal::KvKey::load(&p.join("secrets/kv.key")).unwrap();
    let mut b = open(p, "test");
    let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
    // Only one credential: refused before any request.
    let sealed = key.seal("secrets/job/prometheus", "admin_username", "admin").unwrap();
    s.record(maand::event::Event::KvPut {
        namespace: "secrets/job/prometheus".into(),
        key: "admin_username".into(),
        value: sealed,
        ttl: 0,
        at: 1,
    })
    .unwrap();
    maand::prometheus::push::after_deploy(&mut s, &key).unwrap();
    s.commit().unwrap();
    drop(b);
    let shown = ok(&journal(p, &["show", &last_session(p).to_string()]));
    assert!(shown.contains("failed after 0 attempt(s)") && shown.contains("set both"), "{shown}");
    // Connection refused: retried, then recorded as failed.
    let mut b = open(p, "test");
    let mut s = b.begin(maand::bucket::session_info("test")).unwrap();
    s.record(maand::event::Event::KvDeleted {
        namespace: "secrets/job/prometheus".into(),
        key: "admin_username".into(),
        at: 2,
    })
    .unwrap();
    maand::prometheus::push::after_deploy(&mut s, &key).unwrap();
    s.commit().unwrap();
    drop(b);
    let shown = ok(&journal(p, &["show", &last_session(p).to_string()]));
    assert!(shown.contains(&format!("failed after {} attempt(s)", maand::prometheus::push::ATTEMPTS)), "{shown}");
}

fn promtool() -> std::path::PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("promtool")).find(|p| p.is_file()));
    found.expect("promtool is required (Debian: apt-get install prometheus; scripts/test.sh installs it)")
}

fn promtool_ok(args: &[&str], dir: &Path) -> String {
    let o = Command::new(promtool()).args(args).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "promtool {args:?} failed:\n{}\n{}", stdout(&o), stderr(&o));
    format!("{}{}", stdout(&o), stderr(&o))
}

/// `(ip, action)` of job `job` in a deploy's plan output.
fn actions(out: &str, job: &str) -> Vec<(String, String)> {
    let mut res = Vec::new();
    let mut inside = false;
    for line in out.lines() {
        if line.starts_with("wave ") {
            inside = line.split_whitespace().nth(2) == Some(job);
            continue;
        }
        if inside && line.starts_with("  ") {
            let mut w = line.split_whitespace();
            if let (Some(ip), Some(a)) = (w.next(), w.next())
                && ip.parse::<std::net::IpAddr>().is_ok()
            {
                res.push((ip.to_string(), a.to_string()));
            }
        } else {
            inside = false;
        }
    }
    res
}

fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    if root.exists() {
        walk(root, root, &mut out);
    }
    out
}

#[test]
fn end_to_end_on_workers_with_promtool() {
    let Some(w) = start_or_skip(4) else { return };
    let tool = promtool();
    let dir = fresh_bucket();
    let p = dir.path();
    w.configure_bucket(p);
    let conf = std::fs::read_to_string(p.join("maand.conf")).unwrap();
    let conf: Vec<&str> = conf.lines().filter(|l| !l.trim_start().starts_with("hook_api_port")).collect();
    write(p, "maand.conf", &(conf.join("\n") + "\nhook_api_port = 0\n"));
    let ip = |i: usize| w.ips[i].as_str();
    let mut topology: Vec<(&str, &[&str])> = vec![(ip(0), &["app", "db", "mon"]), (ip(1), &["app"]), (ip(2), &["app"])];
    common::prom::workspace(p, &topology);
    ok(&maand(p, &["build"]));
    assert_eq!(kv_get(p, "maand/prometheus", "scrape_jobs"), "api,db,node_exporter");
    let bid = kv_get(p, "maand/bucket", "bucket_id");
    let port = |name: &str| kv_get(p, "maand/bucket", name);

    let out = ok(&maand(p, &["deploy"]));
    for job in ["api", "db", "node_exporter", "prometheus"] {
        assert!(out.contains(&format!("{job}: promoted")), "{out}");
    }
    assert!(out.contains("cert metrics: pushed"), "{out}");

    // Nothing of _prometheus/ or _hooks/ on any worker's own jobs.
    for i in 0..3 {
        for f in files_under(&w.opt(ip(i)).join(&bid).join("jobs")) {
            assert!(!f.contains("_prometheus") && !f.contains("_hooks"), "{} on {}", f, ip(i));
        }
    }
    let prom_dir = w.opt(ip(0)).join(&bid).join("jobs/prometheus");
    let files = files_under(&prom_dir);
    for f in [
        "prometheus.yml",
        "rules/maand/certs.yaml",
        "rules/api/api.yml",
        "rules/db/db.yaml",
        "rules/node_exporter/host.yaml",
        "consoles/runbooks/index.html",
        "consoles/runbooks/style.css",
        "consoles/runbooks/api/api_down.html",
        "consoles/runbooks/db/db_down.html",
        "consoles/runbooks/node_exporter/node_down.html",
        "consoles/dashboards/index.html",
        "consoles/dashboards/node_exporter/overview.html",
        "consoles/dashboards/node_exporter/slo/latency.html",
        "consoles/dashboards/node_exporter/_partial.html",
        "consoles/dashboards/db/db.html",
    ] {
        assert!(files.contains(f), "{f} missing from {files:?}");
    }
    assert!(!files.iter().any(|f| f.ends_with(".dashboardignore") || f.ends_with(".tpl")), "{files:?}");

    // prometheus.yml: every target expanded, rule files listed.
    let yml = std::fs::read_to_string(prom_dir.join("prometheus.yml")).unwrap();
    let cfg = maand::plan::prometheus::yaml::parse(&yml).unwrap().value;
    let jobs: Vec<&str> =
        cfg["scrape_configs"].as_array().unwrap().iter().map(|c| c["job_name"].as_str().unwrap()).collect();
    assert_eq!(jobs, ["prometheus", "api", "db", "db_external", "node_exporter"], "{yml}");
    let targets = |job: &str, cfg: &Value| -> Vec<String> {
        cfg["scrape_configs"].as_array().unwrap().iter().find(|c| c["job_name"] == job).unwrap()["static_configs"][0]["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect()
    };
    let node_port = port("node_exporter_metrics_port");
    assert_eq!(targets("node_exporter", &cfg), (0..3).map(|i| format!("{}:{node_port}", ip(i))).collect::<Vec<_>>());
    assert_eq!(targets("db", &cfg), [format!("{}:{}", ip(0), port("db_metrics_port"))]);
    assert_eq!(
        cfg["rule_files"],
        serde_json::json!([
            "rules/maand/certs.yaml",
            "rules/api/api.yml",
            "rules/db/db.yaml",
            "rules/node_exporter/host.yaml"
        ])
    );
    // Alert rules: runbook -> runbook_url on this allocation's UI, unless set.
    let ui = format!("http://{}:{}", ip(0), port("prometheus_port_http"));
    let api_rules =
        maand::plan::prometheus::yaml::parse(&std::fs::read_to_string(prom_dir.join("rules/api/api.yml")).unwrap())
            .unwrap()
            .value;
    let rules = &api_rules["groups"][0]["rules"];
    assert_eq!(rules[0]["annotations"]["runbook_url"], format!("{ui}/consoles/runbooks/api/api_down.html"));
    assert!(rules[0]["annotations"].get("runbook").is_none());
    assert_eq!(rules[1]["annotations"]["runbook_url"], "https://wiki.example/api-slow");
    assert!(rules[1]["expr"].as_str().unwrap().contains("histogram_quantile(0.99,\n"), "multi-line expr kept");
    let runbook = std::fs::read_to_string(prom_dir.join("consoles/runbooks/node_exporter/node_down.html")).unwrap();
    assert!(runbook.contains("<h1>Node down</h1>") && runbook.contains("<table>"), "{runbook}");
    assert!(runbook.contains(r#"{{ "{{" }}.Names{{ "}}" }}"#), "{runbook}");
    let index = std::fs::read_to_string(prom_dir.join("consoles/dashboards/index.html")).unwrap();
    assert!(
        index.contains(">Node overview</a>") && index.contains(">Database</a>") && !index.contains("_partial"),
        "{index}"
    );

    // A real promtool accepts the config (which loads every rule file) and each rule file.
    let checked = promtool_ok(&["check", "config", "prometheus.yml"], &prom_dir);
    assert!(checked.contains("SUCCESS"), "{checked}");
    for f in files.iter().filter(|f| f.starts_with("rules/")) {
        promtool_ok(&["check", "rules", f], &prom_dir);
    }
    eprintln!(
        "checked with {}",
        String::from_utf8_lossy(&Command::new(&tool).arg("--version").output().unwrap().stdout)
            .lines()
            .next()
            .unwrap_or("")
    );

    // The certificate gauges reached the job's receiver on the worker.
    let body = std::fs::read(prom_dir.join("data/remote_write.bin")).expect("the receiver got a push");
    let req = remote_write::decode(&body).unwrap();
    let names: BTreeSet<String> = req
        .timeseries
        .iter()
        .flat_map(|t| t.labels.iter().filter(|l| l.name == "__name__").map(|l| l.value.clone()))
        .collect();
    assert_eq!(
        names,
        ["maand_cert_expired", "maand_cert_expiring", "maand_cert_not_after_seconds"].map(String::from).into()
    );
    assert_eq!(req.timeseries.len(), 3 * (1 + 3), "the CA and api's certificate on three workers");
    let headers: Value =
        serde_json::from_str(&std::fs::read_to_string(prom_dir.join("data/headers.json")).unwrap()).unwrap();
    assert_eq!(headers["path"], "/api/v1/write");
    assert_eq!(headers["content-encoding"], "snappy");

    // Unchanged topology: identical bytes, nothing restarted.
    let history = |job: &str, i: usize| {
        std::fs::read_to_string(w.opt(ip(i)).join(&bid).join(format!("jobs/{job}/data/history"))).unwrap_or_default()
    };
    let prom_history = history("prometheus", 0);
    let out = ok(&maand(p, &["deploy"]));
    assert!(!out.contains(": promoted"), "{out}");
    assert_eq!(std::fs::read_to_string(prom_dir.join("prometheus.yml")).unwrap(), yml);
    assert_eq!(history("prometheus", 0), prom_history);

    // A fourth worker: its allocations start, the scrape targets are
    // re-rendered, and of the running jobs only prometheus is redeployed.
    topology.push((ip(3), &["app"]));
    common::prom::workspace(p, &topology);
    let out = ok(&maand(p, &["deploy", "--build"]));
    assert_eq!(actions(&out, "prometheus"), [(ip(0).to_string(), "restart".to_string())], "{out}");
    for job in ["api", "node_exporter"] {
        let acts = actions(&out, job);
        assert_eq!(acts.len(), 4, "{job}: {out}");
        for (a_ip, a) in acts {
            assert_eq!(a, if a_ip == ip(3) { "start" } else { "skip" }, "{job} on {a_ip}: {out}");
        }
    }
    assert_eq!(actions(&out, "db"), [(ip(0).to_string(), "skip".to_string())], "{out}");
    let yml2 = std::fs::read_to_string(prom_dir.join("prometheus.yml")).unwrap();
    let cfg2 = maand::plan::prometheus::yaml::parse(&yml2).unwrap().value;
    assert_eq!(targets("node_exporter", &cfg2).len(), 4);
    assert!(targets("api", &cfg2).contains(&format!("{}:{}", ip(3), port("api_metrics_port"))));
    promtool_ok(&["check", "config", "prometheus.yml"], &prom_dir);
    assert_eq!(history("prometheus", 0), format!("{prom_history}stop\nstart 0.0.0\n"));
    ok(&journal(p, &["verify"]));
    replay_checks(p, &["build", "reconcile", "staged", "rollout"]);
}
