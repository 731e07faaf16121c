//! Leaf certificates signed by the bucket CA, generated in parallel (RSA
//! key generation costs ~0.5 s a key here).

use crate::error::{Context, Error, Result};
use crate::event::Millis;
use crate::plan::build::CertRequest;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SanType,
    SerialNumber,
};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A certificate issued for a request.
pub struct IssuedCert {
    /// What was asked for.
    pub request: CertRequest,
    /// Certificate PEM.
    pub cert_pem: String,
    /// Private key PEM (`PRIVATE KEY` or `RSA PRIVATE KEY`). Sealed before it
    /// is recorded.
    pub key_pem: String,
    /// Expiry.
    pub not_after: Millis,
    /// Serial number, hex.
    pub serial: String,
}

/// Issue every request, `threads` at a time. Fails if any fails.
pub fn issue_all(
    requests: &[CertRequest],
    ca_cert_pem: &str,
    ca_key_pem: &str,
    now: Millis,
    ttl_days: u32,
) -> Result<Vec<IssuedCert>> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(requests.len());
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<IssuedCert>>>> = Mutex::new((0..requests.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let key = match KeyPair::from_pem(ca_key_pem) {
                    Ok(k) => k,
                    Err(e) => {
                        let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                        r[0] = Some(Err(Error::input(format!("secrets/ca.key: not a usable private key: {e}"))));
                        return;
                    }
                };
                let issuer = match Issuer::from_ca_cert_pem(ca_cert_pem, key) {
                    Ok(i) => i,
                    Err(e) => {
                        let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                        r[0] = Some(Err(Error::input(format!("secrets/ca.crt: not a usable CA certificate: {e}"))));
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= requests.len() {
                        break;
                    }
                    let out = issue_one(&requests[i], &issuer, now, ttl_days);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(out);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| Err(Error::op(format!("certificate {} was not issued", requests[i].name)))))
        .collect()
}

fn issue_one(req: &CertRequest, issuer: &Issuer<'_, KeyPair>, now: Millis, ttl_days: u32) -> Result<IssuedCert> {
    let what = || format!("issuing certificate {} of job {}", req.name, req.job);
    let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).with_context(what)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, req.common_name.as_str());
    params.distinguished_name = dn;
    params.subject_alt_names = req
        .sans
        .iter()
        .map(|s| match s.parse() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => s.clone().try_into().map(SanType::DnsName).map_err(|e| Error::input(format!("SAN {s:?}: {e}"))),
        })
        .collect::<Result<_>>()?;
    let start = time::OffsetDateTime::from_unix_timestamp(now / 1000).context("clock")?;
    params.not_before = start - time::Duration::minutes(5);
    params.not_after = start + time::Duration::days(ttl_days as i64);
    let mut serial = [0u8; 16];
    getrandom::fill(&mut serial).map_err(|e| Error::op(format!("random serial: {e}")))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).with_context(what)?;
    let key_pem = if req.pkcs8 { key.serialize_pem() } else { pkcs1_pem(&key.serialize_der())? };
    Ok(IssuedCert {
        request: req.clone(),
        cert_pem: cert.pem(),
        key_pem,
        not_after: params.not_after.unix_timestamp() * 1000,
        serial: hex::encode(serial),
    })
}

/// PKCS#8 `PrivateKeyInfo` DER of an RSA key → PKCS#1 `RSA PRIVATE KEY` PEM
/// (the PKCS#1 structure is the PKCS#8 `privateKey` OCTET STRING).
fn pkcs1_pem(pkcs8_der: &[u8]) -> Result<String> {
    use x509_parser::der_parser::parse_der;
    let bad = || Error::op("unexpected PKCS#8 structure for an RSA key");
    let (_, obj) = parse_der(pkcs8_der).map_err(|_| bad())?;
    let seq = obj.as_sequence().map_err(|_| bad())?;
    let inner = seq.get(2).ok_or_else(bad)?.as_slice().map_err(|_| bad())?;
    Ok(pem::encode(&pem::Pem::new("RSA PRIVATE KEY", inner.to_vec())))
}
