//! Time for the shell: the only place maand reads the clock. The pure core
//! receives times inside events.

use crate::event::Millis;
pub use maand_core::time::format_ms;

/// Current time in milliseconds since the epoch (UTC).
pub fn now_ms() -> Millis {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_millis() as Millis
}
