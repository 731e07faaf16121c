//! Sealing of secret values under `secrets/kv.key`.
//!
//! Two AEADs, each value naming the one that sealed it
//! ([`SealAlg`](crate::event::SealAlg)):
//! - **AES-256-GCM** with the raw `kv.key`, for KV secrets (seed 001 and
//!   the original maand use exactly this key for them). 96-bit nonces are
//!   random per write; a bucket's KV secrets are far too few for that to
//!   approach the birthday bound.
//! - **XChaCha20-Poly1305** under an HKDF-SHA256 subkey of `kv.key`, for
//!   certificate private keys and any later secret-bearing material: its
//!   192-bit random nonces stay safe however many values a long-lived bucket
//!   seals (every build that reissues certificates seals new keys).
//!
//! The raw key is never used under two AEADs. Both bind the namespace and
//! key as associated data, so a ciphertext cannot be moved to another key
//! unnoticed.

use crate::error::{Error, Result};
use crate::event::{KvValue, SealAlg};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use std::path::Path;

/// HKDF `info` of the XChaCha20-Poly1305 subkey. Changing it makes every
/// value sealed with that algorithm unreadable: never change it.
const XCHACHA_INFO: &[u8] = b"maand kv.key subkey: xchacha20-poly1305 v1";

/// The bucket's secret-sealing keys.
#[derive(Clone)]
pub struct KvKey {
    aes: Aes256Gcm,
    xchacha: XChaCha20Poly1305,
}

impl std::fmt::Debug for KvKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KvKey(..)")
    }
}

fn aad(namespace: &str, key: &str) -> Vec<u8> {
    format!("maand-kv\0{namespace}\0{key}").into_bytes()
}

fn nonce_len(alg: SealAlg) -> usize {
    match alg {
        SealAlg::Aes256Gcm => 12,
        SealAlg::XChaCha20Poly1305 => 24,
    }
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
        let mut sub = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, bytes)
            .expand(XCHACHA_INFO, &mut sub)
            .map_err(|_| Error::op("deriving the XChaCha20-Poly1305 subkey failed"))?;
        Ok(KvKey {
            aes: Aes256Gcm::new_from_slice(bytes).map_err(|e| Error::op(e.to_string()))?,
            xchacha: XChaCha20Poly1305::new_from_slice(&sub).map_err(|e| Error::op(e.to_string()))?,
        })
    }

    /// Seal a KV secret (AES-256-GCM, seed 001) with a fresh random nonce.
    pub fn seal(&self, namespace: &str, key: &str, plaintext: &str) -> Result<KvValue> {
        self.seal_with(SealAlg::Aes256Gcm, namespace, key, plaintext)
    }

    /// Seal `plaintext` for `namespace`/`key` with `alg` and a fresh random
    /// nonce.
    pub fn seal_with(&self, alg: SealAlg, namespace: &str, key: &str, plaintext: &str) -> Result<KvValue> {
        let mut nonce = vec![0u8; nonce_len(alg)];
        getrandom::fill(&mut nonce).map_err(|e| Error::op(format!("random nonce: {e}")))?;
        let payload = Payload { msg: plaintext.as_bytes(), aad: &aad(namespace, key) };
        let sealed = match alg {
            SealAlg::Aes256Gcm => self.aes.encrypt(nonce.as_slice().try_into().expect("12 bytes"), payload),
            SealAlg::XChaCha20Poly1305 => self.xchacha.encrypt(nonce.as_slice().try_into().expect("24 bytes"), payload),
        };
        let ciphertext = sealed.map_err(|_| Error::op("sealing a secret failed"))?;
        Ok(KvValue::Sealed { alg, nonce, ciphertext })
    }

    /// Seal arbitrary bytes (staged file contents, which need not be UTF-8)
    /// with AES-256-GCM and a fresh random nonce.
    pub fn seal_bytes(&self, namespace: &str, key: &str, plaintext: &[u8]) -> Result<KvValue> {
        let mut nonce = vec![0u8; nonce_len(SealAlg::Aes256Gcm)];
        getrandom::fill(&mut nonce).map_err(|e| Error::op(format!("random nonce: {e}")))?;
        let payload = Payload { msg: plaintext, aad: &aad(namespace, key) };
        let ciphertext = self
            .aes
            .encrypt(nonce.as_slice().try_into().expect("12 bytes"), payload)
            .map_err(|_| Error::op("sealing staged bytes failed"))?;
        Ok(KvValue::Sealed { alg: SealAlg::Aes256Gcm, nonce, ciphertext })
    }

    /// The bytes [`seal_bytes`](Self::seal_bytes) sealed.
    pub fn open_bytes(&self, namespace: &str, key: &str, value: &KvValue) -> Result<Vec<u8>> {
        let KvValue::Sealed { alg, nonce, ciphertext } = value else {
            let KvValue::Plain(s) = value else { unreachable!() };
            return Ok(s.clone().into_bytes());
        };
        let bad =
            || Error::op(format!("cannot decrypt {namespace} {key}: wrong secrets/kv.key, or it was tampered with"));
        if nonce.len() != nonce_len(*alg) {
            return Err(bad());
        }
        let payload = Payload { msg: ciphertext, aad: &aad(namespace, key) };
        match alg {
            SealAlg::Aes256Gcm => self.aes.decrypt(nonce.as_slice().try_into().expect("checked"), payload),
            SealAlg::XChaCha20Poly1305 => self.xchacha.decrypt(nonce.as_slice().try_into().expect("checked"), payload),
        }
        .map_err(|_| bad())
    }

    /// The plaintext of a stored value (plain values are returned as they are).
    pub fn open(&self, namespace: &str, key: &str, value: &KvValue) -> Result<String> {
        let KvValue::Sealed { alg, nonce, ciphertext } = value else {
            let KvValue::Plain(s) = value else { unreachable!() };
            return Ok(s.clone());
        };
        let bad = || {
            Error::op(format!(
                "cannot decrypt {namespace} {key} ({}): wrong secrets/kv.key, or the value was tampered with",
                alg.name()
            ))
        };
        if nonce.len() != nonce_len(*alg) {
            return Err(bad());
        }
        let payload = Payload { msg: ciphertext, aad: &aad(namespace, key) };
        let plain = match alg {
            SealAlg::Aes256Gcm => self.aes.decrypt(nonce.as_slice().try_into().expect("checked"), payload),
            SealAlg::XChaCha20Poly1305 => self.xchacha.decrypt(nonce.as_slice().try_into().expect("checked"), payload),
        }
        .map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| Error::op(format!("{namespace} {key}: secret is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_binding() {
        let k = KvKey::from_bytes(&[7; 32]).unwrap();
        for alg in [SealAlg::Aes256Gcm, SealAlg::XChaCha20Poly1305] {
            let a = k.seal_with(alg, "secrets/job/api", "pw", "hunter2").unwrap();
            let b = k.seal_with(alg, "secrets/job/api", "pw", "hunter2").unwrap();
            assert_ne!(a, b, "fresh nonce per write");
            assert!(
                matches!(&a, KvValue::Sealed { alg: got, nonce, .. } if *got == alg && nonce.len() == nonce_len(alg))
            );
            assert_eq!(k.open("secrets/job/api", "pw", &a).unwrap(), "hunter2");
            assert!(k.open("secrets/job/api", "other", &a).is_err(), "bound to its key");
            let other = KvKey::from_bytes(&[8; 32]).unwrap();
            assert!(other.open("secrets/job/api", "pw", &a).is_err());
        }
        assert!(KvKey::from_bytes(&[7; 31]).is_err());
    }

    #[test]
    fn algorithms_do_not_share_a_key() {
        // A value sealed with one algorithm, relabelled as the other (same
        // nonce size trimmed/padded), must not open: the subkey differs.
        let k = KvKey::from_bytes(&[7; 32]).unwrap();
        let KvValue::Sealed { nonce, ciphertext, .. } = k.seal_with(SealAlg::Aes256Gcm, "n", "k", "x").unwrap() else {
            panic!()
        };
        let mut long = nonce.clone();
        long.resize(24, 0);
        let relabelled = KvValue::Sealed { alg: SealAlg::XChaCha20Poly1305, nonce: long, ciphertext };
        assert!(k.open("n", "k", &relabelled).is_err());
    }

    #[test]
    fn format1_aes_values_still_open() {
        // Sealed by maand 0.1.0's code (AES-256-GCM, raw key, same AAD):
        // key [7; 32], nonce [1; 12], plaintext "hunter2", for secrets/job/api pw.
        let k = KvKey::from_bytes(&[7; 32]).unwrap();
        let ct = {
            let aes = Aes256Gcm::new_from_slice(&[7; 32]).unwrap();
            aes.encrypt((&[1u8; 12]).into(), Payload { msg: b"hunter2", aad: b"maand-kv\0secrets/job/api\0pw" })
                .unwrap()
        };
        let v = KvValue::Sealed { alg: SealAlg::Aes256Gcm, nonce: vec![1; 12], ciphertext: ct };
        assert_eq!(k.open("secrets/job/api", "pw", &v).unwrap(), "hunter2");
    }
}
