//! Which parts of state an event touches: lets the projection rewrite only
//! those rows at a checkpoint instead of the whole database.

use crate::event::Event;

/// A unit of state the projection can rewrite on its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Touched {
    /// The `bucket` row (id, update_seq).
    Bucket,
    /// One KV key: all its rows in `key_value`.
    Kv {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
    },
}

/// The state units `event` changes when folded (empty for records).
pub fn touched_by(event: &Event) -> Option<Touched> {
    match event {
        Event::BucketInitialized { .. } | Event::UpdateSeqSet { .. } => Some(Touched::Bucket),
        Event::KvPut { namespace, key, .. }
        | Event::KvDeleted { namespace, key, .. }
        | Event::KvPurged { namespace, key } => Some(Touched::Kv {
            namespace: namespace.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}
