//! Job versions: semver after maand's normalisation — `"1"` → 1.0.0,
//! `"v2.1"` → 2.1.0, `"2.0.0-rc1"` as is.

/// Normalise and parse a version string. The error is a reason.
pub fn parse_version(text: &str) -> Result<semver::Version, String> {
    let t = text.trim();
    let t = t.strip_prefix('v').or_else(|| t.strip_prefix('V')).unwrap_or(t);
    if t.is_empty() {
        return Err("version is empty".into());
    }
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!(
            "{text:?} is not a version: expected up to three numbers like \"1\", \"v2.1\" or \"2.0.0-rc1\""
        ));
    }
    let mut full = parts.join(".");
    for _ in parts.len()..3 {
        full.push_str(".0");
    }
    full.push_str(rest);
    semver::Version::parse(&full).map_err(|e| format!("{text:?} is not a version: {e}"))
}

/// A JSON value given as a version bound (`"2.1"` or `2`).
pub fn parse_version_value(v: &serde_json::Value) -> Result<semver::Version, String> {
    match v {
        serde_json::Value::String(s) => parse_version(s),
        serde_json::Value::Number(n) if n.is_u64() => parse_version(&n.to_string()),
        other => Err(format!("{other} is not a version")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(parse_version("1").unwrap().to_string(), "1.0.0");
        assert_eq!(parse_version("v2.1").unwrap().to_string(), "2.1.0");
        assert_eq!(parse_version("2.0.0-rc1").unwrap().to_string(), "2.0.0-rc1");
        assert_eq!(parse_version("3.2.1").unwrap().to_string(), "3.2.1");
        for bad in ["", "unknown", "1.2.3.4", "1..2", "v", "1.x"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_version_value(&serde_json::json!(2)).unwrap().to_string(), "2.0.0");
        assert!(parse_version("2.0.0-rc1").unwrap() < parse_version("2.0.0").unwrap());
    }
}
