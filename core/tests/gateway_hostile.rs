//! Hostile replies (issue 14): DTDs and entity bombs, 100 MB bodies, 10,000-deep nesting,
//! duplicate elements, truncated XML, HTML error pages, empty bodies. Each is a coded error,
//! in bounded time, never a panic and never a trade (let alone PAID).

use crate::gateway_support;

use alipayhk_pay_core::gateway::{
    parse_gateway_reply, parse_notify_verify_reply, parse_refund_query_reply, parse_refund_reply,
    parse_reply, parse_trade_query_reply, Expected, Service,
};
use alipayhk_pay_core::limits::{MAX_REPLY_BYTES, MAX_REPLY_DEPTH, MAX_REPLY_ELEMENTS};
use alipayhk_pay_core::{ErrorCode, SignType};
use gateway_support::*;
use std::time::{Duration, Instant};

/// A genuine, signed, paid reply: the material the hostile ones are made from.
fn genuine() -> String {
    let fields = paid_trade("ORDER-1");
    let sign = alipay_sign(&content_of(&fields), SignType::Rsa2);
    ReplySpec::signed(&fields, &sign, "RSA2").write()
}

/// The error of a result that must be one, without printing a (possibly huge) value.
fn err<T, E>(r: Result<T, E>, what: &str) -> E {
    match r {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e,
    }
}

/// Every reply parser and every service on `body`: all refuse it with `code`, quickly.
fn refused(what: &str, body: &[u8], code: ErrorCode) {
    let key = both_keys();
    let started = Instant::now();
    if code == ErrorCode::MalformedReply {
        let e = err(parse_reply(body), what);
        assert_eq!(e.code, code, "{what}: {e}");
        assert!(!e.message.is_empty());
    }
    let t = err(
        parse_trade_query_reply(body, &key, &Expected::default()),
        what,
    );
    assert_eq!(t.error.code, code, "{what}");
    assert!(
        parse_refund_reply(body, &key, &Expected::default()).is_err(),
        "{what}"
    );
    assert!(
        parse_refund_query_reply(body, &key, &Expected::default()).is_err(),
        "{what}"
    );
    for s in Service::ALL {
        assert!(
            parse_gateway_reply(s, body, Some(&key), &Expected::default()).is_err(),
            "{what}: {s}"
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{what} took {elapsed:?}");
}

fn malformed(what: &str, body: &[u8]) {
    refused(what, body, ErrorCode::MalformedReply)
}

/// Refused as malformed, the message saying why.
fn malformed_saying(what: &str, body: &[u8], needle: &str) {
    malformed(what, body);
    let e = err(parse_reply(body), what);
    assert!(e.message.contains(needle), "{what}: {}", e.message);
}

#[test]
fn dtds_and_entities_are_refused() {
    let g = genuine();
    let body_of = |prefix: &str| g.replacen("<alipay>", &format!("{prefix}<alipay>"), 1);
    let laughs = {
        let mut d = String::from("<!DOCTYPE alipay [\n<!ENTITY lol0 \"lol\">\n");
        for i in 1..=9 {
            let refs: String = (0..10).map(|_| format!("&lol{};", i - 1)).collect();
            d.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
        }
        d.push_str("]>");
        d
    };
    malformed_saying(
        "billion laughs",
        body_of(&laughs)
            .replace("TRADE_FINISHED", "&lol9;")
            .as_bytes(),
        "DTD",
    );
    malformed(
        "external entity",
        body_of("<!DOCTYPE alipay [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>")
            .replace("for***@alitest.com", "&xxe;")
            .as_bytes(),
    );
    malformed(
        "parameter entity",
        body_of("<!DOCTYPE alipay [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/x.dtd\"> %p;]>")
            .as_bytes(),
    );
    malformed(
        "an external DTD",
        body_of("<!DOCTYPE alipay SYSTEM \"http://example.com/a.dtd\">").as_bytes(),
    );
    malformed_saying(
        "a harmless DTD",
        body_of("<!DOCTYPE alipay>").as_bytes(),
        "DTD",
    );
    // Entities without any DTD: only XML's five and character references are read.
    malformed_saying(
        "an undeclared entity",
        g.replace("TRADE_FINISHED", "&status;").as_bytes(),
        "&status;",
    );
    malformed(
        "an HTML entity",
        g.replace("TRADE_FINISHED", "TRADE&nbsp;FINISHED")
            .as_bytes(),
    );
    malformed(
        "a NUL character reference",
        g.replace("TRADE_FINISHED", "&#0;").as_bytes(),
    );
    malformed(
        "a surrogate character reference",
        g.replace("TRADE_FINISHED", "&#xD800;").as_bytes(),
    );
    malformed(
        "a huge character reference",
        g.replace("TRADE_FINISHED", "&#99999999999;").as_bytes(),
    );
    malformed(
        "an unterminated reference",
        g.replace("TRADE_FINISHED", "TRADE&FINISHED").as_bytes(),
    );
}

#[test]
fn sizes_depths_and_counts_are_bounded() {
    // 100 MB: refused on its length, before any parsing.
    let big = vec![b'<'; 100 * 1024 * 1024];
    let started = Instant::now();
    malformed_saying("100 MB of '<'", &big, "104857600 bytes long");
    let mut huge_reply = genuine().into_bytes();
    huge_reply.resize(100 * 1024 * 1024, b' ');
    malformed("a genuine reply padded to 100 MB", &huge_reply);
    assert!(started.elapsed() < Duration::from_secs(2));
    drop((big, huge_reply));
    // Just over the limit, and just under it with a huge text.
    let mut over = genuine().into_bytes();
    over.resize(MAX_REPLY_BYTES + 1, b'\n');
    malformed("one byte over the limit", &over);
    let g = genuine();
    let filler = "x".repeat(MAX_REPLY_BYTES - g.len() - 200);
    let under = g.replace("for***@alitest.com", &filler);
    assert!(under.len() <= MAX_REPLY_BYTES);
    refused(
        "a 1 MB value (under the limit, parses, fails the signature)",
        under.as_bytes(),
        ErrorCode::ReplySignature,
    );
    // 10,000-deep nesting, inside and outside the envelope.
    let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    malformed_saying(
        "10,000-deep nesting",
        deep(10_000).as_bytes(),
        "nested more than",
    );
    malformed(
        "10,000-deep nesting in a field",
        g.replace("TRADE_FINISHED", &deep(10_000)).as_bytes(),
    );
    malformed(
        "10,000 unclosed elements",
        "<alipay>".repeat(10_000).as_bytes(),
    );
    malformed(
        "one level too deep",
        format!(
            "<alipay><is_success>T</is_success>{}{}</alipay>",
            "<x>".repeat(MAX_REPLY_DEPTH),
            "</x>".repeat(MAX_REPLY_DEPTH)
        )
        .as_bytes(),
    );
    // Many elements.
    let many = format!(
        "<alipay><is_success>T</is_success><request>{}</request></alipay>",
        (0..MAX_REPLY_ELEMENTS)
            .map(|i| format!("<param name=\"p{i}\"/>"))
            .collect::<String>()
    );
    malformed_saying("too many elements", many.as_bytes(), "elements");
    let flat = format!("<alipay>{}</alipay>", "<x/>".repeat(200_000));
    malformed("200,000 empty elements", flat.as_bytes());
    // Many attributes on one element.
    let attrs: String = (0..20_000).map(|i| format!(" a{i}=\"v\"")).collect();
    let e = parse_reply(
        format!("<alipay{attrs}><is_success>F</is_success><error>E</error></alipay>").as_bytes(),
    );
    assert!(
        e.is_ok(),
        "attributes are ignored, within the size limit: {e:?}"
    );
}

#[test]
fn duplicates_are_refused() {
    let g = genuine();
    malformed(
        "a field twice",
        g.replace(
            "<total_fee>12.50</total_fee>",
            "<total_fee>12.50</total_fee><total_fee>0.01</total_fee>",
        )
        .as_bytes(),
    );
    malformed(
        "trade_status twice, the second PAID",
        g.replace(
            "TRADE_FINISHED",
            "WAIT_BUYER_PAY</trade_status><trade_status>TRADE_SUCCESS",
        )
        .as_bytes(),
    );
    malformed(
        "two <trade> records",
        g.replace(
            "</trade>",
            "</trade><trade><trade_status>TRADE_SUCCESS</trade_status></trade>",
        )
        .as_bytes(),
    );
    malformed(
        "two <response>",
        g.replace(
            "</response>",
            "</response><response><trade><a>1</a></trade></response>",
        )
        .as_bytes(),
    );
    malformed(
        "two <sign>",
        g.replace("</sign>", "</sign><sign>x</sign>").as_bytes(),
    );
    malformed(
        "two <sign_type>",
        g.replace("</sign_type>", "</sign_type><sign_type>MD5</sign_type>")
            .as_bytes(),
    );
    malformed(
        "two <is_success>",
        g.replace("</is_success>", "</is_success><is_success>T</is_success>")
            .as_bytes(),
    );
    malformed(
        "a second root",
        format!("{g}<alipay><is_success>T</is_success></alipay>").as_bytes(),
    );
    malformed(
        "records next to fields",
        g.replace("</trade>", "</trade><total_fee>1</total_fee>")
            .as_bytes(),
    );
    malformed(
        "a field holding elements",
        g.replace("12.50", "<v>12.50</v>").as_bytes(),
    );
    malformed(
        "text next to elements",
        g.replace("<trade>", "<trade>PAID").as_bytes(),
    );
}

#[test]
fn truncated_at_every_byte() {
    let g = genuine();
    let bytes = g.as_bytes();
    let key = alipay_key();
    let started = Instant::now();
    for cut in 0..bytes.len() {
        let body = &bytes[..cut];
        let e = err(
            parse_trade_query_reply(body, &key, &Expected::default()),
            &format!("cut at {cut}"),
        );
        assert!(
            matches!(
                e.error.code,
                ErrorCode::MalformedReply | ErrorCode::ReplySignature
            ),
            "cut at {cut}: {e}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));
    // The whole reply parses (the loop above stopped one byte short).
    assert!(parse_trade_query_reply(bytes, &key, &Expected::default()).is_ok());
}

#[test]
fn html_pages_empty_bodies_and_other_non_replies() {
    malformed_saying("an empty body", b"", "empty");
    malformed_saying(
        "an HTML page",
        b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
        "HTML page",
    );
    malformed_saying(
        "a truncated reply",
        b"<alipay><is_success>T</is_success><response><trade><trade_status>TRADE_SUCC",
        "truncated",
    );
    malformed_saying(
        "a duplicate",
        b"<alipay><is_success>T</is_success><is_success>T</is_success></alipay>",
        "more than once",
    );
    for (what, body) in [
        ("an empty body", &b""[..]),
        ("whitespace", b" \r\n\t "),
        ("a BOM alone", b"\xEF\xBB\xBF"),
        ("an HTML 502 page", b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
        ("an HTML page, upper case", b"<HTML><BODY>Service Unavailable</BODY></HTML>"),
        ("an HTML page after a prolog", b"<?xml version=\"1.0\"?>\n<html><body/></html>"),
        ("a captive portal", b"\n\n  <html lang=\"en\"><body>Log in to Wi-Fi</body></html>"),
        ("plain text", b"Internal Server Error"),
        ("JSON", b"{\"is_success\":\"T\"}"),
        ("UTF-16", b"\xFF\xFE<\x00a\x00l\x00"),
        ("invalid UTF-8", b"<alipay><is_success>\xC3\x28</is_success></alipay>"),
        ("an unknown encoding", b"<?xml version=\"1.0\" encoding=\"EBCDIC\"?><alipay/>"),
        ("an unclosed prolog", b"<?xml version=\"1.0\" encoding=\"utf-8\""),
        ("another root", b"<error><is_success>T</is_success></error>"),
        ("a bare <alipay/>", b"<alipay/>"),
        ("no is_success", b"<alipay><response><trade><trade_status>TRADE_SUCCESS</trade_status></trade></response></alipay>"),
        ("is_success Y", b"<alipay><is_success>Y</is_success></alipay>"),
        ("a CDATA root", b"<![CDATA[<alipay/>]]>"),
        ("a comment only", b"<!-- nothing -->"),
        ("mismatched tags", b"<alipay><is_success>T</is_success></alipy>"),
        ("an attribute without quotes", b"<alipay a=b><is_success>T</is_success></alipay>"),
        ("NUL bytes", b"<alipay>\0\0\0</alipay>"),
    ] {
        malformed(what, body);
    }
    // notify_verify: the same bodies are errors there too (not `true`).
    for body in [
        &b""[..],
        b"<html><body>502</body></html>",
        b"TRUE",
        b"true true",
        b"1",
        b"ok",
    ] {
        let e = parse_notify_verify_reply(body).unwrap_err();
        assert_eq!(e.error.code, ErrorCode::MalformedReply, "{body:?}");
    }
    let e = parse_notify_verify_reply(&vec![b' '; 100 * 1024 * 1024]).unwrap_err();
    assert_eq!(e.error.code, ErrorCode::MalformedReply);
}

/// Random bytes and random mutations of a genuine reply: never a panic, and whatever is
/// accepted is exactly the genuine trade.
#[test]
fn random_garbage_never_panics_and_never_forges_a_trade() {
    let g = genuine();
    let key = alipay_key();
    let original = parse_trade_query_reply(g.as_bytes(), &key, &Expected::default()).unwrap();
    let mut x = 0xDEAD_BEEF_CAFE_F00Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const TOKENS: &[&str] = &[
        "<",
        ">",
        "</",
        "/>",
        "<!DOCTYPE a>",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&#x41;",
        "&x;",
        "<trade>",
        "</trade>",
        "<response>",
        "</response>",
        "<sign>",
        "</sign>",
        "\"",
        "'",
        "=",
        "<?xml version=\"1.0\" encoding=\"GBK\"?>",
        "\u{FEFF}",
        "\0",
        "\u{FFFF}",
        "TRADE_SUCCESS",
        "<trade_status>TRADE_SUCCESS</trade_status>",
        "<!--",
        "-->",
        "<?pi?>",
    ];
    for _ in 0..3_000 {
        let mut body = g.clone().into_bytes();
        for _ in 0..(1 + next() % 4) {
            let at = (next() as usize) % (body.len() + 1);
            match next() % 3 {
                0 => {
                    let t = TOKENS[(next() as usize) % TOKENS.len()];
                    body.splice(at..at, t.bytes());
                }
                1 if at < body.len() => {
                    let end = (at + 1 + (next() as usize) % 8).min(body.len());
                    body.drain(at..end);
                }
                _ if at < body.len() => body[at] = next() as u8,
                _ => {}
            }
        }
        if let Ok(o) = parse_trade_query_reply(&body, &key, &Expected::default()) {
            assert_eq!(o, original, "{}", String::from_utf8_lossy(&body));
        }
        let _ = parse_refund_query_reply(&body, &key, &Expected::default());
        let _ = parse_notify_verify_reply(&body);
    }
    for len in [0usize, 1, 2, 3, 7, 64, 1000] {
        for _ in 0..200 {
            let body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            assert!(parse_trade_query_reply(&body, &key, &Expected::default()).is_err());
        }
    }
}
