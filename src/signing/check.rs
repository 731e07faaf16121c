//! Checking a journal's session signatures against an allowed-signers file
//! (`maand-journal verify --allowed-signers FILE`).
//!
//! For every `SessionSigned` record the checker recomputes what was signed
//! from the journal alone: the record just before it must be of the same
//! session, sit at the signed sequence number and hash to the signed head
//! (recomputed from its bytes, so a re-hashed forgery of any earlier record
//! shows here), the signature must verify over [`signed_head_message`] in
//! the journal's namespace, its key must be allowed for that namespace at
//! the session's commit time, and the session's commit must follow it.

use super::allowed::AllowedSigners;
use super::crypto::verify_armored;
use crate::bucket::BucketPaths;
use crate::error::Result;
use crate::event::{Event, Hash32, signed_head_message};
use crate::journal::{self, JournalReader, codec};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// What a session's signature check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// A valid signature by an allowed key.
    Signed {
        /// The principals of the allowed-signers lines that allow the key.
        principals: Vec<String>,
        /// Key type (`ED25519`, …).
        key_type: String,
        /// Key fingerprint (`SHA256:…`).
        fingerprint: String,
        /// The signed head's sequence number.
        seq: u64,
        /// The signed head.
        head: Hash32,
    },
    /// The signature is bad, or its key is not allowed: why.
    Bad(String),
    /// A committed session without a signature.
    Unsigned,
    /// The session did not commit (failed, aborted, still open): sessions
    /// sign at commit, so there is nothing to check; the next signed head
    /// covers its records.
    NotCommitted(String),
}

/// One session's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSignature {
    /// Session id.
    pub session: u64,
    /// Its command (`build`, `deploy`, …).
    pub command: String,
    /// What was found.
    pub status: SignatureStatus,
    /// Whether this session must carry a valid signature.
    pub required: bool,
}

impl SessionSignature {
    /// Whether this session passes: a good signature, or none where none is
    /// required.
    pub fn ok(&self) -> bool {
        match &self.status {
            SignatureStatus::Signed { .. } | SignatureStatus::NotCommitted(_) => true,
            SignatureStatus::Unsigned => !self.required,
            SignatureStatus::Bad(_) => false,
        }
    }
}

/// The signature check of a whole journal.
#[derive(Debug, Clone, Default)]
pub struct SignatureReport {
    /// One entry per session, in order.
    pub sessions: Vec<SessionSignature>,
    /// Committed sessions from this id on must be signed.
    pub required_from: Option<u64>,
}

impl SignatureReport {
    /// Whether every session passes.
    pub fn ok(&self) -> bool {
        self.sessions.iter().all(SessionSignature::ok)
    }
}

#[derive(Default)]
struct Seen {
    command: String,
    committed: bool,
    outcome: String,
    signature: Option<SignatureStatus>,
}

/// Check every session's signature. Committed sessions from
/// `required_from` on (default: the first session carrying a signature)
/// must be signed by a key `allowed` allows.
pub fn check_signatures(
    paths: &BucketPaths,
    allowed: &AllowedSigners,
    required_from: Option<u64>,
) -> Result<SignatureReport> {
    let reader = JournalReader::open(&paths.journal())?;
    let txn = reader.begin_read()?;
    let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
    // (seq, recomputed hash, session) of the previous record.
    let mut prev: Option<(u64, Hash32, u64)> = None;
    // A signature waiting for its commit: (session, seq of the signature).
    let mut awaiting: Option<(u64, u64)> = None;
    journal::for_each_raw(&txn, .., |seq, raw| {
        let env = codec::decode(raw)?;
        let hash = codec::body_hash(&raw[..raw.len() - 32]);
        if let Some((session, at)) = awaiting.take()
            && !(session == env.session_id && matches!(env.event, Event::SessionCommitted { .. }))
            && let Some(x) = seen.get_mut(&session)
        {
            x.signature = Some(SignatureStatus::Bad(format!(
                "the signature at event {at} is not followed by its session's commit"
            )));
        }
        let s = seen.entry(env.session_id).or_default();
        match &env.event {
            Event::SessionOpened(info) => s.command = info.command.clone(),
            Event::SessionCommitted { .. } => {
                s.committed = true;
                s.outcome = "committed".into();
            }
            Event::SessionFailed { .. } => s.outcome = "failed".into(),
            Event::SessionAborted { .. } => s.outcome = "aborted".into(),
            Event::SessionSigned { seq: signed, head, signature } => {
                let status = if s.signature.is_some() {
                    SignatureStatus::Bad(format!("signed twice (again at event {seq})"))
                } else {
                    let status =
                        check_one(allowed, env.session_id, seq, *signed, head, signature, prev, env.recorded_at);
                    awaiting = Some((env.session_id, seq));
                    status
                };
                s.signature = Some(status);
            }
            _ => {}
        }
        prev = Some((seq, hash, env.session_id));
        Ok(ControlFlow::Continue(()))
    })?;
    if let Some((session, at)) = awaiting
        && let Some(x) = seen.get_mut(&session)
    {
        x.signature =
            Some(SignatureStatus::Bad(format!("the signature at event {at} is not followed by its session's commit")));
    }
    let required_from = required_from.or_else(|| seen.iter().find(|(_, s)| s.signature.is_some()).map(|(id, _)| *id));
    let sessions = seen
        .into_iter()
        .map(|(id, s)| {
            let status = match s.signature {
                Some(st) => st,
                None if s.committed => SignatureStatus::Unsigned,
                None => SignatureStatus::NotCommitted(if s.outcome.is_empty() { "open".into() } else { s.outcome }),
            };
            SessionSignature {
                session: id,
                command: s.command,
                required: s.committed && required_from.is_some_and(|r| id >= r),
                status,
            }
        })
        .collect();
    Ok(SignatureReport { sessions, required_from })
}

#[allow(clippy::too_many_arguments)]
fn check_one(
    allowed: &AllowedSigners,
    session: u64,
    seq: u64,
    signed: u64,
    head: &Hash32,
    signature: &str,
    prev: Option<(u64, Hash32, u64)>,
    at: i64,
) -> SignatureStatus {
    let short = |h: &Hash32| hex::encode(&h[..8]);
    let Some((pseq, phash, psession)) = prev else {
        return SignatureStatus::Bad(format!("the signature at event {seq} has no event before it"));
    };
    if signed != pseq || pseq + 1 != seq {
        return SignatureStatus::Bad(format!(
            "the signature at event {seq} claims to cover event {signed}, not the event just before it"
        ));
    }
    if psession != session {
        return SignatureStatus::Bad(format!("the signature at event {seq} covers another session's event"));
    }
    if phash != *head {
        return SignatureStatus::Bad(format!(
            "signed head {}… is not the journal's hash of event {signed} ({}…): an earlier event was changed",
            short(head),
            short(&phash)
        ));
    }
    let message = signed_head_message(session, signed, head);
    match verify_armored(signature, message.as_bytes()) {
        Err(e) => SignatureStatus::Bad(e),
        Ok(v) => {
            let lines = allowed.find(&v.key, at);
            if lines.is_empty() {
                let why = if allowed.knows(&v.key) {
                    "is in the allowed signers, but not for namespace maand-journal at the session's commit time"
                } else {
                    "is not in the allowed signers"
                };
                SignatureStatus::Bad(format!("signed by {} {}, which {why}", v.key_type, v.fingerprint))
            } else {
                SignatureStatus::Signed {
                    principals: lines.iter().map(|l| l.principals.clone()).collect(),
                    key_type: v.key_type,
                    fingerprint: v.fingerprint,
                    seq: signed,
                    head: *head,
                }
            }
        }
    }
}
