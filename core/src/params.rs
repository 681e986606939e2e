//! Order parameters: from what the caller passed to the checked, ordered list that is signed.
//!
//! Two layers of rules. The safety rules always hold: they keep the pre-sign string
//! unambiguous, so the bytes Alipay checks are the bytes we signed. The strict rules
//! (docs/protocol.md §2, the table in `rules.rs`) catch what Alipay would refuse or,
//! worse, accept with a meaning the merchant did not intend.

use crate::error::{Error, Result};
use crate::limits::MAX_PRE_SIGN_BYTES;
use crate::rules::{self, ParamRule, Presence, ValueRule, JSON_PARAM, SERVICE_ALIAS};
use crate::sign_type::SignType;

/// One value as the caller passed it, before any rule is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ParamValue {
    /// A string.
    Text(String),
    /// A number, as JavaScript's own shortest form of it (`String(n)`).
    Number(String),
    /// `undefined`, `null` or nothing: the parameter is left out.
    #[default]
    Absent,
    /// A string holding a lone UTF-16 surrogate, which has no UTF-8 form.
    LoneSurrogate,
    /// A string longer than `limits::MAX_VALUE_CHARS`, not read; its length.
    TooLong(usize),
    /// Any other type; the name of the type, for the message.
    Unsupported(&'static str),
}

impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Text(s.to_owned())
    }
}

impl From<String> for ParamValue {
    fn from(s: String) -> Self {
        ParamValue::Text(s)
    }
}

/// How to build the pre-sign string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// Sort names in ascending byte order instead of keeping the caller's order.
    pub sort_keys: bool,
    /// Apply the AlipayHK rules of docs/protocol.md §2 on top of the safety rules.
    pub strict: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            sort_keys: false,
            strict: true,
        }
    }
}

/// Checked parameters, in the order they will be signed, without `sign` / `sign_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderParams {
    params: Vec<(String, String)>,
    /// The `sign_type` the caller put among the params, if any; it must agree with the key.
    declared_sign_type: Option<SignType>,
}

impl OrderParams {
    /// Checks `raw` against the rules and returns the list that will be signed.
    pub fn new<N, I>(raw: I, options: &BuildOptions) -> Result<OrderParams>
    where
        N: Into<String>,
        I: IntoIterator<Item = (N, ParamValue)>,
    {
        let raw = raw.into_iter();
        let mut params: Vec<(String, String)> = Vec::with_capacity(raw.size_hint().0);
        let mut declared_sign_type = None;
        let mut seen_service_as: Option<String> = None;
        for (name, value) in raw {
            let name: String = name.into();
            check_name(&name)?;
            let Some(text) = value_text(&name, value)? else {
                continue;
            };
            match name.as_str() {
                "sign" => return Err(Error::invalid(
                    "sign",
                    "sign is computed from the other parameters and the key; remove it from params",
                )),
                "sign_type" => {
                    declared_sign_type = Some(SignType::parse(&text).map_err(|mut e| {
                        e.field = Some("sign_type".into());
                        e.message = format!("sign_type in params: {}", e.message);
                        e
                    })?);
                    continue;
                }
                _ => {}
            }
            let name = if name == SERVICE_ALIAS || name == "service" {
                if let Some(first) = &seen_service_as {
                    return Err(Error::invalid(
                        &name,
                        format!(
                            "both `{first}` and `{name}` are given; `method` is the documented sample's name for `service`: pass only `service`"
                        ),
                    ));
                }
                seen_service_as = Some(name);
                "service".to_owned()
            } else {
                name
            };
            if params.iter().any(|(n, _)| same_name(n, &name)) {
                return Err(Error::invalid(
                    &name,
                    format!("`{name}` is given twice; each parameter may appear once"),
                ));
            }
            check_safe_value(&name, &text)?;
            params.push((name, text));
        }
        // Under strict, the missing required parameters are named instead.
        if params.is_empty() && !options.strict {
            return Err(Error::argument(
                "params",
                "there is nothing to sign: params holds no parameter with a value",
            ));
        }
        let total: usize = params.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
        if total > MAX_PRE_SIGN_BYTES {
            return Err(Error::argument(
                "params",
                format!("the order is {total} bytes long; at most {MAX_PRE_SIGN_BYTES} bytes are signed"),
            ));
        }
        if options.strict {
            check_strict(&params)?;
        }
        if options.sort_keys {
            params.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        }
        Ok(OrderParams {
            params,
            declared_sign_type,
        })
    }

    /// The parameters that are signed, in order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    pub fn declared_sign_type(&self) -> Option<SignType> {
        self.declared_sign_type
    }

    /// The pre-sign string: `key="value"` joined with `&` (docs/protocol.md §3).
    pub fn pre_sign(&self) -> String {
        pre_sign_string(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Joins `key="value"` pairs with `&`, values raw (no escaping, no encoding).
pub fn pre_sign_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::with_capacity(1024);
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(v);
        out.push('"');
    }
    out
}

/// Whether any byte of `s` passes `test`: a whole chunk at a time, without stopping early
/// inside one, which lets the compiler use vector instructions.
fn any_byte(s: &str, test: impl Fn(u8) -> bool) -> bool {
    let mut chunks = s.as_bytes().chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |hit, &b| hit | test(b)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| test(b))
}

/// Name equality with the cheap tests first: most names differ in length or first byte, and
/// an order is checked against every rule of the table.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    // Every allowed character is ASCII, so the bytes are the characters.
    let mut bytes = name.bytes();
    let ok = match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
            bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!(
                "parameter name {} is not allowed: a name is a letter or `_` followed by letters, digits or `_`",
                quote(name)
            ),
        ))
    }
}

/// The text of a value, `None` when the parameter is absent.
fn value_text(name: &str, value: ParamValue) -> Result<Option<String>> {
    match value {
        ParamValue::Absent => Ok(None),
        ParamValue::Text(s) if s.is_empty() => Ok(None),
        ParamValue::Text(s) => Ok(Some(s)),
        ParamValue::Number(n) => {
            if name != "total_fee" && name != "rmb_fee" {
                return Err(Error::invalid(
                    name,
                    format!("{name} must be a string; a number is accepted only for total_fee and rmb_fee (got the number {n})"),
                ));
            }
            if !is_amount_text(&n) {
                return Err(Error::invalid(
                    name,
                    format!("{name} is the number {n}, which is not an amount with at most 2 decimals; pass the amount as a decimal string such as \"12.50\""),
                ));
            }
            Ok(Some(n))
        }
        ParamValue::LoneSurrogate => Err(Error::invalid(
            name,
            format!("{name} holds a lone UTF-16 surrogate, which has no UTF-8 form; pass well-formed text"),
        )),
        ParamValue::TooLong(n) => Err(Error::invalid(
            name,
            format!("{name} is {n} characters long; a value may have at most {} characters", crate::limits::MAX_VALUE_CHARS),
        )),
        ParamValue::Unsupported(kind) => Err(Error::invalid(
            name,
            format!("{name} must be a string (or undefined/null to leave it out); got {kind}"),
        )),
    }
}

/// The rules that keep `key="value"&…` unambiguous, whatever the variant of the protocol.
pub(crate) fn check_safe_value(name: &str, value: &str) -> Result<()> {
    // Control characters and `"` are ASCII, and no byte of a longer UTF-8 character is below
    // 0x80, so one byte scan clears nearly every value; the rest are looked at closely.
    if !any_byte(value, |b| b < 0x20 || b == 0x7f || b == b'"') {
        return Ok(());
    }
    let control = |c: char| (c as u32) < 0x20 || c as u32 == 0x7f;
    if value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        let (i, c) = value
            .chars()
            .enumerate()
            .find(|(_, c)| control(*c))
            .unwrap_or((0, '\0'));
        return Err(Error::invalid(
            name,
            format!(
                "{name} holds the control character U+{:04X} at position {i}; values may not contain control characters (U+0000 to U+001F, U+007F)",
                c as u32
            ),
        ));
    }
    if name == JSON_PARAM {
        if value.contains("\"&") {
            return Err(Error::invalid(
                name,
                format!("{name} holds `\"&`, which would end the value early in the signed string; remove it (JSON needs no `\"&` outside strings, and `&` inside a string can be written \\u0026)"),
            ));
        }
    } else if value.contains('"') {
        return Err(Error::invalid(
            name,
            format!("{name} holds a double quote (\"), which would end the value early in the signed string; remove it or use another character"),
        ));
    }
    Ok(())
}

fn check_strict(params: &[(String, String)]) -> Result<()> {
    for (name, value) in params {
        let Some(rule) = rules::rule_for(name) else {
            let known: Vec<&str> = rules::PARAM_RULES.iter().map(|r| r.name).collect();
            return Err(Error::invalid(
                name,
                format!(
                    "{name} is not an AlipayHK mobile.securitypay.pay parameter (known: {}); check the spelling, or pass strict: false to send parameters outside that table",
                    known.join(", ")
                ),
            ));
        };
        if value.contains('&') {
            return Err(Error::invalid(
                name,
                format!("{name} holds `&`, which Alipay's gateway splits parameters on; remove it"),
            ));
        }
        check_length(rule, value)?;
        check_value_rule(rule, value)?;
    }
    let present = |n: &str| params.iter().any(|(k, _)| same_name(k, n));
    for rule in rules::PARAM_RULES {
        match rule.presence {
            Presence::Required if !present(rule.name) => {
                return Err(Error::missing(
                    rule.name,
                    format!("{} is required{}", rule.name, required_hint(rule)),
                ));
            }
            Presence::EitherOf(other) => {
                if present(rule.name) && present(other) {
                    return Err(Error::invalid(
                        other,
                        format!(
                            "both {} and {other} are given; pass exactly one amount",
                            rule.name
                        ),
                    ));
                }
                // Report the pair once, on total_fee: the message below says the first
                // name is in `currency` and the other in CNY, which holds only that way round.
                if !present(rule.name) && !present(other) && rule.name == "total_fee" {
                    return Err(Error::missing(
                        rule.name,
                        format!(
                            "an amount is required: {} (in `currency`) or {other} (in CNY), a decimal string such as \"12.50\"",
                            rule.name
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn required_hint(rule: &ParamRule) -> String {
    match rule.value {
        ValueRule::Exact(v) | ValueRule::ExactIgnoreCase(v) => format!(" and must be \"{v}\""),
        ValueRule::Partner => " (the 16-digit partner ID starting with 2088)".into(),
        ValueRule::Currency => " (an ISO 4217 code, \"HKD\" for AlipayHK)".into(),
        ValueRule::HttpUrl => {
            " (the absolute http(s) URL Alipay POSTs the payment notification to)".into()
        }
        _ => String::new(),
    }
}

pub(crate) fn check_length(rule: &ParamRule, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n < rule.min_chars {
        return Err(Error::invalid(
            rule.name,
            format!(
                "{} must have at least {} characters; got {n}",
                rule.name, rule.min_chars
            ),
        ));
    }
    if let Some(max) = rule.max_chars {
        if n > max {
            return Err(Error::invalid(
                rule.name,
                format!("{} may have at most {max} characters; got {n}", rule.name),
            ));
        }
    }
    Ok(())
}

pub(crate) fn check_value_rule(rule: &ParamRule, value: &str) -> Result<()> {
    let name = rule.name;
    let fail = |what: String| {
        Err(Error::invalid(
            name,
            format!("{what}; got {}", quote(value)),
        ))
    };
    match rule.value {
        ValueRule::Exact(v) if value != v => fail(format!("{name} must be exactly \"{v}\"")),
        ValueRule::ExactIgnoreCase(v) if !value.eq_ignore_ascii_case(v) => {
            fail(format!("{name} must be \"{v}\""))
        }
        ValueRule::OneOf(vs) if !vs.contains(&value) => {
            fail(format!("{name} must be one of {}", vs.join(", ")))
        }
        ValueRule::Partner
            if !(value.len() == 16
                && value.starts_with("2088")
                && value.bytes().all(|b| b.is_ascii_digit())) =>
        {
            fail(format!("{name} must be 16 digits starting with 2088 (the partner ID, PID, shown in AlipayHK's merchant portal; not the ClientId)"))
        }
        ValueRule::TradeNo { max }
            if !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            fail(format!(
                "{name} must be 1 to {max} characters from A-Z, a-z, 0-9, `_` and `-`"
            ))
        }
        ValueRule::Amount => check_amount(name, value),
        ValueRule::Currency if !(value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase())) => {
            fail(format!("{name} must be an ISO 4217 code of three capital letters, such as HKD"))
        }
        ValueRule::Timeout if !is_timeout(value) => fail(format!(
            "{name} must be a whole number and a unit m, h or d from 1m to 15d (write 1.5h as 90m), or 1c"
        )),
        ValueRule::HttpUrl if !is_http_url(value) => fail(format!(
            "{name} must be an absolute http:// or https:// URL with a host, such as https://shop.example.com/alipay/notify"
        )),
        ValueRule::Digits(n) if !(value.len() == n && value.bytes().all(|b| b.is_ascii_digit())) => {
            fail(format!("{name} must be {n} digits"))
        }
        ValueRule::Json if serde_json::from_str::<serde_json::Value>(value).is_err() => {
            fail(format!("{name} must be a JSON text"))
        }
        _ => Ok(()),
    }
}

/// `0` or a number without leading zeros, then at most 2 fraction digits.
fn is_amount_text(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'));
    let frac_ok = match frac {
        None => true,
        Some(f) => (1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()),
    };
    int_ok && frac_ok
}

/// Parses an amount text into cents, `None` when it is not an amount text.
pub fn amount_cents(s: &str) -> Option<u64> {
    if !is_amount_text(s) || s.len() > 18 {
        return None;
    }
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int: u64 = int.parse().ok()?;
    let frac: u64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    int.checked_mul(100)?.checked_add(frac)
}

fn check_amount(name: &str, value: &str) -> Result<()> {
    match amount_cents(value) {
        None => Err(Error::invalid(
            name,
            format!(
                "{name} must be a decimal amount with at most 2 fraction digits and no sign, exponent or leading zero, such as \"12.50\"; got {}",
                quote(value)
            ),
        )),
        Some(c) if !(1..=100_000_000).contains(&c) => Err(Error::invalid(
            name,
            format!("{name} must be from 0.01 to 1000000.00; got {value}"),
        )),
        Some(_) => Ok(()),
    }
}

fn is_timeout(s: &str) -> bool {
    if s == "1c" {
        return true;
    }
    let Some(unit) = s.chars().last() else {
        return false;
    };
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(n) = digits.parse::<u64>() else {
        return false;
    };
    let minutes = match unit {
        'm' => n,
        'h' => n.saturating_mul(60),
        'd' => n.saturating_mul(24 * 60),
        _ => return false,
    };
    (1..=15 * 24 * 60).contains(&minutes)
}

pub(crate) fn is_http_url(s: &str) -> bool {
    let scheme = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let rest = if scheme("https://") {
        &s[8..]
    } else if scheme("http://") {
        &s[7..]
    } else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(']') || host.starts_with('[') => {
            if !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            h
        }
        _ => host,
    };
    !host.is_empty()
        && !s.chars().any(|c| c.is_whitespace())
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
}

/// Quotes a value for a message, cut short when long.
fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{:?}…", cut)
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn an_order_with_nothing_to_sign_is_refused_and_strict_names_what_is_missing() {
        let loose = BuildOptions {
            sort_keys: false,
            strict: false,
        };
        let empty = vec![("a", ParamValue::from("")), ("b", ParamValue::Absent)];
        let err = OrderParams::new(empty.clone(), &loose).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::InvalidArgument, Some("params"))
        );
        let err = OrderParams::new(empty, &BuildOptions::default()).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::MissingParam, Some("service"))
        );
    }
}
