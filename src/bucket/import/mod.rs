//! Importing a bucket of the original (Go) maand on `maand init`: its
//! `data/maand.db` (catalog, ports, `update_seq`, KV with history, deployed
//! hashes) becomes recorded events of one `import` session. The original
//! file is read, translated whole, then kept as `data/maand.db.original`
//! (before the journal is written), and never written to; hostile files
//! (links, non-databases, oversized ones) are refused first (`files`).

use crate::error::{Error, Result};
use crate::event::{Event, KvValue, SealAlg};
use crate::kv::seal::KvKey;
use crate::state::{Allocation, CertRecord, JobSpec, Worker};
use base64::Engine;
use std::collections::BTreeMap;

mod check;
mod files;
mod read;
pub(super) use files::{Found, check_kv_key, locate, refuse_hostile};
pub(super) use read::read;

/// The backup's name next to `maand.db`.
pub const BACKUP_NAME: &str = "maand.db.original";

/// The prefix of a value the original sealed (`kv/encrypt.go`).
const ORIGINAL_SEAL_PREFIX: &str = "enc:v1:";

/// A bucket of the original maand, read into memory.
pub(super) struct Legacy {
    /// Bucket-relative path of the file it was read from (the backup).
    backup: String,
    schema_version: u64,
    /// The original's bucket id.
    pub(super) bucket_id: Option<String>,
    update_seq: u64,
    workers: Vec<Worker>,
    jobs: Vec<JobSpec>,
    allocations: Vec<Allocation>,
    /// Every KV version, oldest first per key.
    kv: Vec<KvRow>,
    /// (job, alloc id, hash, version).
    hashes: Vec<(String, String, String, String)>,
}

/// One row of the original's `key_value`.
struct KvRow {
    namespace: String,
    key: String,
    /// The original's version number.
    version: u64,
    value: String,
    /// Seconds; 0 = none.
    ttl: u64,
    /// Unix seconds.
    created: i64,
    /// A tombstone.
    deleted: bool,
}

fn bad(backup: &str, what: impl std::fmt::Display) -> Error {
    Error::input(format!("{backup} (the original maand's database): {what}"))
}

/// Open a value the original sealed: `enc:v1:` + base64(nonce ‖ ciphertext),
/// AES-256-GCM under the raw `kv.key`, no associated data.
fn open_original(kv_key: &[u8], ns: &str, key: &str, stored: &str) -> Result<String> {
    use aes_gcm::aead::{Aead, KeyInit};
    let fail = |why: &str| {
        Error::input(format!(
            "{ns} {key}: the original maand's sealed value cannot be opened ({why}): is secrets/kv.key the one the original used?"
        ))
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored.trim_start_matches(ORIGINAL_SEAL_PREFIX))
        .map_err(|_| fail("not base64"))?;
    if raw.len() < 12 + 16 {
        return Err(fail("too short"));
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce: &[u8; 12] = nonce.try_into().map_err(|_| fail("nonce"))?;
    let aes = aes_gcm::Aes256Gcm::new_from_slice(kv_key).map_err(|_| fail("key"))?;
    let plain = aes.decrypt(nonce.into(), ct).map_err(|_| fail("authentication failed"))?;
    String::from_utf8(plain).map_err(|_| fail("not UTF-8"))
}

/// Whether `ns`/`key` holds a certificate's private key.
fn is_cert_key(ns: &str, key: &str) -> bool {
    ns.starts_with("maand/job/") && key.starts_with("certs/") && key.ends_with(".key")
}

/// Serial (hex) and IP SANs of a certificate PEM; `None` when it does not parse.
fn serial_and_sans(pem: &str) -> Option<(String, Vec<String>, crate::event::Millis)> {
    let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let c = p.parse_x509().ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = c.subject_alternative_name() {
        for name in &ext.value.general_names {
            if let x509_parser::extensions::GeneralName::IPAddress(b) = name {
                let ip = match b.len() {
                    4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*b).ok()?),
                    16 => std::net::IpAddr::from(<[u8; 16]>::try_from(*b).ok()?),
                    _ => continue,
                };
                sans.push(ip.to_string());
            }
        }
    }
    Some((hex::encode(c.raw_serial()), sans, c.validity().not_after.timestamp() * 1000))
}

impl Legacy {
    /// Whether any value was sealed by the original (opening it needs its kv.key).
    pub(super) fn has_sealed(&self) -> bool {
        self.kv.iter().any(|r| r.value.starts_with(ORIGINAL_SEAL_PREFIX))
    }

    /// A record for every certificate the original issued and its KV still
    /// holds (certificate and key), so build keeps it until it expires or
    /// its config changes, as the original would.
    fn cert_events(&self, ca_fingerprint: &str) -> Vec<Event> {
        // The latest version of each key (rows are oldest first).
        let latest: BTreeMap<(&str, &str), &KvRow> =
            self.kv.iter().map(|r| ((r.namespace.as_str(), r.key.as_str()), r)).collect();
        let live = |ns: &str, key: &str| latest.get(&(ns, key)).filter(|r| !r.deleted).map(|r| r.value.as_str());
        let mut ev = Vec::new();
        for spec in &self.jobs {
            for (name, c) in &spec.certs {
                for a in self.allocations.iter().filter(|a| a.job == spec.name && !a.removed) {
                    let ns = format!("maand/job/{}/worker/{}", a.job, a.worker_ip);
                    let crt = live(&ns, &format!("certs/{name}.crt"));
                    if crt.is_none() || live(&ns, &format!("certs/{name}.key")).is_none() {
                        continue;
                    }
                    let Some((serial, sans, not_after)) = crt.and_then(serial_and_sans) else { continue };
                    let record = CertRecord {
                        ca_fingerprint: ca_fingerprint.to_string(),
                        config_hash: crate::plan::build::config_hash(&c.common_name, c.pkcs8, c.one),
                        not_after,
                        serial,
                        sans,
                    };
                    ev.push(Event::CertIssued {
                        job: a.job.clone(),
                        name: name.clone(),
                        ip: a.worker_ip.clone(),
                        record,
                    });
                }
            }
        }
        ev
    }

    /// The import as events: the audit marker first, then catalog, KV,
    /// `update_seq`, the certificates as they are (signed by the CA whose
    /// fingerprint is `ca_fingerprint`) and the deployments the original
    /// recorded.
    pub(super) fn events(&self, kv_key_bytes: &[u8], ca_fingerprint: Option<&str>) -> Result<Vec<Event>> {
        let key = KvKey::from_bytes(kv_key_bytes)?;
        let mut ev = vec![Event::LegacyImported {
            backup: self.backup.clone(),
            schema_version: self.schema_version,
            workers: self.workers.len() as u64,
            jobs: self.jobs.len() as u64,
            allocations: self.allocations.len() as u64,
            kv_versions: self.kv.len() as u64,
        }];
        ev.extend(self.workers.iter().cloned().map(Event::WorkerUpserted));
        ev.extend(self.jobs.iter().cloned().map(|j| Event::JobUpserted(Box::new(j))));
        ev.extend(self.allocations.iter().cloned().map(Event::AllocationUpserted));
        for KvRow { namespace: ns, key: k, version, value, ttl, created, deleted } in &self.kv {
            let (namespace, key_name, version, ttl) = (ns.clone(), k.clone(), *version, *ttl);
            let at = created.saturating_mul(1000);
            if *deleted {
                ev.push(Event::KvImported { namespace, key: key_name, version, value: None, ttl, at });
                continue;
            }
            let plain = if value.starts_with(ORIGINAL_SEAL_PREFIX) {
                open_original(kv_key_bytes, ns, k, value)?
            } else {
                value.clone()
            };
            let value = if is_cert_key(ns, k) {
                // The original kept certificate keys in plaintext; ours are
                // sealed like the ones build issues.
                key.seal_with(SealAlg::XChaCha20Poly1305, ns, k, &plain)?
            } else if value.starts_with(ORIGINAL_SEAL_PREFIX) || ns.starts_with("secrets/") {
                key.seal(ns, k, &plain)?
            } else {
                KvValue::Plain(plain)
            };
            ev.push(Event::KvImported { namespace, key: key_name, version, value: Some(value), ttl, at });
        }
        // Without the CA that signed them, build issues new certificates.
        ev.extend(ca_fingerprint.map(|fp| self.cert_events(fp)).unwrap_or_default());
        if self.update_seq > 0 {
            ev.push(Event::UpdateSeqSet { update_seq: self.update_seq });
        }
        let by_id: BTreeMap<(&str, &str), &Allocation> =
            self.allocations.iter().map(|a| ((a.job.as_str(), a.alloc_id.as_str()), a)).collect();
        for (job, alloc_id, hash, version) in &self.hashes {
            let Some(a) = by_id.get(&(job.as_str(), alloc_id.as_str())) else { continue };
            if hash.is_empty() || a.removed {
                continue;
            }
            ev.push(Event::LegacyDeploymentImported {
                job: job.clone(),
                ip: a.worker_ip.clone(),
                alloc_id: alloc_id.clone(),
                hash: hash.clone(),
                version: version.clone(),
            });
        }
        Ok(ev)
    }
}
