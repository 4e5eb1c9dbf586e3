//! Times as people read them: RFC 3339 in UTC, beside the raw epoch milliseconds.

use std::time::{Duration, UNIX_EPOCH};

/// Milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds
/// (`2026-12-05T06:07:08.123Z`). Negative values (never written by Palisade) read as the epoch.
pub fn rfc3339_ms(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// Seconds since the Unix epoch (a block timestamp) as RFC 3339 UTC.
pub fn rfc3339_secs(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// An RFC 3339 time (`2026-12-05T08:00:00Z`, `2026-12-05T08:00:00.250Z`) as milliseconds since
/// the Unix epoch; `None` when it is not one (or before the epoch).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s.trim()).ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2024-02-29T12:00:00Z is 1709208000 s (leap day; checked with `date -u -d @1709208000`).
        assert_eq!(rfc3339_ms(1_709_208_000_123), "2024-02-29T12:00:00.123Z");
        assert_eq!(rfc3339_secs(1_709_208_000), "2024-02-29T12:00:00Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(parse_rfc3339_ms("2024-02-29T12:00:00.123Z"), Some(1_709_208_000_123));
        assert_eq!(parse_rfc3339_ms("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
