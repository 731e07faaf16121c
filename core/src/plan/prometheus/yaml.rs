//! YAML for `_prometheus/` files, through the `saphyr` crate: YAML 1.2, the
//! maintained successor of `yaml-rust`/`yaml-rust2` (`serde_yaml` is
//! archived, and its `serde_yml` fork is flagged unsound). saphyr keeps the
//! position of every node, so validation can name the line of a bad field,
//! and it has an emitter for the YAML maand writes back.
//!
//! A document becomes a [`serde_json::Value`] (mapping order kept) plus the
//! line of every node, keyed by its field path (`[0].static_configs[1]`,
//! `groups[0].rules[2].expr`).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, Yaml, YamlData, YamlEmitter};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A parsed document: its value and the line of each node.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The document's value (`Null` for an empty document).
    pub value: Value,
    lines: BTreeMap<String, usize>,
}

impl Doc {
    /// The line of the node at `path`, or of its nearest ancestor that has
    /// one (a missing field is reported at its parent).
    pub fn line(&self, path: &str) -> usize {
        let mut p = path.to_string();
        loop {
            if let Some(l) = self.lines.get(&p) {
                return *l;
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None if !p.is_empty() => p.clear(),
                None => return 1,
            }
        }
    }
}

/// The path of field `key` under `path`.
pub fn key_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// The path of item `i` under `path`.
pub fn index_path(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Parse one YAML document. Errors are `(line, reason)`.
pub fn parse(text: &str) -> Result<Doc, (usize, String)> {
    let docs = MarkedYaml::load_from_str(text)
        .map_err(|e| (e.marker().line(), format!("column {}: {}", e.marker().col() + 1, e.info())))?;
    if docs.len() > 1 {
        let line = docs[1].span.start.line();
        return Err((line, "more than one YAML document (`---`); keep one".into()));
    }
    let mut lines = BTreeMap::new();
    let value = match docs.first() {
        Some(d) => convert(d, "", &mut lines)?,
        None => Value::Null,
    };
    Ok(Doc { value, lines })
}

fn convert(node: &MarkedYaml, path: &str, lines: &mut BTreeMap<String, usize>) -> Result<Value, (usize, String)> {
    let line = node.span.start.line();
    lines.insert(path.to_string(), line);
    Ok(match &node.data {
        YamlData::Value(s) => scalar(s).map_err(|why| (line, why))?,
        YamlData::Representation(text, ..) => Value::String(text.to_string()),
        YamlData::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, &index_path(path, i), lines)?);
            }
            Value::Array(out)
        }
        YamlData::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(s) => match scalar(s) {
                        Ok(Value::Null) => "null".to_string(),
                        Ok(Value::String(s)) => s,
                        Ok(other) => other.to_string(),
                        Err(why) => return Err((k.span.start.line(), why)),
                    },
                    _ => return Err((k.span.start.line(), "a mapping key must be a plain value".into())),
                };
                let child_path = key_path(path, &key);
                let child = convert(v, &child_path, lines)?;
                // A field is reported where its key is (a block value starts below it).
                lines.insert(child_path, k.span.start.line());
                out.insert(key, child);
            }
            Value::Object(out)
        }
        YamlData::Tagged(tag, _) => return Err((line, format!("YAML tags ({tag}) are not supported here"))),
        YamlData::Alias(_) => return Err((line, "unresolved YAML alias".into())),
        YamlData::BadValue => return Err((line, "a value that does not match its tag".into())),
    })
}

fn scalar(s: &Scalar) -> Result<Value, String> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => {
            Value::Number(Number::from_f64(f.into_inner()).ok_or_else(|| format!("{f} is not a finite number"))?)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

/// The text of a scalar (`None` for null, sequences and mappings): YAML
/// `for: 5m` and `expr: 1` are both text to Prometheus.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn to_yaml(v: &Value) -> Yaml<'static> {
    match v {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or_default().into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Owned(s.clone()))),
        Value::Array(items) => Yaml::Sequence(items.iter().map(to_yaml).collect()),
        Value::Object(m) => Yaml::Mapping(
            m.iter().map(|(k, v)| (Yaml::Value(Scalar::String(Cow::Owned(k.clone()))), to_yaml(v))).collect(),
        ),
    }
}

/// Block YAML for `v` (no `---` header), ending with a newline.
pub fn emit(v: &Value) -> String {
    let mut out = String::new();
    let yaml = to_yaml(v);
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    // Writing into a String cannot fail; the emitter's other errors concern
    // nodes `to_yaml` never makes.
    let _ = emitter.dump(&yaml);
    let body = out.strip_prefix("---\n").unwrap_or(&out).trim_end_matches('\n');
    format!("{body}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_paths() {
        let d = parse("- job_name: a\n  static_configs:\n    - targets:\n        - x:1\n        - y:2\n").unwrap();
        assert_eq!(d.line("[0].job_name"), 1);
        assert_eq!(d.line("[0].static_configs[0].targets[1]"), 5);
        assert_eq!(d.line("[0].static_configs[0].labels"), 3, "missing: its parent");
        assert_eq!(d.value[0]["static_configs"][0]["targets"][1], "y:2");
    }

    #[test]
    fn errors_have_lines() {
        let (line, why) = parse("a: 1\nb: [\n").unwrap_err();
        assert!(line >= 2, "{line} {why}");
        assert!(parse("a: 1\na: 2\n").unwrap_err().1.contains("duplicated key"));
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap_err().0, 3);
        assert!(parse("a: !!int x\n").is_err());
    }

    #[test]
    fn emit_round_trips_types_and_quotes_ambiguous_strings() {
        let src = "a: 'true'\nb: true\nc: '5'\nd: 5\ne: '{{ $labels.x }}'\nf: |\n  two\n  lines\ng: [1, x]\nh: ''\n";
        let d = parse(src).unwrap();
        let out = emit(&d.value);
        assert_eq!(parse(&out).unwrap().value, d.value, "{out}");
    }
}
