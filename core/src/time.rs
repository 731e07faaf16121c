//! Rendering of recorded times. The core never reads the clock: times
//! arrive inside events, and this only formats them.

use crate::event::Millis;

/// RFC 3339 rendering of a recorded time, e.g. `2026-11-22T03:04:05.678Z`.
pub fn format_ms(ms: Millis) -> String {
    let nanos = (ms as i128) * 1_000_000;
    match ::time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let fmt = ::time::macros::format_description!(
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
