//! A journal session: one per mutating command run.
//!
//! Events are applied to the in-memory state as they are recorded (so the
//! command sees its own changes), buffered, and appended to the journal in
//! durable batches. A checkpoint makes everything recorded so far part of
//! the committed state and updates the projection; commit is a final
//! checkpoint. If the process dies, the next opener marks the session
//! aborted and only checkpointed events count.

use super::Bucket;
use crate::clock;
use crate::error::{Error, Result};
use crate::event::{Event, Millis, SessionInfo};
use crate::journal::{Outcome, SessionRecord};
use crate::projection;
use crate::state::{State, Touched, touched_by};
use std::collections::BTreeSet;

/// Buffered events are flushed to the journal at this many.
const FLUSH_AT: usize = 8192;

/// A running session on a writable bucket.
pub struct Session<'b> {
    bucket: &'b mut Bucket,
    record: SessionRecord,
    buffer: Vec<(Millis, Event)>,
    touched: BTreeSet<Touched>,
    ended: bool,
    /// Signs the chain head at commit (`signing_key` in `maand.conf`).
    signer: Option<crate::signing::Signer>,
}

/// Describe the current process running `command` for a session record.
pub fn session_info(command: &str) -> SessionInfo {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| login_name());
    SessionInfo {
        command: command.to_string(),
        command_line: std::env::args().collect(),
        user,
        host: hostname(),
        maand_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        started_at: clock::now_ms(),
        test_switches: crate::journal::armed_test_switches(),
    }
}

/// The login name of the real user id, from the password database.
fn login_name() -> String {
    // SAFETY: getuid never fails; getpwuid_r writes only into the buffers we
    // pass and sets `result` to null or to `pwd`.
    unsafe {
        let uid = libc::getuid();
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) == 0 && !result.is_null() {
            return std::ffi::CStr::from_ptr(pwd.pw_name).to_string_lossy().into_owned();
        }
        format!("uid:{uid}")
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Bucket {
    /// Begin a session; its `SessionOpened` record is durable at once.
    pub fn begin(&mut self, mut info: SessionInfo) -> Result<Session<'_>> {
        if let Some(d) = self.journal.death() {
            info.test_switches.push(d.switch());
        }
        // Load the signing key first: a bad one fails before any work.
        let signer = self.conf.signing_key().map(|k| crate::signing::Signer::load(&self.paths, &k)).transpose()?;
        let id = self.journal.next_session_id()?;
        let at = info.started_at;
        let mut record = SessionRecord {
            id,
            info: crate::journal::session_index_info(&info),
            first_seq: 0,
            last_seq: 0,
            events: 0,
            checkpoint_seq: 0,
            ended_at: None,
            outcome: Outcome::Open,
        };
        crate::logs::begin(&self.paths, self.conf.log_format, id, &info.command, &info.command_line);
        self.journal.append(&mut record, &[(at, Event::SessionOpened(info))])?;
        Ok(Session { bucket: self, record, buffer: Vec::new(), touched: BTreeSet::new(), ended: false, signer })
    }
}

impl Session<'_> {
    /// The session id.
    pub fn id(&self) -> u64 {
        self.record.id
    }

    /// State including this session's recorded events.
    pub fn state(&self) -> &State {
        &self.bucket.state
    }

    /// The bucket the session runs on.
    pub fn bucket(&self) -> &Bucket {
        self.bucket
    }

    /// Record an event now: apply it to state and queue it for the journal.
    pub fn record(&mut self, event: Event) -> Result<()> {
        self.record_at(clock::now_ms(), event)
    }

    /// Record an event with an explicit recorded time.
    pub fn record_at(&mut self, at: Millis, event: Event) -> Result<()> {
        self.touched.extend(touched_by(&event));
        self.bucket.state.apply(&event);
        self.buffer.push((at, event));
        if self.buffer.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    /// Make the buffered events durable in the journal (they are still
    /// outside committed state until the next checkpoint).
    pub fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.buffer);
        self.bucket.journal.append(&mut self.record, &batch)?;
        Ok(())
    }

    /// Everything recorded so far becomes committed state; the projection
    /// follows.
    pub fn checkpoint(&mut self, label: &str) -> Result<()> {
        self.push_marker(Event::Checkpoint { label: label.to_string() })
    }

    fn push_marker(&mut self, marker: Event) -> Result<()> {
        self.buffer.push((clock::now_ms(), marker));
        self.flush()?;
        let prev_seq = self.bucket.state.seq;
        self.bucket.state.seq = self.record.last_seq;
        let touched = std::mem::take(&mut self.touched);
        let b = &*self.bucket;
        projection::update_or_rebuild(&b.paths.db(), &b.state, &b.journal.meta().journal_id, prev_seq, &touched)?;
        Ok(())
    }

    /// End the session successfully (a final checkpoint), snapshotting the
    /// state when enough events accumulated since the last snapshot.
    pub fn commit(mut self) -> Result<()> {
        self.ended = true;
        if let Err(e) = self.sign_head() {
            let e = e.context("cannot sign the session (signing_key in maand.conf)");
            self.end_failed(e.message())?;
            return Err(e);
        }
        self.push_marker(Event::SessionCommitted { ended_at: clock::now_ms() })?;
        let last_snapshot = {
            let txn = self.bucket.journal.begin_read()?;
            crate::journal::reader_snapshots(&txn)?.last().map_or(0, |s| s.seq)
        };
        if self.bucket.state.seq.saturating_sub(last_snapshot) >= self.bucket.snapshot_every.max(1) {
            self.bucket.journal.write_snapshot(&self.bucket.state)?;
        }
        crate::logs::end("committed");
        Ok(())
    }

    /// With a signing key: make everything durable, sign the chain head and
    /// queue the `SessionSigned` record the commit follows.
    fn sign_head(&mut self) -> Result<()> {
        let Some(signer) = self.signer.take() else { return Ok(()) };
        self.flush()?;
        let (seq, head) = self.bucket.journal.head();
        let signature = signer.sign_head(self.record.id, seq, &head)?;
        self.buffer.push((clock::now_ms(), Event::SessionSigned { seq, head, signature }));
        Ok(())
    }

    /// End the session with an error: what it recorded after its last
    /// checkpoint stays in the journal for audit but not in state.
    pub fn fail(mut self, error: &Error) -> Result<()> {
        self.ended = true;
        self.end_failed(error.message())
    }

    /// End the session by the command's result: commit on success, fail on
    /// error and hand the error back unchanged.
    pub fn finish<T>(self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                self.commit()?;
                Ok(v)
            }
            Err(e) => {
                self.fail(&e)?;
                Err(e)
            }
        }
    }

    fn end_failed(&mut self, message: &str) -> Result<()> {
        crate::logs::end(&format!("failed: {message}"));
        self.buffer
            .push((clock::now_ms(), Event::SessionFailed { ended_at: clock::now_ms(), error: message.to_string() }));
        self.flush()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if !self.ended {
            // Neither committed nor failed explicitly (an early `?` return or
            // a panic): close it as failed so it is not mistaken for a crash.
            let _ = self.end_failed("the command ended without committing its session");
        }
    }
}
