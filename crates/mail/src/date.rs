//! `Date:` headers read with the leniency of Python's `email.utils.parsedate_tz` and
//! `mktime_tz`, which Patchwork uses: day names optional, day and month in either order, RFC 850
//! dates, `.` as a time separator, two-digit years, named US zones. The ±20-minute window that
//! groups unthreaded patches compares these times, so they must agree with Patchwork's. A date
//! without a zone (or `-0000`) is UTC, as `parsedate_tz` makes it.

const MONTHS: [&str; 24] = [
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn zone(tz: &str) -> Option<i64> {
    Some(match tz {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "AST" => -400,
        "ADT" => -300,
        "EST" => -500,
        "EDT" => -400,
        "CST" => -600,
        "CDT" => -500,
        "MST" => -700,
        "MDT" => -600,
        "PST" => -800,
        "PDT" => -700,
        _ => return None,
    })
}

/// Python's `int(s)` for ASCII text: optional sign, digits with single `_` between them.
fn py_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') {
        return None;
    }
    let mut v: i128 = 0;
    let mut prev_underscore = false;
    for c in digits.bytes() {
        match c {
            b'0'..=b'9' => {
                v = v.saturating_mul(10).saturating_add(i128::from(c - b'0'));
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return None,
        }
    }
    Some(if neg { -v } else { v })
}

/// The fields `parsedate_tz` extracts: year, month, day, hour, minute, second, zone offset in
/// seconds (None when absent or unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parsed {
    year: i128,
    month: i128,
    day: i128,
    hour: i128,
    minute: i128,
    second: i128,
    offset: Option<i128>,
}

fn parsedate_tz(data: &str) -> Option<Parsed> {
    let mut data: Vec<String> = data.split_whitespace().map(str::to_string).collect();
    if data.is_empty() {
        return None;
    }
    if data[0].ends_with(',') || DAYS.contains(&data[0].to_lowercase().as_str()) {
        data.remove(0);
    } else if let Some(i) = data[0].rfind(',') {
        data[0] = data[0][i + 1..].to_string();
    }
    if data.len() == 3 {
        let stuff: Vec<String> = data[0].split('-').map(str::to_string).collect();
        if stuff.len() == 3 {
            let mut v = stuff;
            v.extend(data[1..].iter().cloned());
            data = v;
        }
    }
    if data.len() == 4 {
        let s = data[3].clone();
        let i = s.find('+').or_else(|| s.find('-'));
        match i {
            Some(i) if i > 0 => {
                data[3] = s[..i].to_string();
                data.push(s[i..].to_string());
            }
            _ => data.push(String::new()),
        }
    }
    if data.len() < 5 {
        return None;
    }
    let [dd, mm, yy, tm, tz] = [&data[0], &data[1], &data[2], &data[3], &data[4]];
    let (mut dd, mut mm, mut yy, mut tm, mut tz) = (
        dd.clone(),
        mm.to_lowercase(),
        yy.clone(),
        tm.clone(),
        tz.clone(),
    );
    if dd.is_empty() || mm.is_empty() || yy.is_empty() {
        return None;
    }
    if !MONTHS.contains(&mm.as_str()) {
        std::mem::swap(&mut dd, &mut mm);
        mm = mm.to_lowercase();
        if !MONTHS.contains(&mm.as_str()) {
            return None;
        }
    }
    let mut month = MONTHS.iter().position(|m| *m == mm)? as i128 + 1;
    if month > 12 {
        month -= 12;
    }
    if dd.ends_with(',') {
        dd.pop();
    }
    if yy.find(':').is_some_and(|i| i > 0) {
        std::mem::swap(&mut yy, &mut tm);
    }
    if yy.ends_with(',') {
        yy.pop();
        if yy.is_empty() {
            return None;
        }
    }
    if !yy.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        std::mem::swap(&mut yy, &mut tz);
    }
    if tm.ends_with(',') {
        tm.pop();
    }
    let parts: Vec<&str> = tm.split(':').collect();
    let (thh, tmm, tss) = match parts.as_slice() {
        [h, m] => (*h, *m, "0"),
        [h, m, s] => (*h, *m, *s),
        [one] if one.contains('.') => {
            let p: Vec<&str> = one.split('.').collect();
            match p.as_slice() {
                [h, m] => (*h, *m, "0"),
                [h, m, s] => (*h, *m, *s),
                _ => return None,
            }
        }
        _ => return None,
    };
    let mut year = py_int(&yy)?;
    let day = py_int(&dd)?;
    let hour = py_int(thh)?;
    let minute = py_int(tmm)?;
    let second = py_int(tss)?;
    if year < 100 {
        year += if year > 68 { 1900 } else { 2000 };
    }
    let tz = tz.to_uppercase();
    let mut offset = zone(&tz).map(i128::from).or_else(|| py_int(&tz));
    if offset == Some(0) && tz.starts_with('-') {
        offset = None;
    }
    // `±hhmm` to seconds; a value too large to be a time ends the parse (Python overflows later).
    let offset = match offset {
        None | Some(0) => offset,
        Some(o) => {
            let (sign, o) = if o < 0 {
                (-1, o.checked_neg()?)
            } else {
                (1, o)
            };
            let secs = (o / 100)
                .checked_mul(3600)?
                .checked_add((o % 100).checked_mul(60)?)?;
            Some(sign * secs)
        }
    };
    Some(Parsed {
        year,
        month,
        day,
        hour,
        minute,
        second,
        offset,
    })
}

/// Days from 1970-01-01 to the first of `month` of `year` (proleptic Gregorian).
fn days_to_month_start(year: i128, month: i128) -> i128 {
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch (UTC) of a `Date:` header's text, or `None` where Patchwork falls back
/// to the current time (absent, unparsable or out of range).
pub fn parse_date(text: &str) -> Option<i64> {
    let p = parsedate_tz(text)?;
    // calendar.timegm needs a valid date(year, month, 1); day/hour/minute/second may overflow.
    if !(1..=9999).contains(&p.year) {
        return None;
    }
    // Fields may be absurd (they are only parsed as integers): any overflow means "not a date".
    let days = days_to_month_start(p.year, p.month)
        .checked_add(p.day)?
        .checked_sub(1)?;
    let secs = days
        .checked_mul(24)?
        .checked_add(p.hour)?
        .checked_mul(60)?
        .checked_add(p.minute)?
        .checked_mul(60)?
        .checked_add(p.second)?
        .checked_sub(p.offset.unwrap_or(0))?;
    // datetime.utcfromtimestamp accepts years 1 to 9999.
    const MIN: i128 = -62_135_596_800;
    const MAX: i128 = 253_402_300_799;
    if !(MIN..=MAX).contains(&secs) {
        return None;
    }
    i64::try_from(secs).ok()
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone suffix, as Patchwork's API prints dates) of a Unix time.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_odd_dates() {
        assert_eq!(
            parse_date("Sun, 11 Sep 2016 22:22:02 +1000"),
            Some(1_473_596_522)
        );
        assert_eq!(
            parse_date("Sun, 11 Sep 2016 12:22:02 +0000"),
            Some(1_473_596_522)
        );
        assert_eq!(parse_date("11 Sep 2016 12:22:02 GMT"), Some(1_473_596_522));
        assert_eq!(parse_date("Sep 11 2016 12:22:02"), Some(1_473_596_522));
        assert_eq!(
            parse_date("Sun,11 Sep 16 12:22:02 -0000"),
            Some(1_473_596_522)
        );
        assert_eq!(
            parse_date("Sun, 11 Sep 2016 07:22:02 EST"),
            Some(1_473_596_522)
        );
        assert_eq!(
            parse_date("Sunday, 11-Sep-16 12:22:02 UT"),
            Some(1_473_596_522)
        );
        assert_eq!(parse_date("11 Sep 2016 12.22.02"), Some(1_473_596_522));
        // Overflowing fields roll over like calendar.timegm.
        assert_eq!(parse_date("10 Sep 2016 36:22:02"), Some(1_473_596_522));
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_utc(1_473_596_522), "2016-09-11T12:22:02");
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59");
        for t in [0, 1_473_596_522, 951_782_400, 4_102_444_799] {
            let text = format!("{} +0000", format_utc(t).replace('T', " "));
            let text = text.replacen('-', " ", 2);
            let mut parts = text.split(' ');
            let (y, m, d) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let month = MONTHS[m.parse::<usize>().unwrap_or(1) - 1];
            let rest: Vec<&str> = parts.collect();
            assert_eq!(
                parse_date(&format!("{d} {month} {y} {}", rest.join(" "))),
                Some(t)
            );
        }
    }

    #[test]
    fn bad_dates_are_none() {
        assert_eq!(parse_date(""), None);
        assert_eq!(parse_date("garbage"), None);
        assert_eq!(
            parse_date("Wed, 4 Jun 207777777777777777777714 17:50:46 0"),
            None
        );
        assert_eq!(
            parse_date(", 11 Sep 2016 23:22:904070804030804 +0100"),
            None
        );
        assert_eq!(parse_date("11 Sep 10000 10:00:00"), None);
        // Found by fuzzing: absurd numbers must not overflow.
        assert_eq!(
            parse_date("1 Jan 2000 10:00:00 +99999999999999999999999999999999999999999"),
            None
        );
        assert_eq!(
            parse_date("99999999999999999999999999999999999999999 Jan 2000 10:00:00"),
            None
        );
        assert_eq!(
            parse_date("1 Jan 2000 99999999999999999999999999999999999999999:00:00"),
            None
        );
    }
}
