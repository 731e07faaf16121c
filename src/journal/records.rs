//! Records the journal keeps beside the events: session index, snapshot
//! headers, journal metadata.

use crate::error::Result;
use crate::event::{Hash32, Millis, SessionInfo};
use serde::{Deserialize, Serialize};

/// How a session ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still running, or its process died and no one has opened the bucket since.
    Open,
    /// Ended successfully.
    Committed,
    /// Ended with an error.
    Failed(String),
    /// Its process died; marked by the next opener.
    Aborted(String),
}

impl Outcome {
    /// Short word for listings.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Committed => "committed",
            Outcome::Failed(_) => "failed",
            Outcome::Aborted(_) => "aborted",
        }
    }
}

/// One row of the session index.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id, from 1.
    pub id: u64,
    /// Who, what, where, when.
    pub info: SessionInfo,
    /// First and last journal sequence numbers of its events.
    pub first_seq: u64,
    /// Last sequence number recorded so far.
    pub last_seq: u64,
    /// Number of events recorded.
    pub events: u64,
    /// Sequence number of its last checkpoint (0 = none).
    pub checkpoint_seq: u64,
    /// When it ended, if it did.
    pub ended_at: Option<Millis>,
    /// How it ended.
    pub outcome: Outcome,
}

impl SessionRecord {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        Ok(bincode::serde::encode_to_vec(self, super::bincode_config())?)
    }
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        Ok(bincode::serde::decode_from_slice(b, super::bincode_config())?.0)
    }
}

/// Header of a stored snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMeta {
    /// [`State::ENCODING_VERSION`](crate::state::State::ENCODING_VERSION) of the encoded state.
    pub state_version: u16,
    /// The checkpoint sequence number the state is folded up to.
    pub seq: u64,
    /// SHA-256 of the encoded state.
    #[serde(with = "crate::hexser::array")]
    pub digest: Hash32,
    /// Size of the encoded state in bytes.
    pub bytes: u64,
}

impl SnapshotMeta {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        Ok(bincode::serde::encode_to_vec(self, super::bincode_config())?)
    }
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        Ok(bincode::serde::decode_from_slice(b, super::bincode_config())?.0)
    }
}

/// Journal-wide metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JournalMeta {
    /// Format of the stored records.
    pub format_version: u16,
    /// Random id of this journal (UUID).
    pub journal_id: String,
    /// When the journal was created.
    pub created_at: Millis,
}

impl JournalMeta {
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        Ok(bincode::serde::encode_to_vec(self, super::bincode_config())?)
    }
    pub(crate) fn decode(b: &[u8]) -> Result<Self> {
        Ok(bincode::serde::decode_from_slice(b, super::bincode_config())?.0)
    }
}
