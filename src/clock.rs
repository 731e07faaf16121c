//! Time for the shell: the only place maand reads the clock. The pure core
//! receives times inside events.

use crate::event::Millis;

/// Current time in milliseconds since the epoch (UTC).
pub fn now_ms() -> Millis {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_millis() as Millis
}

/// RFC 3339 rendering of a recorded time, e.g. `2026-11-22T03:04:05.678Z`.
pub fn format_ms(ms: Millis) -> String {
    let nanos = (ms as i128) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            t.format(&fmt).unwrap_or_else(|_| ms.to_string())
        }
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc() {
        assert_eq!(super::format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::format_ms(1_763_780_645_123), "2025-11-22T03:04:05.123Z");
    }
}
