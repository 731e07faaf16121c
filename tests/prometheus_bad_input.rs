//! Every `_prometheus/` validation rule (docs/prometheus.md "Validation"),
//! one line per case: `maand build` exits 2 with a message naming the file,
//! the line or field, and the reason, and records nothing.

mod common;
use common::*;
use std::path::Path;

const NE: &str = "workspace/jobs/node_exporter/_prometheus/scrape.yaml";
const AL: &str = "workspace/jobs/node_exporter/_prometheus/alerts/host.yaml";
const DB: &str = "workspace/jobs/db/_prometheus/scrape.yaml";
const PR: &str = "workspace/jobs/prometheus/_prometheus/scrape.yaml";
const MA: &str = "workspace/jobs/maand/_prometheus/scrape.yaml";
const TPL: &str = "workspace/jobs/api/_prometheus/scrape.yaml.tpl";

/// A scrape file whose single config has this `static_configs` body.
fn targets(t: &str) -> String {
    format!("- job_name: node\n  static_configs:\n    - targets: [{t}]\n")
}

/// An alert file with one group whose rules are `rules`.
fn rules(r: &str) -> String {
    format!("groups:\n  - name: g\n    rules:\n{r}")
}

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, String, String, &'static str)> {
    let s = |x: &str| x.to_string();
    vec![
        // (file, content, expected in the message after `maand: error: `, case)
        (NE, s(""), format!("{NE}: is empty"), "empty scrape file"),
        (NE, s("- job_name: [x\n"), format!("{NE}: line 2: column"), "YAML syntax"),
        (NE, s("job_name: x\n"), format!("{NE}: line 1: the root must be a YAML list"), "root not a list"),
        (NE, s("[]\n"), format!("{NE}: the list is empty"), "empty list"),
        (NE, s("- x\n"), format!("{NE}: line 1, field `[0]`: a scrape config must be a mapping"), "item not a mapping"),
        (NE, s("- static_configs:\n    - targets: [a:1]\n"), format!("{NE}: line 1, field `[0].job_name`: a non-empty string is required"), "no job_name"),
        (NE, s("- job_name: ' '\n  static_configs:\n    - targets: [a:1]\n"), format!("{NE}: line 1, field `[0].job_name`"), "blank job_name"),
        (NE, s("- job_name: n\n  kubernetes_sd_configs:\n    - role: pod\n"), format!("{NE}: line 2, field `[0].kubernetes_sd_configs`: service discovery is not supported"), "kubernetes SD"),
        (NE, s("- job_name: n\n  static_configs: []\n  file_sd_configs: [{files: [x]}]\n"), format!("{NE}: line 3, field `[0].file_sd_configs`: service discovery"), "file SD"),
        (NE, s("- job_name: n\n"), format!("{NE}: line 1, field `[0].static_configs`: a list of {{targets, labels}} is required"), "no static_configs"),
        (NE, s("- job_name: n\n  static_configs: []\n"), format!("{NE}: line 2, field `[0].static_configs`: must not be empty"), "empty static_configs"),
        (NE, s("- job_name: n\n  static_configs: [x]\n"), format!("{NE}: line 2, field `[0].static_configs[0]`: must be a mapping"), "static block not a mapping"),
        (NE, s("- job_name: n\n  static_configs:\n    - labels: {a: b}\n"), format!("{NE}: line 3, field `[0].static_configs[0].targets`: a list of targets is required"), "no targets"),
        (NE, targets(""), format!("{NE}: line 3, field `[0].static_configs[0].targets`: must not be empty"), "empty targets"),
        (NE, targets("1234"), format!("{NE}: line 3, field `[0].static_configs[0].targets[0]`: a target must be a string"), "target not a string"),
        (NE, targets("'maand:ports/x'"), format!("{NE}: line 3, field `[0].static_configs[0].targets[0]`: unknown placeholder \"maand:ports/x\""), "unknown placeholder"),
        (NE, targets("'maand:port/'"), format!("{NE}: line 3, field `[0].static_configs[0].targets[0]`: invalid placeholder"), "placeholder without a port"),
        (NE, targets("'maand:port/a/b/c'"), format!("{NE}: line 3, field `[0].static_configs[0].targets[0]`: invalid placeholder"), "placeholder with extra segments"),
        (NE, targets("'maand:port/nope_port'"), format!("{NE}: line 3, field `[0].static_configs[0].targets[0]`: port \"nope_port\" is not declared"), "undeclared port"),
        (PR, targets("'maand:port/_implicit'"), format!("{PR}: line 3, field `[0].static_configs[0].targets[0]`: maand:port/_implicit needs a metrics port (prometheus_metrics_port, metrics_port or one *_metrics_port)"), "implicit without a metrics port"),
        (MA, targets("'maand:port/_implicit'"), format!("{MA}: line 3, field `[0].static_configs[0].targets[0]`: maand:port/_implicit is ambiguous: a_metrics_port, b_metrics_port are declared"), "implicit with two metrics ports"),
        (DB, targets("'maand:port/db_metrics_port/10.9.9.9'"), format!("{DB}: line 3, field `[0].static_configs[0].targets[0]`: worker \"10.9.9.9\" has no allocation of job db"), "pinned worker not allocated"),
        (NE, s("- job_name: n\n  static_configs:\n    - targets: [a:1]\n      labels: [x]\n"), format!("{NE}: line 4, field `[0].static_configs[0].labels`: must be a mapping"), "labels not a mapping"),
        (NE, s("- job_name: n\n  static_configs:\n    - targets: [a:1]\n      labels: {a: [1]}\n"), format!("{NE}: line 4, field `[0].static_configs[0].labels.a`: a label value must be a string"), "label value not a string"),
        (NE, s("- job_name: db\n  static_configs:\n    - targets: [a:1]\n"), format!("{NE}: field `[0].job_name`: scrape job_name \"db\" is already used by {DB}"), "duplicate job_name across jobs"),
        (NE, s("- job_name: api\n  static_configs:\n    - targets: [a:1]\n"), format!("{NE}: field `[0].job_name`: scrape job_name \"api\" is already used by {TPL} (as rendered)"), "duplicate of a maand:job name"),
        (NE, s("- job_name: a\n  static_configs: [{targets: [x:1]}]\n- job_name: a\n  static_configs: [{targets: [x:1]}]\n"), format!("{NE}: field `[1].job_name`: scrape job_name \"a\" is already used by {NE}"), "duplicate job_name in one file"),
        (NE, s("- job_name: a\n  job_name: b\n"), format!("{NE}: line 2: column"), "duplicate YAML key"),
        (NE, s("- job_name: a\n---\n- job_name: b\n"), format!("{NE}: line 3: more than one YAML document"), "two documents"),
        ("workspace/jobs/node_exporter/_prometheus/scrape.yaml.tpl", s("- job_name: x\n"), s("workspace/jobs/node_exporter/_prometheus/: has both scrape.yaml and scrape.yaml.tpl"), "scrape.yaml and its template"),
        ("workspace/jobs/prometheus/prometheus.yml", s("global: {}\n"), s("workspace/jobs/prometheus/prometheus.yml.tpl: both prometheus.yml and prometheus.yml.tpl would be shipped as prometheus.yml"), "prometheus.yml and its template"),
        (TPL, s("- job_name: {{ get \"vars/job/api\" \"nope\" }}\n"), format!("{TPL}: line 1, key \"nope\" in \"vars/job/api\": key not found"), "template: missing key"),
        (TPL, s("- job_name: {{ getOptional \"vars/job/api\" \"x\" }}\n"), format!("template {TPL}:"), "template: getOptional not available"),
        (TPL, s("- job_name: {{ .Job }}\n  static_configs: {{ .Job }}\n"), format!("{TPL} (as rendered): line 2, field `[0].static_configs`: a list of"), "template renders a bad config"),
        (AL, s(""), format!("{AL}: is empty"), "empty alert file"),
        (AL, s("groups: [\n"), format!("{AL}: line 2: column"), "alert YAML syntax"),
        (AL, s("- 1\n"), format!("{AL}: line 1: the root must be a mapping with `groups:`"), "alert root not a mapping"),
        (AL, s("rules: []\n"), format!("{AL}: line 1, field `groups`: a list of rule groups is required"), "no groups"),
        (AL, s("groups: []\n"), format!("{AL}: line 1, field `groups`: must define at least one group"), "empty groups"),
        (AL, s("groups: [x]\n"), format!("{AL}: line 1, field `groups[0]`: a group must be a mapping"), "group not a mapping"),
        (AL, s("groups:\n  - rules: []\n"), format!("{AL}: line 2, field `groups[0].name`: a non-empty group name is required"), "group without name"),
        (AL, s("groups:\n  - name: g\n    rules: {a: 1}\n"), format!("{AL}: line 3, field `groups[0].rules`: must be a list of rules"), "rules not a list"),
        (AL, rules("      - x\n"), format!("{AL}: line 4, field `groups[0].rules[0]`: a rule must be a mapping"), "rule not a mapping"),
        (AL, rules("      - alert: A\n        record: r\n        expr: up\n"), format!("{AL}: line 4, field `groups[0].rules[0]`: defines both `alert` and `record`"), "alert and record"),
        (AL, rules("      - expr: up\n"), format!("{AL}: line 4, field `groups[0].rules[0]`: defines neither `alert` nor `record`"), "neither alert nor record"),
        (AL, rules("      - alert: A\n        for: 5m\n"), format!("{AL}: line 4, field `groups[0].rules[0].expr`: rule \"A\" has no `expr`"), "alert without expr"),
        (AL, rules("      - record: r\n        expr: ''\n"), format!("{AL}: line 5, field `groups[0].rules[0].expr`: rule \"r\" has no `expr`"), "record with empty expr"),
        (AL, rules("      - alert: A\n        expr: up\n        labels: [x]\n"), format!("{AL}: line 6, field `groups[0].rules[0].labels`: must be a mapping"), "labels not a mapping"),
        (AL, rules("      - alert: A\n        expr: up\n        annotations:\n          summary: {a: b}\n"), format!("{AL}: line 7, field `groups[0].rules[0].annotations.summary`: must be a string"), "annotation not a string"),
        (AL, rules("      - alert: A\n        expr: up\n        annotations:\n          runbook: nope\n"), format!("{AL}: line 7, field `groups[0].rules[0].annotations.runbook`: alert \"A\" names runbook \"nope\", but _prometheus/runbooks/nope.md does not exist"), "missing runbook"),
        (AL, rules("      - alert: DbDown\n        expr: up\n"), format!("{AL}: line 4, field `alert`: alert name \"DbDown\" is already used by workspace/jobs/db/_prometheus/alerts/db.yaml"), "duplicate alert across jobs"),
        (AL, rules("      - alert: A\n        expr: up\n      - alert: A\n        expr: up\n"), format!("{AL}: line 6, field `alert`: alert name \"A\" is already used by {AL}"), "duplicate alert in one file"),
        (AL, rules("      - alert: MaandCertExpired\n        expr: up\n"), format!("{AL}: line 4, field `alert`: alert name \"MaandCertExpired\" is already used by maand's built-in rules/maand/certs.yaml"), "built-in alert name"),
        ("workspace/jobs/maand/_prometheus/alerts/certs.yaml", rules("      - alert: X\n        expr: up\n"), s("workspace/jobs/maand/_prometheus/alerts/certs.yaml: would be deployed as rules/maand/certs.yaml"), "rules/maand/certs.yaml taken"),
    ]
}

#[test]
fn every_prometheus_rule_refuses_bad_input_with_file_field_and_reason_and_records_nothing() {
    let template = fresh_bucket();
    common::prom::workspace(template.path(), &[("10.0.0.1", &["app", "db", "mon"]), ("10.0.0.2", &["app"])]);
    // A job named `maand` (the reserved-path case) with two metrics ports.
    write(
        template.path(),
        "workspace/jobs/maand/manifest.json",
        r#"{"selectors": ["app"], "resources": {"ports": {"a_metrics_port": {}, "b_metrics_port": {}}}}"#,
    );
    write(template.path(), "workspace/jobs/maand/Makefile", "start:\n\ttrue\n");
    ok(&maand(template.path(), &["build"]));
    let events = event_count(template.path());
    let mut seen = 0;
    for (file, content, want, name) in cases() {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        write(dir.path(), file, &content);
        let o = maand(dir.path(), &["build"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: expected exit 2, got {:?}: {err}", o.status);
        assert!(err.starts_with("maand: error: "), "{name}: {err}");
        assert!(err.contains(&want), "{name}: expected {want:?} in:\n{err}");
        assert!(err.contains("workspace/jobs/"), "{name}: the message names the file: {err}");
        assert_eq!(err.matches("maand: error").count(), 1, "{name}: rendered once: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(event_count(dir.path()), events, "{name}: journal changed");
        seen += 1;
    }
    assert_eq!(seen, cases().len());
    // Not UTF-8.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(template.path(), dir.path());
    std::fs::write(Path::new(dir.path()).join(NE), b"- job_name: \xff\n").unwrap();
    let o = maand(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("{NE}: not UTF-8")), "{}", stderr(&o));
    assert_eq!(event_count(dir.path()), events);
}
