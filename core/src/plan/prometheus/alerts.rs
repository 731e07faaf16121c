//! `_prometheus/alerts/*.yaml`: Prometheus rule groups, validated at build;
//! at deploy their `runbook` annotations become `runbook_url`s.

use super::yaml::{self, Doc, index_path, key_path, scalar_text};
use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::BTreeSet;

/// An alerting rule's name and the line it is declared on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertName {
    /// The `alert:` value.
    pub name: String,
    /// Its line.
    pub line: usize,
}

fn err(file: &str, doc: &Doc, path: &str, why: impl std::fmt::Display) -> Error {
    Error::input(format!("{file}: line {}, field `{path}`: {why}", doc.line(path)))
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(scalar_text).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Parse and check an alert file; `runbooks` are the job's runbook names
/// (`_prometheus/runbooks/<name>.md`). Returns its alert names.
pub fn check(file: &str, src: &str, runbooks: &BTreeSet<String>) -> Result<Vec<AlertName>> {
    if src.trim().is_empty() {
        return Err(Error::input(format!("{file}: is empty; it must hold `groups:` of Prometheus rules")));
    }
    let doc = yaml::parse(src).map_err(|(line, why)| Error::input(format!("{file}: line {line}: {why}")))?;
    let Value::Object(root) = &doc.value else {
        return Err(Error::input(format!("{file}: line {}: the root must be a mapping with `groups:`", doc.line(""))));
    };
    let Some(Value::Array(groups)) = root.get("groups") else {
        return Err(err(file, &doc, "groups", "a list of rule groups is required"));
    };
    if groups.is_empty() {
        return Err(err(file, &doc, "groups", "must define at least one group"));
    }
    let mut names = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let gpath = index_path("groups", g);
        let Value::Object(group) = group else {
            return Err(err(file, &doc, &gpath, "a group must be a mapping with `name` and `rules`"));
        };
        if text(group.get("name")).is_none() {
            return Err(err(file, &doc, &key_path(&gpath, "name"), "a non-empty group name is required"));
        }
        let rpath = key_path(&gpath, "rules");
        let rules = match group.get("rules") {
            Some(Value::Array(r)) => r,
            None | Some(Value::Null) => continue,
            Some(_) => return Err(err(file, &doc, &rpath, "must be a list of rules")),
        };
        for (r, rule) in rules.iter().enumerate() {
            let path = index_path(&rpath, r);
            let Value::Object(rule) = rule else {
                return Err(err(file, &doc, &path, "a rule must be a mapping"));
            };
            let alert = text(rule.get("alert"));
            let record = text(rule.get("record"));
            match (&alert, &record) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        file,
                        &doc,
                        &path,
                        "defines both `alert` and `record`; a rule is exactly one of them",
                    ));
                }
                (None, None) => return Err(err(file, &doc, &path, "defines neither `alert` nor `record`")),
                _ => {}
            }
            if text(rule.get("expr")).is_none() {
                let what = alert.as_deref().or(record.as_deref()).unwrap_or_default();
                return Err(err(file, &doc, &key_path(&path, "expr"), format!("rule {what:?} has no `expr`")));
            }
            for field in ["labels", "annotations"] {
                let Some(v) = rule.get(field) else { continue };
                let fpath = key_path(&path, field);
                let Value::Object(m) = v else {
                    return Err(err(file, &doc, &fpath, "must be a mapping of names to strings"));
                };
                for (k, v) in m {
                    if scalar_text(v).is_none() {
                        return Err(err(file, &doc, &key_path(&fpath, k), "must be a string"));
                    }
                }
            }
            if let Some(name) = &alert {
                let rb = rule.get("annotations").and_then(|a| text(a.get("runbook")));
                if let Some(rb) = rb
                    && !runbooks.contains(&rb)
                {
                    return Err(err(
                        file,
                        &doc,
                        &key_path(&key_path(&path, "annotations"), "runbook"),
                        format!("alert {name:?} names runbook {rb:?}, but _prometheus/runbooks/{rb}.md does not exist"),
                    ));
                }
                names.push(AlertName { name: name.clone(), line: doc.line(&key_path(&path, "alert")) });
            }
        }
    }
    Ok(names)
}

/// The rule file as deployed: every alert's `runbook` annotation is
/// replaced by `runbook_url` (`<base>/consoles/runbooks/<job>/<runbook>.html`)
/// unless it sets `runbook_url` itself. Unchanged files keep their bytes.
pub fn with_runbook_urls(src: &str, job: &str, base_url: &str) -> Result<String> {
    let doc = yaml::parse(src).map_err(|(line, why)| Error::op(format!("line {line}: {why}")))?;
    let mut value = doc.value;
    let mut changed = false;
    for group in value.get_mut("groups").and_then(Value::as_array_mut).into_iter().flatten() {
        for rule in group.get_mut("rules").and_then(Value::as_array_mut).into_iter().flatten() {
            if text(rule.get("alert")).is_none() {
                continue;
            }
            let Some(ann) = rule.get_mut("annotations").and_then(Value::as_object_mut) else { continue };
            let Some(rb) = text(ann.get("runbook")) else { continue };
            if text(ann.get("runbook_url")).is_none() {
                let url = format!("{}{}", base_url.trim_end_matches('/'), runbook_path(job, &rb));
                ann.insert("runbook_url".into(), Value::String(url));
            }
            ann.shift_remove("runbook");
            changed = true;
        }
    }
    Ok(if changed { yaml::emit(&value) } else { src.to_string() })
}

/// The Prometheus UI path of a rendered runbook page.
pub fn runbook_path(job: &str, runbook: &str) -> String {
    format!("/consoles/runbooks/{job}/{runbook}.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_annotation_becomes_a_url() {
        let src = "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n        annotations:\n          summary: \"{{ $labels.instance }} down\"\n          runbook: down\n      - record: r\n        expr: sum(up)\n";
        let rb: BTreeSet<String> = ["down".to_string()].into();
        assert_eq!(check("f", src, &rb).unwrap(), vec![AlertName { name: "Down".into(), line: 4 }]);
        let out = with_runbook_urls(src, "api", "http://10.0.0.1:9090/").unwrap();
        let v = yaml::parse(&out).unwrap().value;
        let ann = &v["groups"][0]["rules"][0]["annotations"];
        assert_eq!(ann["runbook_url"], "http://10.0.0.1:9090/consoles/runbooks/api/down.html");
        assert!(ann.get("runbook").is_none());
        assert_eq!(ann["summary"], "{{ $labels.instance }} down");
        let plain = "groups:\n  - name: g\n    rules: []\n";
        assert_eq!(with_runbook_urls(plain, "api", "http://x").unwrap(), plain);
    }
}
