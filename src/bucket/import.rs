//! Importing a bucket of the original (Go) maand on `maand init`: its
//! `data/maand.db` (catalog, ports, `update_seq`, KV with history, deployed
//! hashes) becomes recorded events of one `import` session. The original
//! file is kept as `data/maand.db.original`, read from there, and never
//! written.

use crate::error::{Context, Error, Result};
use crate::event::{Event, KvValue, SealAlg};
use crate::kv::seal::KvKey;
use crate::state::{Allocation, CertConfig, CertRecord, JobSpec, Port, Worker};
use base64::Engine;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

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
    value: String,
    /// Seconds; 0 = none.
    ttl: u64,
    /// Unix seconds.
    created: i64,
    /// A tombstone.
    deleted: bool,
}

fn is_original(conn: &Connection) -> bool {
    let has = |name: &str| conn.query_row("SELECT 1 FROM sqlite_master WHERE name = ?1", [name], |_| Ok(())).is_ok();
    has("bucket") && has("key_value") && !has("maand_projection")
}

/// Find the original maand's database: `data/maand.db` when it is one (it
/// is then copied to the backup first), else a backup left by an import
/// that did not commit. `None` when there is nothing to import.
pub(super) fn locate(db: &Path) -> Result<Option<PathBuf>> {
    let backup = db.with_file_name(BACKUP_NAME);
    let original_here =
        db.exists() && Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).is_ok_and(|c| is_original(&c));
    if original_here {
        if backup.exists() {
            if fs::read(&backup)? != fs::read(db)? {
                return Err(Error::input(format!(
                    "data/maand.db is a database of the original maand, and data/{BACKUP_NAME} exists with other content: move one of them aside, then run maand init again"
                )));
            }
        } else {
            copy_durably(db, &backup)?;
        }
        return Ok(Some(backup));
    }
    // Our own projection naming a bucket: imported (or ours) already.
    let ours_with_id = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .is_ok_and(|c| c.query_row("SELECT bucket_id FROM bucket", [], |r| r.get::<_, String>(0)).is_ok());
    Ok((backup.exists() && !ours_with_id).then_some(backup))
}

fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("original.tmp");
    fs::copy(from, &tmp).with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    fs::File::open(&tmp)?.sync_all()?;
    fs::rename(&tmp, to).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}

fn bad(backup: &str, what: impl std::fmt::Display) -> Error {
    Error::input(format!("{backup} (the original maand's database): {what}"))
}

/// Read everything the import needs; `rel` names the file in messages.
pub(super) fn read(path: &Path, rel: &str) -> Result<Legacy> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| bad(rel, format!("cannot open: {e}")))?;
    let q = |e: rusqlite::Error| {
        bad(
            rel,
            format!("{e}; if it was written by an older original maand, run that maand's `init` once to upgrade it"),
        )
    };
    let schema_version = conn
        .query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| r.get::<_, i64>(0))
        .map_or(0, |v| v.max(0) as u64);
    let bucket: Option<(String, Option<i64>)> =
        conn.query_row("SELECT bucket_id, update_seq FROM bucket LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).ok();
    Ok(Legacy {
        backup: rel.to_string(),
        schema_version,
        bucket_id: bucket.as_ref().map(|b| b.0.clone()),
        update_seq: bucket.and_then(|b| b.1).unwrap_or(0).max(0) as u64,
        workers: read_workers(&conn).map_err(q)?,
        jobs: read_jobs(&conn).map_err(q)?,
        allocations: read_allocations(&conn).map_err(q)?,
        kv: read_kv(&conn).map_err(q)?,
        hashes: read_hashes(&conn).map_err(q)?,
    })
}

fn read_allocations(conn: &Connection) -> rusqlite::Result<Vec<Allocation>> {
    let mut st = conn.prepare(
        "SELECT alloc_id, job, worker_ip, disabled, removed, new_version FROM allocations ORDER BY job, worker_ip",
    )?;
    st.query_map([], |r| {
        Ok(Allocation {
            alloc_id: r.get(0)?,
            job: r.get(1)?,
            worker_ip: r.get(2)?,
            disabled: r.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0,
            removed: r.get::<_, Option<i64>>(4)?.unwrap_or(0) != 0,
            new_version: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        })
    })?
    .collect()
}

/// An integer the original stored as INT or TEXT (`ttl`, `created_date`).
fn loose_int(v: rusqlite::types::Value) -> i64 {
    match v {
        rusqlite::types::Value::Integer(i) => i,
        rusqlite::types::Value::Text(t) => t.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn read_kv(conn: &Connection) -> rusqlite::Result<Vec<KvRow>> {
    let mut st = conn.prepare(
        "SELECT namespace, key, value, ttl, created_date, deleted FROM key_value ORDER BY namespace, key, version",
    )?;
    st.query_map([], |r| {
        Ok(KvRow {
            namespace: r.get(0)?,
            key: r.get(1)?,
            value: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            ttl: loose_int(r.get(3)?).max(0) as u64,
            created: loose_int(r.get(4)?),
            deleted: r.get::<_, Option<i64>>(5)?.unwrap_or(0) != 0,
        })
    })?
    .collect()
}

/// (job, alloc id, hash, version) of every `<job>_allocation` hash row.
fn read_hashes(conn: &Connection) -> rusqlite::Result<Vec<(String, String, String, String)>> {
    let mut st = conn.prepare(
        "SELECT namespace, key, ifnull(current_hash, ''), ifnull(current_version, '') FROM hash \
         WHERE namespace LIKE '%\\_allocation' ESCAPE '\\' ORDER BY namespace, key",
    )?;
    st.query_map([], |r| {
        let ns: String = r.get(0)?;
        let job = ns.strip_suffix("_allocation").unwrap_or(&ns).to_string();
        Ok((job, r.get(1)?, r.get(2)?, r.get(3)?))
    })?
    .collect()
}

/// A number the original stored as text ("2048", "2048.0", "" = none).
fn number(text: Option<String>) -> Option<u64> {
    text.and_then(|t| t.trim().parse::<f64>().ok()).filter(|n| *n > 0.0).map(|n| n.round() as u64)
}

fn read_workers(conn: &Connection) -> rusqlite::Result<Vec<Worker>> {
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT worker_id, label FROM worker_labels ORDER BY worker_id, label")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (id, label) = row?;
        labels.entry(id).or_default().push(label);
    }
    let mut tags: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT worker_id, key, value FROM worker_tags")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))? {
        let (id, k, v) = row?;
        tags.entry(id).or_default().insert(k, v);
    }
    let mut st = conn.prepare(
        "SELECT worker_id, worker_ip, available_memory_mb, available_cpu_mhz, position FROM worker ORDER BY position",
    )?;
    st.query_map([], |r| {
        let id: String = r.get(0)?;
        let mut l = labels.remove(&id).unwrap_or_default();
        if !l.iter().any(|x| x == "worker") {
            l.push("worker".into());
        }
        l.sort();
        l.dedup();
        Ok(Worker {
            tags: tags.remove(&id).unwrap_or_default(),
            worker_id: id,
            ip: r.get(1)?,
            position: r.get::<_, Option<i64>>(4)?.unwrap_or(0).max(0) as u64,
            labels: l,
            memory_mb: number(r.get(2)?),
            cpu_mhz: number(r.get(3)?),
            hostname: None,
        })
    })?
    .collect()
}

fn read_jobs(conn: &Connection) -> rusqlite::Result<Vec<JobSpec>> {
    let mut ports: BTreeMap<String, BTreeMap<String, Port>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, name, port FROM job_ports")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))? {
        let (id, name, port) = row?;
        if let Ok(port) = u16::try_from(port) {
            // Pool or fixed is the manifest's to say; the next build marks it.
            ports.entry(id).or_default().insert(name, Port { port, fixed: false });
        }
    }
    let mut certs: BTreeMap<String, BTreeMap<String, CertConfig>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, name, pkcs8, one, subject FROM job_certs")?;
    for row in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<i64>>(2)?.unwrap_or(0) != 0,
            r.get::<_, Option<i64>>(3)?.unwrap_or(0) != 0,
            r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        ))
    })? {
        let (id, name, pkcs8, one, subject) = row?;
        // The original stores the manifest's subject as JSON.
        let subject: serde_json::Value = serde_json::from_str(&subject).unwrap_or_default();
        let common_name = subject["common_name"].as_str().unwrap_or_default().to_string();
        certs.entry(id).or_default().insert(name, CertConfig { common_name, pkcs8, one });
    }
    let mut selectors: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut st = conn.prepare("SELECT job_id, selector FROM job_selectors ORDER BY job_id, selector")?;
    for row in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (id, s) = row?;
        selectors.entry(id).or_default().push(s);
    }
    let mut st = conn.prepare(
        "SELECT job_id, name, version, min_memory_mb, max_memory_mb, current_memory_mb, min_cpu_mhz, max_cpu_mhz, \
         current_cpu_mhz, max_concurrent_upgrades, max_concurrent_starts, restart_policy, restart_globs \
         FROM job ORDER BY name",
    )?;
    st.query_map([], |r| {
        let id: String = r.get(0)?;
        let version: Option<String> = r.get(2)?;
        Ok(JobSpec {
            certs: certs.remove(&id).unwrap_or_default(),
            ports: ports.remove(&id).unwrap_or_default(),
            selectors: selectors.remove(&id).unwrap_or_default(),
            job_id: id,
            name: r.get(1)?,
            version_declared: version.as_deref().is_some_and(|v| !v.is_empty()),
            version: version.filter(|v| !v.is_empty()).unwrap_or_else(|| "0.0.0".into()),
            min_memory_mb: number(r.get(3)?).unwrap_or(0),
            max_memory_mb: number(r.get(4)?).unwrap_or(0),
            current_memory_mb: number(r.get(5)?).unwrap_or(0),
            current_memory_source: "manifest".into(),
            min_cpu_mhz: number(r.get(6)?).unwrap_or(0),
            max_cpu_mhz: number(r.get(7)?).unwrap_or(0),
            current_cpu_mhz: number(r.get(8)?).unwrap_or(0),
            current_cpu_source: "manifest".into(),
            max_concurrent_upgrades: r.get::<_, i64>(9)?.max(0) as u64,
            max_concurrent_starts: r.get::<_, i64>(10)?.max(0) as u64,
            restart_policy: r.get(11)?,
            restart_globs: serde_json::from_str(&r.get::<_, String>(12)?).unwrap_or_default(),
            ..JobSpec::default()
        })
    })?
    .collect()
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
        for KvRow { namespace: ns, key: k, value, ttl, created, deleted } in &self.kv {
            let at = created.saturating_mul(1000);
            if *deleted {
                ev.push(Event::KvDeleted { namespace: ns.clone(), key: k.clone(), at });
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
            ev.push(Event::KvPut { namespace: ns.clone(), key: k.clone(), value, ttl: *ttl, at });
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
