//! `maand cat kv [filters]` and `maand cat kv get [--reveal] <namespace> <key>`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::clock;
use crate::error::{Error, Result};
use crate::event::KvValue;
use crate::kv::access::{self, HookScope, KvOp};
use crate::kv::seal::KvKey;
use crate::workspace::manifest::HookEvent;
use clap::{Args, Subcommand};
use serde_json::json;

/// `maand cat kv`.
#[derive(Args, Debug)]
pub struct KvArgs {
    #[command(subcommand)]
    get: Option<KvCommand>,
    #[command(flatten)]
    filters: Filters,
}

#[derive(Subcommand, Debug)]
enum KvCommand {
    /// List keys (the same as `maand cat kv`; the original's spelling).
    List(Filters),
    /// Print one value (secrets print `[encrypted]` unless --reveal).
    Get {
        /// Decrypt and print a secret value.
        #[arg(long)]
        reveal: bool,
        /// Namespace, e.g. `maand/job/api`.
        namespace: String,
        /// Key.
        key: String,
    },
}

/// Whether `job`'s hooks or templates can read `ns` from any of its
/// allocations (the hook read rules, with its demands' upstream jobs): the
/// original's `--jobs` lists every namespace the job can read.
fn readable_by_job(view: &BucketView, ns: &str, job: &str) -> bool {
    let cat = &view.state.catalog;
    let upstream: Vec<String> = cat
        .jobs
        .get(job)
        .map(|j| j.spec.hooks.values().filter_map(|h| h.demand.as_ref()).map(|d| d.job.clone()).collect())
        .unwrap_or_default();
    cat.allocations_of(job).iter().filter(|a| !a.removed).any(|a| {
        let scope = HookScope { job, ip: &a.worker_ip, event: HookEvent::Cli, upstream: &upstream };
        access::check(&scope, KvOp::Get, ns, "").is_ok()
    }) || ns == format!("maand/job/{job}")
        || ns.starts_with(&format!("maand/job/{job}/worker/"))
        || ns == format!("vars/job/{job}")
        || ns == format!("secrets/job/{job}")
        || ns == format!("vars/bucket/job/{job}")
}

fn matches_worker(ns: &str, ip: &str) -> bool {
    ns == format!("maand/worker/{ip}")
        || ns == format!("maand/worker/{ip}/tags")
        || (ns.starts_with("maand/job/") && ns.ends_with(&format!("/worker/{ip}")))
}

pub(super) fn run(view: &BucketView, args: &KvArgs) -> Result<()> {
    let f = match &args.get {
        Some(KvCommand::Get { reveal, namespace, key }) => return get(view, *reveal, namespace, key),
        Some(KvCommand::List(f)) => f,
        None => &args.filters,
    };
    f.check(view)?;
    let mut t = Table::new(&["namespace", "key", "value", "version", "ttl", "created_date", "deleted"]);
    for (ns, key, history) in view.state.kv.iter() {
        let Some(v) = history.last() else { continue };
        let deleted = v.value.is_none();
        if (f.active && deleted) || (f.deleted && !deleted) {
            continue;
        }
        if !f.jobs.is_empty() && !f.jobs.iter().any(|j| readable_by_job(view, &ns, j)) {
            continue;
        }
        if !f.workers.is_empty() && !f.workers.iter().any(|w| matches_worker(&ns, w)) {
            continue;
        }
        let value = match &v.value {
            None => String::new(),
            Some(KvValue::Sealed { .. }) => "[encrypted]".into(),
            Some(KvValue::Plain(s)) if !f.json && s.chars().count() > 50 => {
                format!("{}...", s.chars().take(50).collect::<String>())
            }
            Some(KvValue::Plain(s)) => s.clone(),
        };
        t.row(vec![
            json!(ns),
            json!(key),
            json!(value),
            json!(v.version),
            json!(v.ttl),
            json!(clock::format_ms(v.created_at)),
            json!(deleted),
        ]);
    }
    t.print(f.json);
    Ok(())
}

fn get(view: &BucketView, reveal: bool, ns: &str, key: &str) -> Result<()> {
    let Some(latest) = view.state.kv.latest(ns, key) else {
        return Err(Error::op(format!("no key {key:?} in namespace {ns:?} (see `maand cat kv`)")));
    };
    let Some(value) = &latest.value else {
        return Err(Error::op(format!("{ns} {key} was deleted at {}", clock::format_ms(latest.created_at))));
    };
    match value {
        KvValue::Plain(s) => println!("{s}"),
        // As the original: the placeholder, exit 0; the value needs --reveal.
        KvValue::Sealed { .. } if !reveal => {
            println!("[encrypted]");
            eprintln!("note: {ns} {key} is a secret: pass --reveal to print it");
        }
        KvValue::Sealed { .. } => {
            let k = KvKey::load(&view.paths.kv_key())?;
            println!("{}", k.open(ns, key, value)?);
        }
    }
    Ok(())
}
