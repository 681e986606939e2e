//! The small typed values of the reconciliation files: currency codes and timestamps.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A currency code: exactly three ASCII capital letters (`HKD`). Serialised as the string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const HKD: Currency = Currency(*b"HKD");

    /// `None` unless the text is exactly three ASCII capital letters.
    #[inline]
    pub fn parse(text: &[u8]) -> Option<Currency> {
        match text {
            [a, b, c] if text.iter().all(u8::is_ascii_uppercase) => Some(Currency([*a, *b, *c])),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII capitals.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::parse(text.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "currency {text:?} is not three capital letters, e.g. HKD"
            ))
        })
    }
}

/// A calendar day, `YYYY-MM-DD` (Hong Kong time, as the files write it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// A checked date: month 1–12, the day within that month (leap years counted).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// `YYYYMMDD` as a number, ordered like the dates.
    pub(crate) fn key(self) -> u32 {
        u32::from(self.year) * 10_000 + u32::from(self.month) * 100 + u32::from(self.day)
    }

    pub(crate) fn from_key(key: u32) -> Date {
        Date {
            year: (key / 10_000) as u16,
            month: (key / 100 % 100) as u8,
            day: (key % 100) as u8,
        }
    }

    /// `YYYY-MM-DD`.
    pub fn parse(text: &[u8]) -> Option<Date> {
        match text {
            [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] => {
                let year = digits(&[*y0, *y1, *y2, *y3])?;
                let month = digits(&[*m0, *m1])?;
                let day = digits(&[*d0, *d1])?;
                Date::new(year as u16, month as u8, day as u8)
            }
            _ => None,
        }
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

#[inline]
fn digits(bytes: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(text.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!("date {text:?} is not a real YYYY-MM-DD day"))
        })
    }
}

/// A time as the files write it, `YYYY-MM-DD HH:MM:SS` (GMT+8, no zone in the text).
/// Serialised as that string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl Timestamp {
    /// Exactly `YYYY-MM-DD HH:MM:SS` with a real day and a time of 00:00:00–23:59:59.
    #[inline]
    pub fn parse(text: &[u8]) -> Option<Timestamp> {
        if text.len() != 19 || text[10] != b' ' {
            return None;
        }
        let date = Date::parse(&text[..10])?;
        let t = &text[11..];
        if t[2] != b':' || t[5] != b':' {
            return None;
        }
        let hour = digits(&t[0..2])?;
        let minute = digits(&t[3..5])?;
        let second = digits(&t[6..8])?;
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        Some(Timestamp {
            date,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date, self.hour, self.minute, self.second
        )
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
        Timestamp::parse(text.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "time {text:?} is not a real YYYY-MM-DD HH:MM:SS time"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency() {
        assert_eq!(Currency::parse(b"HKD"), Some(Currency::HKD));
        for bad in [&b"hkd"[..], b"HK", b"HKDD", b"HK1", b"", b"H D"] {
            assert_eq!(Currency::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps() {
        let t = Timestamp::parse(b"2017-05-02 14:41:14").unwrap();
        assert_eq!(t.to_string(), "2017-05-02 14:41:14");
        assert_eq!(t.date.key(), 20170502);
        assert_eq!(Date::from_key(20170502), t.date);
        assert!(Timestamp::parse(b"2016-02-29 00:00:00").is_some());
        assert!(Timestamp::parse(b"2000-02-29 23:59:59").is_some());
        for bad in [
            &b"2017-02-29 00:00:00"[..],
            b"1900-02-29 00:00:00",
            b"2017-13-01 00:00:00",
            b"2017-00-01 00:00:00",
            b"2017-04-31 00:00:00",
            b"2017-05-02 24:00:00",
            b"2017-05-02 23:60:00",
            b"2017-05-02 23:00:60",
            b"2017-05-02T14:41:14",
            b"2017/05/02 14:41:14",
            b"05/02/2017 14:41:14",
            b"2017-05-02 14:41",
            b"2017-05-02 14:41:14 ",
            b"2017-5-02 14:41:14x",
            b"",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad:?}");
        }
    }
}
