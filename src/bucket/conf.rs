//! `maand.conf`: the bucket's settings (SPEC §1).

use crate::error::{Error, Result};
use crate::workspace::{line_of_key, parse_toml};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Log line format for `logs/`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` pairs (default).
    #[default]
    Kv,
    /// One JSON object per line.
    Json,
    /// Same as `json`.
    Jsonl,
}

/// Settings read from `maand.conf`. Unknown keys are errors.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MaandConf {
    /// SSH login on workers.
    pub ssh_user: String,
    /// Private key file name under `secrets/`.
    pub ssh_key: String,
    /// SSH port on workers.
    pub ssh_port: u16,
    /// Run remote commands through `sudo`.
    pub use_sudo: bool,
    /// Lifetime of leaf certificates, in days.
    pub certs_ttl: u32,
    /// Renew leaf certificates this many days before expiry.
    pub certs_renewal_buffer: u32,
    /// Picks `bucket.jobs.<selector>.conf` instead of `bucket.jobs.conf`.
    pub job_config_selector: String,
    /// Format of structured logs.
    pub log_format: LogFormat,
    /// Port of the hook runtime API on 127.0.0.1; 0 = any free port.
    pub hook_api_port: u16,
    /// Signs each session's commit (see [`SigningKey`]); unset = unsigned.
    pub signing_key: Option<String>,
    /// Idle seconds an SSH master connection outlives the command that
    /// opened it, for the next command to reuse; 0 = close with the command.
    pub ssh_control_persist: u32,
}

/// Where the key that signs session commits comes from (`signing_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningKey {
    /// An unencrypted OpenSSH private key file under `secrets/`.
    File(String),
    /// The ssh-agent at `SSH_AUTH_SOCK`: its only key, or the one with this
    /// SHA-256 fingerprint (`agent:SHA256:…`).
    Agent(Option<String>),
}

impl Default for MaandConf {
    fn default() -> Self {
        MaandConf {
            ssh_user: "agent".into(),
            ssh_key: "worker.key".into(),
            ssh_port: 22,
            use_sudo: true,
            certs_ttl: 60,
            certs_renewal_buffer: 0,
            job_config_selector: String::new(),
            log_format: LogFormat::Kv,
            hook_api_port: 8080,
            signing_key: None,
            ssh_control_persist: 60,
        }
    }
}

/// The file `maand init` writes when there is none.
pub const DEFAULT_CONF: &str = r#"# maand bucket settings. Unknown keys are rejected.
ssh_user = "agent"            # SSH login on workers
ssh_key = "worker.key"        # private key file under secrets/
ssh_port = 22
ssh_control_persist = 60      # idle seconds SSH connections stay up for the next command; 0 = close
use_sudo = true               # run remote commands through sudo
certs_ttl = 60                # leaf certificate lifetime, days
certs_renewal_buffer = 0      # renew this many days before expiry
job_config_selector = ""      # "" -> bucket.jobs.conf, "x" -> bucket.jobs.x.conf
log_format = "kv"             # kv | json | jsonl
hook_api_port = 8080          # hook runtime API on 127.0.0.1; 0 = any free port
# signing_key = "sign.key"    # sign each session's commit: a key file under secrets/, "agent", or "agent:SHA256:…"
"#;

impl MaandConf {
    /// Read and validate `maand.conf` at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| Error::input(format!("maand.conf: cannot read {}: {e}", path.display())))?;
        Self::parse(&src)
    }

    /// Parse and validate the contents of a `maand.conf`.
    pub fn parse(src: &str) -> Result<Self> {
        let mut conf: MaandConf = parse_toml("maand.conf", src)?;
        // The original maand's `init` writes `ssh_port = 0`, and it reads
        // `certs_ttl = 0` the same way: 0 means "the default".
        let defaults = MaandConf::default();
        if conf.ssh_port == 0 {
            conf.ssh_port = defaults.ssh_port;
        }
        if conf.certs_ttl == 0 {
            conf.certs_ttl = defaults.certs_ttl;
        }
        let bad = |key: &str, why: &str| {
            let at = line_of_key(src, key).map(|l| format!("line {l}, ")).unwrap_or_default();
            Err(Error::input(format!("maand.conf: {at}key `{key}`: {why}")))
        };
        if conf.ssh_user.is_empty() || !conf.ssh_user.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return bad("ssh_user", "must be a non-empty user name of letters, digits, '.', '_' or '-'");
        }
        if conf.ssh_key.is_empty() || conf.ssh_key.contains('/') || conf.ssh_key.starts_with('.') {
            return bad("ssh_key", "must be a file name inside secrets/ (no '/', not starting with '.')");
        }
        if conf.ssh_control_persist > 86_400 {
            return bad(
                "ssh_control_persist",
                "must be at most 86400 seconds (one day); 0 closes connections with each command",
            );
        }
        if conf.certs_renewal_buffer >= conf.certs_ttl {
            return bad("certs_renewal_buffer", "must be smaller than certs_ttl");
        }
        if !conf.job_config_selector.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)) {
            return bad("job_config_selector", "may only hold letters, digits, '_' and '-'");
        }
        if let Some(k) = &conf.signing_key
            && let Err(why) = parse_signing_key(k)
        {
            return bad("signing_key", &why);
        }
        Ok(conf)
    }

    /// The configured signing key, if any (validated by [`MaandConf::parse`]).
    pub fn signing_key(&self) -> Option<SigningKey> {
        self.signing_key.as_deref().and_then(|k| parse_signing_key(k).ok())
    }
}

fn parse_signing_key(k: &str) -> std::result::Result<SigningKey, String> {
    if k == "agent" {
        return Ok(SigningKey::Agent(None));
    }
    if let Some(fp) = k.strip_prefix("agent:") {
        let b64 = fp.strip_prefix("SHA256:").unwrap_or("");
        if b64.len() != 43 || !b64.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/') {
            return Err(format!(
                "{k:?}: after `agent:` comes a key's SHA-256 fingerprint as `ssh-add -l` prints it (SHA256: and 43 base64 characters)"
            ));
        }
        return Ok(SigningKey::Agent(Some(fp.to_string())));
    }
    if k.is_empty() || k.contains('/') || k.starts_with('.') {
        return Err(format!(
            "{k:?}: must be a key file name inside secrets/ (no '/', not starting with '.'), `agent`, or `agent:SHA256:…`"
        ));
    }
    Ok(SigningKey::File(k.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_parses_to_defaults() {
        assert_eq!(MaandConf::parse(DEFAULT_CONF).unwrap(), MaandConf::default());
        assert_eq!(MaandConf::parse("").unwrap(), MaandConf::default());
    }

    #[test]
    fn bad_values_name_line_and_key() {
        let e = MaandConf::parse("ssh_port = 22\nlog_format = \"xml\"\n").unwrap_err();
        assert!(e.message().contains("line 2, key `log_format`"), "{e}");
        let e = MaandConf::parse("ssh_user = \"a b\"\n").unwrap_err();
        assert!(e.message().contains("line 1, key `ssh_user`"), "{e}");
        let e = MaandConf::parse("\n\ncerts_ttl = 5\ncerts_renewal_buffer = 5\n").unwrap_err();
        assert!(e.message().contains("line 4, key `certs_renewal_buffer`"), "{e}");
        let e = MaandConf::parse("ssh_port = 70000\n").unwrap_err();
        assert!(e.message().contains("key `ssh_port`"), "{e}");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn zero_port_and_ttl_mean_the_defaults_as_in_the_original() {
        // What the original's `maand init` writes (go-toml, single quotes).
        let original = "use_sudo = true\nssh_user = 'agent'\nssh_key = 'worker.key'\nssh_port = 0\ncerts_ttl = 0\ncerts_renewal_buffer = 0\n";
        let conf = MaandConf::parse(original).unwrap();
        assert_eq!(conf.ssh_port, 22);
        assert_eq!(conf.certs_ttl, 60);
        assert_eq!(MaandConf::parse("ssh_port = 2222\ncerts_ttl = 7\n").unwrap().certs_ttl, 7);
    }

    #[test]
    fn signing_key_is_a_secrets_file_or_the_agent() {
        let k = |src: &str| MaandConf::parse(src).map(|c| c.signing_key());
        assert_eq!(k("").unwrap(), None);
        assert_eq!(k("signing_key = \"sign.key\"").unwrap(), Some(SigningKey::File("sign.key".into())));
        assert_eq!(k("signing_key = \"agent\"").unwrap(), Some(SigningKey::Agent(None)));
        let fp = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";
        assert_eq!(k(&format!("signing_key = \"agent:{fp}\"")).unwrap(), Some(SigningKey::Agent(Some(fp.into()))));
        for bad in
            ["", "../id_ed25519", "/root/.ssh/id_ed25519", ".hidden", "agent:", "agent:MD5:aa", "agent:SHA256:short"]
        {
            let e = MaandConf::parse(&format!("\nsigning_key = {bad:?}\n")).unwrap_err();
            assert!(e.message().contains("line 2, key `signing_key`"), "{bad}: {e}");
            assert_eq!(e.exit_code(), 2);
        }
        let e = MaandConf::parse("signing_key = 3\n").unwrap_err();
        assert!(e.message().contains("signing_key"), "{e}");
    }
}
