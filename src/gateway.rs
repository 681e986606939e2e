//! The gateway services, from JavaScript: `gatewayRequest` builds what to send for
//! `single_trade_query`, `forex_refund`, `alipay.acquire.refund.query` and `notify_verify`,
//! and `parseGatewayReply` checks what came back. No I/O here (lib/gateway.js sends with
//! `fetch`); every rule, the reply signature and the typed outcome are the core's
//! (core/src/gateway/).
//!
//! Why it is long: the typed replies (`GatewayReply`, `GatewayTrade`, `GatewayRefund`) are
//! `#[napi(object)]` structs so their TypeScript types are generated, and each core outcome is
//! converted to them here, with the settings and `expected` read from own properties.

use crate::convert::{byte_view, describe, is_nullish, own_field, text_arg};
use crate::js_error::{run, Extra, Fail, Outcome};
use crate::keys::{signer_of_object, verify_key_of};
use crate::records::{own_key_names, params_of};
use alipayhk_pay_core::gateway::{
    self, build_request, Expected, Gateway, GatewayConfig, GatewayError, GatewayOutcome,
    GmtReturnFormat, HttpMethod, NotifyVerifyOutcome, RefundOutcome, RefundQueryOutcome,
    ReplyError, Service, TradeQueryOutcome,
};
use alipayhk_pay_core::limits::MAX_REPLY_BYTES;
use alipayhk_pay_core::{Error, Signer, VerifyKey};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::collections::HashMap;

/// What to send to the gateway: give it to `fetch` (or any HTTP client) as it is.
#[napi(object, object_from_js = false)]
pub struct GatewayHttpRequest {
    #[napi(ts_type = "GatewayService")]
    pub service: String,
    #[napi(ts_type = "'GET' | 'POST'")]
    pub method: String,
    /// The gateway URL with the query string.
    pub url: String,
    pub headers: HashMap<String, String>,
    /// The form body (POST only).
    pub body: Option<String>,
    /// Every parameter sent, decoded.
    pub params: HashMap<String, String>,
    /// The exact string that was signed (`''` for notify_verify).
    pub sign_content: String,
}

/// A trade, from a reply whose signature verified.
#[napi(object, object_from_js = false)]
pub struct GatewayTrade {
    /// `trade_status` as Alipay wrote it.
    pub trade_status: String,
    pub out_trade_no: Option<String>,
    pub trade_no: Option<String>,
    /// Caution: seen in CNY for buyers paying from a mainland wallet; the verified
    /// notification's amount is the one to match.
    pub total_fee: Option<String>,
    pub seller_id: Option<String>,
    pub buyer_id: Option<String>,
    /// Masked by Alipay, as written.
    pub buyer_email: Option<String>,
    pub subject: Option<String>,
    pub gmt_create: Option<String>,
    pub gmt_payment: Option<String>,
    /// Every signed field.
    pub fields: HashMap<String, String>,
}

/// A refund, from a reply whose signature verified.
#[napi(object, object_from_js = false)]
pub struct GatewayRefund {
    pub response_code: Option<String>,
    pub refund_result_code: Option<String>,
    /// With FAILED / PROCESSING, e.g. `MERCHANT_BALANCE_NOT_ENOUGH`.
    pub refund_error_code: Option<String>,
    pub out_trade_no: Option<String>,
    pub out_return_no: Option<String>,
    pub trade_no: Option<String>,
    pub gmt_create: Option<String>,
    /// Every signed field.
    pub fields: HashMap<String, String>,
}

/// What a gateway reply says, checked. `signedByAlipay` is true only when the state came
/// from a `<response>` whose signature verified with Alipay's key; only such a state is
/// final (`PAID`, `CLOSED`, `SUCCESS`, `FAILED`, `CANCELED`).
#[napi(object, object_from_js = false)]
pub struct GatewayReply {
    #[napi(ts_type = "GatewayService")]
    pub service: String,
    /// single_trade_query: `PAID`, `WAIT_BUYER_PAY`, `CLOSED`, `NOT_FOUND`;
    /// forex_refund: `ACCEPTED`; refund query: `SUCCESS`, `FAILED`, `CANCELED`, `PROCESSING`,
    /// `NOT_FOUND`; notify_verify: `GENUINE`, `NOT_GENUINE`.
    #[napi(ts_type = "GatewayStatus")]
    pub status: String,
    pub signed_by_alipay: bool,
    /// The sign type of a signed reply.
    #[napi(ts_type = "SignType | undefined")]
    pub sign_type: Option<String>,
    pub trade: Option<GatewayTrade>,
    pub refund: Option<GatewayRefund>,
}

fn map(fields: &[(String, String)]) -> HashMap<String, String> {
    fields.iter().cloned().collect()
}

const SETTINGS: &[&str] = &[
    "partner",
    "signType",
    "privateKey",
    "md5Key",
    "gateway",
    "method",
    "gmtReturnFormat",
    "now",
];

/// Gateway settings and the merchant's key: `{ partner, signType, privateKey | md5Key,
/// gateway?, method?, gmtReturnFormat? }`.
pub struct Settings {
    pub config: GatewayConfig,
    pub signer: Option<std::sync::Arc<Signer>>,
    pub now: Option<i64>,
}

/// Reads `gateway`, `method` and `gmtReturnFormat` of an options or config object.
pub fn gateway_config_of(object: &Object<'_>, partner: &str, arg: &str) -> Outcome<GatewayConfig> {
    let text = |name: &str| -> Outcome<Option<String>> {
        let v: Unknown = own_field(object, name)?;
        Ok(if is_nullish(&v)? {
            None
        } else {
            Some(text_arg(&v, &format!("{arg}.{name}"))?)
        })
    };
    let gateway = match text("gateway")? {
        Some(g) => Gateway::parse(&g).map_err(|e| with_field(e, &format!("{arg}.gateway")))?,
        None => Gateway::Production,
    };
    let mut config = GatewayConfig::new(partner, gateway)?;
    if let Some(m) = text("method")? {
        config.method =
            HttpMethod::parse(&m).map_err(|e| with_field(e, &format!("{arg}.method")))?;
    }
    if let Some(f) = text("gmtReturnFormat")? {
        config.gmt_return_format = GmtReturnFormat::parse(&f)
            .map_err(|e| with_field(e, &format!("{arg}.gmtReturnFormat")))?;
    }
    Ok(config)
}

fn with_field(mut e: Error, field: &str) -> Error {
    e.field = Some(field.to_owned());
    e
}

fn settings_of(env: &Env, value: &Unknown<'_>, service: Service) -> Outcome<Settings> {
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(Error::argument(
            "settings",
            format!(
                "settings must be {{ partner, signType, privateKey | md5Key, gateway? }}; got {}",
                describe(value)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { value.cast()? };
    for name in own_key_names(env, &object, "settings")? {
        if !SETTINGS.contains(&name.as_str()) {
            return Err(Error::argument(
                &format!("settings.{name}"),
                format!(
                    "settings.{name} is not a known setting (known: {})",
                    SETTINGS.join(", ")
                ),
            )
            .into());
        }
    }
    let partner: Unknown = own_field(&object, "partner")?;
    if is_nullish(&partner)? {
        return Err(Error::missing(
            "settings.partner",
            "settings.partner is required: the 16-digit partner ID (PID) starting with 2088",
        )
        .into());
    }
    let partner = text_arg(&partner, "settings.partner")?;
    let config = gateway_config_of(&object, &partner, "settings")?;
    let signer = if service.is_signed() {
        Some(signer_of_object(&object, "settings")?)
    } else {
        None
    };
    let now: Unknown = own_field(&object, "now")?;
    let now = if is_nullish(&now)? {
        None
    } else {
        Some(unix_secs_of(&now, "settings.now")?)
    };
    Ok(Settings {
        config,
        signer,
        now,
    })
}

/// A time in milliseconds since the epoch (`Date.now()`), as seconds.
pub fn unix_secs_of(value: &Unknown<'_>, field: &str) -> Outcome<i64> {
    if value.get_type()? != ValueType::Number {
        return Err(Error::argument(
            field,
            format!(
                "{field} must be milliseconds since the epoch (Date.now()); got {}",
                describe(value)?
            ),
        )
        .into());
    }
    let ms: f64 = unsafe { value.cast::<napi::JsNumber>()? }.get_double()?;
    if !ms.is_finite() || !(0.0..=4.1e15).contains(&ms) {
        return Err(Error::argument(
            field,
            format!("{field} is not a time (milliseconds since the epoch)"),
        )
        .into());
    }
    Ok((ms / 1000.0).floor() as i64)
}

pub fn service_of(value: &Unknown<'_>) -> Outcome<Service> {
    let text = text_arg(value, "service")?;
    Ok(Service::parse(&text)?)
}

/// Builds the request; the clock is the caller's (`now`) or the system's.
pub fn request_for(
    env: &Env,
    service: Service,
    params: &Unknown<'_>,
    config: &GatewayConfig,
    signer: Option<&Signer>,
    now: Option<i64>,
) -> Outcome<GatewayHttpRequest> {
    let params = if is_nullish(params)? {
        Vec::new()
    } else {
        params_of(env, params)?
    };
    let now = now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    });
    let r = build_request(config, service, params, signer, now)?;
    Ok(GatewayHttpRequest {
        service: r.service.as_str().to_owned(),
        method: r.method.as_str().to_owned(),
        url: r.url,
        headers: r.headers.into_iter().collect(),
        body: r.body,
        params: map(&r.params),
        sign_content: r.sign_content,
    })
}

/// `{ outTradeNo?, tradeNo?, outReturnNo? }`: what was asked for. A signed reply about
/// another order or refund is refused.
pub fn expected_of(env: &Env, value: Option<&Unknown<'_>>) -> Outcome<Expected> {
    let Some(value) = value else {
        return Ok(Expected::default());
    };
    if is_nullish(value)? {
        return Ok(Expected::default());
    }
    if value.get_type()? != ValueType::Object || value.is_array()? {
        return Err(Error::argument(
            "expected",
            format!(
                "expected must be {{ outTradeNo?, tradeNo?, outReturnNo? }}; got {}",
                describe(value)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { value.cast()? };
    const KNOWN: &[&str] = &["outTradeNo", "tradeNo", "outReturnNo"];
    for name in own_key_names(env, &object, "expected")? {
        if !KNOWN.contains(&name.as_str()) {
            return Err(Error::argument(
                &format!("expected.{name}"),
                format!(
                    "expected.{name} is not a known field (known: {})",
                    KNOWN.join(", ")
                ),
            )
            .into());
        }
    }
    let get = |name: &str| -> Outcome<Option<String>> {
        let v: Unknown = own_field(&object, name)?;
        Ok(if is_nullish(&v)? {
            None
        } else {
            Some(text_arg(&v, &format!("expected.{name}"))?)
        })
    };
    Ok(Expected {
        out_trade_no: get("outTradeNo")?,
        trade_no: get("tradeNo")?,
        out_return_no: get("outReturnNo")?,
    })
}

/// The reply's bytes: a string or a Buffer, refused past the core's size limit before any
/// copy.
pub fn reply_bytes_of(value: &Unknown<'_>) -> Outcome<Vec<u8>> {
    let too_big = |n: usize| -> Outcome<Vec<u8>> {
        Err(Error::malformed_reply(format!(
            "the reply is {n} long; a gateway reply is at most {MAX_REPLY_BYTES} bytes (stop reading at that size)"
        ))
        .into())
    };
    match value.get_type()? {
        ValueType::String => {
            let n = crate::convert::js_len(value)?;
            if n > MAX_REPLY_BYTES {
                return too_big(n);
            }
            Ok(text_arg(value, "reply")?.into_bytes())
        }
        ValueType::Object if byte_view(value)?.is_some() => {
            let bytes = byte_view(value)?.unwrap_or_default();
            if bytes.len() > MAX_REPLY_BYTES {
                return too_big(bytes.len());
            }
            Ok(bytes.to_vec())
        }
        _ => Err(Error::argument(
            "reply",
            format!(
                "reply must be the reply's text or bytes (string, Buffer or Uint8Array); got {}",
                describe(value)?
            ),
        )
        .into()),
    }
}

fn gateway_failure(e: GatewayError, service: Service) -> Fail {
    Fail::Detailed(
        e.to_error(service),
        vec![
            ("gatewayError", Extra::Text(e.code.clone())),
            ("explanation", Extra::Text(e.explanation.clone())),
            ("retryable", Extra::Flag(e.retryable)),
        ],
    )
}

fn reply_failure(e: ReplyError) -> Fail {
    match e.reason {
        Some(r) => Fail::Detailed(
            e.error,
            vec![("reason", Extra::Text(r.as_str().to_owned()))],
        ),
        None => Fail::Core(e.error),
    }
}

/// Checks a reply and turns it into a [`GatewayReply`]; a gateway error code is thrown as
/// `ERR_ALIPAYHK_GATEWAY_ERROR` (with `gatewayError`, `retryable`), a bad signature as
/// `ERR_ALIPAYHK_REPLY_SIGNATURE` (with `reason`).
pub fn reply_of(
    service: Service,
    body: &[u8],
    key: Option<&VerifyKey>,
    expected: &Expected,
) -> Outcome<GatewayReply> {
    let outcome =
        gateway::parse_gateway_reply(service, body, key, expected).map_err(reply_failure)?;
    let reply = |status: &str, sign_type: Option<String>| GatewayReply {
        service: service.as_str().to_owned(),
        status: status.to_owned(),
        signed_by_alipay: sign_type.is_some(),
        sign_type,
        trade: None,
        refund: None,
    };
    Ok(match outcome {
        GatewayOutcome::TradeQuery(TradeQueryOutcome::Trade(t)) => {
            let sign_type = t.sign_type().as_str().to_owned();
            let t = t.into_value();
            GatewayReply {
                trade: Some(GatewayTrade {
                    trade_status: t.trade_status,
                    out_trade_no: t.out_trade_no,
                    trade_no: t.trade_no,
                    total_fee: t.total_fee,
                    seller_id: t.seller_id,
                    buyer_id: t.buyer_id,
                    buyer_email: t.buyer_email,
                    subject: t.subject,
                    gmt_create: t.gmt_create,
                    gmt_payment: t.gmt_payment,
                    fields: map(&t.fields),
                }),
                ..reply(t.status.as_str(), Some(sign_type))
            }
        }
        GatewayOutcome::TradeQuery(TradeQueryOutcome::NotFound) => reply("NOT_FOUND", None),
        GatewayOutcome::TradeQuery(TradeQueryOutcome::GatewayError(e))
        | GatewayOutcome::Refund(RefundOutcome::Refused(e))
        | GatewayOutcome::RefundQuery(RefundQueryOutcome::GatewayError(e))
        | GatewayOutcome::NotifyVerify(NotifyVerifyOutcome::Refused(e)) => {
            return Err(gateway_failure(e, service))
        }
        GatewayOutcome::Refund(RefundOutcome::Accepted { .. }) => reply("ACCEPTED", None),
        GatewayOutcome::RefundQuery(RefundQueryOutcome::Refund(r)) => {
            let sign_type = r.sign_type().as_str().to_owned();
            let r = r.into_value();
            GatewayReply {
                refund: Some(GatewayRefund {
                    response_code: r.response_code,
                    refund_result_code: r.refund_result_code,
                    refund_error_code: r.refund_error_code,
                    out_trade_no: r.out_trade_no,
                    out_return_no: r.out_return_no,
                    trade_no: r.trade_no,
                    gmt_create: r.gmt_create,
                    fields: map(&r.fields),
                }),
                ..reply(r.status.as_str(), Some(sign_type))
            }
        }
        GatewayOutcome::RefundQuery(RefundQueryOutcome::NotFound) => reply("NOT_FOUND", None),
        GatewayOutcome::NotifyVerify(NotifyVerifyOutcome::Genuine) => reply("GENUINE", None),
        GatewayOutcome::NotifyVerify(NotifyVerifyOutcome::NotGenuine) => reply("NOT_GENUINE", None),
    })
}

/// The request for a gateway service, signed with the merchant's key: the method, URL,
/// headers and body to send with `fetch`, axios, got or undici. `params` are the service's
/// own parameters by their wire names (`out_trade_no`, `out_return_no`, `return_amount`, …);
/// `service`, `partner`, `_input_charset`, `sign` and `sign_type` are added for you.
///
/// @example
/// ```ts
/// const req = gatewayRequest('single_trade_query', { out_trade_no: 'A1' }, { partner, signType: 'RSA2', privateKey })
/// const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body })
/// const reply = parseGatewayReply('single_trade_query', await res.text(), { alipayPublicKey }, { outTradeNo: 'A1' })
/// ```
#[napi(
    ts_args_type = "service: GatewayService, params: Record<string, string | number | undefined>, settings: GatewaySettings",
    ts_return_type = "GatewayHttpRequest"
)]
pub fn gateway_request(
    env: Env,
    service: Unknown,
    params: Unknown,
    settings: Unknown,
) -> Result<GatewayHttpRequest> {
    run(&env, || {
        let service = service_of(&service)?;
        let s = settings_of(&env, &settings, service)?;
        request_for(
            &env,
            service,
            &params,
            &s.config,
            s.signer.as_deref(),
            s.now,
        )
    })
}

/// Checks a gateway reply (the XML text or its bytes) with **Alipay's** public key (or the
/// MD5 key; `null` for notify_verify, which is unsigned) and returns what it says. Pass what
/// you asked for as `expected`: a signed reply about another order is refused. Throws
/// `ERR_ALIPAYHK_GATEWAY_ERROR` (with `err.gatewayError`, `err.retryable`) when the gateway
/// answered an error, `ERR_ALIPAYHK_REPLY_SIGNATURE` (with `err.reason`) when the signature
/// did not verify, and `ERR_ALIPAYHK_MALFORMED_REPLY` for anything that is not a reply.
#[napi(
    ts_args_type = "service: GatewayService, reply: string | Buffer | Uint8Array, key: AlipayVerifyKey | null, expected?: GatewayExpected",
    ts_return_type = "GatewayReply"
)]
pub fn parse_gateway_reply(
    env: Env,
    service: Unknown,
    reply: Unknown,
    key: Unknown,
    expected: Option<Unknown>,
) -> Result<GatewayReply> {
    run(&env, || {
        let service = service_of(&service)?;
        let key = if is_nullish(&key)? {
            None
        } else {
            Some(verify_key_of(&env, &key, "alipayPublicKey", "key")?)
        };
        let expected = expected_of(&env, expected.as_ref())?;
        let body = reply_bytes_of(&reply)?;
        reply_of(service, &body, key.as_deref(), &expected)
    })
}
