//! Reply bytes to text (protocol §8.2): the encoding the XML prolog declares (UTF-8 when it
//! declares none), decoded strictly: a byte sequence the encoding does not allow is an error,
//! never a replacement character. The size limit is checked before anything else.

use crate::error::{Error, Result};
use crate::limits::MAX_REPLY_BYTES;
use encoding_rs::{Encoding, UTF_8};
use std::borrow::Cow;

/// A reply as text, and the encoding it was read in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedReply<'a> {
    pub text: Cow<'a, str>,
    /// The encoding's WHATWG name: `UTF-8`, `GBK`, `gb18030`, `Big5`, …
    pub encoding: &'static str,
}

/// Bytes of the prolog looked at for `encoding="…"`.
const MAX_PROLOG_BYTES: usize = 512;

/// Refuses what is too large, empty or plainly not XML, then decodes by the prolog.
pub fn decode_reply(body: &[u8]) -> Result<DecodedReply<'_>> {
    if body.len() > MAX_REPLY_BYTES {
        return Err(Error::malformed_reply(format!(
            "the reply is {} bytes long; a gateway reply is a few KB and at most {MAX_REPLY_BYTES} bytes are read",
            body.len()
        )));
    }
    if body.starts_with(&[0xFE, 0xFF]) || body.starts_with(&[0xFF, 0xFE]) {
        return Err(Error::malformed_reply(
            "the reply is UTF-16 (it starts with a UTF-16 byte order mark); Alipay answers in UTF-8 or GBK",
        ));
    }
    let (body, bom) = match body.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| {
            Error::malformed_reply(
                "the reply is empty: no XML came back (an empty 200 answer from a proxy or a cut connection?)",
            )
        })?;
    let head = &body[start..];
    if looks_like_html(head) {
        return Err(Error::malformed_reply(format!(
            "the reply is an HTML page, not Alipay's XML envelope: an error page from a proxy, a load balancer or a captive portal, or the wrong gateway URL ({})",
            preview(head)
        )));
    }
    if head[0] != b'<' {
        return Err(Error::malformed_reply(format!(
            "the reply is not XML: it starts with {}",
            preview(head)
        )));
    }
    let encoding = match declared_encoding(head)? {
        Some(_) if bom => UTF_8,
        Some(label) => encoding_for(label)?,
        None => UTF_8,
    };
    let text = if encoding == UTF_8 {
        Cow::Borrowed(std::str::from_utf8(body).map_err(|e| {
            Error::malformed_reply(format!(
                "the reply is not valid UTF-8 (byte {}); a reply declaring no other encoding must be UTF-8",
                e.valid_up_to() + usize::from(bom) * 3
            ))
        })?)
    } else {
        encoding
            .decode_without_bom_handling_and_without_replacement(body)
            .ok_or_else(|| {
                Error::malformed_reply(format!(
                    "the reply declares encoding {} but holds bytes that are not valid in it",
                    encoding.name()
                ))
            })?
    };
    Ok(DecodedReply {
        text,
        encoding: encoding.name(),
    })
}

/// `<!DOCTYPE html`, `<html` or `<head` / `<body` at the start, ASCII case ignored.
fn looks_like_html(head: &[u8]) -> bool {
    let starts = |p: &[u8]| head.len() >= p.len() && head[..p.len()].eq_ignore_ascii_case(p);
    let tag_end = |p: &[u8]| {
        starts(p)
            && head
                .get(p.len())
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
    };
    starts(b"<!doctype html") || tag_end(b"<html") || tag_end(b"<head") || tag_end(b"<body")
}

/// The `encoding` pseudo-attribute of an `<?xml …?>` declaration at the start of `head`.
fn declared_encoding(head: &[u8]) -> Result<Option<&str>> {
    if !(head.starts_with(b"<?xml") && head.get(5).is_some_and(|b| b.is_ascii_whitespace())) {
        return Ok(None);
    }
    let window = &head[..head.len().min(MAX_PROLOG_BYTES)];
    let end = window.windows(2).position(|w| w == b"?>").ok_or_else(|| {
        Error::malformed_reply("the XML declaration (<?xml …?>) is not closed (truncated reply?)")
    })?;
    let decl = std::str::from_utf8(&window[5..end]).map_err(|_| {
        Error::malformed_reply("the XML declaration holds bytes that are not ASCII")
    })?;
    let mut rest = decl;
    while let Some(at) = rest.find("encoding") {
        let after = rest[at + 8..].trim_start();
        let boundary_ok = at == 0
            || rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_whitespace());
        if let (true, Some(after)) = (boundary_ok, after.strip_prefix('=')) {
            let after = after.trim_start();
            let quote = after.chars().next();
            if let Some(q @ ('"' | '\'')) = quote {
                let value = &after[1..];
                return match value.find(q) {
                    Some(close) => Ok(Some(&value[..close])),
                    None => Err(Error::malformed_reply(
                        "the XML declaration's encoding is not closed by a quote",
                    )),
                };
            }
            return Err(Error::malformed_reply(
                "the XML declaration's encoding is not in quotes",
            ));
        }
        rest = &rest[at + 8..];
    }
    Ok(None)
}

/// An ASCII-compatible encoding the WHATWG Encoding Standard knows by `label`.
fn encoding_for(label: &str) -> Result<&'static Encoding> {
    let encoding = Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
        Error::malformed_reply(format!(
            "the reply declares the encoding {}, which is not known (Alipay answers in UTF-8 or GBK)",
            super::short(label)
        ))
    })?;
    if !encoding.is_ascii_compatible() || encoding == encoding_rs::REPLACEMENT {
        return Err(Error::malformed_reply(format!(
            "the reply declares the encoding {}, which is not read (Alipay answers in UTF-8 or GBK)",
            encoding.name()
        )));
    }
    Ok(encoding)
}

/// The first characters of a reply, for a message.
fn preview(head: &[u8]) -> String {
    let cut = &head[..head.len().min(40)];
    let text = String::from_utf8_lossy(cut);
    let mut s = format!("{:?}", text.trim_end());
    if head.len() > 40 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn encodings() {
        let gbk = b"<?xml version=\"1.0\" encoding=\"GBK\"?><a>\xc9\xcc\xc6\xb7</a>";
        let d = decode_reply(gbk).unwrap();
        assert_eq!(d.encoding, "GBK");
        assert!(d.text.contains("<a>商品</a>"));
        let d =
            decode_reply("<?xml version='1.0' encoding = 'utf-8' ?><a>é</a>".as_bytes()).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        assert!(matches!(d.text, Cow::Borrowed(_)));
        let d = decode_reply("\u{feff}<?xml version=\"1.0\"?><a/>".as_bytes()).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        for bad in [
            &b""[..],
            b"  \r\n ",
            b"<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
            b"<?xml version=\"1.0\" encoding=\"x-nonsense\"?><a/>",
            b"<?xml version=\"1.0\" encoding=\"GBK\"?><a>\xff</a>",
            b"<?xml version=\"1.0\"?><a>\xff</a>",
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"",
            b"\xff\xfe<\x00a\x00/\x00>\x00",
            b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
            b"\n<HTML><HEAD><TITLE>Error</TITLE></HEAD></HTML>",
            b"true",
        ] {
            let e = decode_reply(bad).unwrap_err();
            assert_eq!(
                e.code,
                ErrorCode::MalformedReply,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let e = decode_reply(&vec![b' '; MAX_REPLY_BYTES + 1]).unwrap_err();
        assert!(e.message.contains("bytes long"));
    }
}
