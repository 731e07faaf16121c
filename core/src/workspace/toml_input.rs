//! TOML parsing with errors that name file, line and key.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;

/// Parse `src` (the contents of `file`) as `T`, rejecting unknown keys if
/// `T` does. Errors read `file: line N, key `k`: reason`.
pub fn parse_toml<T: DeserializeOwned>(file: &str, src: &str) -> Result<T> {
    toml::from_str(src).map_err(|e| {
        let reason = super::names::cut(e.message().trim(), 300);
        let Some(span) = e.span() else {
            return Error::input(format!("{file}: {reason}"));
        };
        let line_no = src[..span.start.min(src.len())].matches('\n').count() + 1;
        let line = src.lines().nth(line_no - 1).unwrap_or("");
        let key = key_on_line(line).or_else(|| quoted_field(&reason)).map(|k| super::names::cut(&k, 64));
        match key {
            Some(k) => Error::input(format!("{file}: line {line_no}, key `{k}`: {reason}")),
            None => Error::input(format!("{file}: line {line_no}: {reason}")),
        }
    })
}

/// The key assigned on a `key = value` line, if any.
fn key_on_line(line: &str) -> Option<String> {
    let (left, _) = line.split_once('=')?;
    let k = left.trim().trim_matches('"').trim_matches('\'');
    (!k.is_empty() && !k.starts_with('[') && !k.starts_with('#')).then(|| k.to_string())
}

/// A field named in backquotes in a serde message (`unknown field `x``).
fn quoted_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// 1-based line on which `key` is assigned in `src`, for validation errors
/// found after parsing.
pub fn line_of_key(src: &str, key: &str) -> Option<usize> {
    let header = format!("[{key}]");
    src.lines().position(|l| key_on_line(l).as_deref() == Some(key) || l.trim() == header).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct C {
        port: u16,
        name: Option<String>,
    }

    #[test]
    fn names_line_and_key() {
        let e = parse_toml::<C>("x.conf", "port = 1\nnmae = \"a\"\n").unwrap_err();
        assert!(e.message().contains("x.conf: line 2, key `nmae`"), "{e}");
        let e = parse_toml::<C>("x.conf", "\nport = \"abc\"\n").unwrap_err();
        assert!(e.message().contains("line 2, key `port`"), "{e}");
        let e = parse_toml::<C>("x.conf", "port = [\n").unwrap_err();
        assert!(e.message().starts_with("x.conf: line"), "{e}");
        assert_eq!(line_of_key("a = 1\n b = 2", "b"), Some(2));
    }
}
