//! The journal: `data/journal.redb`, the bucket's single source of truth.
//!
//! Tables:
//! - `events`: seq → encoded [`Envelope`](crate::event::Envelope) (hash-chained),
//! - `sessions`: session id → [`SessionRecord`] (an index, checked by verify),
//! - `snapshot_meta` / `snapshot_data`: seq → folded state at a commit,
//! - `meta`: format version, journal id, creation time.
//!
//! One process writes (it holds the bucket lock); any number of readers open
//! the file read-only at the same time (redb `SingleWriter` mode), so readers
//! never block the writer.

pub mod codec;
mod convert;
mod fault;
mod load;
mod reader;
mod records;
pub mod snapshot;
mod writer;

pub use convert::{envelope_json, job_spec_json, plan_json, session_index_info, session_info_from_index, worker_json};
pub use fault::DeathPoint;
pub use fault::armed as armed_test_switches;
pub use load::{LoadedState, for_each_checked, load_state};
pub use reader::JournalReader;
pub use records::{JournalMeta, Outcome, SessionRecord, SnapshotMeta};
pub use writer::JournalWriter;

use redb::TableDefinition;

pub(crate) const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
pub(crate) const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
pub(crate) const SNAPSHOT_META: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot_meta");
pub(crate) const SNAPSHOT_DATA: TableDefinition<u64, &[u8]> = TableDefinition::new("snapshot_data");
/// Snapshot state in chunks of [`SNAPSHOT_CHUNK`] bytes, keyed (seq, index):
/// redb sizes a value's pages by powers of two, so one huge value would waste
/// up to half its size. `snapshot_data` (whole values) is still read.
pub(crate) const SNAPSHOT_CHUNKS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("snapshot_chunks");

/// Size of one snapshot chunk.
pub const SNAPSHOT_CHUNK: usize = 4 << 20;
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// How many committed events may accumulate before a commit writes a new
/// snapshot (keeps bucket opening fast on long journals).
pub const SNAPSHOT_EVERY: u64 = 50_000;

/// How many snapshots are kept (older ones are deleted after a new one).
pub const SNAPSHOTS_KEPT: usize = 2;

pub use reader::{
    event_count as reader_event_count, for_each_event, for_each_raw, meta as reader_meta, session as reader_session,
    sessions as reader_sessions, snapshot_data as reader_snapshot_data, snapshots as reader_snapshots,
};
