//! The server-to-server calls to Alipay's gateway after a payment (protocol §8):
//! `single_trade_query`, `forex_refund`, `alipay.acquire.refund.query` and `notify_verify`.
//!
//! No I/O happens here. The caller (the JavaScript layer, or any HTTP client) sends what
//! [`build_request`] describes and hands the reply's bytes to a `parse_*_reply` function,
//! which checks the reply's signature and returns a typed outcome:
//!
//! ```text
//! GatewayConfig + params + Signer ──build_request──▶ GatewayRequest { method, url, headers, body }
//!                                                          │  (HTTP, outside this crate)
//! typed outcome ◀──parse_*_reply(body, Alipay's key, expected)──┘
//! ```
//!
//! One job per file:
//! - [`rules`]: each service's parameters, one table per service (like `crate::rules`).
//! - [`time`]: the `gmt_return` timestamp (GMT+8) in the configured format.
//! - [`request`]: the checked, sorted, signed request (protocol §8.1).
//! - [`decode`]: reply bytes to text, by the encoding the XML prolog declares.
//! - [`reply`]: the XML envelope of protocol §8.2, with size, depth and shape limits.
//! - [`signature`]: the reply signature of protocol §8.2.
//! - [`errors`]: the gateway's error codes and what usually causes each.
//! - [`results`]: typed outcomes per service; only a verified reply yields a final state.
//! - [`refund_notify`]: the `refund_status_sync` notification of protocol §8.4.

pub mod decode;
pub mod errors;
pub mod refund_notify;
pub mod reply;
pub mod request;
pub mod results;
pub mod rules;
pub mod signature;
pub mod time;

use crate::error::{Error, Result};
use std::fmt;

pub use errors::{explain_gateway_error, GatewayError};
pub use refund_notify::{refund_notification, RefundNotification, RefundNotifyResult};
pub use reply::{parse_reply, Reply, ResponseSection};
pub use request::{build_request, GatewayRequest, RefundQuery, RefundRequest, TradeQuery};
pub use results::{
    parse_gateway_reply, parse_notify_verify_reply, parse_refund_query_reply, parse_refund_reply,
    parse_trade_query_reply, Expected, GatewayOutcome, NotifyVerifyOutcome, RefundOutcome,
    RefundQueryOutcome, RefundRecord, RefundStatus, ReplyError, ReplyResult, Signed, SignedFields,
    Trade, TradeQueryOutcome, TradeStatus,
};
pub use signature::reply_sign_content;

/// Alipay's production gateway (protocol §8.1).
pub const PRODUCTION_GATEWAY: &str = "https://intlmapi.alipay.com/gateway.do";
/// Alipay's sandbox gateway (protocol §8.1).
pub const SANDBOX_GATEWAY: &str = "https://mapi.alipaydev.com/gateway.do";
/// The only `_input_charset` this crate sends: values are UTF-8 (protocol §8.1).
pub const INPUT_CHARSET: &str = "utf-8";
/// Characters in a custom gateway URL.
pub const MAX_GATEWAY_URL_CHARS: usize = 2_048;

/// A gateway service (protocol §8.3–§8.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `single_trade_query` (protocol §8.3).
    SingleTradeQuery,
    /// `forex_refund` (protocol §8.4).
    ForexRefund,
    /// `alipay.acquire.refund.query` (protocol §8.5).
    RefundQuery,
    /// `notify_verify` (protocol §8.6): unsigned.
    NotifyVerify,
}

impl Service {
    pub const ALL: [Service; 4] = [
        Service::SingleTradeQuery,
        Service::ForexRefund,
        Service::RefundQuery,
        Service::NotifyVerify,
    ];

    /// The `service` parameter's value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::SingleTradeQuery => "single_trade_query",
            Service::ForexRefund => "forex_refund",
            Service::RefundQuery => "alipay.acquire.refund.query",
            Service::NotifyVerify => "notify_verify",
        }
    }

    /// Reads a `service` value; `field` names the argument in the error.
    pub fn parse(s: &str) -> Result<Service> {
        Service::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                Error::argument(
                    "service",
                    format!(
                        "unknown gateway service {}: expected one of single_trade_query, forex_refund, alipay.acquire.refund.query, notify_verify",
                        short(s)
                    ),
                )
            })
    }

    /// Whether requests carry `sign` / `sign_type` (all but `notify_verify`).
    pub const fn is_signed(self) -> bool {
        !matches!(self, Service::NotifyVerify)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which gateway to call (protocol §8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateway {
    /// `https://intlmapi.alipay.com/gateway.do`.
    Production,
    /// `https://mapi.alipaydev.com/gateway.do`.
    Sandbox,
    /// Another URL (older hosts, a proxy, the local simulator): `https://`, or `http://` to
    /// a loopback host only (`localhost`, `127.x.x.x`, `[::1]`).
    Custom(String),
}

impl Gateway {
    /// `"production"`, `"sandbox"`, or a URL checked by [`Gateway::custom`].
    pub fn parse(s: &str) -> Result<Gateway> {
        match s {
            "production" => Ok(Gateway::Production),
            "sandbox" => Ok(Gateway::Sandbox),
            url => Gateway::custom(url),
        }
    }

    /// A custom gateway URL: an absolute URL by the core's URL rule (the one `notify_url`
    /// follows), HTTPS (plain HTTP only to a loopback host), without user name, password or
    /// fragment. A query string is kept; parameters are appended after it.
    pub fn custom(url: &str) -> Result<Gateway> {
        let fail = |what: &str| {
            Err(Error::invalid(
                "gateway",
                format!(
                    "gateway must be \"production\", \"sandbox\" or an https:// URL such as {PRODUCTION_GATEWAY} ({what}); got {}",
                    short(url)
                ),
            ))
        };
        if url.chars().count() > MAX_GATEWAY_URL_CHARS {
            return fail("the URL is too long");
        }
        if !crate::params::is_http_url(url) {
            return fail("not an absolute http(s) URL with a host");
        }
        if url.contains('#') {
            return fail("a URL with a #fragment");
        }
        let https = url
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("https://"));
        let authority = url[if https { 8 } else { 7 }..]
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        if authority.contains('@') {
            return fail("a URL carrying a user name or password");
        }
        if !https && !is_loopback(authority) {
            return fail("the gateway is HTTPS only; http:// is accepted for a loopback host such as 127.0.0.1 only");
        }
        Ok(Gateway::Custom(url.to_owned()))
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &str {
        match self {
            Gateway::Production => PRODUCTION_GATEWAY,
            Gateway::Sandbox => SANDBOX_GATEWAY,
            Gateway::Custom(u) => u,
        }
    }
}

/// `localhost`, `*.localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, _)) => return h == "::1",
            None => return false,
        }
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.bytes().all(|b| b.is_ascii_digit()))
        && octets
            .iter()
            .all(|o| o.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// How `gmt_return` is written (protocol §8.4): the HK page's form is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GmtReturnFormat {
    /// `yyyy-MM-dd HH:mm:ss`, as the AlipayHK page writes it.
    #[default]
    Hk,
    /// `yyyyMMddHHmmss`, as other copies of the page and peers write it.
    Compact,
}

impl GmtReturnFormat {
    /// `"yyyy-MM-dd HH:mm:ss"` or `"yyyyMMddHHmmss"`.
    pub fn parse(s: &str) -> Result<GmtReturnFormat> {
        match s {
            "yyyy-MM-dd HH:mm:ss" => Ok(GmtReturnFormat::Hk),
            "yyyyMMddHHmmss" => Ok(GmtReturnFormat::Compact),
            other => Err(Error::invalid(
                "gmtReturnFormat",
                format!(
                    "the gmt_return format must be \"yyyy-MM-dd HH:mm:ss\" (the HK page's, the default) or \"yyyyMMddHHmmss\"; got {}",
                    short(other)
                ),
            )),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            GmtReturnFormat::Hk => "yyyy-MM-dd HH:mm:ss",
            GmtReturnFormat::Compact => "yyyyMMddHHmmss",
        }
    }
}

/// How a request travels (protocol §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpMethod {
    /// Every parameter in the query string, no body: what peers use, and the only form
    /// `notify_verify` is documented with. The default.
    #[default]
    Get,
    /// `application/x-www-form-urlencoded` body; the URL carries `_input_charset` too,
    /// which the gateway reads before it decodes the body.
    Post,
}

impl HttpMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }

    /// `"GET"` or `"POST"` (ASCII case ignored).
    pub fn parse(s: &str) -> Result<HttpMethod> {
        if s.eq_ignore_ascii_case("GET") {
            Ok(HttpMethod::Get)
        } else if s.eq_ignore_ascii_case("POST") {
            Ok(HttpMethod::Post)
        } else {
            Err(Error::invalid(
                "method",
                format!("method must be \"GET\" or \"POST\"; got {}", short(s)),
            ))
        }
    }
}

/// The merchant's settings for gateway calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The 16-digit partner ID starting with 2088.
    pub partner: String,
    pub gateway: Gateway,
    pub gmt_return_format: GmtReturnFormat,
    pub method: HttpMethod,
}

impl GatewayConfig {
    /// Checks the partner ID; GET and the HK `gmt_return` form by default.
    pub fn new(partner: &str, gateway: Gateway) -> Result<GatewayConfig> {
        crate::merchant::check_partner(partner)?;
        Ok(GatewayConfig {
            partner: partner.to_owned(),
            gateway,
            gmt_return_format: GmtReturnFormat::default(),
            method: HttpMethod::default(),
        })
    }
}

/// A value for a message: quoted, cut short when long.
pub(crate) fn short(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() > MAX {
        format!("{:?}…", s.chars().take(MAX).collect::<String>())
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn gateways() {
        assert_eq!(
            Gateway::parse("production").unwrap().url(),
            PRODUCTION_GATEWAY
        );
        assert_eq!(Gateway::parse("sandbox").unwrap().url(), SANDBOX_GATEWAY);
        for ok in [
            "https://mapi.alipay.com/gateway.do",
            "http://127.0.0.1:8123/gateway.do",
            "http://localhost/gateway.do?x=1",
            "http://[::1]:9/gateway.do",
            "HTTPS://Example.com",
        ] {
            assert_eq!(Gateway::parse(ok).unwrap().url(), ok);
        }
        for bad in [
            "",
            "staging",
            "http://example.com/gateway.do",
            "http://127.0.0.1.example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#x",
            "ftp://example.com",
            "https://",
            "http://128.0.0.1/",
        ] {
            let e = Gateway::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParam, "{bad}");
            assert_eq!(e.field.as_deref(), Some("gateway"));
        }
    }

    #[test]
    fn services_round_trip() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(
            Service::parse("trade_query").unwrap_err().code,
            ErrorCode::InvalidArgument
        );
    }
}
