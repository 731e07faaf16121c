//! The two ssh-agent requests signing needs (list keys, sign), over the
//! agent's Unix socket (`SSH_AUTH_SOCK`), as the agent protocol
//! (draft-miller-ssh-agent) frames them: `uint32 length ‖ byte type ‖ body`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// Flag asking for an `rsa-sha2-512` signature from an RSA key.
const RSA_SHA2_512: u32 = 4;
/// Largest reply accepted (the agent protocol's own limit is 256 KiB).
const MAX_REPLY: usize = 256 * 1024;

/// A connection to an ssh-agent.
pub struct Agent {
    stream: UnixStream,
}

fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Reads SSH wire values from a reply body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.0.get(..4).ok_or("truncated agent reply")?;
        self.0 = &self.0[4..];
        Ok(u32::from_be_bytes(b.try_into().expect("4 bytes")))
    }
    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        let b = self.0.get(..n).ok_or("truncated agent reply")?;
        self.0 = &self.0[n..];
        Ok(b)
    }
}

impl Agent {
    /// Connect to the agent at `socket`.
    pub fn connect(socket: &Path) -> Result<Agent, String> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| format!("cannot reach the ssh-agent at {}: {e}", socket.display()))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        Ok(Agent { stream })
    }

    fn call(&mut self, kind: u8, body: &[u8]) -> Result<(u8, Vec<u8>), String> {
        let mut msg = Vec::with_capacity(body.len() + 5);
        msg.extend_from_slice(&(body.len() as u32 + 1).to_be_bytes());
        msg.push(kind);
        msg.extend_from_slice(body);
        self.stream.write_all(&msg).map_err(|e| format!("writing to the ssh-agent: {e}"))?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| format!("reading from the ssh-agent: {e}"))?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_REPLY {
            return Err(format!("the ssh-agent sent a reply of {len} bytes"));
        }
        let mut reply = vec![0u8; len];
        self.stream.read_exact(&mut reply).map_err(|e| format!("reading from the ssh-agent: {e}"))?;
        Ok((reply[0], reply[1..].to_vec()))
    }

    /// The agent's keys: (public key blob, comment).
    pub fn identities(&mut self) -> Result<Vec<(Vec<u8>, String)>, String> {
        let (kind, body) = self.call(REQUEST_IDENTITIES, &[])?;
        if kind != IDENTITIES_ANSWER {
            return Err(format!("the ssh-agent answered a key listing with message {kind}"));
        }
        let mut r = Reader(&body);
        let n = r.u32()?;
        let mut out = Vec::new();
        for _ in 0..n {
            let blob = r.string()?.to_vec();
            let comment = String::from_utf8_lossy(r.string()?).into_owned();
            out.push((blob, comment));
        }
        Ok(out)
    }

    /// Ask the agent to sign `data` with the key `blob`; the SSH signature
    /// blob (`string algorithm ‖ string signature`).
    pub fn sign(&mut self, blob: &[u8], data: &[u8], rsa: bool) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        string(&mut body, blob);
        string(&mut body, data);
        body.extend_from_slice(&(if rsa { RSA_SHA2_512 } else { 0 }).to_be_bytes());
        match self.call(SIGN_REQUEST, &body)? {
            (SIGN_RESPONSE, reply) => Ok(Reader(&reply).string()?.to_vec()),
            (FAILURE, _) => Err("the ssh-agent refused to sign (key removed, or confirmation denied)".into()),
            (k, _) => Err(format!("the ssh-agent answered a sign request with message {k}")),
        }
    }
}
