//! Session-aware folding: only events made durable by a checkpoint (or a
//! commit) of their session reach the state.

use super::State;
use crate::event::{Envelope, Event};

/// Folds envelopes in journal order into a [`State`], holding each
/// session's events back until its next checkpoint, and dropping what a
/// failed or aborted session recorded after its last checkpoint.
#[derive(Debug, Default)]
pub struct Fold {
    state: State,
    pending: Vec<Event>,
    pending_session: Option<u64>,
}

impl Fold {
    /// Start folding from a known state (empty, or a snapshot).
    pub fn from_state(state: State) -> Self {
        Fold { state, pending: Vec::new(), pending_session: None }
    }

    /// Feed the next envelope (must be in journal order).
    pub fn push(&mut self, env: &Envelope) {
        match &env.event {
            Event::SessionOpened(_) => {
                // A new session: anything still pending belonged to a session
                // that never ended; it is not state.
                self.pending.clear();
                self.pending_session = Some(env.session_id);
            }
            Event::Checkpoint { .. } | Event::SessionCommitted { .. } => {
                if self.pending_session == Some(env.session_id) {
                    for ev in self.pending.drain(..) {
                        self.state.apply(&ev);
                    }
                }
                self.state.seq = env.seq;
            }
            Event::SessionFailed { .. } | Event::SessionAborted { .. } => {
                if self.pending_session == Some(env.session_id) {
                    self.pending.clear();
                }
            }
            ev => {
                if self.pending_session != Some(env.session_id) {
                    self.pending.clear();
                    self.pending_session = Some(env.session_id);
                }
                self.pending.push(ev.clone());
            }
        }
    }

    /// The state folded so far (committed events only).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Finish: the committed state; any uncommitted tail is dropped.
    pub fn finish(self) -> State {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{KvValue, SessionInfo};

    fn env(seq: u64, session: u64, event: Event) -> Envelope {
        Envelope {
            format_version: 1,
            seq,
            session_id: session,
            prev_hash: [0; 32],
            hash: [0; 32],
            recorded_at: 0,
            event,
        }
    }

    fn put(k: &str) -> Event {
        Event::KvPut { namespace: "n".into(), key: k.into(), value: KvValue::Plain("v".into()), ttl: 0, at: 0 }
    }

    fn open() -> Event {
        Event::SessionOpened(SessionInfo {
            command: "t".into(),
            command_line: vec![],
            user: "u".into(),
            host: "h".into(),
            maand_version: "0".into(),
            pid: 1,
            started_at: 0,
            test_switches: vec![],
        })
    }

    #[test]
    fn only_checkpointed_events_count() {
        let mut f = Fold::default();
        f.push(&env(1, 1, open()));
        f.push(&env(2, 1, put("a")));
        f.push(&env(3, 1, Event::Checkpoint { label: "c".into() }));
        f.push(&env(4, 1, put("b")));
        f.push(&env(5, 1, Event::SessionFailed { ended_at: 0, error: "x".into() }));
        f.push(&env(6, 2, open()));
        f.push(&env(7, 2, put("c")));
        let s = f.finish();
        assert!(s.kv.get("n", "a").is_some());
        assert!(s.kv.get("n", "b").is_none());
        assert!(s.kv.get("n", "c").is_none());
        assert_eq!(s.seq, 3);
    }
}
