//! Money as an exact number of cents (hundredths of the currency unit), never a float.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The most digits before the decimal point an amount may have. The files declare
/// `Number(9,2)` / `Number(10,2)`; 12 digits leave room and keep every sum of a million
/// rows far inside `i64`.
pub const MAX_INTEGER_DIGITS: usize = 12;

/// An amount of money in cents. Parsed from and written as a decimal string with two
/// decimals (`"12.30"`, `"-0.05"`), which is also its serde form: a string, so JavaScript
/// sees the exact value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(i64);

/// Why a text is not an amount; the callers turn it into a coded error with a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    Empty,
    /// Not of the form `[-]digits.dd`.
    Format,
    /// More than [`MAX_INTEGER_DIGITS`] digits before the point.
    TooLarge,
}

impl AmountError {
    pub fn describe(self) -> &'static str {
        match self {
            AmountError::Empty => "is empty; an amount with two decimals is required, e.g. 12.30",
            AmountError::Format => "is not an amount: digits, then a point and two decimals in Alipay's files (e.g. 12.30), at most two decimals in merchant records",
            AmountError::TooLarge => "has more than 12 digits before the decimal point",
        }
    }
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_cents(cents: i64) -> Amount {
        Amount(cents)
    }

    pub const fn cents(self) -> i64 {
        self.0
    }

    pub const fn abs(self) -> Amount {
        Amount(self.0.abs())
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }

    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }

    /// The file form: an optional `-`, 1 to 12 digits, a point and exactly two digits
    /// (`0.10`, `852.40`). No spaces (callers trim), no `+`, no exponent, no thousands
    /// separators.
    pub fn parse_exact(text: &[u8]) -> Result<Amount, AmountError> {
        Self::parse_bytes(text, true)
    }

    /// The merchant's form: like [`Amount::parse_exact`] but with zero, one or two decimals
    /// (`10`, `10.5`, `10.50`), the forms an AlipayHK `total_fee` may take.
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        Self::parse_bytes(text.as_bytes(), false)
    }

    #[inline]
    fn parse_bytes(text: &[u8], exact: bool) -> Result<Amount, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, digits) = match text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, text),
        };
        let (int_part, frac_part) = match digits.iter().position(|&b| b == b'.') {
            Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
            None => (digits, None),
        };
        if int_part.is_empty() || !int_part.iter().all(u8::is_ascii_digit) {
            return Err(AmountError::Format);
        }
        let frac: &[u8] = match frac_part {
            Some(f) if (f.len() == 2 || (!exact && f.len() == 1)) => f,
            None if !exact => b"",
            _ => return Err(AmountError::Format),
        };
        if !frac.iter().all(u8::is_ascii_digit) {
            return Err(AmountError::Format);
        }
        if int_part.len() > MAX_INTEGER_DIGITS {
            return Err(AmountError::TooLarge);
        }
        let mut cents: i64 = 0;
        for &b in int_part {
            cents = cents * 10 + i64::from(b - b'0');
        }
        let mut scale = 100;
        for &b in frac {
            scale /= 10;
            cents = cents * 10 + i64::from(b - b'0');
        }
        cents *= scale;
        Ok(Amount(if negative { -cents } else { cents }))
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Amount::parse(&text)
            .map_err(|e| serde::de::Error::custom(format!("amount {:?} {}", text, e.describe())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_form() {
        assert_eq!(Amount::parse_exact(b"0.10"), Ok(Amount(10)));
        assert_eq!(Amount::parse_exact(b"852.40"), Ok(Amount(85240)));
        assert_eq!(Amount::parse_exact(b"-0.05"), Ok(Amount(-5)));
        assert_eq!(Amount::parse_exact(b"007.00"), Ok(Amount(700)));
        assert_eq!(
            Amount::parse_exact(b"999999999999.99"),
            Ok(Amount(99_999_999_999_999))
        );
        for bad in [
            &b"1"[..],
            b"1.5",
            b"1.500",
            b".50",
            b"1.",
            b"+1.00",
            b"1,00",
            b"1.0a",
            b"-",
            b"-.10",
            b"1e2",
            b" 1.00",
            b"--1.00",
            b"1.-0",
        ] {
            assert_eq!(
                Amount::parse_exact(bad),
                Err(AmountError::Format),
                "{bad:?}"
            );
        }
        assert_eq!(Amount::parse_exact(b""), Err(AmountError::Empty));
        assert_eq!(
            Amount::parse_exact(b"1000000000000.00"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn merchant_form() {
        assert_eq!(Amount::parse("10"), Ok(Amount(1000)));
        assert_eq!(Amount::parse("10.5"), Ok(Amount(1050)));
        assert_eq!(Amount::parse("10.05"), Ok(Amount(1005)));
        assert_eq!(Amount::parse("10."), Err(AmountError::Format));
        assert_eq!(Amount::parse("10.505"), Err(AmountError::Format));
    }

    #[test]
    fn display_round_trips() {
        for cents in [
            0,
            1,
            9,
            10,
            99,
            100,
            12345,
            -1,
            -100,
            -12345,
            99_999_999_999_999,
        ] {
            let a = Amount(cents);
            assert_eq!(Amount::parse_exact(a.to_string().as_bytes()), Ok(a));
        }
        assert_eq!(Amount(-5).to_string(), "-0.05");
    }
}
