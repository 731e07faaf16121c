//! Differential test of templates against real Go: every case of
//! `tests/templates/corpus/` is rendered by maand's staging code
//! (`deploy::stage::stage_job`, the bytes a deploy ships) and by Go's own
//! `text/template` (`tests/gotmpl-ref/main.go`, built here with Debian's
//! `golang-go`) with the original maand's functions over the same KV and
//! context. Output must be byte-identical; when Go fails, maand must fail
//! too, naming the template file, Go's line and what the case's `.expect`
//! file lists (the failing key or function).
//!
//! Go missing is a failure in CI (`CI` set); elsewhere the test says it
//! skipped and why. `SHOW_ERRORS=1` prints maand's message of every failing
//! case (to review them when adding cases).

mod common;
use common::*;
use maand::deploy::stage::{StageContext, stage_job};
use maand::event::Event;
use maand::kv::seal::KvKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/templates/corpus");
const IP: &str = "10.0.0.1";
const UPDATE_SEQ: u64 = 7;

struct Case {
    /// `NNN-name`.
    id: String,
    src: String,
    /// Substrings maand's error must hold; `None` = the case renders.
    expect: Option<Vec<String>>,
}

impl Case {
    fn job(&self) -> String {
        format!("t{}", &self.id[..3])
    }
    fn file(&self) -> String {
        format!("workspace/jobs/{}/{}.tpl", self.job(), self.id)
    }
}

fn corpus() -> Vec<Case> {
    let mut ids: Vec<String> = std::fs::read_dir(CORPUS)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".tpl").map(String::from))
        .collect();
    ids.sort();
    ids.into_iter()
        .map(|id| {
            assert!(id.len() > 4 && id[..3].bytes().all(|b| b.is_ascii_digit()), "corpus file {id}: NNN-name.tpl");
            let src = std::fs::read_to_string(Path::new(CORPUS).join(format!("{id}.tpl"))).unwrap();
            let expect = std::fs::read_to_string(Path::new(CORPUS).join(format!("{id}.expect")))
                .ok()
                .map(|s| s.lines().filter(|l| !l.is_empty()).map(String::from).collect());
            Case { id, src, expect }
        })
        .collect()
}

/// Build the Go reference renderer; `None` (skip) only outside CI.
pub fn go_renderer() -> Option<PathBuf> {
    let go =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join("go")).find(|p| p.is_file()));
    let Some(go) = go else {
        let why = "Go is not installed (scripts/test.sh installs Debian's golang-go)";
        assert!(std::env::var_os("CI").is_none(), "the differential template test must run in CI: {why}");
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gotmpl-ref");
    let st = Command::new(go)
        .args(["build", "-o"])
        .arg(out.join("gotmpl-ref"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gotmpl-ref/main.go"))
        .env("GOCACHE", out.join("cache"))
        .env("GOPATH", out.join("gopath"))
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GO111MODULE", "off")
        .output()
        .unwrap();
    assert!(st.status.success(), "go build tests/gotmpl-ref: {}", String::from_utf8_lossy(&st.stderr));
    Some(out.join("gotmpl-ref"))
}

/// Go's results, one per case: `Ok(bytes)` or `Err(message)`.
pub fn run_go(bin: &Path, input: &serde_json::Value) -> Vec<Result<Vec<u8>, String>> {
    let mut child =
        Command::new(bin).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gotmpl-ref: {}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    results
        .into_iter()
        .map(|r| {
            if r["ok"].as_bool() == Some(true) {
                Ok(hex::decode(r["out"].as_str().unwrap()).unwrap())
            } else {
                Err(r["err"].as_str().unwrap_or("").to_string())
            }
        })
        .collect()
}

/// The line of a Go template error (`template: NAME:LINE[:COL]: ...`).
fn go_line(err: &str) -> Option<usize> {
    let rest = err.strip_prefix("template: ")?;
    let mut parts = rest.splitn(3, ':');
    parts.next()?;
    parts.next()?.parse().ok()
}

/// The first `line N` of a maand message.
fn maand_line(msg: &str) -> Option<usize> {
    let at = msg.find("line ")?;
    msg[at + 5..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// The namespaces a template of `job` on `ip` may read (SPEC §4, no demands).
fn readable(job: &str, ip: &str) -> Vec<String> {
    vec![
        "maand/bucket".into(),
        "vars/bucket".into(),
        "maand/worker".into(),
        format!("maand/worker/{ip}"),
        format!("maand/worker/{ip}/tags"),
        format!("maand/job/{job}"),
        format!("vars/bucket/job/{job}"),
        format!("vars/job/{job}"),
        format!("secrets/job/{job}"),
        format!("maand/job/{job}/worker/{ip}"),
    ]
}

const BUCKET_CONF: &str = r#"port_min = "30000"
port_max = "30999"
cluster = "prod-east"
memory = "4096"
csv = "a,b,,c"
html = "<b>Tom & \"Jerry\" 'x'</b>"
unicode = "Grüße straße İstanbul ΣΑΣ ǆ ᾀ"
padded = "  spaced out  "
neg = "-42"
big = "9223372036854775807"
notnum = "12abc"
empty = ""
"#;

const VARS: &str = "name = \"svc\"\nreplicas = 3\npeers = \"10.0.0.2,10.0.0.3\"\nmemory = \"2048\"\n";

/// A bucket whose jobs `tNNN` each hold one case, built, with secrets.
fn corpus_bucket(cases: &[Case]) -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(
        p,
        "workspace/workers.json",
        r#"[{"host": "10.0.0.1", "labels": ["app", "db"], "tags": {"zone": "a"}, "hostname": "node-a"},
 {"host": "10.0.0.2", "labels": ["app"]}, {"host": "10.0.0.3", "labels": ["app"]}]"#,
    );
    write(p, "workspace/bucket.conf", BUCKET_CONF);
    for c in cases {
        let j = format!("workspace/jobs/{}", c.job());
        write(p, &format!("{j}/manifest.json"), r#"{"version": "1.2.0", "selectors": ["app"]}"#);
        write(p, &format!("{j}/Makefile"), "start:\n\t@true\n");
        write(p, &format!("{j}/vars.toml"), VARS);
        write(p, &format!("{j}/{}.tpl", c.id), &c.src);
    }
    ok(&maand(p, &["build"]));
    let mut b = open(p, "test");
    let key = KvKey::load(&b.paths.kv_key()).unwrap();
    let mut s = b.begin(maand::bucket::session_info("test secrets")).unwrap();
    for c in cases {
        let ns = format!("secrets/job/{}", c.job());
        for (k, v) in [("db_password", "s3cr3t <&> \"q\""), ("api_token", "  tok-123  ")] {
            let value = key.seal(&ns, k, v).unwrap();
            s.record(Event::KvPut { namespace: ns.clone(), key: k.into(), value, ttl: 0, at: 1 }).unwrap();
        }
    }
    s.commit().unwrap();
    dir
}

#[test]
fn corpus_renders_byte_for_byte_like_go() {
    let Some(go) = go_renderer() else { return };
    let cases = corpus();
    assert!(cases.len() >= 150, "the corpus holds {} cases", cases.len());
    let dir = corpus_bucket(&cases);
    let b = open(dir.path(), "test");
    let key = KvKey::load(&b.paths.kv_key()).unwrap();
    let bid = b.require_id().unwrap();
    let state = Arc::new(b.state.clone());

    // maand: the staging code path, one job per case.
    let scx =
        StageContext { paths: &b.paths, state: state.clone(), kv_key: &key, bucket_id: &bid, update_seq: UPDATE_SEQ };
    let ours: Vec<Result<Vec<u8>, String>> = cases
        .iter()
        .map(|c| {
            stage_job(&scx, &c.job(), IP).map_err(|e| e.message().to_string()).map(|_| {
                let staged = maand::deploy::stage::worker_dir(&b.paths, IP).join("jobs").join(c.job()).join(&c.id);
                std::fs::read(staged).unwrap()
            })
        })
        .collect();

    // Go: the same KV (plaintext), context and read rules.
    let mut kv: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (ns, k, versions) in state.kv.iter() {
        if let Some(v) = versions.last().and_then(|v| v.value.as_ref()) {
            let plain = key.open(&ns, &k, v).unwrap();
            kv.entry(ns.into_owned()).or_default().insert(k.into_owned(), plain);
        }
    }
    let worker = &state.catalog.workers[IP];
    let go_cases: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            let job = c.job();
            let alloc = &state.catalog.allocations[&(job.clone(), IP.to_string())];
            serde_json::json!({
                "src": c.src,
                "job": job,
                "allowed": readable(&job, IP),
                "dot": {
                    "AllocationID": alloc.alloc_id,
                    "Job": job,
                    "CurrentVersion": "0.0.0",
                    "NewVersion": state.catalog.jobs[&job].spec.version,
                    "WorkerIP": IP,
                    "WorkerID": worker.worker_id,
                    "Labels": worker.labels,
                    "BucketID": bid,
                    "UpdateSeq": UPDATE_SEQ,
                    "BucketPath": format!("/opt/worker/{bid}"),
                    "JobPath": format!("/opt/worker/{bid}/jobs/{job}"),
                },
            })
        })
        .collect();
    let theirs = run_go(&go, &serde_json::json!({ "kv": kv, "cases": go_cases }));
    assert_eq!(theirs.len(), cases.len());

    if std::env::var_os("SHOW_ERRORS").is_some() {
        for (c, o) in cases.iter().zip(&ours) {
            if let Err(m) = o {
                eprintln!("{}: {m}", c.id);
            }
        }
    }
    let mut problems = Vec::new();
    let (mut same_bytes, mut same_failure) = (0, 0);
    for ((c, ours), theirs) in cases.iter().zip(&ours).zip(&theirs) {
        let show = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
        match (ours, theirs, &c.expect) {
            (Ok(a), Ok(b), None) if a == b => same_bytes += 1,
            (Ok(a), Ok(b), None) => problems.push(format!("{}: maand {} != Go {}", c.id, show(a), show(b))),
            (Err(m), Ok(b), None) => problems.push(format!("{}: maand fails ({m}), Go renders {}", c.id, show(b))),
            (_, Ok(b), Some(_)) => problems.push(format!("{}: has a .expect but Go renders {}", c.id, show(b))),
            (_, Err(g), None) => problems.push(format!("{}: Go fails ({g}): add {}.expect", c.id, c.id)),
            (Ok(a), Err(g), Some(_)) => problems.push(format!("{}: Go fails ({g}), maand renders {}", c.id, show(a))),
            (Err(m), Err(g), Some(expect)) => {
                let mut wrong = Vec::new();
                if !m.contains(&format!("template {}", c.file())) {
                    wrong.push("the file".to_string());
                }
                if let Some(line) = go_line(g)
                    && maand_line(m) != Some(line)
                {
                    wrong.push(format!("line {line}"));
                }
                wrong.extend(expect.iter().filter(|e| !m.contains(e.as_str())).map(|e| format!("{e:?}")));
                if wrong.is_empty() {
                    same_failure += 1;
                } else {
                    problems.push(format!("{}: maand's message {m:?} lacks {} (Go: {g})", c.id, wrong.join(", ")));
                }
            }
        }
    }
    println!(
        "templates vs Go: {} cases, {same_bytes} byte-identical, {same_failure} failing alike, {} differ",
        cases.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
