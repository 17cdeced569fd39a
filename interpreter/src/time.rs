//! Wall-clock timestamps as RFC 3339 text, without a date library; and the
//! virtual clock of `flowc test`.
//!
//! # Virtual time
//!
//! A test runs its run on one thread (the runtime is a current-thread tokio
//! runtime per call), with that thread's clock set to virtual
//! ([`set_virtual`]): [`now_ms`] then returns a time that moves only when
//! the test says so ([`advance`], `advance 72h`) or when the runtime would
//! otherwise sleep (a retry's backoff moves it by the backoff). Deadlines of
//! gates and waits, timers, retry windows and the run's timeout are all
//! computed from `now_ms`, so they fall due as the virtual clock passes
//! them, in no real time. The processes of steps a test does not mock run
//! in real time: their `timeout` is real (docs/testing.md).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The virtual time of this thread, when it has one.
    static VIRTUAL_MS: Cell<Option<i64>> = const { Cell::new(None) };
}

/// Milliseconds since the Unix epoch: the wall clock, or this thread's virtual clock.
pub fn now_ms() -> i64 {
    if let Some(v) = VIRTUAL_MS.with(Cell::get) {
        return v;
    }
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Gives this thread a virtual clock standing at `at_ms` (`None`: the wall clock again).
pub fn set_virtual(at_ms: Option<i64>) {
    VIRTUAL_MS.with(|c| c.set(at_ms));
}

/// Whether this thread's clock is virtual.
pub fn is_virtual() -> bool {
    VIRTUAL_MS.with(Cell::get).is_some()
}

/// Moves this thread's virtual clock `ms` forward (nothing on the wall clock).
pub fn advance(ms: u64) {
    VIRTUAL_MS.with(|c| c.set(c.get().map(|v| v.saturating_add(ms.min(i64::MAX as u64) as i64))));
}

/// Moves this thread's virtual clock to `at_ms`, if that is later.
pub fn advance_to(at_ms: i64) {
    VIRTUAL_MS.with(|c| c.set(c.get().map(|v| v.max(at_ms))));
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's civil_from_days.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-11-21T10:00:00.123Z`.
///
/// Every event and state row carries one or two of these, so they are
/// written digit by digit into a fixed buffer: `format!` with padded
/// integers was 5% of a run of 10,000 instant steps.
pub fn rfc3339_ms(ms: i64) -> String {
    let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        // Outside four-digit years the padded form is what `format!` gives.
        return format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, sod % 3600 / 60, sod % 60);
    }
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, i64::from(m));
    put(8, 2, i64::from(d));
    put(11, 2, sod / 3600);
    put(14, 2, sod % 3600 / 60);
    put(17, 2, sod % 60);
    put(20, 3, millis);
    // Only ASCII digits and separators were written, so this is never empty.
    std::str::from_utf8(&b).map(str::to_owned).unwrap_or_default()
}

/// `2026-11-21T10:00:00Z`, for human lines.
pub fn rfc3339_s(ms: i64) -> String {
    let full = rfc3339_ms(ms);
    format!("{}Z", &full[..19])
}

/// The time now, RFC 3339 UTC with milliseconds (`2026-11-21T10:00:00.000Z`).
pub fn now() -> String {
    rfc3339_ms(now_ms())
}

/// Parses the timestamps this module writes back into milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if b.get(19) == Some(&b'.') { num(20..23)? } else { 0 };
    // days_from_civil
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000) + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        let t = 1_795_255_200_123; // 2026-11-21T10:00:00.123Z
        assert_eq!(rfc3339_ms(t), "2026-11-21T10:00:00.123Z");
        assert_eq!(rfc3339_s(t), "2026-11-21T10:00:00Z");
        assert_eq!(parse_rfc3339("2026-11-21T10:00:00.123Z"), Some(t));
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59Z"), Some(1_709_251_199_000));
    }

    #[test]
    fn the_fast_form_is_the_padded_form() {
        let padded = |ms: i64| {
            let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
            let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, sod % 3600 / 60, sod % 60)
        };
        // Leap days, ends of years and days, the epoch, before it, years past 9999.
        let mut cases = vec![0, -1, 1, 999, 86_399_999, 951_782_400_000, 1_709_251_199_999, 253_402_300_799_999];
        cases.extend([253_402_300_800_000, -62_167_219_200_001, i64::from(i32::MAX) * 1000]);
        let mut t = -2_208_988_800_000; // 1900
        while t < 4_102_444_800_000 {
            // 2100, in steps of a little over 11 days
            cases.push(t);
            t += 987_654_321;
        }
        for ms in cases {
            assert_eq!(rfc3339_ms(ms), padded(ms), "{ms}");
        }
        assert_eq!(parse_rfc3339(&rfc3339_ms(1_709_251_199_999)), Some(1_709_251_199_999));
    }
}
