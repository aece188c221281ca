//! Time: an injectable clock, and RFC 3339 timestamps in the same shape as
//! JavaScript's `Date.prototype.toISOString` (`2026-01-02T03:04:05.678Z`), so
//! timestamps compare correctly as strings.

use crate::error::{Error, Result};

/// A source of the current time, in milliseconds since the Unix epoch.
///
/// Inject a [`ManualClock`] for deterministic tests; the WebAssembly bindings
/// supply one over `Date.now()` (the standard clock panics on `wasm32`).
pub trait Clock {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> i64;
}

/// The operating system's clock (not available on `wasm32`).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to: each reading advances it by `step`
/// milliseconds, so successive changes get distinct, predictable timestamps.
#[derive(Debug)]
pub struct ManualClock {
    now: std::cell::Cell<i64>,
    step: i64,
}

impl ManualClock {
    /// A clock at `start_ms` that advances `step_ms` per reading.
    pub fn new(start_ms: i64, step_ms: i64) -> Self {
        ManualClock {
            now: std::cell::Cell::new(start_ms),
            step: step_ms,
        }
    }

    /// Moves the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.now.set(ms);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        let t = self.now.get();
        self.now.set(t.saturating_add(self.step));
        t
    }
}

impl<C: Clock + ?Sized> Clock for std::rc::Rc<C> {
    fn now_ms(&self) -> i64 {
        (**self).now_ms()
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ` (years 0..=9999;
/// others are clamped to that range).
pub fn format_rfc3339(ms: i64) -> String {
    // 0000-01-01 and 9999-12-31T23:59:59.999 in epoch milliseconds.
    let ms = ms.clamp(-62_167_219_200_000, 253_402_300_799_999);
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// Parses an RFC 3339 timestamp (`2026-01-02T03:04:05Z`, optional fraction,
/// `Z` or `±HH:MM` offset; a space may stand for `T`) into epoch
/// milliseconds. Anything else is a `VALIDATION` error.
pub fn parse_rfc3339(text: &str) -> Result<i64> {
    let bad = || {
        Error::validation(
            "timestamp",
            format!("{text:?} is not an RFC 3339 timestamp"),
        )
    };
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64> {
        let s = text.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        // Milliseconds: first three digits, padded.
        let digits = &text[start..i.min(start + 3)];
        millis = digits.parse::<i64>().map_err(|_| bad())? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_min = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)?;
            let m = num(i + 4..i + 6)?;
            if h > 23 || m > 59 {
                return Err(bad());
            }
            let total = h * 60 + m;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let second = second.min(59);
    Ok(days * MS_PER_DAY + ((hour * 60 + minute - offset_min) * 60 + second) * 1000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil algorithms (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_to_iso_string() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        // new Date(1764336000123).toISOString()
        assert_eq!(
            format_rfc3339(1_764_336_000_123),
            "2025-11-28T13:20:00.123Z"
        );
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parses_what_it_formats_and_offsets() {
        for ms in [0, 1, 951_782_400_000, 1_764_336_000_123, -86_400_001] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ms)).unwrap(), ms);
        }
        assert_eq!(
            parse_rfc3339("2025-11-28T14:20:00.123+01:00").unwrap(),
            1_764_336_000_123
        );
        assert_eq!(
            parse_rfc3339("2025-11-28 13:20:00Z").unwrap(),
            1_764_336_000_000
        );
        for bad in [
            "",
            "2025-11-28",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-11-28T13:20:00",
            "2025-11-28T13:20:00.Z",
            "2025-11-28T13:20:00+1:00",
            "2025-11-28T13:20:00Zjunk",
            "２０２５-11-28T13:20:00Z",
        ] {
            assert_eq!(
                parse_rfc3339(bad).unwrap_err().code(),
                "VALIDATION",
                "{bad}"
            );
        }
    }
}
