//! Patchwork's timestamps: naive, to the microsecond.
//!
//! Patchwork runs Django with `USE_TZ = False`, so every date it returns is a wall-clock time
//! without a zone (`2026-11-22T14:18:39.847926`). Dates read from mail are UTC; dates Patchwork
//! stamps itself (events, checks) are the server's local time. A [`Timestamp`] therefore keeps
//! exactly what the server said and never converts it: a cursor built from the server's own
//! event dates and sent back as `since` compares like with like, whatever the server's zone.
//! Sending a zone-aware value instead is worse than useless: Patchwork answers HTTP 500.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A naive date and time, microsecond precision, years 1 to 9999 (Python's `datetime` range).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01T00:00:00 on the same (unnamed) clock.
    micros: i64,
}

/// A text that is not an ISO 8601 date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 8601 date and time (YYYY-MM-DDTHH:MM:SS[.ffffff])")]
pub struct BadTimestamp(pub String);

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

impl Timestamp {
    /// From a calendar date and time; `None` when it does not exist.
    pub fn from_parts(
        year: i64,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micro: u32,
    ) -> Option<Timestamp> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
            || micro > 999_999
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = i64::from(hour * 3600 + minute * 60 + second);
        Some(Timestamp {
            micros: days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + i64::from(micro),
        })
    }

    /// Microseconds since 1970-01-01T00:00:00 (on whatever clock the timestamp is).
    pub fn unix_micros(self) -> i64 {
        self.micros
    }

    /// The inverse of [`Timestamp::unix_micros`]; `None` outside years 1 to 9999.
    pub fn from_unix_micros(micros: i64) -> Option<Timestamp> {
        let t = Timestamp { micros };
        (1..=9999).contains(&t.parts().0).then_some(t)
    }

    /// The current time in UTC, without a zone: what a fake server stamps, and the start of a
    /// cursor only when nothing better is known (the server's own clock may differ).
    pub fn now_utc() -> Timestamp {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp { micros }
    }

    /// `self - d`, saturating at the start of year 1.
    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        let d = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let floor = days_from_civil(1, 1, 1) * MICROS_PER_DAY;
        Timestamp {
            micros: self.micros.saturating_sub(d).max(floor),
        }
    }

    /// `self + d`, saturating at the end of year 9999.
    pub fn saturating_add(self, d: Duration) -> Timestamp {
        let d = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let ceiling = days_from_civil(10000, 1, 1) * MICROS_PER_DAY - 1;
        Timestamp {
            micros: self.micros.saturating_add(d).min(ceiling),
        }
    }

    /// `(year, month, day, hour, minute, second, microsecond)`.
    pub fn parts(self) -> (i64, u32, u32, u32, u32, u32, u32) {
        let days = self.micros.div_euclid(MICROS_PER_DAY);
        let in_day = self.micros.rem_euclid(MICROS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // In-day values are below 86 400 000 000: the casts cannot truncate.
        let seconds = (in_day / MICROS_PER_SECOND) as u32;
        let micro = (in_day % MICROS_PER_SECOND) as u32;
        (
            year,
            month,
            day,
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            micro,
        )
    }

    /// The day of the week, 0 for Monday (Python's `weekday()`).
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.micros.div_euclid(MICROS_PER_DAY) + 3).rem_euclid(7) as u32
    }

    /// Python's `ctime()` (`Sun Sep 11 22:32:21 2016`), as in an mbox's `From ` line.
    pub fn ctime(self) -> String {
        let (y, _, d, h, mi, s, _) = self.parts();
        let (weekday, month) = self.names();
        format!("{weekday} {month} {d:>2} {h:02}:{mi:02}:{s:02} {y:04}")
    }

    /// An RFC 5322 `Date:` (`Sun, 11 Sep 2016 22:32:21 +0000`), taking the time as UTC.
    pub fn rfc2822(self) -> String {
        let (y, _, d, h, mi, s, _) = self.parts();
        let (weekday, month) = self.names();
        format!("{weekday}, {d} {month} {y:04} {h:02}:{mi:02}:{s:02} +0000")
    }

    fn names(self) -> (&'static str, &'static str) {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = self.parts().1;
        (
            DAYS[self.weekday() as usize % 7],
            MONTHS[(month as usize + 11) % 12],
        )
    }

    /// Reads `YYYY-MM-DD[T ]HH:MM[:SS[.f…]]`, optionally followed by `Z` or `±HH[:MM]`. A zone,
    /// which Patchwork itself never sends, is applied (the result is then UTC), so that a server
    /// configured with `USE_TZ = True` still gives comparable values. More than six fractional
    /// digits are cut, as Python does.
    pub fn parse(text: &str) -> Result<Timestamp, BadTimestamp> {
        parse(text.trim()).ok_or_else(|| BadTimestamp(text.to_owned()))
    }
}

fn parse(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<u32> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let year = digits(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(5, 2)?;
    let day = digits(8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(11, 2)?;
    let minute = digits(14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut micro = 0;
    if b.get(i) == Some(&b':') {
        second = digits(i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.' | b',')) {
            i += 1;
            let start = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start {
                return None;
            }
            let mut fraction: String = s[start..i].chars().take(6).collect();
            while fraction.len() < 6 {
                fraction.push('0');
            }
            micro = fraction.parse().ok()?;
        }
    }
    let t = Timestamp::from_parts(i64::from(year), month, day, hour, minute, second, micro)?;
    let offset_minutes: i64 = match &s[i..] {
        "" => 0,
        "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let rest = zone[1..].replace(':', "");
            if rest.len() != 4 || !rest.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let h: i64 = rest[..2].parse().ok()?;
            let m: i64 = rest[2..].parse().ok()?;
            sign * (h * 60 + m)
        }
    };
    Timestamp::from_unix_micros(t.micros - offset_minutes * 60 * MICROS_PER_SECOND)
}

impl fmt::Display for Timestamp {
    /// Python's `isoformat()`: the fraction only when it is not zero, as Patchwork prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s, us) = self.parts();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if us != 0 {
            write!(f, ".{us:06}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = BadTimestamp;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years, years starting in
/// March so that the leap day comes last).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400;
    (if month <= 2 { year + 1 } else { year }, month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_prints_patchworks_forms() {
        for text in [
            "2026-11-22T14:18:39.847926",
            "2016-09-11T22:22:03",
            "2000-02-29T00:00:00.000001",
            "1970-01-01T00:00:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59.999999",
        ] {
            assert_eq!(Timestamp::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            Timestamp::parse("2016-09-11 22:22:03.5")
                .unwrap()
                .to_string(),
            "2016-09-11T22:22:03.500000"
        );
        assert_eq!(
            Timestamp::parse("2016-09-11T22:22:03.1234567")
                .unwrap()
                .to_string(),
            "2016-09-11T22:22:03.123456"
        );
        assert_eq!(
            Timestamp::parse("2016-09-11T22:22").unwrap().to_string(),
            "2016-09-11T22:22:00"
        );
    }

    #[test]
    fn zones_are_applied() {
        assert_eq!(
            Timestamp::parse("2016-09-11T23:22:03+01:00")
                .unwrap()
                .to_string(),
            "2016-09-11T22:22:03"
        );
        assert_eq!(
            Timestamp::parse("2016-09-11T22:22:03Z")
                .unwrap()
                .to_string(),
            "2016-09-11T22:22:03"
        );
        assert_eq!(
            Timestamp::parse("2016-09-11T20:22:03-0200")
                .unwrap()
                .to_string(),
            "2016-09-11T22:22:03"
        );
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for text in [
            "",
            "yesterday",
            "2016-13-01T00:00:00",
            "2015-02-29T00:00:00",
            "2016-09-11T24:00:00",
            "2016-09-11T22:22:03.",
            "2016-09-11T22:22:03 +01:00",
            "2016-9-11T22:22:03",
        ] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn arithmetic_and_calendar() {
        let t = Timestamp::parse("2024-03-01T00:10:00").unwrap();
        assert_eq!(
            t.saturating_sub(Duration::from_secs(15 * 60)).to_string(),
            "2024-02-29T23:55:00"
        );
        assert_eq!(
            t.saturating_add(Duration::from_micros(1)).to_string(),
            "2024-03-01T00:10:00.000001"
        );
        let start = Timestamp::parse("0001-01-01T00:00:00").unwrap();
        assert_eq!(start.saturating_sub(Duration::from_secs(1)), start);
        assert_eq!(
            Timestamp::parse("2016-09-11T22:32:21").unwrap().ctime(),
            "Sun Sep 11 22:32:21 2016"
        );
        assert_eq!(
            Timestamp::parse("2026-11-02T03:04:05").unwrap().ctime(),
            "Mon Nov  2 03:04:05 2026"
        );
        assert_eq!(
            Timestamp::parse("2016-09-11T22:32:21").unwrap().rfc2822(),
            "Sun, 11 Sep 2016 22:32:21 +0000"
        );
        // Every day of four centuries goes there and back.
        let mut days = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2300, 1, 1);
        while days < end {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            days += 1;
        }
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00")
                .unwrap()
                .unix_micros(),
            0
        );
    }

    #[test]
    fn serde_is_the_text() {
        let t: Timestamp = serde_json::from_str("\"2026-11-22T14:18:39.847926\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2026-11-22T14:18:39.847926\""
        );
        assert!(serde_json::from_str::<Timestamp>("\"soon\"").is_err());
    }
}
