//! `maand-journal timeline` without workers: any session draws (a build has
//! only its session bar), and bad input is a usage error, rendered once.
//! The deploy timelines, in a real browser, are in tests/history_deploy.rs.

mod common;
use common::*;

#[test]
fn a_session_without_deploy_steps_draws_its_session_bar() {
    let dir = fresh_bucket();
    let p = dir.path();
    write(p, "workspace/workers.json", r#"[{"host": "10.0.0.1"}]"#);
    ok(&maand(p, &["build"]));
    let text = ok(&journal(p, &["timeline", "2"]));
    assert!(text.starts_with("session 2 — maand build by "), "{text}");
    assert!(text.contains("committed"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains('|')).count(), 2, "axis and the session row: {text}");
    let html = ok(&journal(p, &["timeline", "2", "--html", "-"]));
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"), "{html}");
    assert_eq!(html.matches("<rect class=\"bar ").count(), 1);
    assert!(!html.contains("bar failed"));
}

#[test]
fn bad_input_is_a_usage_error() {
    let dir = fresh_bucket();
    let p = dir.path();
    for (args, code, want) in [
        (vec!["timeline", "99"], 2, "no session 99"),
        (vec!["timeline", "1", "--width", "5"], 2, "--width 5: expected 20 to 1000"),
        (vec!["timeline", "x"], 2, "invalid value 'x'"),
        (vec!["timeline", "1", "--html", "/nonexistent-dir/t.html"], 1, "writing /nonexistent-dir/t.html"),
    ] {
        let o = journal(p, &args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
    }
    let o = journal(&p.join("workspace"), &["timeline", "1"]);
    assert_eq!(o.status.code(), Some(2), "not a bucket: {}", stderr(&o));
}
