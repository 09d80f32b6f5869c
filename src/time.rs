//! Time as the SAML messages carry it: UTC `xs:dateTime` instants and `xs:date` dates,
//! and the injectable [`Clock`] every time-dependent check reads.
//!
//! The SDK never reads the wall clock by itself: [`SystemClock`] is the production clock and
//! [`FixedClock`] the one tests use.

use std::fmt;

/// An instant in UTC, with millisecond precision (what SAML carries in practice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Timestamp {
    millis: i64,
}

/// A calendar date (`xs:date`, e.g. a date of birth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// The text was not a valid UTC `xs:dateTime` / `xs:date`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed date or time")]
pub struct TimeFormatError;

impl Date {
    /// A date from its parts; `None` when it does not exist (e.g. 30 February).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD` (the SPID form of `xs:date`; a trailing `Z` is tolerated).
    pub fn parse(text: &str) -> Result<Date, TimeFormatError> {
        let t = text.trim();
        let t = t.strip_suffix('Z').unwrap_or(t);
        let b = t.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(TimeFormatError);
        }
        let year = digits(b, 0, 4)? as i32;
        let month = digits(b, 5, 2)? as u8;
        let day = digits(b, 8, 2)? as u8;
        Date::new(year, month, day).ok_or(TimeFormatError)
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }
    /// The month, 1–12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The day of the month, 1–31.
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    fn days_from_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn from_days(z: i64) -> Date {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (y + i64::from(m <= 2)) as i32;
        Date {
            year,
            month: m,
            day: d,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Result<u32, TimeFormatError> {
    let s = b.get(start..start + len).ok_or(TimeFormatError)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return Err(TimeFormatError);
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Ok(v)
}

impl Timestamp {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp { millis }
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub const fn from_unix_seconds(secs: i64) -> Timestamp {
        Timestamp {
            millis: secs.saturating_mul(1000),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.millis
    }

    /// Seconds since the Unix epoch (rounded down).
    pub const fn unix_seconds(self) -> i64 {
        self.millis.div_euclid(1000)
    }

    /// This instant moved by `secs` seconds (negative moves back).
    pub const fn plus_seconds(self, secs: i64) -> Timestamp {
        Timestamp {
            millis: self.millis.saturating_add(secs.saturating_mul(1000)),
        }
    }

    /// Parses a UTC `xs:dateTime` as SAML requires it: `YYYY-MM-DDThh:mm:ss[.f+](Z|+00:00)`.
    ///
    /// Fractions beyond milliseconds are truncated. Offsets other than UTC are refused
    /// (SAML 2.0 core §1.3.3: time values MUST be expressed in UTC).
    pub fn parse(text: &str) -> Result<Timestamp, TimeFormatError> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() < 20 || b.len() > 40 {
            return Err(TimeFormatError);
        }
        let date = Date::parse(t.get(0..10).ok_or(TimeFormatError)?)?;
        if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
            return Err(TimeFormatError);
        }
        let hh = digits(b, 11, 2)?;
        let mm = digits(b, 14, 2)?;
        let ss = digits(b, 17, 2)?;
        if hh > 23 || mm > 59 || ss > 59 {
            return Err(TimeFormatError);
        }
        let mut i = 19;
        let mut millis = 0u32;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while let Some(&d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                if i - start < 3 {
                    millis = millis * 10 + u32::from(d - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return Err(TimeFormatError);
            }
            for _ in n..3 {
                millis *= 10;
            }
        }
        match t.get(i..) {
            Some("Z") | Some("+00:00") | Some("-00:00") => {}
            _ => return Err(TimeFormatError),
        }
        let secs = date.days_from_epoch() * 86_400
            + i64::from(hh) * 3600
            + i64::from(mm) * 60
            + i64::from(ss);
        Ok(Timestamp {
            millis: secs * 1000 + i64::from(millis),
        })
    }

    /// The calendar date of this instant (UTC).
    pub fn date(self) -> Date {
        Date::from_days(self.millis.div_euclid(86_400_000))
    }
}

impl fmt::Display for Timestamp {
    /// `YYYY-MM-DDThh:mm:ss.sssZ`, the form SPID's examples use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.date();
        let ms_of_day = self.millis.rem_euclid(86_400_000);
        let secs = ms_of_day / 1000;
        write!(
            f,
            "{}T{:02}:{:02}:{:02}.{:03}Z",
            d,
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            ms_of_day % 1000
        )
    }
}

/// Where checks read "now" from. Inject it; never call the wall clock in logic.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_unix_millis(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock stuck at one instant, for tests and replays.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = Timestamp::parse("2017-03-05T18:03:10.531Z").unwrap();
        assert_eq!(t.to_string(), "2017-03-05T18:03:10.531Z");
        let t = Timestamp::parse("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T23:59:59.000Z");
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .unix_millis(),
            0
        );
        assert_eq!(
            Timestamp::parse("2026-01-15T10:00:00.1234567Z")
                .unwrap()
                .unix_millis()
                % 1000,
            123
        );
        assert_eq!(
            Timestamp::from_unix_seconds(1_000_000_000).to_string(),
            "2001-09-09T01:46:40.000Z"
        );
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "2018-09-04",
            "2018/09/10T00:00:00Z",
            "2018-09-04T10:00:00",
            "2018-09-04T10:00:00+01:00",
            "2018-02-30T10:00:00Z",
            "2018-09-04T24:00:00Z",
            "2018-09-04T10:00:00.Z",
            "2018-09-04T10:00:00ZZ",
            "２０１８-09-04T10:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(Date::parse("1980-01-01").unwrap().to_string(), "1980-01-01");
        assert!(Date::parse("1980-13-01").is_err());
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("2024-02-29").is_ok());
    }
}
