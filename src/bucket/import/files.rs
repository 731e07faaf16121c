//! The files an import reads, checked before anything is read or written:
//! `data/maand.db` and its backup must be regular files of the bucket
//! (never links out of it) of a sane size, `secrets/kv.key` a private
//! regular file; what is not a database of either maand is refused rather
//! than replaced. The backup is made only once the whole import has been
//! translated, so a refused import leaves the bucket as it was.

use super::BACKUP_NAME;
use crate::bucket::BucketPaths;
use crate::error::{Context, Error, Result};
use rusqlite::{Connection, OpenFlags};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Largest original database imported: the original keeps a catalog and
/// its KV there; a bigger file is not one (and would be copied and read
/// whole).
pub const MAX_ORIGINAL_DB: u64 = 1 << 30;

/// Where the original's database was found.
pub(in crate::bucket) struct Found {
    /// The file to read (`data/maand.db`, or the backup an import that did
    /// not commit left).
    pub(in crate::bucket) read: PathBuf,
    /// Copy `read` to the backup once the import is translated.
    backup: Option<PathBuf>,
}

impl Found {
    /// Keep the original's file as the backup (when not done yet): called
    /// after the import was translated, before the journal is written.
    pub(in crate::bucket) fn keep_backup(&self) -> Result<()> {
        match &self.backup {
            Some(to) => copy_durably(&self.read, to),
            None => Ok(()),
        }
    }
}

/// What a `data/maand.db` holds.
enum DbKind {
    /// A database of the original maand.
    Original,
    /// This maand's projection.
    Ours,
    /// An empty file (as an interrupted `sqlite3` leaves it).
    Empty,
    /// Anything else: what it is, and what to do about it.
    Other(String),
}

const NEITHER: &str = "it is neither a database of the original maand nor this maand's projection; move it aside (or restore the original's), then run maand init again";

fn kind(db: &Path) -> DbKind {
    let mut head = [0u8; 16];
    match fs::File::open(db).and_then(|mut f| f.read(&mut head)) {
        Ok(0) => return DbKind::Empty,
        Ok(_) if &head == b"SQLite format 3\0" => {}
        Ok(_) => return DbKind::Other(format!("is not a SQLite database: {NEITHER}")),
        Err(e) => return DbKind::Other(format!("cannot be read ({e})")),
    }
    let names: rusqlite::Result<Vec<String>> = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.prepare("SELECT name FROM sqlite_master")?.query_map([], |r| r.get(0))?.collect());
    match names {
        Err(e) => DbKind::Other(format!(
            "is a SQLite database that is damaged or cut short ({e}): restore it from a backup (or move it aside), then run maand init again"
        )),
        Ok(n) if n.iter().any(|t| t == "maand_projection") => DbKind::Ours,
        Ok(n) if n.iter().any(|t| t == "bucket") && n.iter().any(|t| t == "key_value") => DbKind::Original,
        Ok(_) => DbKind::Other(format!(
            "is a SQLite database without the original maand's tables (bucket, key_value): {NEITHER}"
        )),
    }
}

/// A regular file of the bucket, not a link, at most `max` bytes; `None`
/// when absent.
fn plain_file(paths: &BucketPaths, p: &Path, max: u64) -> Result<Option<fs::Metadata>> {
    let rel = paths.rel(p);
    let m = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::input(format!("{rel}: cannot read: {e}"))),
    };
    if m.file_type().is_symlink() {
        let to = fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_default();
        return Err(Error::input(format!(
            "{rel} is a symbolic link (to {}): maand reads and writes only the bucket's own file there; put the file itself in its place, then run maand init again",
            crate::workspace::names::quoted(&to)
        )));
    }
    if !m.is_file() {
        return Err(Error::input(format!("{rel} is not a regular file")));
    }
    if m.len() > max {
        return Err(Error::input(format!(
            "{rel} holds {} bytes, more than the {max} an original maand's database can be: move it aside, then run maand init again",
            m.len()
        )));
    }
    Ok(Some(m))
}

/// Refuse links and oversized files where an import reads: before `maand
/// init` creates anything.
pub(in crate::bucket) fn refuse_hostile(paths: &BucketPaths) -> Result<()> {
    let db = paths.db();
    plain_file(paths, &db, MAX_ORIGINAL_DB)?;
    plain_file(paths, &db.with_file_name(BACKUP_NAME), MAX_ORIGINAL_DB)?;
    Ok(())
}

/// `secrets/kv.key` opens the original's secrets and seals ours: a link
/// could point at any 32 bytes, and a key others can read is no secret.
pub(in crate::bucket) fn check_kv_key(paths: &BucketPaths) -> Result<()> {
    let p = paths.kv_key();
    let Some(m) = plain_file(paths, &p, 32)
        .map_err(|e| Error::input(format!("{e} (secrets/kv.key must hold exactly 32 bytes)")))?
    else {
        return Ok(());
    };
    if m.mode() & 0o077 != 0 {
        return Err(Error::input(format!(
            "secrets/kv.key is readable or writable by others (mode {:04o}): the key opening every secret must be the owner's alone; run chmod 600 secrets/kv.key, then maand init again",
            m.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Find the original maand's database: `data/maand.db` when it is one
/// (the backup beside it, if any, must hold the same bytes), else a backup
/// left by an import that did not commit. `None` when there is nothing to
/// import. Without a journal, a `data/maand.db` that is neither maand's is
/// refused: it is not ours to replace.
pub(in crate::bucket) fn locate(paths: &BucketPaths) -> Result<Option<Found>> {
    let db = paths.db();
    let backup = db.with_file_name(BACKUP_NAME);
    let has_backup = plain_file(paths, &backup, MAX_ORIGINAL_DB)?.is_some();
    if plain_file(paths, &db, MAX_ORIGINAL_DB)?.is_some() {
        match kind(&db) {
            DbKind::Original => {
                if has_backup && !same_bytes(&backup, &db)? {
                    return Err(Error::input(format!(
                        "data/maand.db is a database of the original maand, and data/{BACKUP_NAME} exists with other content: move one of them aside, then run maand init again"
                    )));
                }
                return Ok(Some(Found { read: db, backup: (!has_backup).then_some(backup) }));
            }
            DbKind::Other(why) if !paths.journal().exists() => {
                return Err(Error::input(format!("data/maand.db {why}")));
            }
            _ => {}
        }
    }
    // Our own projection naming a bucket: imported (or ours) already.
    let ours_with_id = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .is_ok_and(|c| c.query_row("SELECT bucket_id FROM bucket", [], |r| r.get::<_, String>(0)).is_ok());
    if !has_backup || ours_with_id {
        return Ok(None);
    }
    match kind(&backup) {
        DbKind::Original => Ok(Some(Found { read: backup, backup: None })),
        DbKind::Other(why) => Err(Error::input(format!(
            "data/{BACKUP_NAME} (the original maand's database an earlier import kept) {why}"
        ))),
        DbKind::Ours | DbKind::Empty => Err(Error::input(format!(
            "data/{BACKUP_NAME} is not the original maand's database an earlier import kept; restore it from a backup (or move it aside), then run maand init again"
        ))),
    }
}

/// Whether two files hold the same bytes (read in chunks: they may be big).
fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n])?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

/// Copy through a new temporary file (never through whatever a link left
/// at its name points to), synced, renamed into place.
fn copy_durably(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("original.tmp");
    let mut out = crate::bucket::private::create_fresh(&tmp, 0o600)?;
    std::io::copy(&mut fs::File::open(from)?, &mut out)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    out.sync_all()?;
    fs::rename(&tmp, to).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(())
}
