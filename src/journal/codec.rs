//! Event records: the domain [`Event`] converted to the newest frozen record
//! type and encoded by `maand-record` (`body ‖ sha256(domain ‖ body)`), and
//! stored records of every supported format decoded back.

use super::convert;
use crate::error::{Error, Result};
use crate::event::{Envelope, Event, Hash32, Millis};

pub use maand_record::{FORMAT_VERSION, OLDEST_FORMAT, body_hash, check, peek};

/// Encode an event for storage; returns the stored bytes and the hash.
pub fn encode(
    seq: u64,
    session_id: u64,
    prev_hash: Hash32,
    recorded_at: Millis,
    event: &Event,
) -> Result<(Vec<u8>, Hash32)> {
    maand_record::encode_event(&convert::body(seq, session_id, prev_hash, recorded_at, event))
        .map_err(|e| Error::op(format!("journal event {seq}: {e}")))
}

/// Decode stored bytes into an envelope. Does not check the hash; see
/// [`check`] for that. A record of a newer format is a usage error (the fix
/// is a newer maand); an undecodable one is an operation error.
pub fn decode(stored: &[u8]) -> Result<Envelope> {
    match maand_record::decode_event(stored) {
        Ok((body, hash)) => Ok(convert::envelope(body, hash)),
        Err(e) if e.0.contains("upgrade maand") => Err(Error::usage(e.0)),
        Err(e) => Err(Error::op(e.0)),
    }
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
        assert_eq!((env.event, env.format_version), (ev, FORMAT_VERSION));
        assert!(check(&bytes));
        bytes[3] ^= 0x40;
        assert!(!check(&bytes));
    }

    #[test]
    fn trailing_bytes_and_newer_formats_are_refused() {
        let (bytes, _) = encode(1, 1, [0; 32], 0, &Event::Checkpoint { label: "x".into() }).unwrap();
        let mut longer = bytes[..bytes.len() - 32].to_vec();
        longer.push(0);
        let h = body_hash(&longer);
        longer.extend_from_slice(&h);
        assert!(decode(&longer).unwrap_err().message().contains("trailing"));
        let mut newer = bytes.clone();
        newer[0] = 9;
        let e = decode(&newer).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        assert!(e.message().contains("upgrade maand"), "{e}");
    }
}
