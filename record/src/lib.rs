//! The frozen on-disk form of maand's journal.
//!
//! The journal stores records, not live domain values: each format version
//! has its own module of record types ([`v1`], [`v2`]), frozen once
//! released, and the `maand` crate converts between them and the domain
//! types of `maand-core`. Planner and state structs can then change freely
//! without changing a byte on disk; a change of the on-disk form is a new
//! format version with a decoder for every older one.
//!
//! This crate depends on no domain crate, so a record can never embed a live
//! type by accident. It is also the only place that knows the codec
//! (bincode, standard configuration), so replacing the codec is one module.
//!
//! Stored event record: `body ‖ sha256("maand-journal-event" ‖ body)`, where
//! the body starts with its format version (a `u16`), then the sequence
//! number, session id, previous hash and recording time, then the event.

pub mod hexser;
pub mod index;
pub mod state;
pub mod v1;
pub mod v2;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::fmt;

/// The journal format this crate writes.
pub const FORMAT_VERSION: u16 = 2;

/// The oldest journal format this crate reads.
pub const OLDEST_FORMAT: u16 = 1;

/// Domain-separation prefix of the record hash.
const DOMAIN: &[u8] = b"maand-journal-event";

/// A record that could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError(pub String);

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, RecordError>;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encode any record (index, snapshot, body).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| RecordError(format!("cannot encode record: {e}")))
}

/// Decode a record that must span all of `bytes` (trailing bytes are an
/// error: they would be data nobody reads).
pub fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(bytes, config())
        .map_err(|e| RecordError(format!("undecodable record: {e}")))?;
    if used != bytes.len() {
        return Err(RecordError(format!("record has {} trailing bytes", bytes.len() - used)));
    }
    Ok(value)
}

/// Hash of an encoded event body.
pub fn body_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(body);
    h.finalize().into()
}

/// Encode a current-format event body for storage: the stored bytes and
/// their hash.
pub fn encode_event(body: &v2::BodyV2) -> Result<(Vec<u8>, [u8; 32])> {
    if body.format_version != FORMAT_VERSION {
        return Err(RecordError(format!("a format-2 body must say format 2, not {}", body.format_version)));
    }
    let mut bytes = encode(body)?;
    let hash = body_hash(&bytes);
    bytes.extend_from_slice(&hash);
    Ok((bytes, hash))
}

/// A decoded event record of any supported format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyBody {
    /// Written by maand 0.1.0.
    V1(v1::BodyV1),
    /// Written by maand 0.2.0 and later.
    V2(v2::BodyV2),
}

/// The first fields of a body, readable even when the event after them is
/// not: for error messages naming the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Format version.
    pub format_version: u16,
    /// Sequence number.
    pub seq: u64,
    /// Session id.
    pub session_id: u64,
}

/// Read the prefix of stored bytes, if they have one.
pub fn peek(stored: &[u8]) -> Option<Prefix> {
    let body = stored.get(..stored.len().checked_sub(32)?)?;
    let ((format_version, seq, session_id), _) =
        bincode::serde::decode_from_slice::<(u16, u64, u64), _>(body, config()).ok()?;
    Some(Prefix { format_version, seq, session_id })
}

/// Split stored bytes into body and hash (no hash check; see [`check`]).
fn split(stored: &[u8]) -> Result<(&[u8], [u8; 32])> {
    if stored.len() < 33 {
        return Err(RecordError(format!("record too short ({} bytes)", stored.len())));
    }
    let (body, hash) = stored.split_at(stored.len() - 32);
    Ok((body, hash.try_into().expect("32 bytes")))
}

/// Decode stored event bytes of any supported format. Does not check the
/// hash; see [`check`]. A format newer than [`FORMAT_VERSION`] is refused
/// with a message saying so.
pub fn decode_event(stored: &[u8]) -> Result<(AnyBody, [u8; 32])> {
    let (body, hash) = split(stored)?;
    let (version, _) = bincode::serde::decode_from_slice::<u16, _>(body, config())
        .map_err(|e| RecordError(format!("undecodable record: {e}")))?;
    let any = match version {
        1 => AnyBody::V1(decode_exact(body)?),
        2 => AnyBody::V2(decode_exact(body)?),
        v if v > FORMAT_VERSION => {
            return Err(RecordError(format!(
                "record written by journal format {v}; this maand reads formats {OLDEST_FORMAT} to {FORMAT_VERSION}: upgrade maand"
            )));
        }
        v => return Err(RecordError(format!("record claims journal format {v}, which never existed"))),
    };
    Ok((any, hash))
}

/// Whether the stored hash matches the stored body.
pub fn check(stored: &[u8]) -> bool {
    match split(stored) {
        Ok((body, hash)) => body_hash(body) == hash,
        Err(_) => false,
    }
}

/// Short stable name of a format-2 event kind (e.g. `kv_put`).
pub fn kind_v2(event: &v2::EventV2) -> &'static str {
    event.into()
}

/// Short stable name of a format-1 event kind.
pub fn kind_v1(event: &v1::EventV1) -> &'static str {
    event.into()
}
