//! `maand build`, the shell side: read the workspace, let the pure planner
//! decide, issue the certificates it asks for, record everything in one
//! session, checkpoint. Nothing is recorded when the input is bad.

use crate::bucket::{Bucket, session_info};
use crate::certs;
use crate::clock;
use crate::error::{Error, Result};
use crate::event::{BuildInputs, Event, KvValue, SealAlg};
use crate::hooks::{HookRequest, run_hooks_counted};
use crate::kv::seal::KvKey;
use crate::plan::build::{BuildContext, plan_build};
use crate::state::CertRecord;
use crate::workspace;
use crate::workspace::manifest::HookEvent;

/// Flags of a build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Clear `vars/job` and `secrets/job` of jobs without active allocations.
    pub purge_job_kv: bool,
    /// Stream `post_build` hook output.
    pub verbose: bool,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Journal session id.
    pub session: u64,
    /// State-changing events recorded (0 = nothing changed).
    pub changes: usize,
    /// Certificates issued (key pairs).
    pub certs_issued: usize,
    /// Workers in the catalog.
    pub workers: usize,
    /// Jobs in the catalog.
    pub jobs: usize,
    /// Allocations: total, disabled, removed.
    pub allocations: (usize, usize, usize),
}

/// Run a build on an open bucket.
pub fn run(bucket: &mut Bucket, opts: &BuildOptions) -> Result<BuildReport> {
    let t = std::time::Instant::now();
    let step = crate::progress::phase("loading the workspace".into());
    let raw = workspace::read(&bucket.paths, &bucket.conf)?;
    let (ws, warnings, deprecated) = workspace::assemble_noting(&raw)?;
    step.finish("loaded");
    // What the original maand accepted is noted, never ignored silently.
    for w in warnings {
        eprintln!("warning: {w}");
    }
    for d in deprecated {
        eprintln!("deprecated: {d}");
    }
    tracing::info!(ms = t.elapsed().as_millis() as u64, "workspace loaded");
    let bucket_id = bucket.require_id()?;
    let ca_pem = std::fs::read_to_string(bucket.paths.ca_crt())
        .map_err(|e| Error::usage(format!("secrets/ca.crt: cannot read ({e}): run `maand init`")))?;
    let (_, ca_fingerprint) = certs::inspect_ca(&ca_pem)?;
    let now = clock::now_ms();
    let mut ctx = BuildContext {
        bucket_id,
        now,
        ca_pem: ca_pem.clone(),
        ca_fingerprint: ca_fingerprint.clone(),
        certs_renewal_buffer_days: bucket.conf.certs_renewal_buffer,
        purge_job_kv: opts.purge_job_kv,
        scrape_rendered: Default::default(),
    };
    // `_prometheus/scrape.yaml.tpl` renders against the state this build leads to.
    let templates = crate::plan::prometheus::scrape_templates(&ws);
    if !templates.is_empty() {
        ctx.scrape_rendered = crate::prometheus::build::render_scrape_templates(
            &bucket.state,
            &ws,
            &ctx,
            &templates,
            &bucket.paths.kv_key(),
        )?;
    }
    let t = std::time::Instant::now();
    let step = crate::progress::phase("planning".into());
    let plan = plan_build(&bucket.state, &ws, &ctx)?;
    step.finish(&format!("{} event(s), {} certificate(s) to issue", plan.events.len(), plan.certs.len()));
    for note in &plan.notes {
        crate::output::say(&format!("note: {note}"));
    }
    tracing::info!(
        ms = t.elapsed().as_millis() as u64,
        events = plan.events.len(),
        certs = plan.certs.len(),
        "planned"
    );

    // Issue certificates before recording anything: a bad CA key fails the
    // build with nothing written.
    let (issued, kv_key) = if plan.certs.is_empty() {
        (Vec::new(), None)
    } else {
        let ca_key = std::fs::read_to_string(bucket.paths.ca_key())
            .map_err(|e| Error::usage(format!("secrets/ca.key: cannot read ({e})")))?;
        let step = crate::progress::phase(format!("issuing {} certificate(s)", plan.certs.len()));
        let issued = certs::issue_all(&plan.certs, &ca_pem, &ca_key, now, bucket.conf.certs_ttl)?;
        step.finish("issued");
        (issued, Some(KvKey::load(&bucket.paths.kv_key())?))
    };

    let t = std::time::Instant::now();
    let inputs = build_inputs(&raw, &ctx);
    let mut session = bucket.begin(session_info("build"))?;
    let mut changes = plan.events.len();
    let recorded: Result<()> = (|| {
        // First, so `replay --check` can plan this build again.
        session.record(Event::BuildPlanned(Box::new(inputs)))?;
        for e in plan.events {
            session.record(e)?;
        }
        for cert in &issued {
            let r = &cert.request;
            for ip in &r.targets {
                let ns = format!("maand/job/{}/worker/{ip}", r.job);
                let crt_key = format!("certs/{}.crt", r.name);
                let key_key = format!("certs/{}.key", r.name);
                // Certificate keys: XChaCha20-Poly1305 (random 192-bit nonces
                // stay safe across the many keys reissues seal over years).
                let sealed = kv_key.as_ref().ok_or_else(|| Error::op("kv key not loaded"))?.seal_with(
                    SealAlg::XChaCha20Poly1305,
                    &ns,
                    &key_key,
                    &cert.key_pem,
                )?;
                session.record(Event::KvPut {
                    namespace: ns.clone(),
                    key: crt_key,
                    value: KvValue::Plain(cert.cert_pem.clone()),
                    ttl: 0,
                    at: now,
                })?;
                session.record(Event::KvPut { namespace: ns, key: key_key, value: sealed, ttl: 0, at: now })?;
                let record = CertRecord {
                    ca_fingerprint: ca_fingerprint.clone(),
                    config_hash: r.config_hash.clone(),
                    not_after: cert.not_after,
                    serial: cert.serial.clone(),
                    sans: r.sans.clone(),
                };
                session.record(Event::CertIssued {
                    job: r.job.clone(),
                    name: r.name.clone(),
                    ip: ip.clone(),
                    record,
                })?;
                changes += 3;
            }
        }
        tracing::info!(ms = t.elapsed().as_millis() as u64, "recorded");
        let t = std::time::Instant::now();
        session.checkpoint("catalog")?;
        tracing::info!(ms = t.elapsed().as_millis() as u64, "checkpoint (journal + projection)");
        Ok(())
    })();
    if let Err(e) = recorded {
        return session.finish(Err(e));
    }

    // post_build hooks, in deployment_seq order. A failure fails the build;
    // the catalog checkpoint above stands, the hooks' KV writes do not.
    let mut jobs: Vec<(u64, String)> =
        session.state().catalog.jobs.values().map(|j| (j.spec.deployment_seq, j.spec.name.clone())).collect();
    jobs.sort();
    let req = HookRequest {
        event: HookEvent::PostBuild,
        hook: None,
        jobs: jobs.into_iter().map(|(_, j)| j).collect(),
        filter: None,
        phase: "post_build",
        verbose: opts.verbose,
        extra: Default::default(),
        lifecycle: None,
    };
    match run_hooks_counted(&mut session, &req) {
        // The hooks' KV writes are changes of this build too.
        Ok((_, kv)) => changes += kv,
        Err(e) => return session.finish(Err(e)),
    }
    let id = session.id();
    let cat = &session.state().catalog;
    let report = BuildReport {
        session: id,
        changes,
        certs_issued: issued.len(),
        workers: cat.workers.len(),
        jobs: cat.jobs.len(),
        allocations: (
            cat.allocations.len(),
            cat.allocations.values().filter(|a| a.disabled && !a.removed).count(),
            cat.allocations.values().filter(|a| a.removed).count(),
        ),
    };
    let t = std::time::Instant::now();
    session.commit()?;
    tracing::info!(ms = t.elapsed().as_millis() as u64, "committed");
    Ok(report)
}

/// What `replay --check` needs beside the state to plan this build again:
/// the workspace's own files, a digest of every job file (their contents
/// enter the journal through the build's file events), and the context.
fn build_inputs(raw: &workspace::RawWorkspace, ctx: &BuildContext) -> BuildInputs {
    BuildInputs {
        files: raw.files.clone(),
        job_overrides_file: raw.job_overrides_file.clone(),
        job_files: raw
            .jobs
            .iter()
            .map(|(job, files)| {
                (job.clone(), files.iter().map(|(p, f)| (p.clone(), file_digest(&f.content, f.mode))).collect())
            })
            .collect(),
        now: ctx.now,
        ca_pem: ctx.ca_pem.clone(),
        ca_fingerprint: ctx.ca_fingerprint.clone(),
        certs_renewal_buffer_days: ctx.certs_renewal_buffer_days,
        purge_job_kv: ctx.purge_job_kv,
        scrape_rendered: ctx.scrape_rendered.clone(),
    }
}

/// `sha256:mode` of a job file, as a build records it.
pub fn file_digest(content: &[u8], mode: u32) -> String {
    use sha2::Digest;
    format!("{}:{mode:o}", hex::encode(sha2::Sha256::digest(content)))
}
