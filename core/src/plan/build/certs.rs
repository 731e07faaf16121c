//! Which leaf certificates to issue or retire (SPEC §3 step 9). Issuing
//! (key generation, signing, sealing) is the shell's job.

use super::BuildContext;
use crate::event::{Event, Millis};
use crate::state::{Catalog, State};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// A certificate the shell must issue: one key pair, written into the KV of
/// every `targets` worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertRequest {
    /// Job.
    pub job: String,
    /// Cert name.
    pub name: String,
    /// Subject CN.
    pub common_name: String,
    /// PKCS#8 key PEM (else PKCS#1).
    pub pkcs8: bool,
    /// IP SANs (always starting with 127.0.0.1).
    pub sans: Vec<String>,
    /// Workers whose allocation KV receives the pair.
    pub targets: Vec<String>,
    /// Hash of the manifest config it was made for.
    pub config_hash: String,
}

const DAY_MS: Millis = 86_400_000;

/// Hash of a certificate's manifest config: a certificate issued for
/// another config is reissued.
pub fn config_hash(cn: &str, pkcs8: bool, one: bool) -> String {
    hex::encode(Sha256::digest(format!("cn={cn}\npkcs8={pkcs8}\none={one}\n")))
}

/// Certificate requests, and retirement events (record + PEM tombstones)
/// for certificates no longer wanted.
pub(super) fn plan_certs(state: &State, next: &Catalog, ctx: &BuildContext) -> (Vec<Event>, Vec<CertRequest>) {
    let renew_at = |not_after: Millis| ctx.now >= not_after - ctx.certs_renewal_buffer_days as Millis * DAY_MS;
    let mut requests = Vec::new();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (job, j) in &next.jobs {
        let ips: Vec<String> =
            next.allocations_of(job).iter().filter(|a| !a.removed).map(|a| a.worker_ip.clone()).collect();
        for (name, c) in &j.spec.certs {
            let hash = config_hash(&c.common_name, c.pkcs8, c.one);
            for ip in &ips {
                wanted.insert((job.clone(), name.clone(), ip.clone()));
            }
            let current = |ip: &String, sans: &[String]| {
                let ns = format!("maand/job/{job}/worker/{ip}");
                state.catalog.certs.get(&(job.clone(), name.clone(), ip.clone())).is_some_and(|r| {
                    r.ca_fingerprint == ctx.ca_fingerprint
                        && r.config_hash == hash
                        && r.sans == sans
                        && !renew_at(r.not_after)
                }) && state.kv.get(&ns, &format!("certs/{name}.crt")).is_some()
                    && state.kv.get(&ns, &format!("certs/{name}.key")).is_some()
            };
            let req = |sans: Vec<String>, targets: Vec<String>| CertRequest {
                job: job.clone(),
                name: name.clone(),
                common_name: c.common_name.clone(),
                pkcs8: c.pkcs8,
                sans,
                targets,
                config_hash: hash.clone(),
            };
            if c.one {
                if ips.is_empty() {
                    continue;
                }
                let sans: Vec<String> = std::iter::once("127.0.0.1".to_string()).chain(ips.iter().cloned()).collect();
                if !ips.iter().all(|ip| current(ip, &sans)) {
                    requests.push(req(sans, ips.clone()));
                }
            } else {
                for ip in &ips {
                    let sans = vec!["127.0.0.1".to_string(), ip.clone()];
                    if !current(ip, &sans) {
                        requests.push(req(sans, vec![ip.clone()]));
                    }
                }
            }
        }
    }
    let mut events = Vec::new();
    for (job, name, ip) in state.catalog.certs.keys() {
        if wanted.contains(&(job.clone(), name.clone(), ip.clone())) {
            continue;
        }
        let ns = format!("maand/job/{job}/worker/{ip}");
        for key in [format!("certs/{name}.crt"), format!("certs/{name}.key")] {
            // Removed allocations have their whole namespace cleared by KV sync.
            let alloc_live = next.allocations.get(&(job.clone(), ip.clone())).is_some_and(|a| !a.removed);
            if alloc_live && state.kv.get(&ns, &key).is_some() {
                events.push(Event::KvDeleted { namespace: ns.clone(), key, at: ctx.now });
            }
        }
        events.push(Event::CertRetired { job: job.clone(), name: name.clone(), ip: ip.clone() });
    }
    (events, requests)
}
