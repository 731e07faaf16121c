//! `maand-journal diff <a> <b>`: catalog, KV, job files and deployed state
//! between two points of history; secrets only as "changed" without
//! `--reveal`.

mod common;
use common::*;
use maand::bucket::session_info;
use maand::event::Event;
use maand::kv::seal::KvKey;
use std::path::Path;

fn write_bytes(dir: &Path, rel: &str, bytes: &[u8]) {
    std::fs::write(dir.join(rel), bytes).unwrap();
}

/// Two builds: the second changes a worker's labels, drops one worker and
/// adds another, bumps the job version, fixes its port, edits a text file,
/// adds a binary file, makes the Makefile executable and changes vars.toml.
fn two_builds() -> tempfile::TempDir {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}, {"host": "10.0.0.2", "labels": ["web"]}]"#);
    write(
        p,
        "workspace/jobs/web/manifest.json",
        r#"{"version": "1.0.0", "selectors": ["worker"], "resources": {"ports": {"web_port": {}}},
            "certs": {"tls": {"subject": {"common_name": "web"}}}}"#,
    );
    write(p, "workspace/jobs/web/Makefile", "start:\n\techo hi\n");
    write(p, "workspace/jobs/web/index.html", "a\nb\nc\n");
    write(p, "workspace/jobs/web/vars.toml", "greeting = \"hi\"\n");
    ok(&maand(p, &["build"]));
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1", "labels": ["x"]}, {"host": "10.0.0.3"}]"#);
    let m = std::fs::read_to_string(p.join("workspace/jobs/web/manifest.json")).unwrap();
    write(p, "workspace/jobs/web/manifest.json", &m.replace("1.0.0", "1.1.0").replace("{}", "31000"));
    write(p, "workspace/jobs/web/index.html", "a\nB\nc\n");
    write_bytes(p, "workspace/jobs/web/blob.bin", &[0, 1, 2, 0xff]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.join("workspace/jobs/web/Makefile"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(p, "workspace/jobs/web/vars.toml", "greeting = \"hello\"\n");
    ok(&maand(p, &["build"]));
    dir
}

fn diff_json(p: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["diff"];
    a.extend_from_slice(args);
    a.push("--json");
    serde_json::from_str(&ok(&journal(p, &a))).unwrap()
}

fn find<'a>(list: &'a serde_json::Value, key: &str, name: &str) -> &'a serde_json::Value {
    list.as_array().unwrap().iter().find(|i| i[key] == name).unwrap_or_else(|| panic!("{name} missing from {list:#}"))
}

fn field<'a>(item: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    item["fields"].as_array().unwrap().iter().find(|f| f["field"] == name).unwrap_or_else(|| panic!("{item:#}"))
}

#[test]
fn catalog_changes_workers_jobs_allocations_ports_certs() {
    let dir = two_builds();
    let p = dir.path();
    let j = diff_json(p, &["s2", "s3"]);
    assert_eq!(j["from"]["describe"], "session 2 (build, committed)");
    let d = &j["diff"];
    let w1 = find(&d["workers"], "name", "10.0.0.1");
    assert_eq!(w1["change"], "changed");
    assert_eq!(field(w1, "labels")["new"], r#"["worker","x"]"#);
    assert_eq!(find(&d["workers"], "name", "10.0.0.2")["change"], "removed");
    assert_eq!(find(&d["workers"], "name", "10.0.0.3")["change"], "added");
    let web = find(&d["jobs"], "name", "web");
    assert_eq!((&field(web, "version")["old"], &field(web, "version")["new"]), (&"1.0.0".into(), &"1.1.0".into()));
    assert_eq!(field(find(&d["allocations"], "name", "web on 10.0.0.2"), "removed")["new"], "true");
    assert_eq!(find(&d["allocations"], "name", "web on 10.0.0.3")["change"], "added");
    let port = find(&d["ports"], "name", "web web_port");
    assert_eq!((&field(port, "port")["old"], &field(port, "port")["new"]), (&"30000".into(), &"31000".into()));
    // Certificates by fingerprint: the SHA-256 of the issued certificate.
    let cert = find(&d["certs"], "name", "web/tls on 10.0.0.3");
    assert_eq!(cert["change"], "added");
    assert_eq!(field(cert, "fingerprint")["new"].as_str().unwrap().len(), 64);
    assert_eq!(find(&d["certs"], "name", "web/tls on 10.0.0.2")["change"], "removed");
    let text = ok(&journal(p, &["diff", "s2", "s3"]));
    assert!(text.contains("  ~ web  version: 1.0.0 → 1.1.0"), "{text}");
    assert!(text.contains("  - 10.0.0.2  labels="), "{text}");
    // The same point twice: nothing.
    assert_eq!(ok(&journal(p, &["diff", "s3", "head"])).lines().nth(1), Some("no differences"));
}

#[test]
fn kv_and_job_file_changes() {
    let dir = two_builds();
    let p = dir.path();
    let d = &diff_json(p, &["s2", "s3"])["diff"];
    let kv = d["kv"].as_array().unwrap();
    let g = kv.iter().find(|c| c["namespace"] == "vars/job/web" && c["key"] == "greeting").unwrap();
    assert_eq!((&g["old"], &g["new"], &g["change"]), (&"hi".into(), &"hello".into(), &"changed".into()));
    let port = kv.iter().find(|c| c["namespace"] == "maand/bucket" && c["key"] == "web_port").unwrap();
    assert_eq!(port["new"], "31000");
    // Certificate keys are secrets: added/removed without a value.
    let key = kv.iter().find(|c| c["key"] == "certs/tls.key" && c["change"] == "added").unwrap();
    assert_eq!((&key["secret"], &key["new"]), (&true.into(), &serde_json::Value::Null));
    let f = find(&d["files"], "path", "index.html");
    assert_eq!(f["change"], "changed");
    assert!(f["diff"].as_str().unwrap().contains("--- a/web/index.html\n+++ b/web/index.html\n"), "{f:#}");
    assert!(f["diff"].as_str().unwrap().contains("-b\n+B\n"), "{f:#}");
    let b = find(&d["files"], "path", "blob.bin");
    assert_eq!((&b["change"], &b["binary"], &b["diff"]), (&"added".into(), &true.into(), &"".into()));
    let want = hex::encode(<sha2::Sha256 as sha2::Digest>::digest([0u8, 1, 2, 0xff]));
    assert_eq!(b["new_sha256"], want.as_str());
    let mk = find(&d["files"], "path", "Makefile");
    assert_eq!((&mk["old_mode"], &mk["new_mode"], &mk["diff"]), (&"644".into(), &"755".into(), &"".into()));
    let text = ok(&journal(p, &["diff", "s2", "s3"]));
    assert!(text.contains("  ~ vars/job/web greeting  \"hi\" → \"hello\""), "{text}");
    assert!(text.contains("  + web/blob.bin (binary) sha256 "), "{text}");
    assert!(text.contains("  ~ web/Makefile mode 644 → 755"), "{text}");
    assert!(text.contains("    -b\n    +B\n"), "{text}");
}

/// Sessions writing a secret as a hook would (sealed with the bucket key).
fn put_secret(p: &Path, value: &str) {
    let key = KvKey::load(&p.join("secrets/kv.key")).unwrap();
    let mut b = open(p, "test");
    let mut s = b.begin(session_info("test")).unwrap();
    let sealed = key.seal("secrets/job/web", "password", value).unwrap();
    s.record(Event::KvPut {
        namespace: "secrets/job/web".into(),
        key: "password".into(),
        value: sealed,
        ttl: 0,
        at: 1,
    })
    .unwrap();
    s.commit().unwrap();
}

#[test]
fn secrets_are_only_changed_without_reveal() {
    let dir = fresh_bucket();
    let p = dir.path();
    put_secret(p, "old-hunter2");
    put_secret(p, "new-hunter3");
    put_secret(p, "new-hunter3");
    let text = ok(&journal(p, &["diff", "s2", "s3"]));
    assert!(text.contains("~ secrets/job/web password  changed (secret; --reveal shows the values)"), "{text}");
    let json = ok(&journal(p, &["diff", "s2", "s3", "--json"]));
    for out in [&text, &json] {
        assert!(!out.contains("hunter"), "plaintext leaked: {out}");
    }
    let c = &serde_json::from_str::<serde_json::Value>(&json).unwrap()["diff"]["kv"][0];
    assert_eq!(
        (&c["secret"], &c["old"], &c["new"]),
        (&true.into(), &serde_json::Value::Null, &serde_json::Value::Null)
    );
    let revealed = ok(&journal(p, &["diff", "s2", "s3", "--reveal"]));
    assert!(revealed.contains("password  \"old-hunter2\" → \"new-hunter3\" [revealed]"), "{revealed}");
    // Re-sealed but equal: a new version without the key, no change with it.
    assert!(ok(&journal(p, &["diff", "s3", "s4"])).contains("changed (secret"));
    assert!(ok(&journal(p, &["diff", "s3", "s4", "--reveal"])).contains("no differences"));
    // --reveal needs the bucket key.
    std::fs::remove_file(p.join("secrets/kv.key")).unwrap();
    let o = journal(p, &["diff", "s2", "s3", "--reveal"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("secrets/kv.key"), "{}", stderr(&o));
}

#[test]
fn deployed_state_changes() {
    let dir = fresh_bucket();
    let p = dir.path();
    let promote = |hash: &str, version: &str, files: &[(&str, &str)]| {
        let mut b = open(p, "test");
        let mut s = b.begin(session_info("deploy")).unwrap();
        s.record(Event::AllocationPromoted {
            job: "web".into(),
            ip: "10.0.0.1".into(),
            alloc_id: "a".into(),
            hash: hash.into(),
            files: files.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            version: version.into(),
            running: true,
        })
        .unwrap();
        s.commit().unwrap();
    };
    promote("aaaa1111", "1.0.0", &[("Makefile", "m1"), ("index.html", "i1")]);
    promote("bbbb2222", "1.1.0", &[("Makefile", "m1"), ("index.html", "i2"), ("new.txt", "n1")]);
    let d = &diff_json(p, &["s2", "s3"])["diff"];
    let dep = find(&d["deployed"], "name", "web on 10.0.0.1");
    assert_eq!(field(dep, "version")["new"], "1.1.0");
    assert_eq!(field(dep, "files changed")["new"], "~index.html +new.txt");
    let first = &diff_json(p, &["s1", "s2"])["diff"]["deployed"][0];
    assert_eq!((&first["change"], &field(first, "hash")["new"]), (&"added".into(), &"aaaa1111".into()));
    let text = ok(&journal(p, &["diff", "s2", "s3"]));
    assert!(
        text.contains("  ~ web on 10.0.0.1  files changed: ~index.html +new.txt; hash: aaaa1111 → bbbb2222"),
        "{text}"
    );
}

#[test]
fn points_resolve_and_bad_points_are_usage_errors() {
    let dir = two_builds();
    let p = dir.path();
    let j = diff_json(p, &["1", "head"]);
    assert_eq!(j["from"]["seq"], 1);
    assert_eq!(j["to"]["point"], "head");
    for (args, want) in [
        (["diff", "s2", "nope"], "\"nope\" is not a point in history"),
        (["diff", "s99", "s2"], "no session 99"),
        (["diff", "d1", "s2"], "no deploy 1 in the journal"),
        (["diff", "999999", "s2"], "event 999999 does not exist"),
        (["diff", "0", "s2"], "is not a point in history"),
    ] {
        let o = journal(p, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "rendered once: {}", stderr(&o));
    }
}
