//! Read access to the journal, for the writer itself and for read-only
//! processes (`maand info`, `maand cat`, `maand-journal`).

use super::records::{JournalMeta, SessionRecord, SnapshotMeta};
use super::{EVENTS, META, SESSIONS, SNAPSHOT_CHUNKS, SNAPSHOT_DATA, SNAPSHOT_META};
use crate::error::{Context, Error, Result};
use crate::event::Envelope;
use redb::{ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use std::ops::{ControlFlow, RangeBounds};
use std::path::Path;

/// A read-only handle on a journal file.
pub struct JournalReader {
    db: ReadOnlyDatabase,
    // A repaired private copy, when the file needed crash recovery and no
    // writer was there to do it; deleted on drop.
    _copy: Option<tempfile::TempPath>,
}

impl JournalReader {
    /// Open `path` read-only, alongside any writer. A journal left by a
    /// crashed writer needs redb's recovery, which a read-only open cannot
    /// do: then a private copy is recovered and read instead, so readers
    /// never modify the bucket.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::usage(format!("{} does not exist: run `maand init` first", path.display())));
        }
        match builder().open_read_only(path) {
            Ok(db) => Ok(JournalReader { db, _copy: None }),
            Err(first) => Self::open_recovered_copy(path).map_err(|e| {
                Error::op(format!("cannot open {} read-only ({first}), nor a recovered copy: {e}", path.display()))
            }),
        }
    }

    fn open_recovered_copy(path: &Path) -> Result<Self> {
        let tmp = tempfile::Builder::new().prefix("maand-journal-").suffix(".redb").tempfile().context("temp file")?;
        let tmp = tmp.into_temp_path();
        std::fs::copy(path, &tmp).context("copying journal")?;
        drop(builder().create(&tmp)?);
        let db = builder().open_read_only(&tmp)?;
        Ok(JournalReader { db, _copy: Some(tmp) })
    }

    /// Begin a consistent read view.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        self.db.begin_read().map_err(storage)
    }
}

/// A storage-engine error while reading the journal, saying so (redb's own
/// messages, such as "failed to fill whole buffer", do not).
fn storage(e: impl std::fmt::Display) -> Error {
    Error::op(format!("reading the journal (data/journal.redb): {e}"))
}

pub(crate) fn builder() -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_concurrency_mode(redb::ConcurrencyMode::SingleWriter);
    b
}

/// Journal metadata.
pub fn meta(txn: &ReadTransaction) -> Result<JournalMeta> {
    let t = txn.open_table(META).map_err(storage)?;
    let v = t.get("journal").map_err(storage)?.ok_or_else(|| Error::op("journal has no metadata record"))?;
    super::records::decode::<JournalMeta>("journal meta", v.value())
        .map_err(|e| e.context("journal metadata cannot be decoded"))
}

/// Last sequence number and its stored bytes, if any event exists.
pub fn last_event(txn: &ReadTransaction) -> Result<Option<(u64, Vec<u8>)>> {
    let t = txn.open_table(EVENTS).map_err(storage)?;
    Ok(t.last().map_err(storage)?.map(|(k, v)| (k.value(), v.value().to_vec())))
}

/// Number of events stored.
pub fn event_count(txn: &ReadTransaction) -> Result<u64> {
    txn.open_table(EVENTS).map_err(storage)?.len().map_err(storage)
}

/// Visit stored events in `range` in order, as raw bytes.
pub fn for_each_raw(
    txn: &ReadTransaction,
    range: impl RangeBounds<u64>,
    mut f: impl FnMut(u64, &[u8]) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let t = txn.open_table(EVENTS).map_err(storage)?;
    for item in t.range(range).map_err(storage)? {
        let (k, v) = item.map_err(storage)?;
        if f(k.value(), v.value())?.is_break() {
            break;
        }
    }
    Ok(())
}

/// Visit decoded events in `range` in order.
pub fn for_each_event(
    txn: &ReadTransaction,
    range: impl RangeBounds<u64>,
    mut f: impl FnMut(Envelope) -> Result<ControlFlow<()>>,
) -> Result<()> {
    for_each_raw(txn, range, |seq, raw| {
        if !super::codec::check(raw) {
            return Err(Error::op(format!(
                "journal event {seq}: its stored hash does not match its content; the journal was edited or is damaged (`maand-journal verify` shows more)"
            )));
        }
        let env = super::codec::decode(raw).map_err(|e| e.context(undecodable_context(txn, seq, raw)))?;
        f(env)
    })
}

/// Where an undecodable record sits, for its error: the sequence number,
/// and the format and the maand version of its session when they can be
/// told (the record's prefix and the session index usually survive).
pub(crate) fn undecodable_context(txn: &ReadTransaction, seq: u64, raw: &[u8]) -> String {
    let Some(prefix) = super::codec::peek(raw) else {
        return format!("journal event {seq}");
    };
    let writer = session(txn, prefix.session_id)
        .ok()
        .flatten()
        .map(|s| format!(", written by maand {}", s.info.maand_version))
        .unwrap_or_default();
    format!("journal event {seq} (format {}, session {}{writer})", prefix.format_version, prefix.session_id)
}

/// All session records, by id.
pub fn sessions(txn: &ReadTransaction) -> Result<Vec<SessionRecord>> {
    let t = txn.open_table(SESSIONS).map_err(storage)?;
    let mut out = Vec::new();
    for item in t.iter().map_err(storage)? {
        let (k, v) = item.map_err(storage)?;
        out.push(decode_session(k.value(), v.value())?);
    }
    Ok(out)
}

/// One session record.
pub fn session(txn: &ReadTransaction, id: u64) -> Result<Option<SessionRecord>> {
    let t = txn.open_table(SESSIONS).map_err(storage)?;
    t.get(id).map_err(storage)?.map(|v| decode_session(id, v.value())).transpose()
}

fn decode_session(id: u64, bytes: &[u8]) -> Result<SessionRecord> {
    super::records::decode::<SessionRecord>("session index", bytes).map_err(|e| {
        Error::op(format!(
            "journal session index entry {id} cannot be decoded ({}); the journal was edited or is damaged (`maand-journal verify` shows more)",
            e.message()
        ))
    })
}

/// Snapshot headers, oldest first.
pub fn snapshots(txn: &ReadTransaction) -> Result<Vec<SnapshotMeta>> {
    let t = txn.open_table(SNAPSHOT_META).map_err(storage)?;
    let mut out = Vec::new();
    for item in t.iter().map_err(storage)? {
        let (_, v) = item.map_err(storage)?;
        out.push(
            super::records::decode::<SnapshotMeta>("snapshot header", v.value())
                .map_err(|e| e.context("journal snapshot header cannot be decoded"))?,
        );
    }
    Ok(out)
}

/// Encoded state of the snapshot at `seq`; `size_hint` is its header's
/// size, reserved up front (a wrong one costs a reallocation, no more).
pub fn snapshot_data(txn: &ReadTransaction, seq: u64, size_hint: u64) -> Result<Option<Vec<u8>>> {
    match txn.open_table(SNAPSHOT_CHUNKS) {
        Ok(t) => {
            let mut out: Option<Vec<u8>> = None;
            for item in t.range((seq, 0)..=(seq, u32::MAX)).map_err(storage)? {
                let (_, v) = item.map_err(storage)?;
                // Growing by doubling copied a large snapshot several times.
                out.get_or_insert_with(|| {
                    let mut v = Vec::new();
                    let _ = v.try_reserve_exact(usize::try_from(size_hint).unwrap_or(0));
                    v
                })
                .extend_from_slice(v.value());
            }
            if out.is_some() {
                return Ok(out);
            }
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(storage(e)),
    }
    let t = txn.open_table(SNAPSHOT_DATA).map_err(storage)?;
    Ok(t.get(seq).map_err(storage)?.map(|v| v.value().to_vec()))
}
