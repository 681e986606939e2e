//! The signed request for a gateway service (protocol §8.1).
//!
//! Every parameter is checked against the service's table (`rules`), with the same coded
//! errors as an order (`ERR_ALIPAYHK_MISSING_PARAM` / `ERR_ALIPAYHK_INVALID_PARAM` and the
//! parameter in `field`). Then: every parameter but `sign` / `sign_type`, empty values
//! dropped, sorted by name in byte order, joined as `name=value` with `&`, values raw (no
//! quotes, no URL-encoding); that string is signed with the merchant's key; every value is
//! URL-encoded for transport and `sign` and `sign_type` come last.
//!
//! Transport: GET with every parameter in the query string by default (what peers use, and
//! the only form documented for `notify_verify`); POST sends the same parameters as an
//! `application/x-www-form-urlencoded` body and also puts `_input_charset` in the URL, which
//! the gateway reads before decoding a body (protocol §8.1).

use super::rules::{self, GatewayValue, Need, ServiceParam};
use super::time::{gmt_return_at, parse_gmt_return};
use super::{short, GatewayConfig, HttpMethod, Service, INPUT_CHARSET};
use crate::error::{Error, Result};
use crate::limits::{MAX_PARAMS, MAX_PRE_SIGN_BYTES, MAX_VALUE_CHARS};
use crate::params::{amount_cents, check_length, check_safe_value, check_value_rule, ParamValue};
use crate::rules::{ParamRule, Presence};
use crate::sign::{encode_uri_component, Signer};
use crate::sign_type::SignType;

/// What to send: everything an HTTP client needs, and what was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRequest {
    pub service: Service,
    pub method: HttpMethod,
    /// The gateway URL with the query string (GET: every parameter; POST: `_input_charset`).
    pub url: String,
    /// Header names and values to send (`Accept`, and `Content-Type` for POST).
    pub headers: Vec<(String, String)>,
    /// The form body for POST; `None` for GET.
    pub body: Option<String>,
    /// Every parameter sent, decoded, in the order sent: sorted by name, then `sign` and
    /// `sign_type` for the signed services.
    pub params: Vec<(String, String)>,
    /// The exact string that was signed (empty for `notify_verify`).
    pub sign_content: String,
    /// The signature: base64 (RSA, RSA2) or lowercase hex (MD5); `None` for `notify_verify`.
    pub sign: Option<String>,
    pub sign_type: Option<SignType>,
}

impl GatewayRequest {
    /// The value of a parameter as sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `single_trade_query` (protocol §8.3): by the merchant's `out_trade_no`, Alipay's
/// `trade_no`, or both (then Alipay goes by `trade_no`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TradeQuery {
    pub out_trade_no: Option<String>,
    pub trade_no: Option<String>,
}

impl TradeQuery {
    pub fn params(&self) -> Vec<(String, ParamValue)> {
        vec![
            pair("out_trade_no", &self.out_trade_no),
            pair("trade_no", &self.trade_no),
        ]
    }
}

/// `forex_refund` (protocol §8.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundRequest {
    /// The paid order.
    pub out_trade_no: String,
    /// The merchant's refund id (≤64): the idempotency key. A retry must reuse it, with the
    /// same amount.
    pub out_return_no: String,
    /// `return_amount`: 0.01 to 1000000.00, at most two decimals, in `currency`.
    pub amount: String,
    /// Defaults to HKD.
    pub currency: Option<String>,
    /// Required, at most 100 characters.
    pub reason: String,
    /// `gmt_return`; absent: the request time in GMT+8, in the configured format.
    pub gmt_return: Option<String>,
    /// `is_sync`: `Some(true)` → `Y` (the reply carries the result, no notification);
    /// `Some(false)` → `N`; `None` → not sent (the gateway's default, `N`).
    pub is_sync: Option<bool>,
    /// Where the `refund_status_sync` notification goes (absent: the account's default).
    pub notify_url: Option<String>,
}

impl RefundRequest {
    pub fn params(&self) -> Vec<(String, ParamValue)> {
        let currency = self.currency.clone().or_else(|| Some("HKD".to_owned()));
        vec![
            pair("out_trade_no", &Some(self.out_trade_no.clone())),
            pair("out_return_no", &Some(self.out_return_no.clone())),
            pair("return_amount", &Some(self.amount.clone())),
            pair("currency", &currency),
            pair("reason", &Some(self.reason.clone())),
            pair("gmt_return", &self.gmt_return),
            pair(
                "is_sync",
                &self.is_sync.map(|s| if s { "Y" } else { "N" }.to_owned()),
            ),
            pair("notify_url", &self.notify_url),
        ]
    }
}

/// `alipay.acquire.refund.query` (protocol §8.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefundQuery {
    pub out_trade_no: String,
    pub out_return_no: String,
}

impl RefundQuery {
    pub fn params(&self) -> Vec<(String, ParamValue)> {
        vec![
            pair("out_trade_no", &Some(self.out_trade_no.clone())),
            pair("out_return_no", &Some(self.out_return_no.clone())),
        ]
    }
}

fn pair(name: &str, value: &Option<String>) -> (String, ParamValue) {
    (
        name.to_owned(),
        match value {
            Some(v) => ParamValue::Text(v.clone()),
            None => ParamValue::Absent,
        },
    )
}

/// Builds the request for `service` from its own parameters (the names of protocol §8,
/// e.g. `out_trade_no`), signed with `signer` (required for every service but
/// `notify_verify`, which is sent unsigned and ignores it).
///
/// `service`, `partner` and `_input_charset` come from `config`; they may also be given
/// among `params` if they agree. `sign` and `sign_type` may not be given. For `forex_refund`
/// without `gmt_return`, `now_unix_secs` (the caller's clock) gives it, in GMT+8 and
/// `config.gmt_return_format`; a given `gmt_return` must be in that format.
pub fn build_request(
    config: &GatewayConfig,
    service: Service,
    params: Vec<(String, ParamValue)>,
    signer: Option<&Signer>,
    now_unix_secs: i64,
) -> Result<GatewayRequest> {
    crate::merchant::check_partner(&config.partner)?;
    let signer = match (service.is_signed(), signer) {
        (true, None) => {
            return Err(Error::argument(
                "key",
                format!("{service} requests are signed: pass the merchant's key (RSA private key or MD5 key)"),
            ))
        }
        (true, Some(s)) => Some(s),
        (false, _) => None,
    };
    if params.len() > MAX_PARAMS {
        return Err(Error::argument(
            "params",
            format!("{} parameters given; at most {MAX_PARAMS}", params.len()),
        ));
    }

    let mut checked: Vec<(String, String)> = Vec::with_capacity(params.len() + 6);
    for (name, value) in params {
        check_name(&name)?;
        let Some(text) = value_text(&name, value)? else {
            continue;
        };
        if checked.iter().any(|(n, _)| *n == name) {
            return Err(Error::invalid(
                &name,
                format!("`{name}` is given twice; each parameter may appear once"),
            ));
        }
        match name.as_str() {
            "sign" | "sign_type" => {
                return Err(Error::invalid(
                    &name,
                    format!("{name} is computed from the other parameters and the key; remove it from params"),
                ))
            }
            "service" | "partner" | "_input_charset" => {
                let want = match name.as_str() {
                    "service" => service.as_str(),
                    "partner" => config.partner.as_str(),
                    _ => INPUT_CHARSET,
                };
                let same = if name == "_input_charset" {
                    text.eq_ignore_ascii_case(want)
                } else {
                    text == want
                };
                if !same {
                    return Err(Error::invalid(
                        &name,
                        format!("{name} is {}, but this request is for {want:?}; leave {name} out of params (it is added for you)", short(&text)),
                    ));
                }
                continue;
            }
            _ => {}
        }
        check_safe_value(&name, &text)?;
        let Some(rule) = rules::rule_for(service, &name) else {
            let known: Vec<&str> = rules::params_of(service).iter().map(|r| r.name).collect();
            return Err(Error::invalid(
                &name,
                format!(
                    "{name} is not a parameter of {service} (its parameters: {}); check the spelling",
                    known.join(", ")
                ),
            ));
        };
        check_value(config, rule, &text)?;
        checked.push((name, text));
    }

    if service == Service::ForexRefund && !checked.iter().any(|(n, _)| n == "gmt_return") {
        checked.push((
            "gmt_return".to_owned(),
            gmt_return_at(now_unix_secs, config.gmt_return_format),
        ));
    }
    check_presence(service, &checked)?;

    checked.push(("service".to_owned(), service.as_str().to_owned()));
    checked.push(("partner".to_owned(), config.partner.clone()));
    checked.push(("_input_charset".to_owned(), INPUT_CHARSET.to_owned()));
    checked.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));

    let sign_content = sign_content(&checked);
    if sign_content.len() > MAX_PRE_SIGN_BYTES {
        return Err(Error::argument(
            "params",
            format!(
                "the request is {} bytes long; at most {MAX_PRE_SIGN_BYTES} bytes are signed",
                sign_content.len()
            ),
        ));
    }
    let (sign, sign_type) = match signer {
        Some(s) => {
            let sign = s.sign_content(&sign_content)?;
            checked.push(("sign".to_owned(), sign.clone()));
            checked.push(("sign_type".to_owned(), s.sign_type().as_str().to_owned()));
            (Some(sign), Some(s.sign_type()))
        }
        None => (None, None),
    };

    let base = config.gateway.url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let encoded = form_encode(&checked);
    let accept = (
        "Accept".to_owned(),
        if service == Service::NotifyVerify {
            "text/plain, */*"
        } else {
            "text/xml, application/xml, */*"
        }
        .to_owned(),
    );
    let (url, headers, body) = match config.method {
        HttpMethod::Get => (format!("{base}{sep}{encoded}"), vec![accept], None),
        HttpMethod::Post => (
            format!("{base}{sep}_input_charset={INPUT_CHARSET}"),
            vec![
                accept,
                (
                    "Content-Type".to_owned(),
                    format!("application/x-www-form-urlencoded; charset={INPUT_CHARSET}"),
                ),
            ],
            Some(encoded),
        ),
    };
    Ok(GatewayRequest {
        service,
        method: config.method,
        url,
        headers,
        body,
        params: checked,
        sign_content: if signer.is_some() {
            sign_content
        } else {
            String::new()
        },
        sign,
        sign_type,
    })
}

/// The string a request's signature covers (protocol §8.1): every parameter but `sign` and
/// `sign_type` and those with an empty value, sorted by name in byte order, `name=value`
/// joined with `&`, values raw.
pub fn sign_content(params: &[(String, String)]) -> String {
    crate::notify::notify_sign_content(params)
}

/// `name=value` pairs with both sides through `encodeURIComponent`, joined with `&`: valid
/// as a query string and as an `application/x-www-form-urlencoded` body.
fn form_encode(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_uri_component(k));
        out.push('=');
        out.push_str(&encode_uri_component(v));
    }
    out
}

fn check_name(name: &str) -> Result<()> {
    crate::params::check_name(name)
}

/// The text of a value, `None` when absent or empty (empty values are not sent).
fn value_text(name: &str, value: ParamValue) -> Result<Option<String>> {
    match value {
        ParamValue::Absent => Ok(None),
        ParamValue::Text(s) if s.is_empty() => Ok(None),
        ParamValue::Text(s) => Ok(Some(s)),
        ParamValue::Number(n) if rules::takes_number(name) => {
            if amount_cents(&n).is_none() {
                return Err(Error::invalid(
                    name,
                    format!("{name} is the number {n}, which is not an amount with at most 2 decimals; pass the amount as a decimal string such as \"12.50\""),
                ));
            }
            Ok(Some(n))
        }
        ParamValue::Number(n) => Err(Error::invalid(
            name,
            format!("{name} must be a string; a number is accepted only for amounts (got the number {n})"),
        )),
        ParamValue::LoneSurrogate => Err(Error::invalid(
            name,
            format!("{name} holds a lone UTF-16 surrogate, which has no UTF-8 form; pass well-formed text"),
        )),
        ParamValue::TooLong(n) => Err(Error::invalid(
            name,
            format!("{name} is {n} characters long; a value may have at most {MAX_VALUE_CHARS} characters"),
        )),
        ParamValue::Unsupported(kind) => Err(Error::invalid(
            name,
            format!("{name} must be a string (or undefined/null to leave it out); got {kind}"),
        )),
    }
}

fn check_value(config: &GatewayConfig, rule: &ServiceParam, value: &str) -> Result<()> {
    let core = ParamRule {
        name: rule.name,
        presence: Presence::Optional,
        value: match rule.value {
            GatewayValue::Core(v) => v,
            GatewayValue::GmtReturn => crate::rules::ValueRule::Text,
        },
        min_chars: rule.min_chars,
        max_chars: rule.max_chars,
    };
    if rule.value == GatewayValue::GmtReturn {
        let format = config.gmt_return_format;
        if parse_gmt_return(value, format).is_none() {
            return Err(Error::invalid(
                rule.name,
                format!(
                    "{} must be the request time in GMT+8 written {} (the configured gmt_return format), a real date from year 2000; got {}; leave it out to have it filled in",
                    rule.name,
                    format.as_str(),
                    short(value)
                ),
            ));
        }
        return Ok(());
    }
    check_length(&core, value)?;
    check_value_rule(&core, value)
}

fn check_presence(service: Service, params: &[(String, String)]) -> Result<()> {
    let present = |n: &str| params.iter().any(|(k, _)| k == n);
    for rule in rules::params_of(service) {
        match rule.need {
            Need::Required if !present(rule.name) => {
                return Err(Error::missing(
                    rule.name,
                    format!("{} is required by {service}{}", rule.name, hint(rule.name)),
                ));
            }
            Need::AtLeastOneWith(other) if !present(rule.name) && !present(other) => {
                return Err(Error::missing(
                    rule.name,
                    format!("{service} needs {} (the merchant's order id) or {other} (Alipay's trade id)", rule.name),
                ));
            }
            Need::ExactlyOneWith(other) => {
                if present(rule.name) && present(other) {
                    return Err(Error::invalid(
                        other,
                        format!(
                            "both {} and {other} are given; pass exactly one amount",
                            rule.name
                        ),
                    ));
                }
                if !present(rule.name) && !present(other) && rule.name == "return_amount" {
                    return Err(Error::missing(
                        rule.name,
                        format!("{service} needs the amount to refund: {} (in `currency`) or {other} (in CNY), a decimal string such as \"12.50\"", rule.name),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn hint(name: &str) -> &'static str {
    match name {
        "out_return_no" => " (the merchant's refund id, reused unchanged on every retry)",
        "out_trade_no" => " (the merchant's order id)",
        "currency" => " (an ISO 4217 code, \"HKD\" for AlipayHK)",
        "reason" => " (at most 100 characters)",
        "notify_id" => " (the notify_id of the notification to confirm)",
        _ => "",
    }
}
