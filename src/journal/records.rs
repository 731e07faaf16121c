//! Records the journal keeps beside the events: session index, snapshot
//! headers, journal metadata. Their stored form is frozen in
//! `maand_record::index`; this module names them and encodes them.

use crate::error::{Error, Result};
pub use maand_record::index::{
    JournalMetaV1 as JournalMeta, OutcomeV1 as Outcome, SessionRecordV1 as SessionRecord,
    SnapshotMetaV1 as SnapshotMeta,
};

/// Encode an index record.
pub(crate) fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>> {
    maand_record::encode(value).map_err(|e| Error::op(format!("{what}: {e}")))
}

/// Decode an index record (all bytes must be used).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    maand_record::decode_exact(bytes).map_err(|e| Error::op(format!("{what}: {e}")))
}
