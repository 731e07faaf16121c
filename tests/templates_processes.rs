//! Rendering is the same in every process: two processes (this test binary
//! started again as a child) stage the same job, whose template ranges over
//! maps and prints them, and must write identical bytes. Each process seeds
//! its hash maps differently, so a map iterated in hash order (the previous
//! engine's dot was a `HashMap`) shows up here. Own `main`: it spawns itself.

mod common;
use common::*;
use maand::deploy::stage::{StageContext, stage_job, worker_dir};
use maand::kv::seal::KvKey;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const TEMPLATE: &str = r#"{{ . }}
{{ range $k, $v := . }}{{ $k }}={{ $v }}
{{ end -}}
{{ printf "%v|%#v" . .Labels }}
{{ range $i, $k := keys "vars/job/web" }}{{ $i }}:{{ $k }}={{ get "vars/job/web" $k }}
{{ end -}}
{{ keys "maand/worker" }}
{{ keys (printf "maand/worker/%s" .WorkerIP) }}
"#;

/// The staged `map.conf` of job web on 10.0.0.1 (the child's work).
fn stage(dir: &Path) -> Vec<u8> {
    let b = open(dir, "test");
    let key = KvKey::load(&b.paths.kv_key()).unwrap();
    let bid = b.require_id().unwrap();
    let cx = StageContext {
        paths: &b.paths,
        state: Arc::new(b.state.clone()),
        kv_key: &key,
        bucket_id: &bid,
        update_seq: 3,
    };
    stage_job(&cx, "web", "10.0.0.1").unwrap();
    std::fs::read(worker_dir(&b.paths, "10.0.0.1").join("jobs/web/map.conf")).unwrap()
}

fn two_processes_render_map_ranging_templates_identically() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(
        p,
        "workspace/workers.json",
        r#"[{"host": "10.0.0.1", "labels": ["web", "db", "cache"], "tags": {"zone": "a", "rack": "r2", "az": "1"}},
 {"host": "10.0.0.2", "labels": ["web"]}]"#,
    );
    write(p, "workspace/jobs/web/manifest.json", r#"{"selectors": ["web"]}"#);
    write(p, "workspace/jobs/web/Makefile", "start:\n\t@true\n");
    let vars: String = (0..40).map(|i| format!("k{:02} = \"{}\"\n", (i * 7) % 40, i)).collect();
    write(p, "workspace/jobs/web/vars.toml", &vars);
    write(p, "workspace/jobs/web/map.conf.tpl", TEMPLATE);
    ok(&maand(p, &["build"]));

    let exe = std::env::current_exe().unwrap();
    let run = || {
        let o = Command::new(&exe).env("TEMPLATES_CHILD_BUCKET", p).output().unwrap();
        assert!(o.status.success(), "child: {}", stderr(&o));
        hex::decode(stdout(&o).trim()).unwrap()
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "two processes rendered differently");
    assert_eq!(a, stage(p), "this process renders the same bytes too");
    let text = String::from_utf8(a).unwrap();
    // Sorted: the dot's keys and the KV keys in byte order.
    let keys: Vec<&str> = text.lines().filter_map(|l| l.split_once('=').map(|(k, _)| k)).take(11).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "{text}");
    assert!(text.contains("0:k00=0\n1:k01=23\n"), "{text}");
}

fn check(name: &str, f: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => {
            println!("test {name} ... ok");
            true
        }
        Err(_) => {
            println!("test {name} ... FAILED");
            false
        }
    }
}

fn main() {
    if let Ok(dir) = std::env::var("TEMPLATES_CHILD_BUCKET") {
        println!("{}", hex::encode(stage(Path::new(&dir))));
        return;
    }
    let results = [check(
        "two_processes_render_map_ranging_templates_identically",
        two_processes_render_map_ranging_templates_identically,
    )];
    let passed = results.iter().filter(|r| **r).count();
    println!("\ntemplates_processes: {} passed, {} failed", passed, results.len() - passed);
    if passed != results.len() {
        std::process::exit(1);
    }
}
