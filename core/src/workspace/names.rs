//! Rules for names that end up in KV keys, file paths, env vars and shell
//! command lines: hosts, labels, job names, port names, hook names.

/// Longest piece of operator input quoted in a message.
const QUOTE_MAX: usize = 64;

/// `s` quoted for a message, cut to its first characters when long (a
/// 40 MB value must not make a 40 MB error).
pub fn quoted(s: &str) -> String {
    if s.len() <= QUOTE_MAX {
        return format!("{s:?}");
    }
    format!("{:?}… ({} bytes)", &s[..floor(s, QUOTE_MAX)], s.len())
}

/// `s` (a parser's message, which may quote input) cut to `max` bytes.
pub fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    format!("{}… ({} bytes)", &s[..floor(s, max)], s.len())
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A worker address: IP or DNS name, no spaces or shell characters. It
/// names directories on the control host (`tmp/workers/<host>/`,
/// `logs/<host>.log`), so `.`, `..` and leading dots are refused too.
pub fn check_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("host is empty".into());
    }
    if h.len() > 253
        || !h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
        || h.starts_with('-')
        || h.starts_with('.')
        || h.contains("..")
    {
        return Err(format!("{} is not an IP address or host name", quoted(h)));
    }
    Ok(())
}

/// A label (also a selector): letters, digits, `_`, `-`, `.`.
pub fn check_label(l: &str) -> Result<(), String> {
    if l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return Err(format!("label {} may only hold letters, digits, '_', '-' and '.'", quoted(l)));
    }
    Ok(())
}

/// A job name (directory under workspace/jobs): starts with a letter or
/// digit; letters, digits, `_`, `-`.
pub fn check_job_name(n: &str) -> Result<(), String> {
    let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
        && n.len() <= 64;
    if !ok {
        return Err(format!(
            "job name {} must start with a letter or digit and hold only letters, digits, '_' and '-'",
            quoted(n)
        ));
    }
    Ok(())
}

/// A port name: lowercase identifier (`http_port`).
pub fn check_port_name(n: &str) -> Result<(), String> {
    let ok = n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(format!("port name {} must be a lowercase identifier like \"http_port\"", quoted(n)));
    }
    Ok(())
}

/// A hook name: `hook_` followed by a lowercase identifier.
pub fn check_hook_name(n: &str) -> Result<(), String> {
    let rest = n.strip_prefix("hook_").ok_or_else(|| format!("hook name {} must start with \"hook_\"", quoted(n)))?;
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("hook name {} must be \"hook_\" followed by letters, digits or '_'", quoted(n)));
    }
    Ok(())
}

/// A hook name in the original's spelling: `command_` followed by a
/// lowercase identifier (the original's `_modules/command_*` scripts).
pub fn check_legacy_hook_name(n: &str) -> Result<(), String> {
    let rest = n.strip_prefix("command_").unwrap_or_default();
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("hook name {} must be \"command_\" followed by letters, digits or '_'", quoted(n)));
    }
    Ok(())
}

/// A hook name as `maand hooks` accepts it: `hook_*`, or the original's
/// `command_*` for jobs that still declare such hooks.
pub fn check_cli_hook_name(n: &str) -> Result<(), String> {
    if n.starts_with("command_") { check_legacy_hook_name(n) } else { check_hook_name(n) }
}

/// A certificate name (file name of the PEMs).
pub fn check_cert_name(n: &str) -> Result<(), String> {
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
        return Err(format!("certificate name {} may only hold letters, digits, '_' and '-'", quoted(n)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_name_directories_badly_are_refused() {
        for bad in [".", "..", ".hidden", "a..b", "-x", "a b", ""] {
            assert!(check_host(bad).is_err(), "{bad:?}");
        }
        for good in ["10.0.0.1", "node-1.example.com", "host.example.com.", "::1", "fe80::1"] {
            assert!(check_host(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn long_input_is_cut_in_messages() {
        let huge = "é".repeat(1 << 20);
        let e = check_host(&huge).unwrap_err();
        assert!(e.len() < 200 && e.contains("(2097152 bytes)"), "{}", e.len());
        assert_eq!(quoted("abc"), "\"abc\"");
    }
}
