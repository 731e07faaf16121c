//! JSON parsing with errors that name the file, line and column, and the
//! field serde complains about.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;

/// Parse `src` (the contents of `file`) as `T`.
pub fn parse_json<T: DeserializeOwned>(file: &str, src: &str) -> Result<T> {
    serde_json::from_str(src).map_err(|e| {
        let msg = e.to_string();
        // serde_json appends " at line L column C"; lead with the place instead.
        let reason = super::names::cut(msg.rsplit_once(" at line ").map_or(msg.as_str(), |(r, _)| r), 300);
        Error::input(format!("{file}: line {}, column {}: {reason}", e.line(), e.column()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct W {
        host: String,
    }

    #[test]
    fn names_place_and_field() {
        let e = parse_json::<Vec<W>>("workers.json", "[\n {\"host\": \"a\"},\n {\"hots\": \"b\"}\n]").unwrap_err();
        assert!(e.message().starts_with("workers.json: line 3, column"), "{e}");
        assert!(e.message().contains("unknown field `hots`"), "{e}");
        let e = parse_json::<Vec<W>>("workers.json", "[{\"host\": 1}]").unwrap_err();
        assert!(e.message().contains("invalid type: integer `1`, expected a string"), "{e}");
        let e = parse_json::<Vec<W>>("workers.json", "[").unwrap_err();
        assert!(e.message().contains("EOF"), "{e}");
    }
}
