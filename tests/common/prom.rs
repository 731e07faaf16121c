//! The Prometheus acceptance workspace (issue 19): three jobs with
//! `_prometheus/` (scrape with `maand:port` placeholders, alerts with
//! runbooks, dashboards) and a `prometheus` server job whose
//! `prometheus.yml.tpl` uses `{{ scrapeConfigs }}` and `{{ ruleFiles }}`
//! and whose Makefile runs a small remote-write receiver.
#![allow(dead_code)]

use super::write;
use std::path::Path;

/// A Makefile running `cmd` in the background (pid in data/pid).
fn service_makefile(cmd: &str) -> String {
    format!(
        "include config.env\nstart:\n\t@mkdir -p data logs\n\t@nohup {cmd} > logs/out.log 2>&1 < /dev/null & echo $$! > data/pid\n\t@echo \"start $(NEW_VERSION)\" >> data/history\n\
         stop:\n\t@if [ -f data/pid ]; then kill $$(cat data/pid) 2>/dev/null || true; rm -f data/pid; fi\n\t@echo stop >> data/history\nrestart: stop start\n"
    )
}

/// A plain job Makefile recording its lifecycle in data/history.
const PLAIN_MAKEFILE: &str = "start:\n\t@mkdir -p data\n\t@echo start >> data/history\nstop:\n\t@mkdir -p data\n\t@echo stop >> data/history\nrestart: stop start\n";

/// The remote-write receiver the `prometheus` job runs: saves each POST's
/// body and headers under data/ and answers 204.
const RECEIVER: &str = r#"import http.server, json, sys
ip, port = sys.argv[2], int(sys.argv[3])
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        open("data/remote_write.bin", "wb").write(body)
        json.dump({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}, open("data/headers.json", "w"))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer((ip, port), H).serve_forever()
"#;

/// The server job's configuration template.
pub const PROMETHEUS_YML_TPL: &str = "global:
  scrape_interval: 15s
  evaluation_interval: 15s

scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9090']
{{ scrapeConfigs }}

{{ ruleFiles }}
";

/// Write the workspace: `workers` as `(address, labels)`.
pub fn workspace(dir: &Path, workers: &[(&str, &[&str])]) {
    let ws: Vec<String> = workers
        .iter()
        .map(|(ip, labels)| {
            let l: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
            format!(r#"{{"host": "{ip}", "labels": [{}]}}"#, l.join(", "))
        })
        .collect();
    write(dir, "workspace/workers.json", &format!("[{}]\n", ws.join(",\n ")));
    write(dir, "workspace/bucket.conf", "port_min = \"39100\"\nport_max = \"39199\"\n");

    // node_exporter: every worker, implicit metrics port, dashboards.
    let j = "workspace/jobs/node_exporter";
    write(
        dir,
        &format!("{j}/manifest.json"),
        r#"{"selectors": ["worker"], "resources": {"ports": {"node_exporter_metrics_port": {}}}}"#,
    );
    write(dir, &format!("{j}/Makefile"), PLAIN_MAKEFILE);
    write(
        dir,
        &format!("{j}/_prometheus/scrape.yaml"),
        "- job_name: maand:job\n  metrics_path: /metrics\n  static_configs:\n    - targets:\n        - maand:port/_implicit\n      labels:\n        maand_job: maand:job\n",
    );
    write(
        dir,
        &format!("{j}/_prometheus/alerts/host.yaml"),
        "groups:\n  - name: node\n    rules:\n      - alert: NodeDown\n        expr: up{job=\"node_exporter\"} == 0\n        for: 2m\n        labels:\n          severity: critical\n        annotations:\n          summary: \"Node {{ $labels.instance }} is down\"\n          runbook: node_down\n      - record: node:up:sum\n        expr: sum(up{job=\"node_exporter\"})\n",
    );
    write(
        dir,
        &format!("{j}/_prometheus/runbooks/node_down.md"),
        "# Node down\n\n1. Check the host: `docker ps --format \"{{.Names}}\"`\n2. Restart node_exporter.\n\n| step | who |\n|---|---|\n| page | on-call |\n",
    );
    write(
        dir,
        &format!("{j}/_prometheus/dashboards/overview.html"),
        "<html><head><title>Node overview</title></head><body>{{ template \"head\" . }}</body></html>\n",
    );
    write(dir, &format!("{j}/_prometheus/dashboards/slo/latency.html"), "<html><body>latency</body></html>\n");
    write(dir, &format!("{j}/_prometheus/dashboards/_partial.html"), "<p>partial</p>\n");
    write(dir, &format!("{j}/_prometheus/dashboards/.dashboardignore"), "# fragments\n_partial.html\n");

    // api: scrape template (build-time), explicit port, certs, two alerts.
    let j = "workspace/jobs/api";
    write(
        dir,
        &format!("{j}/manifest.json"),
        r#"{"version": "1.0.0", "selectors": ["app"], "resources": {"ports": {"api_http_port": {}, "api_metrics_port": {}}},
 "certs": {"tls": {"subject": {"common_name": "api.internal"}}}}"#,
    );
    write(dir, &format!("{j}/Makefile"), PLAIN_MAKEFILE);
    write(dir, &format!("{j}/vars.toml"), "metrics_path = \"/api/metrics\"\n");
    write(
        dir,
        &format!("{j}/_prometheus/scrape.yaml.tpl"),
        "- job_name: {{ .Job }}\n  metrics_path: {{ get \"vars/job/api\" \"metrics_path\" }}\n  static_configs:\n    - targets: [maand:port/api_metrics_port]\n      labels:\n        maand_job: maand:job\n        version: \"{{ .NewVersion }}\"\n",
    );
    write(
        dir,
        &format!("{j}/_prometheus/alerts/api.yml"),
        "groups:\n  - name: api\n    rules:\n      - alert: ApiDown\n        expr: up{job=\"api\"} == 0\n        for: 5m\n        annotations:\n          summary: \"API {{ $labels.instance }} down\"\n          runbook: api_down\n      - alert: ApiSlow\n        expr: |\n          histogram_quantile(0.99,\n            sum by (le) (rate(http_request_duration_seconds_bucket{job=\"api\"}[5m]))) > 0.5\n        annotations:\n          runbook: api_down\n          runbook_url: https://wiki.example/api-slow\n",
    );
    write(
        dir,
        &format!("{j}/_prometheus/runbooks/api_down.md"),
        "# API down\n\nRestart with `maand job restart api`.\n",
    );
    write(dir, &format!("{j}/_hooks/hook_note.py"), "print('note')\n");
    write(
        dir,
        &format!("{j}/manifest.json"),
        r#"{"version": "1.0.0", "selectors": ["app"], "resources": {"ports": {"api_http_port": {}, "api_metrics_port": {}}},
 "certs": {"tls": {"subject": {"common_name": "api.internal"}}},
 "hooks": {"hook_note": {"executed_on": ["cli"]}}}"#,
    );

    // db: one worker, a pinned target and a literal one; a dashboard.
    let first = workers[0].0;
    let j = "workspace/jobs/db";
    write(
        dir,
        &format!("{j}/manifest.json"),
        r#"{"selectors": ["db"], "resources": {"ports": {"db_metrics_port": {}}}}"#,
    );
    write(dir, &format!("{j}/Makefile"), PLAIN_MAKEFILE);
    write(
        dir,
        &format!("{j}/_prometheus/scrape.yaml"),
        &format!(
            "- job_name: db\n  static_configs:\n    - targets: ['maand:port/db_metrics_port/{first}']\n- job_name: db_external\n  scrape_interval: 1m\n  static_configs:\n    - targets: ['127.0.0.1:9187']\n      labels:\n        source: external\n"
        ),
    );
    write(
        dir,
        &format!("{j}/_prometheus/alerts/db.yaml"),
        "groups:\n  - name: db\n    rules:\n      - alert: DbDown\n        expr: up{job=\"db\"} == 0\n        annotations:\n          runbook: db_down\n",
    );
    write(dir, &format!("{j}/_prometheus/runbooks/db_down.md"), "# DB down\n\nSee the logs.\n");
    write(dir, &format!("{j}/_prometheus/dashboards/db.html"), "<title>Database</title>\n");

    // prometheus: the server job.
    let j = "workspace/jobs/prometheus";
    write(
        dir,
        &format!("{j}/manifest.json"),
        r#"{"selectors": ["mon"], "resources": {"ports": {"prometheus_port_http": {}}}}"#,
    );
    write(dir, &format!("{j}/Makefile"), &service_makefile("python3 receiver.py --bind $(IP) $(PORT)"));
    write(dir, &format!("{j}/receiver.py"), RECEIVER);
    write(
        dir,
        &format!("{j}/config.env.tpl"),
        "IP={{ .WorkerIP }}\nPORT={{ get \"maand/bucket\" \"prometheus_port_http\" }}\n",
    );
    write(dir, &format!("{j}/prometheus.yml.tpl"), PROMETHEUS_YML_TPL);
}
