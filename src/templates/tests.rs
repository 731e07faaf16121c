use super::*;
use crate::event::{Event, KvValue};

fn state() -> Arc<State> {
    let mut s = State::default();
    let mut put = |ns: &str, k: &str, v: &str| {
        s.apply(&Event::KvPut { namespace: ns.into(), key: k.into(), value: KvValue::Plain(v.into()), ttl: 0, at: 0 })
    };
    put("vars/job/postgres", "memory", "4096");
    put("vars/job/api", "cluster_name", "prod-east");
    put("vars/job/api", "b", "2");
    put("vars/job/api", "a", "1");
    put("maand/bucket", "http_port", "30001");
    put("maand/job/api/worker/10.0.0.1", "peer_workers", "10.0.0.2,10.0.0.3");
    put("maand/job/web", "workers", "10.0.0.9");
    Arc::new(s)
}

fn key() -> KvKey {
    KvKey::from_bytes(&[3; 32]).unwrap()
}

fn ctx(job: &str) -> TemplateContext {
    TemplateContext {
        allocation_id: "a-1".into(),
        job: job.into(),
        current_version: "0.0.0".into(),
        new_version: "1.2.0".into(),
        worker_ip: "10.0.0.1".into(),
        worker_id: "w-1".into(),
        labels: vec!["app".into(), "worker".into()],
        bucket_id: "b".into(),
        update_seq: 4,
        bucket_path: "/opt/worker/b".into(),
        job_path: format!("/opt/worker/b/jobs/{job}"),
    }
}

fn view(job: &str, state: Arc<State>, upstream: &[&str]) -> KvView {
    KvView::new(state, key(), job, "10.0.0.1", upstream.iter().map(|u| u.to_string()).collect())
}

fn r(job: &str, src: &str) -> Result<String> {
    render("t.tpl", src, &ctx(job), view(job, state(), &[]))
}

#[test]
fn pg_mem_unit_define_template_example_renders_exactly() {
    let src = r#"{{ define "pgMemUnit" -}}
{{- $mb := int . -}}
{{- if ge $mb 1024 -}}
{{- div $mb 1024 -}}GB
{{- else -}}
{{- $mb -}}MB
{{- end -}}
{{- end }}
{{- $memMB := int (get "vars/job/postgres" "memory") -}}
{{- $sharedMB := div $memMB 4 -}}
{{- $cacheMB := div (mul $memMB 3) 4 -}}
{{- $maintMB := min 2048 (div $memMB 16) -}}
{{- $workMB := min 128 (max 4 (div $memMB 64)) -}}
shared_buffers = {{ template "pgMemUnit" $sharedMB }}
effective_cache_size = {{ template "pgMemUnit" $cacheMB }}
maintenance_work_mem = {{ $maintMB }}MB
work_mem = {{ $workMB }}MB
"#;
    assert_eq!(
        r("postgres", src).unwrap(),
        "shared_buffers = 1GB\neffective_cache_size = 3GB\nmaintenance_work_mem = 256MB\nwork_mem = 64MB\n"
    );
}

#[test]
fn context_printf_namespaces_range_keys_and_helpers() {
    let src = r#"{"cluster": "{{ get "vars/job/api" "cluster_name" }}", "v": "{{ .NewVersion }}", "w": "{{ .WorkerIP }}", "port": "{{ get "maand/bucket" "http_port" }}"}
peers={{ get (printf "maand/job/api/worker/%s" .WorkerIP) "peer_workers" }}
{{ range keys "vars/job/api" }}{{ . }};{{ end }}
{{ join .Labels "," }} {{ upper "x" }}{{ lower "Y" }} [{{ trim "  h  " }}] {{ add 1 2 }} {{ sub 5 7 }} {{ index (split "a,b" ",") 1 }} {{ len .Labels }}
{{ if eq .Job "api" }}yes{{ else }}no{{ end }} {{ getOptional "vars/job/api" "nope" }}|{{ .JobPath }}"#;
    assert_eq!(
        r("api", src).unwrap(),
        "{\"cluster\": \"prod-east\", \"v\": \"1.2.0\", \"w\": \"10.0.0.1\", \"port\": \"30001\"}\npeers=10.0.0.2,10.0.0.3\na;b;cluster_name;\napp,worker Xy [h] 3 -2 b 2\nyes |/opt/worker/b/jobs/api"
    );
}

#[test]
fn missing_key_and_forbidden_namespace_name_file_line_and_key() {
    let e = r("api", "a\nb {{ get \"vars/job/api\" \"nope\" }}\n").unwrap_err();
    assert_eq!(e.message(), "template t.tpl: line 2, key \"nope\" in \"vars/job/api\": key not found");
    let e = r("api", "{{ get \"maand/job/web\" \"workers\" }}").unwrap_err();
    assert!(
        e.message().contains("line 1, key \"workers\" in \"maand/job/web\": namespace not readable by this job"),
        "{e}"
    );
    // getOptional still refuses forbidden namespaces.
    assert!(r("api", "{{ getOptional \"maand/job/web\" \"workers\" }}").is_err());
    // Upstream jobs named in demands are readable.
    let ok = render("t.tpl", "{{ get \"maand/job/web\" \"workers\" }}", &ctx("api"), view("api", state(), &["web"]))
        .unwrap();
    assert_eq!(ok, "10.0.0.9");
    let e = r("api", "{{ if }}").unwrap_err();
    assert!(e.message().starts_with("template t.tpl:"), "{e}");
    assert!(r("api", "{{ div 1 0 }}").is_err());
}

#[test]
fn get_secret_reads_the_jobs_sealed_secret() {
    let mut s = (*state()).clone();
    let k = key();
    s.apply(&Event::KvPut {
        namespace: "secrets/job/api".into(),
        key: "pw".into(),
        value: k.seal("secrets/job/api", "pw", "hunter2").unwrap(),
        ttl: 0,
        at: 0,
    });
    let s = Arc::new(s);
    let tpl =
        super::Template::parse("t.tpl", "password = {{ getSecret \"pw\" }}", view("api", s.clone(), &[])).unwrap();
    let out = tpl.render_full(&ctx("api")).unwrap();
    assert_eq!(out, super::Rendered { text: "password = hunter2".into(), secret: true });
    let plain = super::Template::parse("t.tpl", "job = {{ .Job }}", view("api", s, &[])).unwrap();
    assert!(!plain.render_full(&ctx("api")).unwrap().secret, "no sealed value read: not secret");
}

#[test]
fn context_has_bucket_id_and_update_seq_and_iterates_sorted() {
    let out = r("api", "{{ .BucketID }} {{ .UpdateSeq }} {{ range $k, $v := . }}{{ $k }},{{ end }}").unwrap();
    assert_eq!(
        out,
        "b 4 AllocationID,BucketID,BucketPath,CurrentVersion,Job,JobPath,Labels,NewVersion,UpdateSeq,WorkerID,WorkerIP,"
    );
    let steady = ctx("api").steady();
    assert_eq!((steady.current_version.as_str(), steady.update_seq), ("1.2.0", 0));
    assert_eq!(TemplateContext { current_version: "0.0.0".into(), update_seq: 4, ..steady }, ctx("api"));
}

#[test]
fn div_never_panics_and_errors_name_file_line_and_function() {
    assert_eq!(r("api", "{{ div (sub -9223372036854775807 1) -1 }}").unwrap(), "-9223372036854775808");
    let e = r("api", "a\n\n{{ printf \"%d\" (div 7 0) }}").unwrap_err();
    assert_eq!(e.message(), "template t.tpl: line 3: error calling div: integer divide by zero");
    assert_eq!(e.exit_code(), 1);
    // Parse-time failures are bad input (exit 2), with the line.
    for (src, want) in [
        ("x\n{{ if true }}", "template t.tpl: line 2: unexpected EOF"),
        ("{{ nope }}", "template t.tpl: line 1: function \"nope\" not defined"),
        ("\n{{ $x }}", "template t.tpl: line 2: undefined variable \"$x\""),
        ("{{ range .Labels }}{{ end }}{{ break }}", "template t.tpl: line 1: {{break}} outside {{range}}"),
    ] {
        let e = r("api", src).unwrap_err();
        assert_eq!((e.message(), e.exit_code()), (want, 2), "{src}");
    }
    // Errors outside functions name the action.
    let e = r("api", "ok\n{{ index .Labels 7 }}").unwrap_err();
    assert_eq!(e.message(), "template t.tpl: line 2: {{ index .Labels 7 }}: index out of range: 7");
}

#[test]
fn deep_recursion_and_nesting_fail_instead_of_crashing() {
    let e = r("api", "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}").unwrap_err();
    assert!(e.message().contains("recursion"), "{e}");
    let deep = format!("{{{{ {}1{} }}}}", "(".repeat(5000), ")".repeat(5000));
    assert!(r("api", &deep).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, failure_persistence: None, ..Default::default() })]

    /// Whatever the text, parsing and rendering return (an error or bytes).
    #[test]
    fn arbitrary_input_never_panics(
        tokens in proptest::collection::vec(proptest::sample::select(&[
            "{{", "}}", "{{- ", " -}}", "if ", "else ", "end", "range ", "with ", "define ", "block ", "template ",
            "break", "continue", "$x ", ":= ", "= ", "| ", "(", ")", "\"", "'", "`", "\\", ".", ".Job", "é", "日",
            "\n", " ", "printf ", "\"%d\" ", "1 ", "1.5 ", "nil ", "get ", "index ", "/*", "*/", "and ", "or ", ",",
            "$ ", "\"a\" ", "len ", "slice ", "div ", "0 ", "keys ", "\"vars/job/api\" ", ".Labels ", "$.", "-",
        ][..]), 0..40),
        noise in proptest::collection::vec(proptest::prelude::any::<char>(), 0..8),
    ) {
        let mut src: String = tokens.concat();
        src.extend(noise);
        let _ = r("api", &src);
    }
}

#[test]
fn docs_list_every_function_and_context_field_with_an_example() {
    let doc = include_str!("../../docs/templates.md");
    for f in super::funcs::MAAND_FUNCS {
        let listed = [format!("| `{f} "), format!(", `{f} "), format!("| `{f}` |")];
        assert!(listed.iter().any(|l| doc.contains(l.as_str())), "docs/templates.md: {f}");
        let example = ["{{ ", "(", "range "].iter().any(|before| doc.contains(&format!("{before}{f} ")));
        assert!(example, "docs/templates.md: example of {f}");
    }
    let Value::Map(fields) = ctx("api").value() else { panic!("the dot is a map") };
    for field in fields.keys() {
        assert!(doc.contains(&format!("| `.{field}` |")), "docs/templates.md: .{field}");
    }
}
