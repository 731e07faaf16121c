//! The build planner: (state, workspace) → catalog, KV and certificate
//! events (SPEC §3). Key generation is not done here: certificates that
//! need issuing come back as [`CertRequest`]s for the shell to fulfil.

mod certs;
mod desired;
mod diff;
mod jobs;
mod kv;
pub mod pins;
mod placement;

pub use certs::{CertRequest, config_hash};

use crate::error::Result;
use crate::event::{Event, Millis};
use crate::state::State;
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// Recorded, non-workspace inputs of a build.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The bucket id.
    pub bucket_id: String,
    /// The session's time (for TTL expiry, cert renewal, KV timestamps).
    pub now: Millis,
    /// The CA certificate PEM (`maand/worker` `certs/ca.crt`).
    pub ca_pem: String,
    /// SHA-256 fingerprint of the CA certificate.
    pub ca_fingerprint: String,
    /// Renew leaf certificates this many days before expiry.
    pub certs_renewal_buffer_days: u32,
    /// `--purge-job-kv`.
    pub purge_job_kv: bool,
    /// Each job's `_prometheus/scrape.yaml.tpl` as the shell rendered it
    /// (against the state this build leads to; see
    /// [`crate::plan::prometheus::scrape_templates`]).
    pub scrape_rendered: BTreeMap<String, String>,
}

/// What a build should record.
#[derive(Debug, Clone, Default)]
pub struct BuildPlan {
    /// Catalog and KV events, in order.
    pub events: Vec<Event>,
    /// Certificates to issue (by the shell) after recording `events`.
    pub certs: Vec<CertRequest>,
    /// Lines for the operator (pinned jobs held back or released).
    pub notes: Vec<String>,
}

/// Plan a build of `ws` on top of `state`. Any input error is returned
/// before anything is planned, so a failed build records nothing.
pub fn plan_build(state: &State, ws: &Workspace, ctx: &BuildContext) -> Result<BuildPlan> {
    let specs = jobs::desired_jobs(state, ws)?;
    let workers = diff::desired_workers(state, ws);
    let allocations = placement::desired_allocations(state, ws, &specs)?;
    placement::check_capacity(ws, &specs, &allocations)?;

    // The catalog events first, so the desired catalog can then move into
    // `next` instead of being copied (100,000 allocations at scale).
    let mut events = diff::catalog_events(state, ws, &workers, &specs, &allocations);
    let next = diff::catalog_after(state, workers, &specs, allocations);
    let prometheus = super::prometheus::check_workspace(ws, &next, &ctx.scrape_rendered)?;
    let prometheus_kv = super::prometheus::desired_kv(prometheus.as_ref(), &next);

    let (cert_events, certs) = certs::plan_certs(state, &next, ctx);
    events.extend(kv::kv_events(state, ws, &next, ctx, prometheus_kv));
    events.extend(cert_events);
    let (events, notes) = pins::apply(state, ws, events);
    Ok(BuildPlan { events, certs, notes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::CertRecord;
    use crate::workspace::JobFileSpec;
    use crate::workspace::bucket_files::Disabled;
    use crate::workspace::manifest::parse_manifest;
    use crate::workspace::workers::parse_workers;
    use crate::workspace::{JobInput, Workspace};
    use std::collections::BTreeMap;

    fn workspace(manifest: &str) -> Workspace {
        let mut files = BTreeMap::new();
        files.insert("Makefile".to_string(), JobFileSpec { mode: 0o644, content: b"start:\n".to_vec() });
        let mut jobs = BTreeMap::new();
        jobs.insert(
            "api".to_string(),
            JobInput {
                name: "api".into(),
                manifest: parse_manifest("api", manifest).unwrap(),
                files,
                hook_scripts: BTreeMap::new(),
                vars: BTreeMap::new(),
            },
        );
        Workspace {
            workers: parse_workers(r#"[{"host":"10.0.0.1"},{"host":"10.0.0.2"}]"#).unwrap(),
            jobs,
            bucket_vars: BTreeMap::new(),
            port_pool: Some((30000, 30009)),
            job_overrides: BTreeMap::new(),
            job_overrides_file: "bucket.jobs.conf".into(),
            disabled: Disabled::default(),
        }
    }

    fn ctx(now: Millis, buffer_days: u32) -> BuildContext {
        BuildContext {
            bucket_id: "b".into(),
            now,
            ca_pem: "CA".into(),
            ca_fingerprint: "fp".into(),
            certs_renewal_buffer_days: buffer_days,
            purge_job_kv: false,
            scrape_rendered: BTreeMap::new(),
        }
    }

    /// Apply a plan as the shell would, pretending each cert request was
    /// issued with the given expiry.
    fn apply(state: &mut State, plan: &BuildPlan, c: &BuildContext, not_after: Millis) {
        for e in &plan.events {
            state.apply(e);
        }
        for r in &plan.certs {
            for ip in &r.targets {
                let ns = format!("maand/job/{}/worker/{ip}", r.job);
                for k in ["crt", "key"] {
                    state.apply(&Event::KvPut {
                        namespace: ns.clone(),
                        key: format!("certs/{}.{k}", r.name),
                        value: crate::event::KvValue::Plain("pem".into()),
                        ttl: 0,
                        at: c.now,
                    });
                }
                let record = CertRecord {
                    ca_fingerprint: c.ca_fingerprint.clone(),
                    config_hash: r.config_hash.clone(),
                    not_after,
                    serial: "01".into(),
                    sans: r.sans.clone(),
                };
                state.apply(&Event::CertIssued { job: r.job.clone(), name: r.name.clone(), ip: ip.clone(), record });
            }
        }
    }

    const DAY: Millis = 86_400_000;
    const CERTS: &str =
        r#"{"selectors":["worker"],"resources":{"ports":{"p":{}}},"certs":{"tls":{"subject":{"common_name":"x"}}}}"#;

    #[test]
    fn planning_is_deterministic_and_idempotent() {
        let ws = workspace(CERTS);
        let c = ctx(1000 * DAY, 0);
        let a = plan_build(&State::default(), &ws, &c).unwrap();
        let b = plan_build(&State::default(), &ws, &c).unwrap();
        assert_eq!(a.events, b.events);
        assert_eq!(a.certs, b.certs);
        assert_eq!(a.certs.len(), 2);
        let mut state = State::default();
        apply(&mut state, &a, &c, c.now + 60 * DAY);
        let again = plan_build(&state, &ws, &c).unwrap();
        assert!(again.events.is_empty(), "{:?}", again.events);
        assert!(again.certs.is_empty());
    }

    #[test]
    fn certificates_renew_inside_the_buffer_window_only() {
        let ws = workspace(CERTS);
        let c = ctx(1000 * DAY, 10);
        let mut state = State::default();
        let plan = plan_build(&state, &ws, &c).unwrap();
        apply(&mut state, &plan, &c, c.now + 60 * DAY);
        // 49 days later: 11 days left, outside the 10-day buffer.
        assert!(plan_build(&state, &ws, &ctx(c.now + 49 * DAY, 10)).unwrap().certs.is_empty());
        // 51 days later: 9 days left, inside it.
        assert_eq!(plan_build(&state, &ws, &ctx(c.now + 51 * DAY, 10)).unwrap().certs.len(), 2);
        // Buffer 0: only once expired.
        assert!(plan_build(&state, &ws, &ctx(c.now + 59 * DAY, 0)).unwrap().certs.is_empty());
        assert_eq!(plan_build(&state, &ws, &ctx(c.now + 60 * DAY, 0)).unwrap().certs.len(), 2);
        // Another CA: everything re-issued.
        let other = BuildContext { ca_fingerprint: "other".into(), ..c.clone() };
        assert_eq!(plan_build(&state, &ws, &other).unwrap().certs.len(), 2);
    }

    #[test]
    fn expired_ttl_keys_are_tombstoned_at_the_session_time() {
        let ws = workspace(r#"{"selectors":["worker"]}"#);
        let c = ctx(1000 * DAY, 0);
        let mut state = State::default();
        let first = plan_build(&state, &ws, &c).unwrap();
        apply(&mut state, &first, &c, 0);
        state.apply(&Event::KvPut {
            namespace: "vars/job/api".into(),
            key: "t".into(),
            value: crate::event::KvValue::Plain("v".into()),
            ttl: 60,
            at: c.now,
        });
        assert!(plan_build(&state, &ws, &ctx(c.now + 59_000, 0)).unwrap().events.is_empty());
        let later = plan_build(&state, &ws, &ctx(c.now + 60_000, 0)).unwrap();
        assert!(matches!(&later.events[..], [Event::KvDeleted { key, .. }] if key == "t"), "{:?}", later.events);
    }
}
