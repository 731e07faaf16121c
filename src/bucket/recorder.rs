//! Where a read-only check (`health_check`, `job status`) records what it
//! saw: a writer [`Session`], or — while another command holds the bucket
//! lock — a [`Detached`] buffer over the committed state, recorded later
//! in a session of its own (see `cli::detached`). The original ran such
//! checks from cron during a deploy; refusing them as "bucket is busy"
//! broke that habit.

use super::{BucketPaths, BucketView, MaandConf, Session};
use crate::clock;
use crate::error::Result;
use crate::event::Event;
use crate::event::Millis;
use crate::state::State;

/// What checks need from a session: state to read, somewhere to record.
pub trait Recorder {
    /// State to check against.
    fn state(&self) -> &State;
    /// Bucket paths.
    fn paths(&self) -> &BucketPaths;
    /// `maand.conf`.
    fn conf(&self) -> &MaandConf;
    /// The session id (0 when detached: not known yet).
    fn id(&self) -> u64;
    /// The hook API port to bind.
    fn hook_api_port(&self) -> u16 {
        self.conf().hook_api_port
    }
    /// Record an event.
    fn record(&mut self, event: Event) -> Result<()>;
    /// Make recorded events durable where that applies.
    fn flush(&mut self) -> Result<()>;
}

impl Recorder for Session<'_> {
    fn state(&self) -> &State {
        Session::state(self)
    }
    fn paths(&self) -> &BucketPaths {
        &self.bucket().paths
    }
    fn conf(&self) -> &MaandConf {
        &self.bucket().conf
    }
    fn id(&self) -> u64 {
        Session::id(self)
    }
    fn record(&mut self, event: Event) -> Result<()> {
        Session::record(self, event)
    }
    fn flush(&mut self) -> Result<()> {
        Session::flush(self)
    }
}

/// Checks run beside a writer: committed state read through a
/// [`BucketView`], events kept with their times until a session can take
/// them. Only record-kind events (nothing that changes state) are expected:
/// checks write no KV (hooks are refused writes during `health_check`).
pub struct Detached {
    /// The read-only view checked against.
    pub view: BucketView,
    /// Events recorded, with their times.
    pub events: Vec<(Millis, Event)>,
}

impl Detached {
    /// A detached recorder over `view`.
    pub fn new(view: BucketView) -> Detached {
        Detached { view, events: Vec::new() }
    }
}

impl Recorder for Detached {
    fn state(&self) -> &State {
        &self.view.state
    }
    fn paths(&self) -> &BucketPaths {
        &self.view.paths
    }
    fn conf(&self) -> &MaandConf {
        &self.view.conf
    }
    fn id(&self) -> u64 {
        0
    }
    /// The configured port is likely held by the writer's own hook API: a
    /// free one instead (hooks learn it from `HOOK_API_PORT`).
    fn hook_api_port(&self) -> u16 {
        let port = self.view.conf.hook_api_port;
        if port != 0 && std::net::TcpListener::bind(("127.0.0.1", port)).is_err() { 0 } else { port }
    }
    fn record(&mut self, event: Event) -> Result<()> {
        self.events.push((clock::now_ms(), event));
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}
