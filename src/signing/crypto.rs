//! SSHSIG signatures: building them from raw signatures, and verifying
//! them, with aws-lc-rs doing the arithmetic and `ssh-key` the formats.

use super::SIGNATURE_NAMESPACE;
use aws_lc_rs::signature::{self as sig, UnparsedPublicKey};
use ssh_key::public::KeyData;
use ssh_key::{Algorithm, EcdsaCurve, HashAlg, LineEnding, SshSig};

/// A signature that verified: who (by key) signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's public key.
    pub key: KeyData,
    /// Its SHA-256 fingerprint as `ssh-keygen -l` prints it (`SHA256:…`).
    pub fingerprint: String,
    /// Its key type, e.g. `ED25519`, `RSA`, `ECDSA`.
    pub key_type: String,
}

/// The short key type name `ssh-keygen -l` shows.
pub fn key_type(key: &KeyData) -> String {
    match key.algorithm() {
        Algorithm::Ed25519 => "ED25519".into(),
        Algorithm::Rsa { .. } => "RSA".into(),
        Algorithm::Ecdsa { .. } => "ECDSA".into(),
        other => other.as_str().to_uppercase(),
    }
}

/// Armour a raw signature made by `key` over [`SshSig::signed_data`] of
/// `message` (SHA-512) as `ssh-keygen -Y sign` would write it.
pub fn armor(key: &KeyData, signature: ssh_key::Signature) -> Result<String, String> {
    let s = SshSig::new(key.clone(), SIGNATURE_NAMESPACE, HashAlg::Sha512, signature)
        .map_err(|e| format!("cannot build the SSH signature: {e}"))?;
    s.to_pem(LineEnding::LF).map_err(|e| format!("cannot armour the SSH signature: {e}"))
}

/// The bytes a key signs for `message` (the SSHSIG "signed data" blob).
pub fn signed_data(message: &[u8]) -> Result<Vec<u8>, String> {
    SshSig::signed_data(SIGNATURE_NAMESPACE, HashAlg::Sha512, message).map_err(|e| format!("SSHSIG: {e}"))
}

/// Verify an armored SSH signature over `message` in the journal's
/// namespace. Says which key signed; whether that key is allowed is the
/// caller's question.
pub fn verify_armored(armored: &str, message: &[u8]) -> Result<Verified, String> {
    let s = SshSig::from_pem(armored.as_bytes()).map_err(|e| format!("not an SSH signature: {e}"))?;
    if s.namespace() != SIGNATURE_NAMESPACE {
        return Err(format!("signature namespace is {:?}, not {SIGNATURE_NAMESPACE:?}", s.namespace()));
    }
    let data = SshSig::signed_data(SIGNATURE_NAMESPACE, s.hash_alg(), message).map_err(|e| format!("SSHSIG: {e}"))?;
    let key = s.public_key();
    let raw = s.signature_bytes();
    match (key, s.signature().algorithm()) {
        (KeyData::Ed25519(pk), Algorithm::Ed25519) => {
            UnparsedPublicKey::new(&sig::ED25519, pk.0).verify(&data, raw).map_err(|_| bad())?
        }
        (KeyData::Ecdsa(pk), Algorithm::Ecdsa { curve }) if pk.curve() == curve => {
            let (alg, size): (&'static sig::EcdsaVerificationAlgorithm, usize) = match curve {
                EcdsaCurve::NistP256 => (&sig::ECDSA_P256_SHA256_FIXED, 32),
                EcdsaCurve::NistP384 => (&sig::ECDSA_P384_SHA384_FIXED, 48),
                EcdsaCurve::NistP521 => (&sig::ECDSA_P521_SHA512_FIXED, 66),
            };
            let fixed = ecdsa_fixed(raw, size).ok_or_else(bad)?;
            UnparsedPublicKey::new(alg, pk.as_sec1_bytes()).verify(&data, &fixed).map_err(|_| bad())?
        }
        (KeyData::Rsa(pk), Algorithm::Rsa { hash: Some(h) }) => {
            let alg = match h {
                HashAlg::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                HashAlg::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                _ => return Err(format!("unsupported RSA signature hash {h}")),
            };
            let n = pk.n.as_positive_bytes().ok_or_else(bad)?;
            let e = pk.e.as_positive_bytes().ok_or_else(bad)?;
            sig::RsaPublicKeyComponents { n, e }.verify(alg, &data, raw).map_err(|_| bad())?
        }
        (k, a) => return Err(format!("unsupported signature: {} key, {} signature", k.algorithm(), a)),
    }
    Ok(Verified {
        key: key.clone(),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        key_type: key_type(key),
    })
}

fn bad() -> String {
    "the signature does not match the signed head".to_string()
}

/// An SSH ECDSA signature blob (`mpint r, mpint s`) as fixed-size `r ‖ s`.
fn ecdsa_fixed(blob: &[u8], size: usize) -> Option<Vec<u8>> {
    let mut rest = blob;
    let mut out = Vec::with_capacity(2 * size);
    for _ in 0..2 {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let int = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        let int = match int.iter().position(|&b| b != 0) {
            Some(i) => &int[i..],
            None => &[][..],
        };
        if int.len() > size {
            return None;
        }
        out.extend(std::iter::repeat_n(0, size - int.len()));
        out.extend_from_slice(int);
    }
    rest.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_blobs_become_fixed_size() {
        // r = 0x00 0x80 0x01 (mpint with its sign byte), s = 0x07.
        let blob = [0, 0, 0, 3, 0, 0x80, 1, 0, 0, 0, 1, 7];
        let mut fixed = vec![0u8; 64];
        fixed[30] = 0x80;
        fixed[31] = 1;
        fixed[63] = 7;
        assert_eq!(ecdsa_fixed(&blob, 32).unwrap(), fixed);
        assert!(ecdsa_fixed(&blob[..blob.len() - 1], 32).is_none(), "truncated");
        assert!(ecdsa_fixed(&[0xff, 0xff, 0xff, 0xff], 32).is_none(), "huge length");
    }

    #[test]
    fn garbage_is_not_a_signature() {
        assert!(verify_armored("hello", b"m").unwrap_err().contains("not an SSH signature"));
        let pem = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----\n";
        assert!(verify_armored(pem, b"m").is_err());
    }
}
