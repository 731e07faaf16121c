use super::*;
use crate::event::Event;
use crate::plan::build::{BuildContext, plan_build};
use crate::workspace::bucket_files::Disabled;
use crate::workspace::manifest::parse_manifest;
use crate::workspace::workers::parse_workers;
use crate::workspace::{JobFileSpec, JobInput};

fn job(name: &str, manifest: &str, files: &[(&str, &str)]) -> (String, JobInput) {
    let mut map: BTreeMap<String, JobFileSpec> = BTreeMap::new();
    map.insert("Makefile".into(), JobFileSpec { mode: 0o644, content: b"start:\n".to_vec() });
    for (p, c) in files {
        map.insert(p.to_string(), JobFileSpec { mode: 0o644, content: c.as_bytes().to_vec() });
    }
    let input = JobInput {
        name: name.into(),
        manifest: parse_manifest(name, manifest).unwrap(),
        files: map,
        hook_scripts: BTreeMap::new(),
        vars: BTreeMap::new(),
    };
    (name.to_string(), input)
}

fn ws(jobs: Vec<(String, JobInput)>) -> Workspace {
    Workspace {
        workers: parse_workers(r#"[{"host":"10.0.0.1","labels":["a"]},{"host":"10.0.0.2","labels":["a","b"]}]"#)
            .unwrap(),
        jobs: jobs.into_iter().collect(),
        bucket_vars: BTreeMap::new(),
        port_pool: Some((30000, 30099)),
        job_overrides: BTreeMap::new(),
        job_overrides_file: "bucket.jobs.conf".into(),
        disabled: Disabled::default(),
    }
}

fn ctx() -> BuildContext {
    BuildContext {
        bucket_id: "b".into(),
        now: 1_000,
        ca_pem: "CA".into(),
        ca_fingerprint: "fp".into(),
        certs_renewal_buffer_days: 0,
        purge_job_kv: false,
        scrape_rendered: BTreeMap::new(),
    }
}

const SCRAPE: &str = "- job_name: maand:job\n  static_configs:\n    - targets: [maand:port/_implicit]\n";

fn built(w: &Workspace) -> State {
    let mut state = State::default();
    for e in plan_build(&state, w, &ctx()).unwrap().events {
        state.apply(&e);
    }
    state
}

fn kv(state: &State, ns: &str, key: &str) -> Option<String> {
    match state.kv.get(ns, key).as_deref() {
        Some(crate::event::KvValue::Plain(s)) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn scrape_kv_inclusion_and_deploy_expansion() {
    let w = ws(vec![
        job(
            "prometheus",
            r#"{"selectors":["b"],"resources":{"ports":{"prometheus_port_http":9090}}}"#,
            &[("prometheus.yml.tpl", "x")],
        ),
        job(
            "api",
            r#"{"selectors":["a"],"resources":{"ports":{"api_metrics_port":{}}}}"#,
            &[("_prometheus/scrape.yaml", SCRAPE)],
        ),
        // Selects no worker: no active allocation, so not in the aggregate.
        job(
            "idle",
            r#"{"selectors":["nobody"],"resources":{"ports":{"metrics_port":{}}}}"#,
            &[(
                "_prometheus/scrape.yaml",
                "- job_name: idle\n  static_configs:\n    - targets: [maand:port/metrics_port]\n",
            )],
        ),
        // Literal targets only: always included.
        job(
            "ext",
            r#"{"selectors":["a"]}"#,
            &[(
                "_prometheus/scrape.yaml",
                "- job_name: external\n  static_configs:\n    - targets: ['example.org:9100']\n",
            )],
        ),
    ]);
    let state = built(&w);
    assert_eq!(kv(&state, KV_NAMESPACE, "scrape_jobs").unwrap(), "api,ext");
    assert_eq!(kv(&state, KV_NAMESPACE, "scrape_jobs_length").unwrap(), "2");
    assert!(kv(&state, KV_NAMESPACE, "scrape/idle").is_some(), "per-job key even without allocations");
    assert_eq!(kv(&state, "maand/job/api", "job_name").unwrap(), "api");
    assert_eq!(kv(&state, "maand/job/ext", "job_name").unwrap(), "external");
    let all: Vec<Value> = serde_json::from_str(&kv(&state, KV_NAMESPACE, "scrape_configs").unwrap()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["job_name"], "maand:job", "stored unexpanded");

    let port = state.catalog.jobs["api"].spec.ports["api_metrics_port"].port;
    let out = expanded_scrape_configs(&state, &[]).unwrap();
    assert_eq!(out[0]["job_name"], "api");
    assert_eq!(
        out[0]["static_configs"][0]["targets"],
        serde_json::json!([format!("10.0.0.1:{port}"), format!("10.0.0.2:{port}")])
    );
    let frag = scrape_configs_fragment(&out);
    assert!(frag.starts_with("\n  - job_name: api\n"), "{frag}");
    assert_eq!(rule_files(&state.catalog), vec![CERT_RULES_FILE.to_string()]);
    assert_eq!(base_url(&state.catalog, "prometheus", "10.0.0.2"), "http://10.0.0.2:9090");

    // No server job any more: the namespace and job_name are cleared.
    let mut w2 = w.clone();
    w2.jobs.remove("prometheus");
    let plan = plan_build(&state, &w2, &ctx()).unwrap();
    let deleted: Vec<(String, String)> = plan
        .events
        .iter()
        .filter_map(|e| match e {
            Event::KvDeleted { namespace, key, .. } if namespace == KV_NAMESPACE || key == "job_name" => {
                Some((namespace.clone(), key.clone()))
            }
            _ => None,
        })
        .collect();
    // The scraped jobs' job_name is not deleted but reverts to the job's
    // own name (the original's default when no scrape file names it).
    assert_eq!(deleted.len(), 7, "{deleted:?}");
}

#[test]
fn without_a_server_job_prometheus_folders_are_ignored() {
    let w = ws(vec![job(
        "api",
        r#"{"selectors":["a"]}"#,
        &[("_prometheus/scrape.yaml", "not: [valid"), ("_prometheus/scrape.yaml.tpl", "x")],
    )]);
    let state = built(&w);
    assert!(state.kv.live_keys(KV_NAMESPACE).next().is_none());
}

#[test]
fn workspace_rules() {
    let server = || job("prometheus", r#"{"selectors":["b"]}"#, &[("prometheus.yml", "x")]);
    let alert = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n";
    let cases: Vec<(Vec<(String, JobInput)>, &str)> = vec![
        (
            vec![server(), job("x", r#"{"selectors":["a"]}"#, &[("prometheus.yml", "a"), ("prometheus.yml.tpl", "b")])],
            "has both prometheus.yml and prometheus.yml.tpl",
        ),
        (
            vec![
                server(),
                job("a", r#"{"selectors":["a"]}"#, &[("_prometheus/alerts/a.yaml", alert)]),
                job("b", r#"{"selectors":["a"]}"#, &[("_prometheus/alerts/b.yml", alert)]),
            ],
            "workspace/jobs/b/_prometheus/alerts/b.yml: line 4, field `alert`: alert name \"Down\" is already used by workspace/jobs/a/_prometheus/alerts/a.yaml",
        ),
        (
            vec![
                server(),
                job(
                    "a",
                    r#"{"selectors":["a"]}"#,
                    &[(
                        "_prometheus/alerts/a.yaml",
                        "groups:\n  - name: g\n    rules:\n      - alert: MaandCertExpired\n        expr: up\n",
                    )],
                ),
            ],
            "already used by maand's built-in rules/maand/certs.yaml",
        ),
    ];
    for (jobs, want) in cases {
        let w = ws(jobs);
        let e = plan_build(&State::default(), &w, &ctx()).unwrap_err();
        assert!(e.message().contains(want), "{want:?} in {}", e.message());
        assert_eq!(e.exit_code(), 2);
    }
}

#[test]
fn cert_rules_are_valid_rules() {
    let names = alerts::check("builtin", CERT_RULES, &BTreeSet::new()).unwrap();
    assert_eq!(names.len(), 4);
}
