//! Rules for names that end up in KV keys, file paths, env vars and shell
//! command lines: hosts, labels, job names, port names, hook names.

/// A worker address: IP or DNS name, no spaces or shell characters.
pub fn check_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("host is empty".into());
    }
    if h.len() > 253 || !h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)) || h.starts_with('-') {
        return Err(format!("{h:?} is not an IP address or host name"));
    }
    Ok(())
}

/// A label (also a selector): letters, digits, `_`, `-`, `.`.
pub fn check_label(l: &str) -> Result<(), String> {
    if l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
        return Err(format!("label {l:?} may only hold letters, digits, '_', '-' and '.'"));
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
            "job name {n:?} must start with a letter or digit and hold only letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

/// A port name: lowercase identifier (`http_port`).
pub fn check_port_name(n: &str) -> Result<(), String> {
    let ok = n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(format!("port name {n:?} must be a lowercase identifier like \"http_port\""));
    }
    Ok(())
}

/// A hook name: `hook_` followed by a lowercase identifier.
pub fn check_hook_name(n: &str) -> Result<(), String> {
    let rest = n.strip_prefix("hook_").ok_or_else(|| format!("hook name {n:?} must start with \"hook_\""))?;
    if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("hook name {n:?} must be \"hook_\" followed by letters, digits or '_'"));
    }
    Ok(())
}

/// A certificate name (file name of the PEMs).
pub fn check_cert_name(n: &str) -> Result<(), String> {
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
        return Err(format!("certificate name {n:?} may only hold letters, digits, '_' and '-'"));
    }
    Ok(())
}
