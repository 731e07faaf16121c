//! `data/maand.db`: a SQLite projection of folded state.
//!
//! Written after each checkpoint, never read back by maand to make
//! decisions. Deleting it loses nothing: it is rebuilt from state. Updates
//! rewrite only the rows of what the checkpoint's events touched; a full
//! rebuild writes a fresh file and renames it into place, so readers never
//! see a half-built database.

mod dump;
mod rows;
mod schema;

pub use dump::canonical_dump;
pub use schema::SCHEMA_VERSION;

use crate::error::{Context, Result};
use crate::journal::codec::FORMAT_VERSION;
use crate::state::{State, Touched};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;
use std::path::Path;

/// Where a projection stands: which journal and checkpoint it reflects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionMark {
    /// Journal id the projection was made from.
    pub journal_id: String,
    /// Checkpoint sequence number it reflects.
    pub seq: u64,
}

/// Read the mark of the projection at `path`, if it is a readable maand
/// projection.
pub fn mark(path: &Path) -> Option<ProjectionMark> {
    if !path.exists() {
        return None;
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    mark_of(&conn)
}

/// The mark of the projection open on `conn`, if it is a maand projection.
pub fn mark_of(conn: &Connection) -> Option<ProjectionMark> {
    // A projection of another schema version is not ours to update: it is
    // rebuilt (the tables it lacks are created then).
    let version: Option<i64> =
        conn.query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| r.get(0)).optional().ok().flatten();
    if version != Some(SCHEMA_VERSION) {
        return None;
    }
    conn.query_row("SELECT journal_id, seq FROM maand_projection WHERE id = 1", [], |r| {
        Ok(ProjectionMark { journal_id: r.get(0)?, seq: r.get::<_, i64>(1)? as u64 })
    })
    .optional()
    .ok()
    .flatten()
}

/// Make sure the projection at `path` reflects `state`; rebuild it if it
/// is missing, foreign, behind, or was written by something other than
/// maand since maand last wrote it (see [`stamp`]). Returns whether it was
/// rebuilt.
pub fn ensure(path: &Path, state: &State, journal_id: &str) -> Result<bool> {
    let want = ProjectionMark { journal_id: journal_id.to_string(), seq: state.seq };
    if mark(path).as_ref() == Some(&want) && stamp_matches(path) && schema_version(path) == Some(SCHEMA_VERSION) {
        return Ok(false);
    }
    if path.exists() && !stamp_matches(path) {
        tracing::info!("data/maand.db differs from what maand last wrote; rebuilding it");
    }
    rebuild(path, state, journal_id)?;
    stamp(path).map(|_| true)
}

/// The schema version of the projection at `path`: one written by an
/// older maand (other views) is rebuilt.
fn schema_version(path: &Path) -> Option<i64> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row("SELECT version FROM schema_version WHERE id = 1", [], |r| r.get(0)).ok()
}

/// The stamp file beside a projection: what maand last left at `path`.
fn stamp_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".stamp");
    path.with_file_name(name)
}

/// What identifies the projection file as last written: size, modification
/// time, inode and SQLite's file change counter (header bytes 24..28,
/// bumped by every write transaction). Any write by another program
/// changes at least one of them.
fn file_identity(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    let mut header = [0u8; 28];
    std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    let counter = u32::from_be_bytes([header[24], header[25], header[26], header[27]]);
    Some(format!("len={} mtime={}.{:09} ino={} counter={counter}\n", m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
}

/// Record what maand just wrote at `path`, so the next opener can tell a
/// projection changed behind its back (a `maand.db` with the right mark but
/// edited rows) and rebuild it: the projection is disposable.
pub fn stamp(path: &Path) -> Result<()> {
    let Some(id) = file_identity(path) else { return Ok(()) };
    let target = stamp_path(path);
    let tmp = target.with_extension("stamp.tmp");
    std::fs::write(&tmp, id).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &target).with_context(|| format!("replacing {}", target.display()))?;
    Ok(())
}

/// Whether `path` is exactly what maand last wrote there.
fn stamp_matches(path: &Path) -> bool {
    match (file_identity(path), std::fs::read_to_string(stamp_path(path))) {
        (Some(now), Ok(then)) => now == then,
        _ => false,
    }
}

/// Write a complete projection of `state` to `path`, atomically.
pub fn rebuild(path: &Path, state: &State, journal_id: &str) -> Result<()> {
    let tmp = path.with_extension("db.tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut conn = Connection::open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
        write_all(&mut conn, state, journal_id)?;
    }
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Create the schema and write every row of `state` into `conn` (an empty
/// database): used by [`rebuild`] and by verification in memory.
pub fn write_all(conn: &mut Connection, state: &State, journal_id: &str) -> Result<()> {
    let tx = conn.transaction()?;
    for ddl in schema::DDL {
        tx.execute(ddl, []).with_context(|| format!("schema: {ddl}"))?;
    }
    tx.execute("INSERT INTO schema_version (id, version) VALUES (1, ?1)", params![SCHEMA_VERSION])?;
    rows::write_bucket(&tx, state)?;
    rows::write_all_kv(&tx, state)?;
    rows::write_all_peers(&tx, state)?;
    rows::write_all_catalog(&tx, state)?;
    set_mark(&tx, state, journal_id)?;
    tx.commit()?;
    Ok(())
}

/// Rewrite the rows of `touched` from `state` and move the mark to
/// `state.seq`, in one transaction.
pub fn update(path: &Path, state: &State, journal_id: &str, touched: &BTreeSet<Touched>) -> Result<()> {
    let mut conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    for t in touched {
        match t {
            Touched::Bucket => rows::write_bucket(&tx, state)?,
            Touched::Kv { namespace, key } => rows::write_kv_key(&tx, state, namespace, key)?,
            Touched::PeerSet(scope) => rows::write_peer_set(&tx, state, scope)?,
            Touched::Worker(ip) => rows::write_worker(&tx, state, ip)?,
            Touched::Job(name) => rows::write_job(&tx, state, name)?,
            Touched::JobFile(job, path) => rows::write_job_file(&tx, state, job, path)?,
            Touched::Allocation(job, ip) => rows::write_allocation(&tx, state, job, ip)?,
            Touched::Deployed(job, ip) => rows::write_deployed(&tx, state, job, ip)?,
        }
    }
    set_mark(&tx, state, journal_id)?;
    tx.commit()?;
    Ok(())
}

fn set_mark(tx: &rusqlite::Transaction, state: &State, journal_id: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO maand_projection (id, journal_id, seq, format) VALUES (1, ?1, ?2, ?3) \
         ON CONFLICT(id) DO UPDATE SET journal_id = excluded.journal_id, seq = excluded.seq, format = excluded.format",
        params![journal_id, state.seq as i64, FORMAT_VERSION as i64],
    )?;
    Ok(())
}

/// Above this many touched units a checkpoint rebuilds the projection.
pub const REBUILD_ABOVE: usize = 20_000;

/// [`update`] when the projection is at the previous mark of this journal,
/// otherwise (missing, foreign, behind after a crash) a full [`rebuild`].
pub fn update_or_rebuild(
    path: &Path,
    state: &State,
    journal_id: &str,
    prev_seq: u64,
    touched: &BTreeSet<Touched>,
) -> Result<()> {
    match mark(path) {
        // Rewriting many units row by row is slower than writing the file
        // afresh (a cold build touches hundreds of thousands of keys).
        Some(m)
            if m.journal_id == journal_id
                && m.seq == prev_seq
                && touched.len() <= REBUILD_ABOVE
                && stamp_matches(path) =>
        {
            update(path, state, journal_id, touched)?
        }
        _ => rebuild(path, state, journal_id)?,
    }
    stamp(path)
}
