//! The bucket CA: RSA 2048, CN = bucket id, valid 10 years.

use crate::error::{Context, Error, Result};
use crate::event::Millis;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose};
use sha2::{Digest, Sha256};

/// A freshly generated CA, as PEM, with its public facts.
pub struct CaFiles {
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (PKCS#8). Written to `secrets/ca.key` only.
    pub key_pem: String,
    /// SHA-256 of the certificate DER, hex.
    pub fingerprint: String,
    /// Expiry.
    pub not_after: Millis,
}

const TEN_YEARS_DAYS: i64 = 3650;

/// Generate a CA for `bucket_id`, valid from `now` for ten years.
pub fn generate_ca(bucket_id: &str, now: Millis) -> Result<CaFiles> {
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).context("generating the CA key")?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, bucket_id);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let start = time::OffsetDateTime::from_unix_timestamp(now / 1000).context("clock")?;
    params.not_before = start - time::Duration::minutes(5);
    params.not_after = start + time::Duration::days(TEN_YEARS_DAYS);
    let cert = params.self_signed(&key).context("signing the CA certificate")?;
    Ok(CaFiles {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: hex::encode(Sha256::digest(cert.der())),
        not_after: params.not_after.unix_timestamp() * 1000,
    })
}

/// Common name and SHA-256 fingerprint of a CA certificate PEM.
pub fn inspect_ca(pem: &str) -> Result<(String, String)> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| Error::input(format!("secrets/ca.crt: not a PEM certificate: {e}")))?;
    let cert = p.parse_x509().map_err(|e| Error::input(format!("secrets/ca.crt: invalid certificate: {e}")))?;
    let cn = cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok()).unwrap_or_default().to_string();
    Ok((cn, hex::encode(Sha256::digest(&p.contents))))
}
