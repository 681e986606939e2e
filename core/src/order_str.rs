//! Reading an orderStr back: what Alipay's gateway checks, for tests and for diagnosing
//! "sign check fail". Also reads the `result` of a tradePay (docs/protocol.md §5), which
//! has the same `key="value"&…` shape.

use crate::error::{Error, Result};
use crate::form::percent_decode;
use crate::rules::JSON_PARAM;
use crate::sign_type::SignType;
use crate::verify::{check_signature, Failure, Reason, VerifyKey};

/// One `name="value"` pair as it stands in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPair<'a> {
    pub name: &'a str,
    /// The value without its quotes, exactly as written.
    pub value: &'a str,
    /// The whole pair as written, quotes included (what is signed).
    pub raw: &'a str,
    pub quoted: bool,
    /// Text between the closing quote and the next `&` (the sample's `"=`), if any.
    pub trailing: &'a str,
}

/// Splits `name="value"&name="value"…`. A value ends at its closing quote; only
/// `trade_information` (JSON) may hold quotes, and it ends at `"&` or at the end.
pub fn split_pairs(text: &str) -> Result<Vec<RawPair<'_>>> {
    let malformed = |why: String| Error::invalid("orderStr", why);
    if text.is_empty() {
        return Err(malformed("the orderStr is empty".to_owned()));
    }
    let mut pairs = Vec::new();
    let mut pos = 0;
    let bytes = text.as_bytes();
    while pos < text.len() {
        let rest = &text[pos..];
        let Some(eq) = rest.find('=') else {
            return Err(malformed(format!(
                "no `=` in the pair starting at byte {pos}"
            )));
        };
        let name = &rest[..eq];
        if name.is_empty() || name.contains('&') || name.contains('"') {
            return Err(malformed(format!(
                "a pair without a proper name at byte {pos}"
            )));
        }
        let value_start = pos + eq + 1;
        let (value, quoted, after_value) = if bytes.get(value_start) == Some(&b'"') {
            let inner = value_start + 1;
            let close = if name == JSON_PARAM {
                text[inner..].find("\"&").map(|i| inner + i).or_else(|| {
                    text.ends_with('"')
                        .then(|| text.len() - 1)
                        .filter(|&e| e >= inner)
                })
            } else {
                text[inner..].find('"').map(|i| inner + i)
            };
            let Some(close) = close else {
                return Err(malformed(format!(
                    "the value of {name} has no closing quote"
                )));
            };
            (&text[inner..close], true, close + 1)
        } else {
            let end = text[value_start..]
                .find('&')
                .map_or(text.len(), |i| value_start + i);
            (&text[value_start..end], false, end)
        };
        let pair_end = text[after_value..]
            .find('&')
            .map_or(text.len(), |i| after_value + i);
        pairs.push(RawPair {
            name,
            value,
            raw: &text[pos..after_value],
            quoted,
            trailing: &text[after_value..pair_end],
        });
        pos = pair_end + 1;
    }
    Ok(pairs)
}

/// An orderStr taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedOrderStr {
    /// The signed parameters, in order (everything but `sign` and `sign_type`).
    pub params: Vec<(String, String)>,
    /// The exact string the signature covers.
    pub pre_sign: String,
    /// The signature, URL-decoded.
    pub sign: String,
    /// `sign_type` as written ('' when absent).
    pub sign_type: String,
}

struct Reading<'a> {
    pairs: Vec<RawPair<'a>>,
    pre_sign: String,
    sign_raw: Option<&'a str>,
    sign_type: Option<&'a str>,
}

fn read(text: &str) -> Result<Reading<'_>> {
    let pairs = split_pairs(text)?;
    let mut signed = Vec::new();
    let mut sign_raw = None;
    let mut sign_type = None;
    for p in &pairs {
        match p.name {
            "sign" => sign_raw = Some(p.value),
            "sign_type" => sign_type = Some(p.value),
            _ => signed.push(p.raw),
        }
    }
    Ok(Reading {
        pre_sign: signed.join("&"),
        pairs,
        sign_raw,
        sign_type,
    })
}

fn url_decode(s: &str) -> Option<String> {
    percent_decode(s.as_bytes(), 0, false)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Takes an orderStr apart. Throws only when it has no `key="value"` structure at all.
pub fn parse_order_str(text: &str) -> Result<ParsedOrderStr> {
    let r = read(text)?;
    Ok(ParsedOrderStr {
        params: r
            .pairs
            .iter()
            .filter(|p| p.name != "sign" && p.name != "sign_type")
            .map(|p| (p.name.to_owned(), p.value.to_owned()))
            .collect(),
        pre_sign: r.pre_sign,
        sign: r
            .sign_raw
            .map(|s| url_decode(s).unwrap_or_else(|| s.to_owned()))
            .unwrap_or_default(),
        sign_type: r.sign_type.unwrap_or_default().to_owned(),
    })
}

/// Every known mistake in an orderStr, as Alipay's gateway would meet it; empty when the
/// string is well-formed and its signature verifies with `key`. Without a key, only the
/// mistakes that need none are looked for (the signature is not checked).
pub fn diagnose_order_str(text: &str, key: Option<&VerifyKey>) -> Vec<Failure> {
    let r = match read(text) {
        Ok(r) => r,
        Err(e) => return vec![Failure::new(Reason::Malformed, e.message)],
    };
    let mut found = Vec::new();
    let has = |n: &str| r.pairs.iter().any(|p| p.name == n);
    if has("method") {
        found.push(Failure::new(
            Reason::MethodInsteadOfService,
            "`method` is the documented sample's name; the gateway reads `service`",
        ));
    }
    for (i, p) in r.pairs.iter().enumerate() {
        if r.pairs[..i].iter().any(|q| q.name == p.name) {
            found.push(Failure::new(
                Reason::DuplicateParam,
                format!("{} appears more than once", p.name),
            ));
        }
        if !p.quoted {
            found.push(Failure::new(
                Reason::UnquotedValue,
                format!("the value of {} is not in double quotes", p.name),
            ));
        }
        if !p.trailing.is_empty() {
            found.push(Failure::new(
                Reason::TextOutsideQuotes,
                format!(
                    "{:?} follows the closing quote of {}; everything must be inside the quotes",
                    p.trailing, p.name
                ),
            ));
        }
    }
    let Some(sign_raw) = r.sign_raw.filter(|s| !s.is_empty()) else {
        found.push(Failure::new(Reason::MissingSign, "there is no sign"));
        return found;
    };
    // The gateway URL-decodes sign: a raw `+` would come back as a space.
    if sign_raw.contains(['+', '/', '=']) {
        found.push(Failure::new(
            Reason::SignNotUrlEncoded,
            "sign holds raw `+`, `/` or `=`: pass the base64 signature through encodeURIComponent",
        ));
    }
    let sign = url_decode(sign_raw).unwrap_or_else(|| sign_raw.to_owned());
    let looks_md5 = sign.len() == 32 && sign.bytes().all(|b| b.is_ascii_hexdigit());
    let declared = match r.sign_type.map(SignType::parse) {
        None => {
            found.push(Failure::new(
                Reason::UnsupportedSignType,
                "there is no sign_type",
            ));
            return found;
        }
        Some(Err(_)) => {
            found.push(Failure::new(
                Reason::UnsupportedSignType,
                "sign_type is not RSA, RSA2 or MD5",
            ));
            return found;
        }
        Some(Ok(t)) => t,
    };
    let form_mismatch = if (declared == SignType::Md5) == looks_md5 {
        None
    } else if declared == SignType::Md5 {
        Some(format!(
            "sign_type says MD5 but the signature is not 32 hex digits ({} characters): it looks like an RSA signature",
            sign.len()
        ))
    } else {
        Some(format!("sign_type says {declared} but the signature is 32 hex digits, the form of an MD5 signature"))
    };
    let Some(key) = key else {
        if let Some(m) = form_mismatch {
            found.push(Failure::new(Reason::SignTypeMismatch, m));
        }
        return found;
    };
    let sign_with_trailing = format!(
        "{sign}{}",
        r.pairs
            .iter()
            .find(|p| p.name == "sign")
            .map_or("", |p| p.trailing)
    );
    let content = r.pre_sign.as_bytes();
    // Which type does the signature really verify as, with either reading of the sign?
    let verifies_as = key.checks().iter().copied().find(|t| {
        check_signature(content, &sign, *t, key)
            || check_signature(content, &sign_with_trailing, *t, key)
    });
    match verifies_as {
        Some(real) if real != declared => found.push(Failure::new(
            Reason::SignTypeMismatch,
            format!("sign_type says {declared} but the signature is a valid {real} signature"),
        )),
        Some(_) => {}
        None => {
            if let Some(m) = form_mismatch {
                found.push(Failure::new(Reason::SignTypeMismatch, m));
            } else if !key.checks().contains(&declared) {
                found.push(Failure::new(
                    Reason::UnsupportedSignType,
                    match declared {
                        SignType::Md5 => "sign_type is MD5 but the key given is an RSA public key; check MD5 with { md5Key }".to_owned(),
                        t => format!("sign_type is {t} but the key given is an MD5 key; check {t} with the merchant's {{ publicKey }}"),
                    },
                ));
            } else {
                found.push(Failure::new(
                    Reason::BadSignature,
                    "the signature does not verify over the pre-sign string with this key (is it the key pair you uploaded to Alipay? were the signed bytes the sent bytes?)",
                ));
            }
        }
    }
    found
}

/// The `resultStatus={…};memo={…};result={…}` text of a tradePay, or just its `result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradePayResultText<'a> {
    pub result_status: Option<&'a str>,
    pub memo: Option<&'a str>,
    pub result: &'a str,
}

/// Reads the braces of the native SDK's result text; a text without them is the inner result.
pub fn split_trade_pay_result(text: &str) -> TradePayResultText<'_> {
    let t = text.trim_start();
    if !t.starts_with("resultStatus={") {
        return TradePayResultText {
            result_status: None,
            memo: None,
            result: text,
        };
    }
    let field = |name: &str| -> Option<&str> {
        let open = format!("{name}={{");
        let start = t.find(&open)? + open.len();
        // result is last and may hold braces: it runs to the final `}`.
        let end = if name == "result" {
            t.rfind('}')?
        } else {
            start + t[start..].find("};").or_else(|| t[start..].rfind('}'))?
        };
        (end >= start).then(|| &t[start..end])
    };
    TradePayResultText {
        result_status: field("resultStatus"),
        memo: field("memo"),
        result: field("result").unwrap_or(""),
    }
}

/// The outcome of checking a tradePay result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradePayVerification {
    pub failure: Option<Failure>,
    /// Verified, `success="true"`, and `resultStatus` 9000 where it was given.
    pub success: bool,
    pub result_status: Option<String>,
    pub sign_type: String,
    /// The result's parameters, quotes taken off, `sign` and `sign_type` included.
    pub params: Vec<(String, String)>,
}

/// Cuts `sign_type` and `sign` off the result and checks the rest, byte for byte, with
/// Alipay's public key (docs/protocol.md §5).
pub fn verify_trade_pay_result(text: &str, key: &VerifyKey) -> TradePayVerification {
    let parts = split_trade_pay_result(text);
    let result_status = parts.result_status.map(str::to_owned);
    let fail =
        |f: Failure, params: Vec<(String, String)>, sign_type: String| TradePayVerification {
            failure: Some(f),
            success: false,
            result_status: result_status.clone(),
            sign_type,
            params,
        };
    if parts.result.is_empty() {
        return fail(
            Failure::new(Reason::MissingSign, "there is no result to verify"),
            Vec::new(),
            String::new(),
        );
    }
    let r = match read(parts.result) {
        Ok(r) => r,
        Err(e) => {
            return fail(
                Failure::new(Reason::Malformed, e.message),
                Vec::new(),
                String::new(),
            )
        }
    };
    let params: Vec<(String, String)> = r
        .pairs
        .iter()
        .map(|p| (p.name.to_owned(), p.value.to_owned()))
        .collect();
    let sign_type = r.sign_type.unwrap_or_default().to_owned();
    let Some(sign_raw) = r.sign_raw.filter(|s| !s.is_empty()) else {
        return fail(
            Failure::new(Reason::MissingSign, "the result has no sign"),
            params,
            sign_type,
        );
    };
    let st = match crate::verify::sign_type_for(r.sign_type, key) {
        Ok(t) => t,
        Err(f) => return fail(f, params, sign_type),
    };
    // Not URL-encoded by Alipay, but a form decoder may have turned `+` into a space,
    // and a careful caller may have encoded it: read both.
    let sign = crate::verify::restore_plus(&if sign_raw.contains('%') {
        url_decode(sign_raw).unwrap_or_else(|| sign_raw.to_owned())
    } else {
        sign_raw.to_owned()
    });
    if !check_signature(r.pre_sign.as_bytes(), &sign, st, key) {
        return fail(
            Failure::new(
                Reason::BadSignature,
                "the signature does not match the result and Alipay's public key",
            ),
            params,
            sign_type,
        );
    }
    let success_flag = params.iter().any(|(k, v)| k == "success" && v == "true");
    let status_ok = parts.result_status.is_none_or(|s| s == "9000");
    TradePayVerification {
        failure: None,
        success: success_flag && status_ok,
        result_status,
        sign_type,
        params,
    }
}
