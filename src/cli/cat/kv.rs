//! `maand cat kv [filters]` and `maand cat kv get [--reveal] <namespace> <key>`.

use super::Filters;
use crate::bucket::BucketView;
use crate::cli::table::Table;
use crate::clock;
use crate::error::{Error, Result};
use crate::event::KvValue;
use crate::kv::seal::KvKey;
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
    /// Print one value (secrets only with --reveal).
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

fn matches_job(ns: &str, job: &str) -> bool {
    ns == format!("maand/job/{job}")
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
    if let Some(KvCommand::Get { reveal, namespace, key }) = &args.get {
        return get(view, *reveal, namespace, key);
    }
    let f = &args.filters;
    f.check(view)?;
    let mut t = Table::new(&["namespace", "key", "value", "version", "ttl", "created_date", "deleted"]);
    for (ns, key, history) in view.state.kv.iter() {
        let Some(v) = history.last() else { continue };
        let deleted = v.value.is_none();
        if (f.active && deleted) || (f.deleted && !deleted) {
            continue;
        }
        if !f.jobs.is_empty() && !f.jobs.iter().any(|j| matches_job(&ns, j)) {
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
        KvValue::Sealed { .. } if !reveal => {
            return Err(Error::usage(format!("{ns} {key} is a secret: pass --reveal to print it")));
        }
        KvValue::Sealed { .. } => {
            let k = KvKey::load(&view.paths.kv_key())?;
            println!("{}", k.open(ns, key, value)?);
        }
    }
    Ok(())
}
