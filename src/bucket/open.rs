//! Opening a bucket: checks, lock, crash recovery, state loading, projection.

use super::{BucketLock, BucketPaths, MaandConf};
use crate::clock;
use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::codec::FORMAT_VERSION;
use crate::journal::{self, JournalMeta, JournalReader, JournalWriter, Outcome};
use crate::projection;
use crate::state::State;
use std::time::Duration;

/// How to open a bucket for writing.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The command about to run (named in lock and session records).
    pub command: String,
    /// How long to wait for a busy bucket.
    pub lock_wait: Duration,
}

/// A bucket opened for writing: holds the lock for its lifetime.
pub struct Bucket {
    /// Bucket paths.
    pub paths: BucketPaths,
    /// `maand.conf`.
    pub conf: MaandConf,
    /// Committed state (plus the running session's applied events).
    pub state: State,
    pub(super) journal: JournalWriter,
    pub(super) lock: BucketLock,
    /// Messages for the operator about what opening did (recoveries).
    pub notes: Vec<String>,
    /// Write a snapshot at commit once this many events accumulated since
    /// the last one (default [`journal::SNAPSHOT_EVERY`]).
    pub snapshot_every: u64,
}

/// A bucket opened read-only: never blocks or is blocked by a writer.
pub struct BucketView {
    /// Bucket paths.
    pub paths: BucketPaths,
    /// `maand.conf`.
    pub conf: MaandConf,
    /// Committed state as of opening.
    pub state: State,
    /// Journal metadata.
    pub meta: JournalMeta,
    /// The journal, for listings.
    pub journal: JournalReader,
}

/// Refuse directories that are not initialised buckets.
pub(super) fn require_initialised(paths: &BucketPaths) -> Result<()> {
    if !paths.conf().exists() || !paths.journal().exists() {
        return Err(Error::usage(format!(
            "{} is not an initialised maand bucket (missing {}): run `maand init` there, or pass --bucket DIR",
            paths.root().display(),
            if paths.conf().exists() { "data/journal.redb" } else { "maand.conf" }
        )));
    }
    Ok(())
}

/// Refuse journals of another format than this binary writes.
pub(super) fn check_format(meta: &JournalMeta) -> Result<()> {
    use std::cmp::Ordering::*;
    match meta.format_version.cmp(&FORMAT_VERSION) {
        Equal => Ok(()),
        Greater => Err(Error::usage(format!(
            "the journal has format {} but this maand understands up to {FORMAT_VERSION}: upgrade maand",
            meta.format_version
        ))),
        Less => Err(Error::usage(format!(
            "the journal has format {} and this maand writes {FORMAT_VERSION}: run `maand init` to upgrade the bucket",
            meta.format_version
        ))),
    }
}

impl Bucket {
    /// The bucket's id, or a usage error when `maand init` never recorded one.
    pub fn require_id(&self) -> Result<String> {
        self.state
            .bucket_id()
            .map(str::to_string)
            .ok_or_else(|| Error::usage("the bucket has no id yet: run `maand init`"))
    }

    /// Open an initialised bucket for writing: take the lock, recover from
    /// a crashed session, load state, bring the projection up to date.
    pub fn open(paths: BucketPaths, opts: &OpenOptions) -> Result<Bucket> {
        require_initialised(&paths)?;
        let conf = MaandConf::load(&paths.conf())?;
        let lock = BucketLock::acquire(&paths.lock(), &opts.command, opts.lock_wait)?;
        let journal = JournalWriter::open(&paths.journal())?;
        check_format(journal.meta())?;
        Self::finish_open(paths, conf, lock, journal)
    }

    /// Shared tail of opening (also used by `init`, which creates things
    /// before it can open).
    pub(super) fn finish_open(
        paths: BucketPaths,
        conf: MaandConf,
        lock: BucketLock,
        mut journal: JournalWriter,
    ) -> Result<Bucket> {
        let mut notes = Vec::new();
        let tightened = super::private::tighten(&paths)?;
        if !tightened.is_empty() {
            notes.push(format!("made {} private to you (mode 0700)", tightened.join(", ")));
        }
        if let Some(h) = &lock.took_over {
            notes.push(format!(
                "took over the bucket lock left by pid {} ({}, since {}), which is no longer running",
                h.pid, h.command, h.since
            ));
        }
        let t = std::time::Instant::now();
        // Loading checks the hash chain of what it folds: a damaged journal is
        // refused before anything is appended to it. Marking dead sessions
        // aborted afterwards changes no state (their tail is never folded).
        let state = {
            let txn = journal.begin_read()?;
            journal::load_state(&txn)?.state
        };
        tracing::info!(ms = t.elapsed().as_millis() as u64, seq = state.seq, "state loaded");
        mark_dead_sessions(&mut journal, &mut notes)?;
        if projection::ensure(&paths.db(), &state, &journal.meta().journal_id)? && paths.db().exists() {
            tracing::debug!("projection rebuilt");
        }
        Ok(Bucket { paths, conf, state, journal, lock, notes, snapshot_every: journal::SNAPSHOT_EVERY })
    }

    /// Simulations: the process "dies" after `death`'s number of durable
    /// events (see [`journal::DeathPoint`]); recorded in every session.
    pub fn arm_death(&mut self, death: std::sync::Arc<journal::DeathPoint>) {
        self.journal.arm_death(death);
    }

    /// Journal metadata.
    pub fn journal_meta(&self) -> &JournalMeta {
        self.journal.meta()
    }

    /// The lock this bucket holds (for diagnostics).
    pub fn lock(&self) -> &BucketLock {
        &self.lock
    }
}

/// Any session still `Open` belongs to a dead process (we hold the lock):
/// record it as aborted; its uncommitted tail stays for audit only.
fn mark_dead_sessions(journal: &mut JournalWriter, notes: &mut Vec<String>) -> Result<()> {
    let open: Vec<_> = {
        let txn = journal.begin_read()?;
        journal::reader_sessions(&txn)?.into_iter().filter(|s| s.outcome == Outcome::Open).collect()
    };
    for mut rec in open {
        // Sessions never interleave, so a seq difference is an event count.
        let tail = if rec.checkpoint_seq == 0 { rec.events } else { rec.last_seq - rec.checkpoint_seq };
        let reason = format!(
            "process {} ({}) ended without closing the session; {} event(s) after its last checkpoint are not part of state",
            rec.info.pid, rec.info.command, tail
        );
        notes.push(format!("session {} ({}) was cut off: marked aborted", rec.id, rec.info.command));
        let now = clock::now_ms();
        journal.append(&mut rec, &[(now, Event::SessionAborted { detected_at: now, reason })])?;
    }
    Ok(())
}

impl BucketView {
    /// Open an initialised bucket read-only and load its committed state.
    pub fn open(paths: BucketPaths) -> Result<BucketView> {
        require_initialised(&paths)?;
        let conf = MaandConf::load(&paths.conf())?;
        let journal = JournalReader::open(&paths.journal())?;
        let txn = journal.begin_read()?;
        let meta = journal::reader_meta(&txn)?;
        check_format(&meta)?;
        let state = journal::load_state(&txn)?.state;
        drop(txn);
        Ok(BucketView { paths, conf, state, meta, journal })
    }
}
