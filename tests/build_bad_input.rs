//! Every kind of bad workspace input fails `maand build` with a message
//! naming the file, the field or line, and the reason; exit 2; and nothing
//! recorded in the journal.

mod common;
use common::*;
use std::path::Path;

type Mutation = Box<dyn Fn(&Path)>;

fn edit(rel: &'static str, content: &'static str) -> Mutation {
    Box::new(move |p: &Path| write(p, rel, content))
}

fn edit_owned(rel: &'static str, content: String) -> Mutation {
    Box::new(move |p: &Path| write(p, rel, &content))
}

const API: &str = "workspace/jobs/api/manifest.json";
const EXTRA: &str = "workspace/jobs/extra/manifest.json";

/// A new job `extra` (with a Makefile) whose manifest is `manifest`.
fn extra(manifest: &'static str) -> Mutation {
    Box::new(move |p: &Path| {
        write(p, EXTRA, manifest);
        write(p, "workspace/jobs/extra/Makefile", "start:\n\ttrue\n");
    })
}

/// A symbolic link at `rel` pointing to `target`.
fn link(rel: &'static str, target: &'static str) -> Mutation {
    Box::new(move |p: &Path| {
        let at = p.join(rel);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&at);
        std::os::unix::fs::symlink(target, at).unwrap();
    })
}

/// A file named with bytes that are not UTF-8 in `dir`.
fn non_utf8(dir: &'static str) -> Mutation {
    Box::new(move |p: &Path| {
        use std::os::unix::ffi::OsStrExt;
        let d = p.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(std::ffi::OsStr::from_bytes(b"conf-\xff\xfe")), "x").unwrap();
    })
}

/// `count` sparse files of `mib` MiB each under `dir` (no memory, no disk).
fn big(dir: &'static str, count: usize, mib: u64) -> Mutation {
    Box::new(move |p: &Path| {
        std::fs::create_dir_all(p.join(dir)).unwrap();
        for i in 0..count {
            std::fs::File::create(p.join(dir).join(format!("blob{i}"))).unwrap().set_len(mib << 20).unwrap();
        }
    })
}

/// A FIFO at `rel`.
fn fifo(rel: &'static str) -> Mutation {
    Box::new(move |p: &Path| {
        let st = std::process::Command::new("mkfifo").arg(p.join(rel)).status().unwrap();
        assert!(st.success());
    })
}

/// workers.json with one worker whose host is `n` copies of `a` (40 MB).
fn huge_host(n: usize) -> Mutation {
    Box::new(move |p: &Path| write(p, "workspace/workers.json", &format!(r#"[{{"host": "{}"}}]"#, "a;".repeat(n))))
}

fn cases() -> Vec<(&'static str, Mutation, Vec<&'static str>)> {
    vec![
        // Hostile job content: links, names, sizes, special files.
        (
            "link out of the job",
            link("workspace/jobs/api/kv.key", "../../../secrets/kv.key"),
            vec!["workspace/jobs/api/kv.key: symbolic link to \"../../../secrets/kv.key\" leaves the job folder"],
        ),
        (
            "absolute link",
            link("workspace/jobs/api/shadow", "/etc/shadow"),
            vec!["workspace/jobs/api/shadow: symbolic link to \"/etc/shadow\" leaves the job folder"],
        ),
        (
            "link to a directory",
            link("workspace/jobs/api/sub", "."),
            vec!["workspace/jobs/api/sub: symbolic link to \".\" is not a regular file"],
        ),
        (
            "dangling link",
            link("workspace/jobs/api/gone", "nowhere"),
            vec!["workspace/jobs/api/gone: symbolic link to \"nowhere\" leads nowhere"],
        ),
        (
            "linked manifest",
            link("workspace/jobs/frontend/manifest.json", "../api/manifest.json"),
            vec!["workspace/jobs/frontend/manifest.json: symbolic link", "leaves the job folder"],
        ),
        (
            "job folder is a link",
            link("workspace/jobs/evil", "../../secrets"),
            vec!["workspace/jobs/evil: a job folder may not be a symbolic link"],
        ),
        (
            "non-UTF-8 file name",
            non_utf8("workspace/jobs/api/conf"),
            vec!["workspace/jobs/api/conf/conf-\u{fffd}\u{fffd}: the file name is not valid UTF-8"],
        ),
        (
            "non-UTF-8 job name",
            non_utf8("workspace/jobs"),
            vec!["workspace/jobs/conf-\u{fffd}\u{fffd}: the directory name is not valid UTF-8"],
        ),
        (
            "file over the limit",
            big("workspace/jobs/api/blobs", 1, 33),
            vec!["workspace/jobs/api/blobs/blob0: 33.0 MiB is over the 32 MiB limit for a job file"],
        ),
        (
            "job over the limit",
            big("workspace/jobs/api/blobs", 5, 30),
            vec!["workspace/jobs/api/blobs/blob4: the files of job api add up to more than the 128 MiB limit"],
        ),
        (
            "FIFO in a job",
            fifo("workspace/jobs/api/pipe"),
            vec!["workspace/jobs/api/pipe: not a regular file, directory or link"],
        ),
        (
            "template without a name",
            edit("workspace/jobs/api/.tpl", "x"),
            vec!["workspace/jobs/api/.tpl: a template needs a name before `.tpl`"],
        ),
        (
            "file and its template",
            edit("workspace/jobs/api/config.json", "{}"),
            vec![
                "workspace/jobs/api/config.json.tpl: both config.json and config.json.tpl would be shipped as config.json",
            ],
        ),
        (
            "file in place of a certificate",
            edit("workspace/jobs/api/certs/tls.key", "x"),
            vec!["workspace/jobs/api/certs/tls.key: deploy writes certs/tls.key from the job's certificates"],
        ),
        // Hosts that name directories badly; huge input quoted in a message.
        (
            "host .",
            edit("workspace/workers.json", r#"[{"host": "."}]"#),
            vec!["workspace/workers.json: worker 0 (.), field `host`: \".\" is not an IP address or host name"],
        ),
        (
            "host ..",
            edit("workspace/workers.json", r#"[{"host": ".."}]"#),
            vec!["field `host`: \"..\" is not an IP address or host name"],
        ),
        (
            "40 MB host",
            huge_host(20 << 20),
            vec!["workspace/workers.json: worker 0 (\"a;a;", "(41943040 bytes)), field `host`"],
        ),
        (
            "40 MB value of the wrong type",
            edit_owned(
                "workspace/workers.json",
                format!(r#"[{{"host": "10.0.0.1", "labels": "{}"}}]"#, "x".repeat(40 << 20)),
            ),
            vec!["workspace/workers.json: line 1", "invalid type: string \"xxx", "bytes)"],
        ),
        (
            "invalid workers.json",
            edit("workspace/workers.json", "[{\"host\": \"10.0.0.1\",}]"),
            vec!["workspace/workers.json: line 1, column"],
        ),
        (
            "duplicate host",
            edit(
                "workspace/workers.json",
                r#"[{"host": "10.0.0.1", "labels": ["db","app","web"], "memory": "4 gb", "cpu": "4 ghz"}, {"host": "10.0.0.1"}]"#,
            ),
            vec!["workspace/workers.json: worker 1 (10.0.0.1), field `host`", "listed twice"],
        ),
        (
            "unknown worker field",
            edit("workspace/workers.json", r#"[{"host": "10.0.0.1", "lables": ["db"]}]"#),
            vec!["workspace/workers.json: line 1", "unknown field `lables`"],
        ),
        (
            "bad unit",
            edit(
                "workspace/workers.json",
                r#"[{"host": "10.0.0.1", "labels": ["db","app","web"], "memory": "4 parsecs"}]"#,
            ),
            vec!["workspace/workers.json: worker 0 (10.0.0.1), field `memory`", "\"4 parsecs\" is not a quantity"],
        ),
        (
            "invalid manifest JSON",
            edit(API, "{\"version\": }"),
            vec!["workspace/jobs/api/manifest.json: line 1, column"],
        ),
        (
            "unknown manifest field",
            extra(r#"{"version": "1", "selectors": ["app"], "restart_polcy": "always"}"#),
            vec![EXTRA, "unknown field `restart_polcy`"],
        ),
        (
            "min > max",
            extra(r#"{"selectors": ["app"], "resources": {"memory": {"min": "2 gb", "max": "1 gb"}}}"#),
            vec![EXTRA, "field `resources.memory`", "min (2048) is greater than max (1024)"],
        ),
        (
            "unknown demand job",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"version": "3", "selectors": ["web"], "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "nope", "hook": "hook_x"}}}}"#,
            ),
            vec![
                "workspace/jobs/frontend/manifest.json: field `hooks.hook_assets.demands.job`",
                "job \"nope\" does not exist",
            ],
        ),
        (
            "unknown demand hook",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"version": "3", "selectors": ["web"], "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "api", "hook": "hook_nope"}}}}"#,
            ),
            vec!["field `hooks.hook_assets.demands.hook`", "job api has no hook \"hook_nope\""],
        ),
        (
            "partial demand",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"version": "3", "selectors": ["web"], "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "api"}}}}"#,
            ),
            vec![
                "workspace/jobs/frontend/manifest.json: field `hooks.hook_assets.demands`",
                "set both `job` and `hook`",
            ],
        ),
        (
            "self demand",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"version": "3", "selectors": ["web"], "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "frontend", "hook": "hook_assets"}}}}"#,
            ),
            vec!["field `hooks.hook_assets.demands.job`", "cannot demand itself"],
        ),
        (
            "missing version on the demanding job",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"selectors": ["web"], "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "api", "hook": "hook_migrate"}}}}"#,
            ),
            vec![
                "workspace/jobs/frontend/manifest.json: field `version`",
                "required because hook hook_assets demands job api",
            ],
        ),
        (
            "missing version on the demanded job",
            edit(
                "workspace/jobs/database/manifest.json",
                r#"{"selectors": ["db"], "hooks": {"hook_schema": {"executed_on": ["pre_deploy"]}}}"#,
            ),
            vec!["workspace/jobs/database/manifest.json: field `version`", "required because job api demands it"],
        ),
        (
            "version below min_version",
            edit(
                "workspace/jobs/database/manifest.json",
                r#"{"version": "1.9", "selectors": ["db"], "hooks": {"hook_schema": {"executed_on": ["pre_deploy"]}}}"#,
            ),
            vec![
                API,
                "field `hooks.hook_migrate.demands.config.min_version`",
                "job database is version 1.9.0, below min_version 2.0.0",
            ],
        ),
        (
            "bad version",
            edit(
                "workspace/jobs/database/manifest.json",
                r#"{"version": "unknown", "selectors": ["db"], "hooks": {"hook_schema": {"executed_on": ["pre_deploy"]}}}"#,
            ),
            vec!["workspace/jobs/database/manifest.json: field `version`", "\"unknown\" is not a version"],
        ),
        (
            "demand cycle",
            edit(
                "workspace/jobs/database/manifest.json",
                r#"{"version": "2.1", "selectors": ["db"], "hooks": {"hook_schema": {"executed_on": ["pre_deploy"], "demands": {"job": "frontend", "hook": "hook_assets"}}}}"#,
            ),
            vec!["workspace/jobs: hook demands form a cycle: api -> database -> frontend -> api"],
        ),
        (
            "bad port name",
            extra(r#"{"selectors": ["app"], "resources": {"ports": {"Http-Port": {}}}}"#),
            vec![EXTRA, "field `resources.ports.Http-Port`", "lowercase identifier"],
        ),
        (
            "bad port value",
            extra(r#"{"selectors": ["app"], "resources": {"ports": {"http_port": "80"}}}"#),
            vec![EXTRA, "field `resources.ports.http_port`", "must be {} (assign from the pool) or a port number"],
        ),
        (
            "port out of range",
            extra(r#"{"selectors": ["app"], "resources": {"ports": {"http_port": 70000}}}"#),
            vec![EXTRA, "not a port number (1-65535)"],
        ),
        (
            "port collision",
            extra(r#"{"selectors": ["app"], "resources": {"ports": {"http_port": 5432}}}"#),
            vec![EXTRA, "field `resources.ports.http_port`", "port 5432 is also used by job database (database_port)"],
        ),
        (
            "port name clash",
            extra(r#"{"selectors": ["app"], "resources": {"ports": {"database_port": {}}}}"#),
            vec![EXTRA, "port name \"database_port\" is also declared by job database"],
        ),
        (
            "pool exhausted",
            edit("workspace/bucket.conf", "port_min = \"30000\"\nport_max = \"30000\"\n"),
            vec!["workspace/bucket.conf: the port pool 30000-30000 is exhausted"],
        ),
        (
            "bad pool",
            edit("workspace/bucket.conf", "port_min = \"40000\"\nport_max = \"30000\"\n"),
            vec!["workspace/bucket.conf: key `port_min` (40000) is greater than `port_max` (30000)"],
        ),
        (
            "invalid bucket.conf",
            edit("workspace/bucket.conf", "port_min = \"30000\"\nport_max = \n"),
            vec!["workspace/bucket.conf: line 2"],
        ),
        (
            "over capacity",
            edit(
                "workspace/bucket.jobs.conf",
                "[database]\nmemory = \"512 mb\"\ncpu = \"1 ghz\"\n[api]\nmemory = \"256 mb\"\ncpu = \"3.5 ghz\"\n",
            ),
            vec![
                "workspace/workers.json: worker 10.0.0.1: available CPU is 4000 MHz, required CPU is 4500 MHz (api 3500 MHz, database 1000 MHz)",
            ],
        ),
        (
            "worker lacks capacity",
            edit(
                "workspace/workers.json",
                r#"[{"host": "10.0.0.1", "labels": ["db", "app"]}, {"host": "10.0.0.2"}, {"host": "10.0.0.3", "labels": ["web"]}]"#,
            ),
            vec![
                "workspace/workers.json: worker 10.0.0.1, field `memory`: not declared, but its jobs reserve 768 MB of memory (api 256 MB, database 512 MB)",
            ],
        ),
        (
            "reservation outside bounds",
            edit("workspace/bucket.jobs.conf", "[api]\nmemory = \"2 gb\"\n"),
            vec!["workspace/bucket.jobs.conf: [api] key `memory`: 2048 MB is outside the manifest bounds 0-512 MB"],
        ),
        (
            "bad reservation unit",
            edit("workspace/bucket.jobs.conf", "[api]\ncpu = \"fast\"\n"),
            vec!["workspace/bucket.jobs.conf: [api] key `cpu`", "not a quantity"],
        ),
        (
            "too few allocations",
            edit(
                "workspace/jobs/frontend/manifest.json",
                r#"{"version": "3", "selectors": ["web"], "min_allocations_count": 2, "hooks": {"hook_assets": {"executed_on": ["post_deploy"], "demands": {"job": "api", "hook": "hook_migrate"}}}}"#,
            ),
            vec![
                "workspace/jobs/frontend/manifest.json: field `min_allocations_count`: 1 worker(s) carry the labels [web], at least 2 required",
            ],
        ),
        (
            "reserved dir",
            edit("workspace/jobs/api/data/db.sqlite", "x"),
            vec!["workspace/jobs/api/data/", "may not contain `data/`"],
        ),
        (
            "reserved bin dir",
            edit("workspace/jobs/api/bin/tool", "x"),
            vec!["workspace/jobs/api/bin/", "may not contain `bin/`"],
        ),
        (
            "missing Makefile",
            Box::new(|p: &Path| std::fs::remove_file(p.join("workspace/jobs/frontend/Makefile")).unwrap()),
            vec!["workspace/jobs/frontend/: needs a Makefile"],
        ),
        (
            "two scripts for one hook",
            edit("workspace/jobs/api/_hooks/hook_migrate.ts", "x"),
            vec![
                "workspace/jobs/api/_hooks/: hook hook_migrate has more than one script (_hooks/hook_migrate.py, _hooks/hook_migrate.ts)",
            ],
        ),
        (
            "hook without script",
            Box::new(|p: &Path| std::fs::remove_file(p.join("workspace/jobs/api/_hooks/hook_migrate.py")).unwrap()),
            vec![API, "field `hooks.hook_migrate`: no script _hooks/hook_migrate.py, .ts or .js"],
        ),
        (
            "script without hook",
            edit("workspace/jobs/api/_hooks/hook_orphan.py", "x"),
            vec!["workspace/jobs/api/_hooks/hook_orphan.py: hook script with no entry"],
        ),
        (
            "hook name without prefix",
            extra(r#"{"selectors": ["app"], "hooks": {"migrate": {"executed_on": ["cli"]}}}"#),
            vec![EXTRA, "field `hooks.migrate`", "must start with \"hook_\""],
        ),
        (
            "unknown event",
            extra(r#"{"selectors": ["app"], "hooks": {"hook_migrate": {"executed_on": ["pre-deploy"]}}}"#),
            vec![EXTRA, "unknown variant `pre-deploy`, expected one of"],
        ),
        (
            "invalid vars.toml",
            edit("workspace/jobs/api/vars.toml", "a = [1,\n"),
            vec!["workspace/jobs/api/vars.toml: line"],
        ),
        (
            "nested vars.toml",
            edit("workspace/jobs/api/vars.toml", "[section]\na = 1\n"),
            vec!["workspace/jobs/api/vars.toml: line 1, key `section`: only strings, numbers and booleans"],
        ),
        (
            "invalid disabled.json",
            edit("workspace/disabled.json", "{\"jobs\": [}"),
            vec!["workspace/disabled.json: line 1"],
        ),
        (
            "bad job dir name",
            edit("workspace/jobs/bad name/manifest.json", "{}"),
            vec!["workspace/jobs/bad name/: job name \"bad name\""],
        ),
        (
            "restart_globs without reload",
            extra(r#"{"selectors": ["app"], "restart_globs": ["*.conf"]}"#),
            vec![EXTRA, "field `restart_globs`: only allowed with"],
        ),
        (
            "health probe on an undeclared port",
            extra(r#"{"selectors": ["app"], "health_check": {"checks": [{"type": "tcp", "port": "nope"}]}}"#),
            vec![EXTRA, "field `health_check.checks[0]`: port \"nope\" is not declared"],
        ),
    ]
}

#[test]
fn every_bad_input_is_refused_with_file_field_and_reason_and_records_nothing() {
    let template = fresh_bucket();
    acceptance_workspace(template.path());
    ok(&maand(template.path(), &["build"]));
    let events = event_count(template.path());
    let mut seen = 0;
    for (name, mutate, want) in cases() {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        mutate(dir.path());
        let o = maand(dir.path(), &["build"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: expected exit 2, got {:?}: {err}", o.status);
        assert!(err.starts_with("maand: error: workspace/"), "{name}: message must lead with the file: {err}");
        for w in &want {
            assert!(err.contains(w), "{name}: expected {w:?} in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(err.len() < 2000, "{name}: the message stays short ({} bytes)", err.len());
        assert_eq!(event_count(dir.path()), events, "{name}: journal changed");
        ok(&journal(dir.path(), &["verify"]));
        seen += 1;
    }
    assert!(seen >= 59, "{seen}");
}

#[test]
fn over_capacity_names_worker_and_amounts() {
    let dir = fresh_bucket();
    acceptance_workspace(dir.path());
    write(dir.path(), "workspace/bucket.jobs.conf", "[database]\nmemory = \"1 gb\"\n[api]\nmemory = \"512 mb\"\n");
    write(dir.path(), "workspace/disabled.json", "{}");
    write(
        dir.path(),
        "workspace/workers.json",
        r#"[{"host": "10.0.0.1", "labels": ["db", "app"], "memory": "1 gb", "cpu": "4 ghz"}, {"host": "10.0.0.3", "labels": ["app", "web"], "memory": "1 gb", "cpu": "4 ghz"}]"#,
    );
    let o = maand(dir.path(), &["build"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("workspace/workers.json: worker 10.0.0.1: available memory is 1024 MB, required memory is 1536 MB (api 512 MB, database 1024 MB)"),
        "{}",
        stderr(&o)
    );
}
