//! Envelope encoding: `bincode(body) ‖ sha256(domain ‖ bincode(body))`.
//!
//! The body starts with the format version, so any reader can tell which
//! decoder a stored record needs before decoding the rest.

use crate::error::{Error, Result};
use crate::event::{Envelope, Event, FORMAT_VERSION, Hash32, Millis};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"maand-journal-event";

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

#[derive(Serialize)]
struct BodyRef<'a> {
    format_version: u16,
    seq: u64,
    session_id: u64,
    #[serde(with = "crate::hexser::array")]
    prev_hash: Hash32,
    recorded_at: Millis,
    event: &'a Event,
}

#[derive(Deserialize)]
struct Body {
    format_version: u16,
    seq: u64,
    session_id: u64,
    #[serde(with = "crate::hexser::array")]
    prev_hash: Hash32,
    recorded_at: Millis,
    event: Event,
}

/// Hash of an encoded body.
pub fn body_hash(body: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(body);
    h.finalize().into()
}

/// Encode an event for storage; returns the stored bytes and the hash.
pub fn encode(
    seq: u64,
    session_id: u64,
    prev_hash: Hash32,
    recorded_at: Millis,
    event: &Event,
) -> Result<(Vec<u8>, Hash32)> {
    let body = BodyRef { format_version: FORMAT_VERSION, seq, session_id, prev_hash, recorded_at, event };
    let mut bytes = bincode::serde::encode_to_vec(&body, config())?;
    let hash = body_hash(&bytes);
    bytes.extend_from_slice(&hash);
    Ok((bytes, hash))
}

/// Decode stored bytes into an envelope. Does not check the hash; see
/// [`check`] for that.
pub fn decode(stored: &[u8]) -> Result<Envelope> {
    if stored.len() < 33 {
        return Err(Error::op(format!("record too short ({} bytes)", stored.len())));
    }
    let (body_bytes, hash_bytes) = stored.split_at(stored.len() - 32);
    let (version, _) = bincode::serde::decode_from_slice::<u16, _>(body_bytes, config())
        .map_err(|e| Error::op(format!("undecodable record: {e}")))?;
    if version > FORMAT_VERSION {
        return Err(Error::usage(format!(
            "record written by journal format {version}, this maand reads up to {FORMAT_VERSION}: upgrade maand"
        )));
    }
    // Format 1 is the only one so far; older formats get their own decoder here.
    let (body, used) = bincode::serde::decode_from_slice::<Body, _>(body_bytes, config())
        .map_err(|e| Error::op(format!("undecodable record: {e}")))?;
    if used != body_bytes.len() {
        return Err(Error::op(format!("record has {} trailing bytes", body_bytes.len() - used)));
    }
    let mut hash = [0u8; 32];
    hash.copy_from_slice(hash_bytes);
    Ok(Envelope {
        format_version: body.format_version,
        seq: body.seq,
        session_id: body.session_id,
        prev_hash: body.prev_hash,
        hash,
        recorded_at: body.recorded_at,
        event: body.event,
    })
}

/// Whether the stored hash matches the stored body.
pub fn check(stored: &[u8]) -> bool {
    if stored.len() < 33 {
        return false;
    }
    let (body, hash) = stored.split_at(stored.len() - 32);
    body_hash(body).as_slice() == hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_tamper_detection() {
        let ev = Event::Checkpoint { label: "x".into() };
        let (mut bytes, hash) = encode(7, 3, [1; 32], 42, &ev).unwrap();
        let env = decode(&bytes).unwrap();
        assert_eq!((env.seq, env.session_id, env.prev_hash, env.recorded_at, env.hash), (7, 3, [1; 32], 42, hash));
        assert_eq!(env.event, ev);
        assert!(check(&bytes));
        bytes[3] ^= 0x40;
        assert!(!check(&bytes));
    }
}
