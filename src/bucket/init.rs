//! `maand init`: create a bucket, or upgrade one in place keeping its id,
//! CA and keys. Existing files are never overwritten.

use super::{Bucket, BucketLock, BucketPaths, DEFAULT_CONF, MaandConf, session_info};
use crate::certs;
use crate::clock;
use crate::error::{Context, Error, Result};
use crate::event::Event;
use crate::journal::JournalWriter;
use crate::journal::codec::FORMAT_VERSION;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// What `maand init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// The bucket id.
    pub bucket_id: String,
    /// True when the bucket was created by this run.
    pub created: bool,
    /// Bucket-relative paths created by this run.
    pub files_created: Vec<String>,
    /// Journal session id of this run.
    pub session: u64,
    /// Operator notes (recoveries, upgrades).
    pub notes: Vec<String>,
}

/// The `bucket.conf` `maand init` writes.
pub const DEFAULT_BUCKET_CONF: &str = "# Bucket-wide variables (KV vars/bucket). port_min/port_max bound the port pool.\nport_min = \"30000\"\nport_max = \"39999\"\n";

/// Create or upgrade the bucket at `paths`.
pub fn run(paths: &BucketPaths, lock_wait: Duration) -> Result<InitReport> {
    // A database of the original maand is read and checked before anything
    // is created (a hostile or damaged one changes nothing) and before any
    // key is made: its sealed values need the original's kv.key.
    super::import::refuse_hostile(paths)?;
    let found = super::import::locate(paths)?;
    let legacy = match &found {
        Some(f) => Some(super::import::read(&f.read, &paths.rel(&f.read))?),
        None => None,
    };
    if legacy.as_ref().is_some_and(|l| l.has_sealed()) && !paths.kv_key().exists() {
        return Err(Error::input(
            "secrets/kv.key is missing, and the original maand's database holds values sealed with it: restore the original's secrets/kv.key, then run maand init again",
        ));
    }
    if legacy.is_some() {
        super::import::check_kv_key(paths)?;
    }
    let mut created = Vec::new();
    for dir in [paths.workspace(), paths.jobs_dir()] {
        if !dir.exists() {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            created.push(paths.rel(&dir) + "/");
        }
    }
    // secrets/, data/, logs/ and tmp/ are for the bucket's owner only.
    for dir in super::private::private_dirs(paths) {
        if !dir.exists() {
            super::private::create_dir_all(&dir)?;
            created.push(paths.rel(&dir) + "/");
        }
    }
    let lock = BucketLock::acquire(&paths.lock(), "init", lock_wait)?;

    write_if_missing(paths, &paths.conf(), DEFAULT_CONF.as_bytes(), 0o644, &mut created)?;
    let conf = MaandConf::load(&paths.conf())?;
    write_if_missing(paths, &paths.workers_json(), b"[]\n", 0o644, &mut created)?;
    write_if_missing(paths, &paths.bucket_conf(), DEFAULT_BUCKET_CONF.as_bytes(), 0o644, &mut created)?;
    ensure_kv_key(paths, &mut created)?;

    let (has_crt, has_key) = (paths.ca_crt().exists(), paths.ca_key().exists());
    if has_crt != has_key {
        let (have, missing) = if has_crt { ("ca.crt", "ca.key") } else { ("ca.key", "ca.crt") };
        return Err(Error::input(format!(
            "secrets/{have} exists but secrets/{missing} does not: restore the missing file, or remove both to create a new CA"
        )));
    }
    let existing_ca = if has_crt { Some(certs::inspect_ca(&fs::read_to_string(paths.ca_crt())?)?) } else { None };

    // Fully translated (a secret that does not open stops here) before the
    // journal and the projection are written.
    let legacy = match legacy {
        Some(legacy) => {
            let key = fs::read(paths.kv_key()).context("reading secrets/kv.key")?;
            let events = legacy.events(&key, existing_ca.as_ref().map(|(_, fp)| fp.as_str()))?;
            // Translated whole: now the original's file is kept aside.
            found.as_ref().map(super::import::Found::keep_backup).transpose()?;
            Some((legacy.bucket_id, events))
        }
        None => None,
    };

    let now = clock::now_ms();
    let new_journal = !paths.journal().exists();
    let mut journal = if new_journal {
        JournalWriter::create(&paths.journal(), uuid::Uuid::new_v4().to_string(), now)?
    } else {
        JournalWriter::open(&paths.journal())?
    };
    if journal.meta().format_version > FORMAT_VERSION {
        return Err(Error::usage(format!(
            "the journal has format {} but this maand understands up to {FORMAT_VERSION}: upgrade maand",
            journal.meta().format_version
        )));
    }
    if new_journal {
        created.push("data/journal.redb".into());
    }
    // Read before the projection is (re)written below.
    let legacy_id = legacy_bucket_id(&paths.db()).or_else(|| legacy.as_ref().and_then(|l| l.0.clone()));
    // Older journals are upgraded here. Format 1 is the first real format;
    // records of older formats stay readable through the codec, so only the
    // journal's own format mark moves (and the upgrade is recorded).
    let upgraded_from = journal.meta().format_version;
    if upgraded_from < FORMAT_VERSION {
        journal.set_format_version(FORMAT_VERSION)?;
    }
    let mut bucket = Bucket::finish_open(paths.clone(), conf, lock, journal)?;
    // Only a bucket without an id yet imports: once imported (or created by
    // this maand) the journal is the truth and the old file a backup.
    let legacy = legacy.filter(|_| bucket.state.bucket_id().is_none());
    let mut session = bucket.begin(session_info(if legacy.is_some() { "import" } else { "init" }))?;
    if upgraded_from < FORMAT_VERSION {
        session.record(Event::FormatUpgraded { from: upgraded_from, to: FORMAT_VERSION })?;
    }

    let known_id = session.state().bucket_id().map(str::to_string);
    let (bucket_id, id_source) = match known_id {
        Some(id) => (id, None),
        None => match legacy_id.or_else(|| existing_ca.as_ref().map(|(cn, _)| cn.clone())) {
            Some(id) if uuid::Uuid::parse_str(&id).is_ok() => {
                let src = if existing_ca.as_ref().is_some_and(|(cn, _)| *cn == id) { "ca" } else { "legacy-db" };
                (id, Some(src))
            }
            _ => (uuid::Uuid::new_v4().to_string(), Some("new")),
        },
    };
    // A rotated CA may carry any common name: the original (and `maand
    // build`) accept it, so init does too, saying so.
    let mut ca_note = None;
    if let Some((cn, _)) = &existing_ca
        && *cn != bucket_id
    {
        ca_note = Some(format!(
            "secrets/ca.crt has common name {cn:?}, not this bucket's id {bucket_id}; kept as the bucket CA (a rotated CA). If it belongs to another bucket, restore the right CA pair"
        ));
    }
    if let Some(src) = id_source {
        session.record(Event::BucketInitialized { bucket_id: bucket_id.clone(), id_source: src.to_string() })?;
    }
    if existing_ca.is_none() {
        let ca = certs::generate_ca(&bucket_id, now)?;
        write_new(&paths.ca_key(), ca.key_pem.as_bytes(), 0o600)?;
        write_new(&paths.ca_crt(), ca.cert_pem.as_bytes(), 0o644)?;
        created.push("secrets/ca.key".into());
        created.push("secrets/ca.crt".into());
        session.record(Event::CaCreated { fingerprint: ca.fingerprint, not_after: ca.not_after })?;
    }
    if !created.is_empty() {
        session.record(Event::BucketFilesCreated { paths: created.clone() })?;
    }
    let mut notes = Vec::new();
    if let Some((_, events)) = legacy {
        for event in events {
            session.record(event)?;
        }
        notes.push(format!(
            "imported the original maand's bucket; its database is kept as data/{}",
            super::import::BACKUP_NAME
        ));
    }
    let session_id = session.id();
    session.commit()?;
    Ok(InitReport {
        bucket_id,
        created: id_source.is_some(),
        files_created: created,
        session: session_id,
        notes: bucket.notes.into_iter().chain(notes).chain(ca_note).collect(),
    })
}

fn write_if_missing(
    paths: &BucketPaths,
    path: &Path,
    content: &[u8],
    mode: u32,
    created: &mut Vec<String>,
) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    write_new(path, content, mode)?;
    created.push(paths.rel(path));
    Ok(())
}

fn write_new(path: &Path, content: &[u8], mode: u32) -> Result<()> {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(content)?;
    f.sync_all()?;
    Ok(())
}

fn ensure_kv_key(paths: &BucketPaths, created: &mut Vec<String>) -> Result<()> {
    let p = paths.kv_key();
    if p.exists() {
        let len = fs::metadata(&p)?.len();
        if len != 32 {
            return Err(Error::input(format!(
                "secrets/kv.key must hold exactly 32 bytes, it holds {len}: restore it from backup (secrets sealed with it cannot be read otherwise)"
            )));
        }
        return Ok(());
    }
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::op(format!("random key: {e}")))?;
    write_new(&p, &key, 0o600)?;
    created.push("secrets/kv.key".into());
    Ok(())
}

/// Bucket id from a maand.db written by the original maand (table `bucket`),
/// so an existing bucket keeps its identity when it moves to this maand.
fn legacy_bucket_id(db: &Path) -> Option<String> {
    if !db.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    // Our own projection is not a legacy catalog: the journal is the truth.
    if conn.query_row("SELECT 1 FROM maand_projection", [], |_| Ok(())).is_ok() {
        return None;
    }
    conn.query_row("SELECT bucket_id FROM bucket LIMIT 1", [], |r| r.get::<_, String>(0)).ok()
}
