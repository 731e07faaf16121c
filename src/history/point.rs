//! Points in history: a sequence number (`123`), the end of a session
//! (`s12`), the end of the deploy that set `update_seq` N (`d7`), or the
//! head. `maand-journal diff` takes two; rollback's `--to` takes one.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::journal::{self, Outcome};
use redb::ReadTransaction;
use serde::Serialize;
use std::ops::ControlFlow;
use std::str::FromStr;

/// Sessions whose command is one of these are deploys (numbered by the
/// `update_seq` they set).
pub const DEPLOY_COMMANDS: &[&str] = &["deploy", "rollback"];

/// A point in a journal's history, as an operator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Just after event N (`123`, `seq:123`).
    Seq(u64),
    /// The end of session N (`s12`, `session:12`).
    Session(u64),
    /// The end of the deploy that set `update_seq` N (`d7`, `deploy:7`).
    Deploy(u64),
    /// The last event (`head`).
    Head,
}

impl FromStr for Point {
    type Err = Error;

    fn from_str(s: &str) -> Result<Point> {
        let bad = || {
            // Quoted cut short: a 100 KB argument makes a short message.
            Error::usage(format!(
                "{} is not a point in history: expected a sequence number (`123`), a session (`s12`), \
                 a deploy number (`d7`) or `head`",
                crate::workspace::names::quoted(s)
            ))
        };
        let num = |t: &str| t.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad);
        let t = s.trim();
        if t == "head" {
            return Ok(Point::Head);
        }
        if let Some(n) = t.strip_prefix("seq:") {
            return num(n).map(Point::Seq);
        }
        if let Some(n) = t.strip_prefix("session:").or_else(|| t.strip_prefix('s')) {
            return num(n).map(Point::Session);
        }
        if let Some(n) = t.strip_prefix("deploy:").or_else(|| t.strip_prefix('d')) {
            return num(n).map(Point::Deploy);
        }
        num(t).map(Point::Seq)
    }
}

/// A point resolved against a journal: the last event it includes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// As the operator wrote it, normalised (`s12`, `d7`, `123`, `head`).
    pub point: String,
    /// The last event included (state = committed fold up to it).
    pub seq: u64,
    /// The session, when the point names one (directly or as a deploy).
    pub session: Option<u64>,
    /// A human description: `deploy 7 (session 23, committed)`.
    pub describe: String,
}

fn outcome(o: &Outcome) -> &'static str {
    match o {
        Outcome::Open => "open",
        Outcome::Committed => "committed",
        Outcome::Failed(_) => "failed",
        Outcome::Aborted(_) => "aborted",
    }
}

/// Resolve `point` in the journal `txn` reads.
pub fn resolve(txn: &ReadTransaction, point: Point) -> Result<Resolved> {
    let last = journal::reader_event_count(txn)?;
    match point {
        Point::Head => {
            Ok(Resolved { point: "head".into(), seq: last, session: None, describe: format!("head (event {last})") })
        }
        Point::Seq(n) if n > last => {
            Err(Error::usage(format!("event {n} does not exist (the journal ends at event {last})")))
        }
        Point::Seq(n) => Ok(Resolved { point: n.to_string(), seq: n, session: None, describe: format!("event {n}") }),
        Point::Session(id) => {
            let rec = journal::reader_session(txn, id)?
                .ok_or_else(|| Error::usage(format!("no session {id}; `maand-journal sessions` lists them")))?;
            Ok(Resolved {
                point: format!("s{id}"),
                seq: rec.last_seq,
                session: Some(id),
                describe: format!("session {id} ({}, {})", rec.info.command, outcome(&rec.outcome)),
            })
        }
        Point::Deploy(n) => {
            for rec in journal::reader_sessions(txn)?.into_iter().rev() {
                if !DEPLOY_COMMANDS.contains(&rec.info.command.as_str()) {
                    continue;
                }
                if deploy_number(txn, rec.first_seq, rec.last_seq)? == Some(n) {
                    return Ok(Resolved {
                        point: format!("d{n}"),
                        seq: rec.last_seq,
                        session: Some(rec.id),
                        describe: format!("deploy {n} (session {}, {})", rec.id, outcome(&rec.outcome)),
                    });
                }
            }
            Err(Error::usage(format!("no deploy {n} in the journal (deploy numbers are update_seq values)")))
        }
    }
}

/// The `update_seq` a deploy session set (its first `UpdateSeqSet`).
pub fn deploy_number(txn: &ReadTransaction, first: u64, last: u64) -> Result<Option<u64>> {
    let mut found = None;
    journal::for_each_event(txn, first..=last, |env| {
        if let Event::UpdateSeqSet { update_seq } = env.event {
            found = Some(update_seq);
            return Ok(ControlFlow::Break(()));
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse() {
        assert_eq!("123".parse::<Point>().unwrap(), Point::Seq(123));
        assert_eq!("seq:5".parse::<Point>().unwrap(), Point::Seq(5));
        assert_eq!("s12".parse::<Point>().unwrap(), Point::Session(12));
        assert_eq!("session:12".parse::<Point>().unwrap(), Point::Session(12));
        assert_eq!("d7".parse::<Point>().unwrap(), Point::Deploy(7));
        assert_eq!("deploy:7".parse::<Point>().unwrap(), Point::Deploy(7));
        assert_eq!("head".parse::<Point>().unwrap(), Point::Head);
        for bad in ["", "0", "s", "s0", "d-1", "x7", "12a", "seq:", "99999999999999999999"] {
            let e = bad.parse::<Point>().unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.message().contains("is not a point in history"), "{bad}: {e}");
        }
    }
}
