//! A canonical text dump of a projection: every table's rows in primary-key
//! order. Two projections of the same state dump identically; verification
//! compares the on-disk database with a fresh one this way.

use crate::error::Result;
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Values longer than this are dumped as their length and SHA-256.
const LARGE: usize = 1024;

/// Dump schema and rows of `conn` as text.
pub fn canonical_dump(conn: &Connection) -> Result<String> {
    let mut out = String::new();
    let mut stmt =
        conn.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")?;
    let objects: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default())))?
        .collect::<std::result::Result<_, _>>()?;
    for (kind, name, sql) in &objects {
        let _ = writeln!(out, "{kind} {name}: {sql}");
        if kind != "table" {
            continue;
        }
        let mut rows = conn.prepare(&format!("SELECT * FROM \"{name}\""))?;
        let cols = rows.column_count();
        let mut q = rows.query([])?;
        while let Some(row) = q.next()? {
            let mut line = String::from("  ");
            for i in 0..cols {
                match row.get_ref(i)? {
                    ValueRef::Null => line.push_str("NULL"),
                    ValueRef::Integer(n) => {
                        let _ = write!(line, "{n}");
                    }
                    ValueRef::Real(f) => {
                        let _ = write!(line, "{f}");
                    }
                    // Large values (job files) are represented by their hash:
                    // comparisons stay exact without holding several textual
                    // copies of every file in memory.
                    ValueRef::Text(t) if t.len() > LARGE => {
                        let _ = write!(line, "text[{} bytes, sha256 {}]", t.len(), hex::encode(Sha256::digest(t)));
                    }
                    ValueRef::Text(t) => {
                        let _ = write!(line, "{:?}", String::from_utf8_lossy(t));
                    }
                    ValueRef::Blob(b) if b.len() > LARGE => {
                        let _ = write!(line, "blob[{} bytes, sha256 {}]", b.len(), hex::encode(Sha256::digest(b)));
                    }
                    ValueRef::Blob(b) => {
                        let _ = write!(line, "x'{}'", hex::encode(b));
                    }
                }
                line.push('|');
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
    Ok(out)
}
