//! HTTP and HTTPS health probes through a well-kept client (`ureq` on
//! `rustls` with the aws-lc-rs provider, the one crypto backend maand
//! builds), replacing a hand-written status-line read.
//!
//! HTTPS trusts the bucket CA by default (jobs' certificates are signed by
//! it, with the workers' addresses as IP SANs); a probe may opt out of
//! verification (`tls_skip_verify`), which is reported in its result.

use std::sync::Arc;
use std::time::Duration;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// One HTTP(S) probe.
#[derive(Debug, Clone)]
pub struct HttpProbe<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// Worker address.
    pub ip: &'a str,
    /// Port.
    pub port: u16,
    /// Path, starting with `/`.
    pub path: &'a str,
    /// Expected status code.
    pub expect_status: u16,
    /// Connect + response timeout.
    pub timeout: Duration,
    /// PEM of the CA trusted for `https` (the bucket CA).
    pub ca_pem: Option<&'a str>,
    /// Skip certificate verification (`https` only).
    pub skip_verify: bool,
}

impl HttpProbe<'_> {
    /// The probed URL.
    pub fn url(&self) -> String {
        let host = if self.ip.contains(':') { format!("[{}]", self.ip) } else { self.ip.to_string() };
        format!("{}://{host}:{}{}", self.scheme, self.port, self.path)
    }

    /// Run the probe: `Ok` when the status is the expected one, otherwise
    /// the reason, naming the URL.
    pub fn run(&self) -> Result<(), String> {
        let url = self.url();
        let status = self.status().map_err(|e| format!("{url}: {e}"))?;
        if status == self.expect_status {
            Ok(())
        } else {
            Err(format!("{url}: status {status}, expected {}", self.expect_status))
        }
    }

    fn status(&self) -> Result<u16, String> {
        let tls = match self.scheme {
            "http" => TlsConfig::default(),
            "https" => self.tls()?,
            other => return Err(format!("unsupported scheme {other:?} (http or https)")),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .max_redirects(0)
            .user_agent("maand")
            .tls_config(tls)
            .build()
            .into();
        let response = agent.get(&self.url()).call().map_err(describe)?;
        Ok(response.status().as_u16())
    }

    fn tls(&self) -> Result<TlsConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut b = TlsConfig::builder().provider(TlsProvider::Rustls).unversioned_rustls_crypto_provider(provider);
        if self.skip_verify {
            b = b.disable_verification(true);
        } else {
            let pem = self.ca_pem.ok_or("no CA to verify against (secrets/ca.crt missing)")?;
            let ca = Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("bucket CA: {e}"))?;
            b = b.root_certs(RootCerts::new_with_certs(&[ca]));
        }
        Ok(b.build())
    }
}

/// A short reason for a failed request; certificate problems say so.
fn describe(e: ureq::Error) -> String {
    let text = e.to_string();
    if text.contains("certificate") || text.contains("UnknownIssuer") || text.contains("Certificate") {
        format!("TLS certificate not trusted (not signed by the bucket CA?): {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A CA and a leaf for 127.0.0.1 signed by it (PEMs: ca, leaf cert, leaf key).
    fn pki() -> (String, String, String) {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
    }

    /// Serve `n` HTTPS requests on 127.0.0.1 (any free port) answering `status`.
    fn tls_server(cert: &str, key: &str, status: u16, n: usize) -> u16 {
        use rustls_pki_types::pem::PemObject;
        let certs: Vec<_> =
            rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes()).map(|c| c.unwrap()).collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let Ok(tcp) = stream else { continue };
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut buf = [0u8; 1024];
                if tls.read(&mut buf).is_ok() {
                    let _ = write!(tls, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = tls.flush();
                }
            }
        });
        port
    }

    fn probe<'a>(port: u16, ca: Option<&'a str>, skip: bool, expect: u16) -> HttpProbe<'a> {
        HttpProbe {
            scheme: "https",
            ip: "127.0.0.1",
            port,
            path: "/health",
            expect_status: expect,
            timeout: Duration::from_secs(5),
            ca_pem: ca,
            skip_verify: skip,
        }
    }

    #[test]
    fn https_passes_with_the_bucket_ca_and_fails_with_another() {
        let (ca, cert, key) = pki();
        let port = tls_server(&cert, &key, 200, 4);
        probe(port, Some(&ca), false, 200).run().unwrap();
        let e = probe(port, Some(&ca), false, 204).run().unwrap_err();
        assert!(e.contains("status 200, expected 204"), "{e}");
        let (other_ca, _, _) = pki();
        let e = probe(port, Some(&other_ca), false, 200).run().unwrap_err();
        assert!(e.contains("https://127.0.0.1:") && e.contains("TLS certificate not trusted"), "{e}");
        probe(port, Some(&other_ca), true, 200).run().expect("verification skipped on request");
    }

    #[test]
    fn plain_http_reads_the_status_and_a_closed_port_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Some(Ok(mut s)) = listener.incoming().next() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        let p = HttpProbe { scheme: "http", ..probe(port, None, false, 200) };
        assert!(p.run().unwrap_err().contains("status 503, expected 200"));
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = HttpProbe { scheme: "http", ..probe(closed, None, false, 200) }.run().unwrap_err();
        assert!(e.starts_with(&format!("http://127.0.0.1:{closed}/health: ")), "{e}");
    }
}
