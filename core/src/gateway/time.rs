//! The `gmt_return` timestamp of a refund (protocol §8.4): the time of the request in GMT+8,
//! written `yyyy-MM-dd HH:mm:ss` (the HK page) or `yyyyMMddHHmmss` (other copies, peers).
//! The clock is the caller's: this crate reads none.

use super::GmtReturnFormat;

/// Seconds east of UTC of Alipay's clock (GMT+8, no daylight saving).
pub const GMT8_OFFSET_SECS: i64 = 8 * 3600;

/// A calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// The days-to-civil algorithm (proleptic Gregorian), for days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
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

/// The GMT+8 date and time of a Unix time in seconds.
pub fn gmt8_of_unix(unix_secs: i64) -> DateTime {
    let t = unix_secs.saturating_add(GMT8_OFFSET_SECS);
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    DateTime {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

/// `t` written in `format`.
pub fn format_gmt_return(t: &DateTime, format: GmtReturnFormat) -> String {
    match format {
        GmtReturnFormat::Hk => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        ),
        GmtReturnFormat::Compact => format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        ),
    }
}

/// `gmt_return` for a request made at `unix_secs`.
pub fn gmt_return_at(unix_secs: i64, format: GmtReturnFormat) -> String {
    format_gmt_return(&gmt8_of_unix(unix_secs), format)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads a `gmt_return` text written in `format`; `None` unless it is a real date and time
/// (years 2000 to 2999).
pub fn parse_gmt_return(s: &str, format: GmtReturnFormat) -> Option<DateTime> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d, h, mi, se) = match format {
        GmtReturnFormat::Hk => {
            if b.len() != 19
                || b[4] != b'-'
                || b[7] != b'-'
                || b[10] != b' '
                || b[13] != b':'
                || b[16] != b':'
            {
                return None;
            }
            (
                digits(0..4)?,
                digits(5..7)?,
                digits(8..10)?,
                digits(11..13)?,
                digits(14..16)?,
                digits(17..19)?,
            )
        }
        GmtReturnFormat::Compact => {
            if b.len() != 14 {
                return None;
            }
            (
                digits(0..4)?,
                digits(4..6)?,
                digits(6..8)?,
                digits(8..10)?,
                digits(10..12)?,
                digits(12..14)?,
            )
        }
    };
    let year = i64::from(y);
    let ok = (2000..=2999).contains(&year)
        && (1..=12).contains(&mo)
        && d >= 1
        && d <= days_in_month(year, mo)
        && h < 24
        && mi < 60
        && se < 60;
    ok.then_some(DateTime {
        year,
        month: mo,
        day: d,
        hour: h,
        minute: mi,
        second: se,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        // 2015-03-20 04:00:00 UTC is 12:00:00 in GMT+8 (the published vector's time).
        assert_eq!(
            gmt_return_at(1_426_824_000, GmtReturnFormat::Compact),
            "20150320120000"
        );
        assert_eq!(
            gmt_return_at(1_426_824_000, GmtReturnFormat::Hk),
            "2015-03-20 12:00:00"
        );
        assert_eq!(gmt_return_at(0, GmtReturnFormat::Hk), "1970-01-01 08:00:00");
        // 2024-02-28 16:00:00 UTC is the leap day in GMT+8.
        assert_eq!(
            gmt_return_at(1_709_136_000, GmtReturnFormat::Hk),
            "2024-02-29 00:00:00"
        );
        assert_eq!(
            gmt_return_at(-1, GmtReturnFormat::Compact),
            "19700101075959"
        );
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        // One instant per day from 2000 to 2400, each written and read back.
        let start = 946_684_800 - GMT8_OFFSET_SECS; // 2000-01-01 00:00:00 GMT+8
        let mut last: Option<DateTime> = None;
        for day in 0..(365 * 400 + 97) {
            let t = start + day * 86_400 + 3_723; // 01:02:03
            for f in [GmtReturnFormat::Hk, GmtReturnFormat::Compact] {
                let text = gmt_return_at(t, f);
                let back = parse_gmt_return(&text, f);
                if gmt8_of_unix(t).year <= 2999 {
                    assert_eq!(back, Some(gmt8_of_unix(t)), "{text}");
                }
            }
            let now = gmt8_of_unix(t);
            if let Some(prev) = last {
                let next_day = prev.day < days_in_month(prev.year, prev.month);
                if next_day {
                    assert_eq!(
                        (now.year, now.month, now.day),
                        (prev.year, prev.month, prev.day + 1)
                    );
                } else {
                    assert_eq!(now.day, 1);
                }
            }
            last = Some(now);
        }
    }

    #[test]
    fn bad_texts() {
        for (s, f) in [
            ("2015-02-29 00:00:00", GmtReturnFormat::Hk),
            ("2016-02-30 00:00:00", GmtReturnFormat::Hk),
            ("2015-03-20T12:00:00", GmtReturnFormat::Hk),
            ("2015-03-20 24:00:00", GmtReturnFormat::Hk),
            ("20150320120000", GmtReturnFormat::Hk),
            ("2015-03-20 12:00:00", GmtReturnFormat::Compact),
            ("2015032012000", GmtReturnFormat::Compact),
            ("+0150320120000", GmtReturnFormat::Compact),
            ("19990320120000", GmtReturnFormat::Compact),
            ("20151320120000", GmtReturnFormat::Compact),
            ("2015-03-20 12:00:6０", GmtReturnFormat::Hk),
        ] {
            assert_eq!(parse_gmt_return(s, f), None, "{s}");
        }
        assert!(parse_gmt_return("2016-02-29 23:59:59", GmtReturnFormat::Hk).is_some());
        assert!(parse_gmt_return("20000229000000", GmtReturnFormat::Compact).is_some());
    }
}
