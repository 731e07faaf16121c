//! The single writer of a journal: appends hash-chained events in durable
//! redb transactions, keeps the session index, writes snapshots.

use super::codec;
use super::codec::FORMAT_VERSION;
use super::fault;
use super::reader::{self, builder};
use super::records::{JournalMeta, Outcome, SessionRecord, SnapshotMeta, encode};
use super::{EVENTS, META, SESSIONS, SNAPSHOT_CHUNK, SNAPSHOT_CHUNKS, SNAPSHOT_DATA, SNAPSHOT_META, SNAPSHOTS_KEPT};
use crate::error::{Context, Error, Result};
use crate::event::{Envelope, Event, Hash32, Millis};
use crate::state::State;
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable};
use std::path::{Path, PathBuf};

/// Exclusive writer of a journal file. Only the process holding the bucket
/// lock creates one.
pub struct JournalWriter {
    db: Database,
    path: PathBuf,
    meta: JournalMeta,
    head_seq: u64,
    head_hash: Hash32,
    death: Option<std::sync::Arc<fault::DeathPoint>>,
}

impl JournalWriter {
    /// Open an existing journal for writing (runs redb crash recovery if the
    /// last writer died). Fails if the file does not exist.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(Error::usage(format!("{} does not exist: run `maand init` first", path.display())));
        }
        let db = builder().create(path).with_context(|| format!("opening {}", path.display()))?;
        Self::from_db(db, path)
    }

    /// Create a new journal at `path` (which must not exist yet).
    pub fn create(path: &Path, journal_id: String, now: Millis) -> Result<Self> {
        if path.exists() {
            return Err(Error::op(format!("{} already exists", path.display())));
        }
        let db = builder().create(path).with_context(|| format!("creating {}", path.display()))?;
        let meta = JournalMeta { format_version: FORMAT_VERSION, journal_id, created_at: now };
        let txn = db.begin_write()?;
        {
            txn.open_table(EVENTS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(SNAPSHOT_META)?;
            txn.open_table(SNAPSHOT_DATA)?;
            txn.open_table(SNAPSHOT_CHUNKS)?;
            txn.open_table(META)?.insert("journal", encode("journal meta", &meta)?.as_slice())?;
        }
        txn.commit()?;
        Self::from_db(db, path)
    }

    fn from_db(db: Database, path: &Path) -> Result<Self> {
        let txn = db.begin_read()?;
        let meta = reader::meta(&txn)?;
        let (head_seq, head_hash) = match reader::last_event(&txn)? {
            Some((seq, raw)) => (seq, codec::decode(&raw).map_err(|e| e.context(format!("journal event {seq}")))?.hash),
            None => (0, [0; 32]),
        };
        drop(txn);
        Ok(JournalWriter { db, path: path.to_path_buf(), meta, head_seq, head_hash, death: None })
    }

    /// Simulations: die (take no more events) at `death` (see
    /// [`fault::DeathPoint`]).
    pub fn arm_death(&mut self, death: std::sync::Arc<fault::DeathPoint>) {
        self.death = Some(death);
    }

    /// The armed simulated death, if any.
    pub fn death(&self) -> Option<&fault::DeathPoint> {
        self.death.as_deref()
    }

    /// Path of the journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Journal metadata.
    pub fn meta(&self) -> &JournalMeta {
        &self.meta
    }

    /// Sequence number of the last event (0 when empty).
    pub fn head_seq(&self) -> u64 {
        self.head_seq
    }

    /// The chain head: the last event's sequence number and hash.
    pub fn head(&self) -> (u64, Hash32) {
        (self.head_seq, self.head_hash)
    }

    /// Begin a read view through the writer's own handle.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(self.db.begin_read()?)
    }

    /// Record a new format version (used by `maand init` upgrades).
    pub fn set_format_version(&mut self, v: u16) -> Result<()> {
        self.meta.format_version = v;
        let txn = self.db.begin_write()?;
        txn.open_table(META)?.insert("journal", encode("journal meta", &self.meta)?.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Id for a new session.
    pub fn next_session_id(&self) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(SESSIONS)?;
        Ok(t.last()?.map_or(1, |(k, _)| k.value() + 1))
    }

    /// Append `events` (with their recorded times) to `session` in one
    /// durable transaction, updating its index record. Returns the stored
    /// envelopes.
    pub fn append(&mut self, session: &mut SessionRecord, events: &[(Millis, Event)]) -> Result<Vec<Envelope>> {
        let mut allowed = fault::allowance(events.len());
        if let Some(d) = &self.death {
            if d.is_dead() {
                return Err(Error::op("simulated process death: the journal takes no more events"));
            }
            allowed = d.allowance(allowed);
        }
        let events = &events[..allowed];
        let mut out = Vec::with_capacity(events.len());
        let txn = self.db.begin_write()?;
        let (mut seq, mut prev) = (self.head_seq, self.head_hash);
        let mut rec = session.clone();
        {
            let mut table = txn.open_table(EVENTS)?;
            for (at, event) in events {
                seq += 1;
                let (bytes, hash) = codec::encode(seq, rec.id, prev, *at, event)?;
                table.insert(seq, bytes.as_slice())?;
                update_record(&mut rec, seq, *at, event);
                out.push(Envelope {
                    format_version: FORMAT_VERSION,
                    seq,
                    session_id: rec.id,
                    prev_hash: prev,
                    hash,
                    recorded_at: *at,
                    event: event.clone(),
                });
                prev = hash;
            }
            txn.open_table(SESSIONS)?.insert(rec.id, encode("session index", &rec)?.as_slice())?;
        }
        txn.commit().context("committing journal events")?;
        self.head_seq = seq;
        self.head_hash = prev;
        *session = rec;
        fault::appended(events.len());
        if let Some(d) = &self.death
            && d.appended(events.len())
        {
            return Err(Error::op("simulated process death: the journal takes no more events"));
        }
        Ok(out)
    }

    /// Store a snapshot of `state` (folded up to `state.seq`), keeping only
    /// the newest [`SNAPSHOTS_KEPT`].
    pub fn write_snapshot(&mut self, state: &State) -> Result<SnapshotMeta> {
        let bytes = super::snapshot::encode_state(state)?;
        let meta = SnapshotMeta {
            state_version: super::snapshot::STATE_VERSION,
            seq: state.seq,
            digest: <sha2::Sha256 as sha2::Digest>::digest(&bytes).into(),
            bytes: bytes.len() as u64,
        };
        let txn = self.db.begin_write()?;
        {
            let mut m = txn.open_table(SNAPSHOT_META)?;
            let mut d = txn.open_table(SNAPSHOT_DATA)?;
            let mut c = txn.open_table(SNAPSHOT_CHUNKS)?;
            m.insert(meta.seq, encode("snapshot header", &meta)?.as_slice())?;
            for (i, chunk) in bytes.chunks(SNAPSHOT_CHUNK).enumerate() {
                c.insert((meta.seq, i as u32), chunk)?;
            }
            let seqs: Vec<u64> = m.iter()?.map(|r| r.map(|(k, _)| k.value())).collect::<std::result::Result<_, _>>()?;
            if seqs.len() > SNAPSHOTS_KEPT {
                for old in &seqs[..seqs.len() - SNAPSHOTS_KEPT] {
                    m.remove(*old)?;
                    d.remove(*old)?;
                    c.retain_in((*old, 0)..=(*old, u32::MAX), |_, _| false)?;
                }
            }
        }
        txn.commit().context("committing snapshot")?;
        Ok(meta)
    }
}

/// Update a session index record for one appended event.
fn update_record(rec: &mut SessionRecord, seq: u64, at: Millis, event: &Event) {
    if rec.first_seq == 0 {
        rec.first_seq = seq;
    }
    rec.last_seq = seq;
    rec.events += 1;
    match event {
        Event::Checkpoint { .. } => rec.checkpoint_seq = seq,
        Event::SessionCommitted { ended_at } => {
            rec.checkpoint_seq = seq;
            rec.ended_at = Some(*ended_at);
            rec.outcome = Outcome::Committed;
        }
        Event::SessionFailed { ended_at, error } => {
            rec.ended_at = Some(*ended_at);
            rec.outcome = Outcome::Failed(error.clone());
        }
        Event::SessionAborted { reason, .. } => {
            rec.ended_at = Some(at);
            rec.outcome = Outcome::Aborted(reason.clone());
        }
        _ => {}
    }
}
