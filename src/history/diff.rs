//! What changed between two folded states: the catalog (workers, jobs,
//! allocations, ports, certificates by fingerprint), KV (secrets only as
//! "changed" unless revealed with the bucket key), job files (unified text
//! diffs; binary files by hash) and deployed state.
//!
//! [`diff_states`] compares any two [`State`]s, so rollback's dry run can
//! show what restoring an old release would change with the same code.

use crate::error::Result;
use crate::event::KvValue;
use crate::kv::seal::KvKey;
use crate::state::{JobFile, State};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// How an item changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Present only in the later state.
    Added,
    /// Present only in the earlier state.
    Removed,
    /// Present in both, different.
    Changed,
}

impl Kind {
    fn mark(self) -> char {
        match self {
            Kind::Added => '+',
            Kind::Removed => '-',
            Kind::Changed => '~',
        }
    }
}

/// One field's old and new value (compact JSON text; absent = `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Field name.
    pub field: String,
    /// Before.
    pub old: Option<String>,
    /// After.
    pub new: Option<String>,
}

/// A changed catalog item or deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What it is: `10.0.0.1`, `web`, `web on 10.0.0.1`, `web/tls on 10.0.0.1`.
    pub name: String,
    /// How it changed.
    pub change: Kind,
    /// The fields that differ (for added/removed: the item's main fields).
    pub fields: Vec<Field>,
}

/// A changed KV key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvChange {
    /// Namespace.
    pub namespace: String,
    /// Key.
    pub key: String,
    /// How it changed.
    pub change: Kind,
    /// Whether the value is a sealed secret (in either state).
    pub secret: bool,
    /// Old value (plaintext; for secrets only when revealed).
    pub old: Option<String>,
    /// New value (plaintext; for secrets only when revealed).
    pub new: Option<String>,
}

/// A changed job file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// Job.
    pub job: String,
    /// Path in the job directory.
    pub path: String,
    /// How it changed.
    pub change: Kind,
    /// SHA-256 of the old content.
    pub old_sha256: Option<String>,
    /// SHA-256 of the new content.
    pub new_sha256: Option<String>,
    /// Old mode (octal text), when it changed or the file was removed.
    pub old_mode: Option<String>,
    /// New mode (octal text), when it changed or the file was added.
    pub new_mode: Option<String>,
    /// Binary content (compared by hash only).
    pub binary: bool,
    /// Unified diff of text content (empty when only the mode changed).
    pub diff: String,
}

/// Everything that differs between two states.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StateDiff {
    /// Catalog workers.
    pub workers: Vec<Item>,
    /// Catalog jobs (their manifest-derived spec, ports aside).
    pub jobs: Vec<Item>,
    /// Allocations (placement, disabled/removed, target version).
    pub allocations: Vec<Item>,
    /// Job ports.
    pub ports: Vec<Item>,
    /// Issued certificates, by fingerprint.
    pub certs: Vec<Item>,
    /// KV keys.
    pub kv: Vec<KvChange>,
    /// Job files.
    pub files: Vec<FileChange>,
    /// Deployed (promoted) state per allocation.
    pub deployed: Vec<Item>,
}

impl StateDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
            && self.jobs.is_empty()
            && self.allocations.is_empty()
            && self.ports.is_empty()
            && self.certs.is_empty()
            && self.kv.is_empty()
            && self.files.is_empty()
            && self.deployed.is_empty()
    }
}

/// Options of a diff.
#[derive(Default)]
pub struct DiffOptions<'a> {
    /// The bucket key: when given, secrets are compared and shown as
    /// plaintext (`--reveal`).
    pub reveal: Option<&'a KvKey>,
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// Field-by-field differences of two JSON objects (`skip` left out).
fn fields(a: Option<&Value>, b: Option<&Value>, skip: &[&str]) -> Vec<Field> {
    let empty = serde_json::Map::new();
    let oa = a.and_then(Value::as_object).unwrap_or(&empty);
    let ob = b.and_then(Value::as_object).unwrap_or(&empty);
    let keys: BTreeSet<&String> = oa.keys().chain(ob.keys()).collect();
    keys.into_iter()
        .filter(|k| !skip.contains(&k.as_str()))
        .filter(|k| oa.get(*k) != ob.get(*k))
        .map(|k| Field { field: k.clone(), old: oa.get(k).map(compact), new: ob.get(k).map(compact) })
        .collect()
}

/// Compare two keyed maps of JSON objects.
fn items<K: Ord + Clone>(
    a: &BTreeMap<K, Value>,
    b: &BTreeMap<K, Value>,
    name: impl Fn(&K) -> String,
    skip: &[&str],
    brief: &[&str],
) -> Vec<Item> {
    let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (va, vb) = (a.get(k), b.get(k));
        let (change, fs) = match (va, vb) {
            (Some(_), Some(_)) => (Kind::Changed, fields(va, vb, skip)),
            (None, Some(_)) => (Kind::Added, fields(None, vb, skip)),
            (Some(_), None) => (Kind::Removed, fields(va, None, skip)),
            (None, None) => continue,
        };
        if fs.is_empty() {
            continue;
        }
        // Added/removed items show only their main fields.
        let fs = if change == Kind::Changed || brief.is_empty() {
            fs
        } else {
            fs.into_iter().filter(|f| brief.contains(&f.field.as_str())).collect()
        };
        out.push(Item { name: name(k), change, fields: fs });
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 fingerprint of a PEM certificate's DER (or of the text when it
/// is not PEM).
fn cert_fingerprint(pem_text: &str) -> String {
    match pem::parse(pem_text) {
        Ok(p) => sha256_hex(p.contents()),
        Err(_) => sha256_hex(pem_text.as_bytes()),
    }
}

fn is_binary(content: &[u8]) -> bool {
    content.contains(&0) || std::str::from_utf8(content).is_err()
}

/// Unified diff of two texts with `a/…` and `b/…` headers.
pub fn unified(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// What differs between `a` (earlier) and `b` (later).
pub fn diff_states(a: &State, b: &State, opts: &DiffOptions<'_>) -> Result<StateDiff> {
    let mut d = StateDiff::default();
    let workers = |s: &State| -> BTreeMap<String, Value> {
        s.catalog.workers.iter().map(|(ip, w)| (ip.clone(), crate::journal::worker_json(w))).collect()
    };
    d.workers = items(&workers(a), &workers(b), |ip| ip.clone(), &["worker_id"], &["labels", "position"]);
    let jobs = |s: &State| -> BTreeMap<String, Value> {
        s.catalog.jobs.iter().map(|(n, j)| (n.clone(), crate::journal::job_spec_json(&j.spec))).collect()
    };
    d.jobs = items(&jobs(a), &jobs(b), |n| n.clone(), &["job_id", "ports"], &["version", "selectors"]);
    let allocs = |s: &State| -> BTreeMap<(String, String), Value> {
        s.catalog
            .allocations
            .iter()
            .map(|(k, al)| {
                let v = serde_json::json!({
                    "disabled": al.disabled, "removed": al.removed, "new_version": al.new_version,
                });
                (k.clone(), v)
            })
            .collect()
    };
    d.allocations =
        items(&allocs(a), &allocs(b), |(j, ip)| format!("{j} on {ip}"), &[], &["disabled", "removed", "new_version"]);
    let ports = |s: &State| -> BTreeMap<(String, String), Value> {
        let mut m = BTreeMap::new();
        for (job, j) in &s.catalog.jobs {
            for (name, p) in &j.spec.ports {
                m.insert((job.clone(), name.clone()), serde_json::json!({"port": p.port, "fixed": p.fixed}));
            }
        }
        m
    };
    d.ports = items(&ports(a), &ports(b), |(j, n)| format!("{j} {n}"), &[], &[]);
    let certs = |s: &State| -> BTreeMap<(String, String, String), Value> {
        s.catalog
            .certs
            .iter()
            .map(|((job, name, ip), r)| {
                let ns = format!("maand/job/{job}/worker/{ip}");
                let fp = match s.kv.stored_get(&ns, &format!("certs/{name}.crt")) {
                    Some(KvValue::Plain(pem)) => cert_fingerprint(pem),
                    _ => String::new(),
                };
                let v = serde_json::json!({
                    "fingerprint": fp, "serial": r.serial, "not_after": crate::clock::format_ms(r.not_after),
                    "sans": r.sans.join(","), "ca_fingerprint": r.ca_fingerprint,
                });
                ((job.clone(), name.clone(), ip.clone()), v)
            })
            .collect()
    };
    d.certs = items(&certs(a), &certs(b), |(j, n, ip)| format!("{j}/{n} on {ip}"), &[], &["fingerprint", "not_after"]);
    d.kv = kv_changes(a, b, opts)?;
    d.files = file_changes(a, b);
    let deployed = |s: &State| -> BTreeMap<(String, String), Value> {
        s.deployed
            .iter()
            .map(|(k, dep)| {
                let v = serde_json::json!({
                    "hash": dep.hash, "version": dep.version, "running": dep.running,
                    "files": dep.files.iter().map(|(p, h)| format!("{p}={h}")).collect::<Vec<_>>(),
                });
                (k.clone(), v)
            })
            .collect()
    };
    d.deployed = items(&deployed(a), &deployed(b), |(j, ip)| format!("{j} on {ip}"), &[], &["hash", "version"]);
    for item in &mut d.deployed {
        // The per-file hash lists are long: name the files that changed instead.
        if let Some(f) = item.fields.iter_mut().find(|f| f.field == "files") {
            let parse = |s: &Option<String>| -> BTreeMap<String, String> {
                s.as_deref()
                    .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|e| e.split_once('=').map(|(p, h)| (p.to_string(), h.to_string())))
                    .collect()
            };
            let (old, new) = (parse(&f.old), parse(&f.new));
            let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            let changed: Vec<String> = paths
                .into_iter()
                .filter_map(|p| match (old.get(p), new.get(p)) {
                    (Some(x), Some(y)) if x != y => Some(format!("~{p}")),
                    (None, Some(_)) => Some(format!("+{p}")),
                    (Some(_), None) => Some(format!("-{p}")),
                    _ => None,
                })
                .collect();
            *f = Field { field: "files changed".into(), old: None, new: Some(changed.join(" ")) };
        }
    }
    Ok(d)
}

fn kv_changes(a: &State, b: &State, opts: &DiffOptions<'_>) -> Result<Vec<KvChange>> {
    let live = |s: &State| -> BTreeMap<(String, String), (u64, KvValue)> {
        s.kv.iter()
            .filter_map(|(ns, key, versions)| {
                let last = versions.last()?;
                let v = last.value.clone()?;
                Some(((ns.to_string(), key.to_string()), (last.version, v)))
            })
            .collect()
    };
    let (la, lb) = (live(a), live(b));
    let keys: BTreeSet<&(String, String)> = la.keys().chain(lb.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (ns, key) = k;
        let (va, vb) = (la.get(k), lb.get(k));
        let secret = va.is_some_and(|v| v.1.is_sealed()) || vb.is_some_and(|v| v.1.is_sealed());
        let change = match (va, vb) {
            (Some(x), Some(y)) if x.1 == y.1 => continue,
            (Some((vx, x)), Some((vy, y))) if x.is_sealed() || y.is_sealed() => {
                match opts.reveal {
                    // Compare plaintexts: a re-sealed, equal value is no change.
                    Some(kv) if kv.open(ns, key, x)? == kv.open(ns, key, y)? => continue,
                    Some(_) => Kind::Changed,
                    // Without the key: a new version of a secret is a change.
                    None if vx == vy => continue,
                    None => Kind::Changed,
                }
            }
            (Some(_), Some(_)) => Kind::Changed,
            (None, Some(_)) => Kind::Added,
            (Some(_), None) => Kind::Removed,
            (None, None) => continue,
        };
        let show = |v: Option<&(u64, KvValue)>| -> Result<Option<String>> {
            match v.map(|x| &x.1) {
                None => Ok(None),
                Some(KvValue::Plain(s)) => Ok(Some(s.clone())),
                Some(sealed) => match opts.reveal {
                    Some(kv) => Ok(Some(kv.open(ns, key, sealed)?)),
                    None => Ok(None),
                },
            }
        };
        out.push(KvChange { namespace: ns.clone(), key: key.clone(), change, secret, old: show(va)?, new: show(vb)? });
    }
    Ok(out)
}

fn file_changes(a: &State, b: &State) -> Vec<FileChange> {
    let files = |s: &State| -> BTreeMap<(String, String), JobFile> {
        s.catalog
            .jobs
            .iter()
            .flat_map(|(job, j)| j.files.iter().map(move |(p, f)| ((job.clone(), p.clone()), f.clone())))
            .collect()
    };
    let (fa, fb) = (files(a), files(b));
    let keys: BTreeSet<&(String, String)> = fa.keys().chain(fb.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        let (old, new) = (fa.get(k), fb.get(k));
        let change = match (old, new) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => Kind::Changed,
            (None, Some(_)) => Kind::Added,
            (Some(_), None) => Kind::Removed,
            (None, None) => continue,
        };
        let binary = old.is_some_and(|f| is_binary(&f.content)) || new.is_some_and(|f| is_binary(&f.content));
        let text =
            |f: Option<&JobFile>| f.map(|f| String::from_utf8_lossy(&f.content).into_owned()).unwrap_or_default();
        let name = format!("{}/{}", k.0, k.1);
        let same_content = old.zip(new).is_some_and(|(x, y)| x.content == y.content);
        let diff = if binary || same_content { String::new() } else { unified(&text(old), &text(new), &name) };
        let mode = |f: Option<&JobFile>| f.map(|f| format!("{:o}", f.mode));
        let mode_changed = old.map(|f| f.mode) != new.map(|f| f.mode);
        out.push(FileChange {
            job: k.0.clone(),
            path: k.1.clone(),
            change,
            old_sha256: old.map(|f| sha256_hex(&f.content)),
            new_sha256: new.map(|f| sha256_hex(&f.content)),
            old_mode: if mode_changed { mode(old) } else { None },
            new_mode: if mode_changed { mode(new) } else { None },
            binary,
            diff,
        });
    }
    out
}

/// A value for a one-line listing: short values quoted; multi-line or long
/// ones (certificates, keys) by size and hash.
fn brief(v: &str) -> String {
    if v.contains('\n') || v.chars().count() > 100 {
        format!("<{} bytes, sha256 {}>", v.len(), &sha256_hex(v.as_bytes())[..12])
    } else {
        format!("{v:?}")
    }
}

fn short_hash(h: &str) -> &str {
    &h[..h.len().min(12)]
}

/// The human rendering of a diff.
pub fn render_text(d: &StateDiff, revealed: bool) -> String {
    let mut out = String::new();
    if d.is_empty() {
        out.push_str("no differences\n");
        return out;
    }
    let section = |out: &mut String, title: &str, items: &[Item]| {
        if items.is_empty() {
            return;
        }
        out.push_str(&format!("{title}\n"));
        for it in items {
            let fs: Vec<String> = it
                .fields
                .iter()
                .map(|f| match (&f.old, &f.new, it.change) {
                    (_, Some(n), Kind::Added) => format!("{}={n}", f.field),
                    (Some(o), _, Kind::Removed) => format!("{}={o}", f.field),
                    (None, Some(n), _) => format!("{}: {n}", f.field),
                    (Some(o), None, _) => format!("{}: {o} → (none)", f.field),
                    (Some(o), Some(n), _) => format!("{}: {o} → {n}", f.field),
                    (None, None, _) => f.field.clone(),
                })
                .collect();
            out.push_str(&format!("  {} {}  {}\n", it.change.mark(), it.name, fs.join("; ")));
        }
    };
    section(&mut out, "workers", &d.workers);
    section(&mut out, "jobs", &d.jobs);
    section(&mut out, "allocations", &d.allocations);
    section(&mut out, "ports", &d.ports);
    let certs: Vec<Item> = d
        .certs
        .iter()
        .map(|c| {
            let mut c = c.clone();
            for f in &mut c.fields {
                if f.field == "fingerprint" {
                    f.old = f.old.as_deref().map(|h| format!("{}…", short_hash(h)));
                    f.new = f.new.as_deref().map(|h| format!("{}…", short_hash(h)));
                }
            }
            c
        })
        .collect();
    section(&mut out, "certs", &certs);
    if !d.kv.is_empty() {
        out.push_str("kv\n");
        for c in &d.kv {
            let what = match (c.change, c.secret, &c.old, &c.new) {
                (Kind::Added, true, _, None) => "added (secret)".to_string(),
                (Kind::Removed, true, None, _) => "removed (secret)".to_string(),
                (Kind::Changed, true, None, None) => "changed (secret; --reveal shows the values)".to_string(),
                (Kind::Added, _, _, Some(n)) => format!("= {}", brief(n)),
                (Kind::Removed, _, Some(o), _) => format!("(was {})", brief(o)),
                (_, _, Some(o), Some(n)) => format!("{} → {}", brief(o), brief(n)),
                _ => "changed".to_string(),
            };
            let tag = if c.secret && revealed { " [revealed]" } else { "" };
            out.push_str(&format!("  {} {} {}  {what}{tag}\n", c.change.mark(), c.namespace, c.key));
        }
    }
    if !d.files.is_empty() {
        out.push_str("job files\n");
        for f in &d.files {
            let mode = match (&f.old_mode, &f.new_mode) {
                (Some(o), Some(n)) => format!(" mode {o} → {n}"),
                _ => String::new(),
            };
            let hashes = match (&f.old_sha256, &f.new_sha256) {
                (Some(o), Some(n)) if o != n => format!(" sha256 {} → {}", short_hash(o), short_hash(n)),
                (None, Some(n)) => format!(" sha256 {}", short_hash(n)),
                (Some(o), None) => format!(" sha256 {}", short_hash(o)),
                _ => String::new(),
            };
            let bin = if f.binary { " (binary)" } else { "" };
            out.push_str(&format!("  {} {}/{}{bin}{hashes}{mode}\n", f.change.mark(), f.job, f.path));
            for line in f.diff.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    let deployed: Vec<Item> = d
        .deployed
        .iter()
        .map(|c| {
            let mut c = c.clone();
            for f in &mut c.fields {
                if f.field == "hash" {
                    f.old = f.old.as_deref().map(|h| short_hash(h).to_string());
                    f.new = f.new.as_deref().map(|h| short_hash(h).to_string());
                }
            }
            c
        })
        .collect();
    section(&mut out, "deployed", &deployed);
    out
}
