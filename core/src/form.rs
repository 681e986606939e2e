//! `application/x-www-form-urlencoded` decoding, exactly once (docs/protocol.md §4):
//! `+` is a space, `%XX` is a byte, the bytes are UTF-8, nothing is trimmed.

use std::fmt;

/// Why a body is not a well-formed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// `%` not followed by two hex digits.
    BadPercent { at: usize },
    /// The decoded bytes of a name or value are not UTF-8.
    NotUtf8 { name: String },
    /// The same name appears twice.
    Repeated { name: String },
    /// A pair without a name (`=x`).
    EmptyName { at: usize },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadPercent { at } => write!(
                f,
                "broken percent-encoding at byte {at}: `%` must be followed by two hex digits"
            ),
            FormError::NotUtf8 { name } => write!(
                f,
                "the value of {name:?} is not UTF-8 after percent-decoding"
            ),
            FormError::Repeated { name } => write!(f, "{name:?} is given more than once"),
            FormError::EmptyName { at } => write!(f, "a pair without a name at byte {at}"),
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one component; `plus_is_space` for form bodies.
pub fn percent_decode(
    part: &[u8],
    offset: usize,
    plus_is_space: bool,
) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(part.len());
    let mut i = 0;
    while i < part.len() {
        match part[i] {
            b'%' => {
                let hi = part.get(i + 1).copied().and_then(hex_val);
                let lo = part.get(i + 2).copied().and_then(hex_val);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadPercent { at: offset + i }),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Decodes a form body into (name, value) pairs in the order sent. Empty pairs (`a=1&&b=2`,
/// a trailing `&`) are skipped; a pair without `=` has an empty value.
///
/// One line ending (`\n` or `\r\n`) at the very end is not part of the body: an encoded
/// form cannot hold a raw line break (it would be `%0A`), and a body saved to a file or piped
/// through a shell gains one. The library and the command line give the same verdict on it.
pub fn decode_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let body = strip_final_line_ending(body);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut offset = 0;
    for pair in body.split(|b| *b == b'&') {
        let start = offset;
        offset += pair.len() + 1;
        if pair.is_empty() {
            continue;
        }
        let (raw_name, raw_value, value_at) = match pair.iter().position(|b| *b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..], start + eq + 1),
            None => (pair, &pair[pair.len()..], start + pair.len()),
        };
        if raw_name.is_empty() {
            return Err(FormError::EmptyName { at: start });
        }
        let name_bytes = percent_decode(raw_name, start, true)?;
        let name = String::from_utf8(name_bytes).map_err(|e| FormError::NotUtf8 {
            name: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })?;
        let value_bytes = percent_decode(raw_value, value_at, true)?;
        let value = String::from_utf8(value_bytes)
            .map_err(|_| FormError::NotUtf8 { name: name.clone() })?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(FormError::Repeated { name });
        }
        out.push((name, value));
    }
    Ok(out)
}

/// `body` without one final `\n` or `\r\n`.
pub fn strip_final_line_ending(body: &[u8]) -> &[u8] {
    body.strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
        .unwrap_or(body)
}
