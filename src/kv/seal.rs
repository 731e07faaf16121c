//! Secret values: AES-256-GCM under `secrets/kv.key`, a fresh random
//! nonce per write, and the namespace and key as associated data, so a
//! ciphertext cannot be moved to another key unnoticed.

use crate::error::{Error, Result};
use crate::event::KvValue;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::path::Path;

/// The bucket's secret-sealing key.
#[derive(Clone)]
pub struct KvKey(Aes256Gcm);

impl std::fmt::Debug for KvKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvKey(..)")
    }
}

fn aad(namespace: &str, key: &str) -> Vec<u8> {
    format!("maand-kv\0{namespace}\0{key}").into_bytes()
}

impl KvKey {
    /// Load `secrets/kv.key` (exactly 32 bytes).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::usage(format!("secrets/kv.key: cannot read: {e}")))?;
        Self::from_bytes(&bytes)
    }

    /// From raw key bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != 32 {
            return Err(Error::input(format!("secrets/kv.key must hold exactly 32 bytes, it holds {}", bytes.len())));
        }
        Ok(KvKey(Aes256Gcm::new_from_slice(bytes).map_err(|e| Error::op(e.to_string()))?))
    }

    /// Seal `plaintext` for `namespace`/`key` with a fresh random nonce.
    pub fn seal(&self, namespace: &str, key: &str, plaintext: &str) -> Result<KvValue> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| Error::op(format!("random nonce: {e}")))?;
        let ciphertext = self
            .0
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext.as_bytes(), aad: &aad(namespace, key) })
            .map_err(|_| Error::op("sealing a secret failed"))?;
        Ok(KvValue::Sealed { nonce, ciphertext })
    }

    /// The plaintext of a stored value (plain values are returned as they are).
    pub fn open(&self, namespace: &str, key: &str, value: &KvValue) -> Result<String> {
        match value {
            KvValue::Plain(s) => Ok(s.clone()),
            KvValue::Sealed { nonce, ciphertext } => {
                let plain = self
                    .0
                    .decrypt(&Nonce::from(*nonce), Payload { msg: ciphertext, aad: &aad(namespace, key) })
                    .map_err(|_| {
                        Error::op(format!(
                            "cannot decrypt {namespace} {key}: wrong secrets/kv.key, or the value was tampered with"
                        ))
                    })?;
                String::from_utf8(plain).map_err(|_| Error::op(format!("{namespace} {key}: secret is not UTF-8")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let k = KvKey::from_bytes(&[7; 32]).unwrap();
        let a = k.seal("secrets/job/api", "pw", "hunter2").unwrap();
        let b = k.seal("secrets/job/api", "pw", "hunter2").unwrap();
        assert_ne!(a, b, "fresh nonce per write");
        assert_eq!(k.open("secrets/job/api", "pw", &a).unwrap(), "hunter2");
        assert!(k.open("secrets/job/api", "other", &a).is_err(), "bound to its key");
        assert!(KvKey::from_bytes(&[7; 31]).is_err());
        let other = KvKey::from_bytes(&[8; 32]).unwrap();
        assert!(other.open("secrets/job/api", "pw", &a).is_err());
    }
}
