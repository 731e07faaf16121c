//! The key that signs session commits: a key file under `secrets/`, or a
//! key held by the ssh-agent.

use super::agent::Agent;
use super::crypto;
use crate::bucket::{BucketPaths, SigningKey};
use crate::error::{Error, Result};
use crate::event::{Hash32, signed_head_message};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use ssh_key::private::KeypairData;
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, PrivateKey, PublicKey};
use std::path::PathBuf;

enum Source {
    /// An ed25519 key read from a file.
    File(Ed25519KeyPair),
    /// A key the agent at `socket` holds, named by its public blob.
    Agent { socket: PathBuf, blob: Vec<u8> },
}

/// A loaded signing key, ready to sign chain heads.
pub struct Signer {
    source: Source,
    public: KeyData,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.fingerprint())
    }
}

impl Signer {
    /// Load the key `signing_key` names: the file is read and checked, the
    /// agent asked for its keys, so a bad setting fails before a command
    /// does any work. Bad settings are input errors naming `maand.conf`.
    pub fn load(paths: &BucketPaths, key: &SigningKey) -> Result<Signer> {
        match key {
            SigningKey::File(name) => Self::from_file(paths.secrets().join(name), name),
            SigningKey::Agent(fp) => Self::from_agent(fp.as_deref()),
        }
    }

    fn from_file(path: PathBuf, name: &str) -> Result<Signer> {
        let bad = |why: String| Error::input(format!("maand.conf: key `signing_key`: secrets/{name}: {why}"));
        let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let key =
            PrivateKey::from_openssh(text.as_bytes()).map_err(|e| bad(format!("not an OpenSSH private key ({e})")))?;
        if key.is_encrypted() {
            return Err(bad(
                "the key is passphrase-protected: add it to ssh-agent and set signing_key = \"agent\"".into()
            ));
        }
        let KeypairData::Ed25519(kp) = key.key_data() else {
            return Err(bad(format!(
                "{} keys sign only through the agent: use an ed25519 key file, or ssh-add it and set signing_key = \"agent\"",
                key.algorithm()
            )));
        };
        let pair = Ed25519KeyPair::from_seed_and_public_key(&kp.private.to_bytes(), &kp.public.0)
            .map_err(|e| bad(format!("the ed25519 key pair does not match: {e}")))?;
        Ok(Signer { source: Source::File(pair), public: KeyData::Ed25519(kp.public) })
    }

    fn from_agent(want: Option<&str>) -> Result<Signer> {
        let bad = |why: String| Error::input(format!("maand.conf: key `signing_key`: {why}"));
        let socket = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| bad("\"agent\" needs a running ssh-agent, and SSH_AUTH_SOCK is not set".into()))?;
        let ids = Agent::connect(&socket).and_then(|mut a| a.identities()).map_err(bad)?;
        let mut keys = Vec::new();
        for (blob, comment) in ids {
            if let Ok(pk) = PublicKey::from_bytes(&blob) {
                keys.push((blob, comment, pk.key_data().clone()));
            }
        }
        let listing = || {
            keys.iter()
                .map(|(_, c, k)| format!("{} {c}", k.fingerprint(HashAlg::Sha256)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let chosen = match want {
            Some(fp) => {
                keys.iter().find(|(_, _, k)| k.fingerprint(HashAlg::Sha256).to_string() == fp).ok_or_else(|| {
                    bad(format!(
                        "the ssh-agent holds no key {fp} (it holds: {})",
                        if keys.is_empty() { "none".into() } else { listing() }
                    ))
                })?
            }
            None if keys.len() == 1 => &keys[0],
            None if keys.is_empty() => return Err(bad("the ssh-agent holds no key (ssh-add one)".into())),
            None => {
                return Err(bad(format!(
                    "the ssh-agent holds {} keys; name one as \"agent:SHA256:…\" ({})",
                    keys.len(),
                    listing()
                )));
            }
        };
        Ok(Signer { source: Source::Agent { socket, blob: chosen.0.clone() }, public: chosen.2.clone() })
    }

    /// The signing key's SHA-256 fingerprint (`SHA256:…`).
    pub fn fingerprint(&self) -> String {
        self.public.fingerprint(HashAlg::Sha256).to_string()
    }

    /// The public key in `authorized_keys` form (`ssh-ed25519 AAAA…`), as an
    /// allowed-signers line needs it.
    pub fn public_openssh(&self) -> String {
        PublicKey::new(self.public.clone(), "").to_openssh().unwrap_or_default()
    }

    /// Sign the chain head `head` (event `seq`) of `session`: the armored
    /// SSH signature over [`signed_head_message`].
    pub fn sign_head(&self, session: u64, seq: u64, head: &Hash32) -> Result<String> {
        self.sign(signed_head_message(session, seq, head).as_bytes())
    }

    /// Sign `message` in the journal's namespace (armored SSHSIG).
    pub fn sign(&self, message: &[u8]) -> Result<String> {
        let data = crypto::signed_data(message).map_err(Error::op)?;
        let signature = match &self.source {
            Source::File(pair) => {
                debug_assert_eq!(pair.public_key().as_ref(), self.public.ed25519().map(|k| &k.0[..]).unwrap_or(&[]));
                ssh_key::Signature::new(Algorithm::Ed25519, pair.sign(&data).as_ref().to_vec())
                    .map_err(|e| Error::op(format!("ed25519 signature: {e}")))?
            }
            Source::Agent { socket, blob } => {
                let raw = Agent::connect(socket)
                    .and_then(|mut a| a.sign(blob, &data, self.public.is_rsa()))
                    .map_err(Error::op)?;
                ssh_key::Signature::try_from(raw.as_slice())
                    .map_err(|e| Error::op(format!("the ssh-agent returned an unreadable signature: {e}")))?
            }
        };
        let armored = crypto::armor(&self.public, signature).map_err(Error::op)?;
        // Never record a signature that does not verify (a wrong agent key,
        // an agent bug): the check is cheap next to the signing.
        crypto::verify_armored(&armored, message)
            .map_err(|e| Error::op(format!("the new signature does not verify: {e}")))?;
        Ok(armored)
    }
}
