//! Records the journal keeps beside the events: the session index, snapshot
//! headers and journal metadata. **Frozen** in the form maand 0.1.0 wrote
//! them (the index is rebuilt from events by `verify`, but old files must
//! keep opening).

use crate::v1::{Millis, SessionInfoV1};
use serde::{Deserialize, Serialize};

/// How a session ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum OutcomeV1 {
    /// Still running, or its process died and no one has opened the bucket since.
    Open,
    /// Ended successfully.
    Committed,
    /// Ended with an error.
    Failed(String),
    /// Its process died; marked by the next opener.
    Aborted(String),
}

impl OutcomeV1 {
    /// Short word for listings.
    pub fn word(&self) -> &'static str {
        match self {
            OutcomeV1::Open => "open",
            OutcomeV1::Committed => "committed",
            OutcomeV1::Failed(_) => "failed",
            OutcomeV1::Aborted(_) => "aborted",
        }
    }
}

/// One row of the session index.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionRecordV1 {
    /// Session id, from 1.
    pub id: u64,
    /// Who, what, where, when (the format-1 form; format 2's test switches
    /// live in the session's first event only).
    pub info: SessionInfoV1,
    /// Sequence number of its first event.
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
    pub outcome: OutcomeV1,
}

/// Header of a stored snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SnapshotMetaV1 {
    /// Version of the encoded state (see [`crate::state`]).
    pub state_version: u16,
    /// The checkpoint sequence number the state is folded up to.
    pub seq: u64,
    /// SHA-256 of the encoded state.
    #[serde(with = "crate::hexser::array")]
    pub digest: [u8; 32],
    /// Size of the encoded state in bytes.
    pub bytes: u64,
}

/// Journal-wide metadata.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct JournalMetaV1 {
    /// Format of the stored records.
    pub format_version: u16,
    /// Random id of this journal (UUID).
    pub journal_id: String,
    /// When the journal was created.
    pub created_at: Millis,
}
