//! `ssh-keygen`'s allowed-signers file (`ssh-keygen(1)`, ALLOWED SIGNERS):
//! one `principals [options] keytype base64 [comment]` per line; options
//! `namespaces="…"`, `valid-after="…"`, `valid-before="…"` and
//! `cert-authority` (certificate signers are not supported: such lines are
//! skipped with a note).

use super::SIGNATURE_NAMESPACE;
use crate::error::{Error, Result};
use crate::event::Millis;
use ssh_key::PublicKey;
use ssh_key::public::KeyData;
use std::path::Path;

/// One usable line of an allowed-signers file.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Line number in the file (1-based).
    pub line: usize,
    /// The principals (comma-separated patterns), as written.
    pub principals: String,
    /// The key.
    pub key: KeyData,
    /// `namespaces="…"` patterns, if given.
    namespaces: Option<String>,
    /// `valid-after`, in Unix milliseconds.
    valid_after: Option<Millis>,
    /// `valid-before`, in Unix milliseconds.
    valid_before: Option<Millis>,
}

/// A parsed allowed-signers file.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// Usable lines.
    pub signers: Vec<Signer>,
    /// Lines skipped, with why (e.g. `cert-authority`).
    pub notes: Vec<String>,
}

/// Split the next token off `s` (double quotes group, as ssh-keygen reads).
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

/// Options split at commas outside quotes.
fn options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]` as Unix milliseconds (read as UTC).
fn parse_time(v: &str) -> Option<Millis> {
    let v = v.strip_suffix('Z').unwrap_or(v);
    if !v.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&v.len()) {
        return None;
    }
    let n = |a: usize, b: usize| v.get(a..b).map_or(Some(0), |s| s.parse::<u32>().ok());
    let month = time::Month::try_from(n(4, 6)? as u8).ok()?;
    let date = time::Date::from_calendar_date(n(0, 4)? as i32, month, n(6, 8)? as u8).ok()?;
    let t = time::Time::from_hms(n(8, 10)? as u8, n(10, 12)? as u8, n(12, 14)? as u8).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc().unix_timestamp() * 1000)
}

/// Whether `s` matches the comma-separated pattern list `list` (`*`, `?`,
/// and `!` negation, as OpenSSH's `match_pattern_list`).
pub fn match_list(s: &str, list: &str) -> bool {
    let mut matched = false;
    for p in list.split(',') {
        let (neg, p) = match p.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, p),
        };
        if glob(s.as_bytes(), p.as_bytes()) {
            if neg {
                return false;
            }
            matched = true;
        }
    }
    matched
}

fn glob(s: &[u8], p: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(s, &p[1..]) || (!s.is_empty() && glob(&s[1..], p)),
        (Some(b'?'), Some(_)) => glob(&s[1..], &p[1..]),
        (Some(a), Some(b)) if a == b => glob(&s[1..], &p[1..]),
        _ => false,
    }
}

impl AllowedSigners {
    /// Read and parse `path`. A malformed line is an input error naming the
    /// file, the line and the reason.
    pub fn load(path: &Path) -> Result<AllowedSigners> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("--allowed-signers {}: cannot read it: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| Error::input(format!("{}: {e}", path.display())))
    }

    /// Parse the text of an allowed-signers file.
    pub fn parse(text: &str) -> std::result::Result<AllowedSigners, String> {
        let mut out = AllowedSigners::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (principals, rest) = token(l);
            let principals = principals.trim_matches('"').to_string();
            if principals.is_empty() || rest.trim().is_empty() {
                return Err(format!("line {line}: expected `principals [options] keytype base64-key`"));
            }
            let (key, opts) = match PublicKey::from_openssh(rest.trim()) {
                Ok(k) => (k, ""),
                Err(_) => {
                    let (opts, rest) = token(rest);
                    let k = PublicKey::from_openssh(rest.trim())
                        .map_err(|e| format!("line {line}: not a public key after the options ({e})"))?;
                    (k, opts)
                }
            };
            let mut s = Signer {
                line,
                principals,
                key: key.key_data().clone(),
                namespaces: None,
                valid_after: None,
                valid_before: None,
            };
            let mut cert_authority = false;
            for opt in options(opts).into_iter().filter(|o| !o.is_empty()) {
                let (name, value) = match opt.split_once('=') {
                    Some((n, v)) => (n, Some(v.trim_matches('"'))),
                    None => (opt, None),
                };
                let time = |v: Option<&str>| {
                    v.and_then(parse_time).ok_or_else(|| {
                        format!("line {line}: option {name}: expected a time like \"20260131\" or \"202601311200Z\"")
                    })
                };
                match name.to_ascii_lowercase().as_str() {
                    "cert-authority" => cert_authority = true,
                    "namespaces" => {
                        s.namespaces = Some(value.ok_or(format!("line {line}: namespaces needs a value"))?.to_string())
                    }
                    "valid-after" => s.valid_after = Some(time(value)?),
                    "valid-before" => s.valid_before = Some(time(value)?),
                    other => return Err(format!("line {line}: unknown option {other:?}")),
                }
            }
            if cert_authority {
                out.notes.push(format!("line {line}: cert-authority lines are not supported (line skipped)"));
                continue;
            }
            out.signers.push(s);
        }
        Ok(out)
    }

    /// The lines allowing `key` to sign in the journal's namespace at `at`
    /// (the signed session's commit time).
    pub fn find(&self, key: &KeyData, at: Millis) -> Vec<&Signer> {
        self.signers
            .iter()
            .filter(|s| &s.key == key)
            .filter(|s| s.namespaces.as_deref().is_none_or(|ns| match_list(SIGNATURE_NAMESPACE, ns)))
            .filter(|s| s.valid_after.is_none_or(|t| at >= t))
            .filter(|s| s.valid_before.is_none_or(|t| at < t))
            .collect()
    }

    /// Whether `key` appears at all (to explain a refusal).
    pub fn knows(&self, key: &KeyData) -> bool {
        self.signers.iter().any(|s| &s.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKNK4m3VtXVbVGHP0SqCW8mHQVeqtsOHzdjr1KfP3SKZ";

    #[test]
    fn lines_options_and_lookup() {
        let text = format!(
            "# team\n\nalice@example.com {ED} alice\n\"bob@x,carol@x\" namespaces=\"git,maand-*\",valid-after=\"20260101\" {ED}\n\
             dave@x namespaces=\"file\" {ED}\n*@x cert-authority {ED}\n"
        );
        let a = AllowedSigners::parse(&text).unwrap();
        assert_eq!(a.signers.len(), 3);
        assert_eq!(a.notes.len(), 1, "cert-authority skipped with a note");
        let key = a.signers[0].key.clone();
        let jan_2026 = parse_time("20260102").unwrap();
        let names: Vec<&str> = a.find(&key, jan_2026).iter().map(|s| s.principals.as_str()).collect();
        assert_eq!(names, ["alice@example.com", "bob@x,carol@x"], "dave's line is for another namespace");
        let names: Vec<&str> = a.find(&key, 0).iter().map(|s| s.principals.as_str()).collect();
        assert_eq!(names, ["alice@example.com"], "bob's line is not valid yet in 1970");
    }

    #[test]
    fn bad_lines_name_the_line_and_reason() {
        for (text, want) in [
            ("alice\n", "line 1: expected"),
            ("\nalice ssh-ed25519 !!!\n", "line 2: not a public key"),
            (&format!("a nope=\"1\" {ED}\n"), "line 1: unknown option \"nope\""),
            (&format!("a valid-after=\"2026\" {ED}\n"), "line 1: option valid-after"),
            (&format!("a valid-before=\"20261340\" {ED}\n"), "line 1: option valid-before"),
        ] {
            let e = AllowedSigners::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn patterns() {
        assert!(match_list("maand-journal", "git,maand-*"));
        assert!(!match_list("maand-journal", "git,!maand-*,*"));
        assert!(match_list("maand-journal", "maand-jour?al"));
        assert!(!match_list("maand-journal", "file"));
        assert_eq!(parse_time("20260131120000Z"), Some(1_769_860_800_000));
    }
}
