//! Typed outcomes of the gateway services (protocol §8.3–§8.6).
//!
//! Only a reply whose `<response>` verified with Alipay's key (protocol §8.2) yields a
//! [`Signed`] value, and only a `Signed` value carries a final state (a paid trade, a
//! finished or failed refund). Everything else the gateway says is unsigned and typed so:
//! an error code ([`GatewayError`]), "not found" (`TRADE_NOT_EXIST`: not paid yet, not an
//! error), "refund accepted" (the `forex_refund` reply is `is_success` alone), and the
//! `true` / `false` of `notify_verify`. A reply whose signature fails is an error
//! ([`ReplyError`], `ERR_ALIPAYHK_REPLY_SIGNATURE` with the reason), never an outcome.
//!
//! A signed reply about another order than the one asked for ([`Expected`]) is refused
//! (`ERR_ALIPAYHK_MALFORMED_REPLY`, `field` naming the id), so a genuine reply cannot be
//! replayed for another order.

use super::errors::GatewayError;
use super::reply::{parse_reply, Reply};
use super::request::GatewayRequest;
use super::signature::check_reply_signature;
use super::{short, Service};
use crate::error::{Error, ErrorCode};
use crate::limits::MAX_REPLY_BYTES;
use crate::sign_type::SignType;
use crate::verify::{Reason, VerifyKey};
use std::fmt;

/// Why a reply could not be turned into an outcome: the error (code
/// `ERR_ALIPAYHK_MALFORMED_REPLY`, `ERR_ALIPAYHK_REPLY_SIGNATURE`, or
/// `ERR_ALIPAYHK_INVALID_ARGUMENT` for a missing key) and, for a signature failure, the
/// stable reason (`BAD_SIGNATURE`, `MISSING_SIGN`, `UNSUPPORTED_SIGN_TYPE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub error: Error,
    pub reason: Option<Reason>,
}

impl From<Error> for ReplyError {
    fn from(error: Error) -> Self {
        ReplyError {
            error,
            reason: None,
        }
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for ReplyError {}

pub type ReplyResult<T> = std::result::Result<T, ReplyError>;

/// A value from a reply whose signature verified with Alipay's key (protocol §8.2). Only
/// this crate makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed<T> {
    value: T,
    sign_type: SignType,
}

impl<T> Signed<T> {
    pub(crate) fn new(value: T, sign_type: SignType) -> Signed<T> {
        Signed { value, sign_type }
    }

    pub fn value(&self) -> &T {
        &self.value
    }

    pub fn into_value(self) -> T {
        self.value
    }

    /// The sign type the reply was signed with.
    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }
}

impl<T> std::ops::Deref for Signed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The fields of a verified `<response>`, (name, text) in document order.
pub type SignedFields = Signed<Vec<(String, String)>>;

/// What was asked for: a signed reply about anything else is refused. `None` fields are not
/// checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub out_trade_no: Option<String>,
    pub trade_no: Option<String>,
    pub out_return_no: Option<String>,
}

impl Expected {
    /// The ids a request was sent with.
    pub fn from_request(request: &GatewayRequest) -> Expected {
        let get = |n: &str| request.param(n).map(str::to_owned);
        Expected {
            out_trade_no: get("out_trade_no"),
            trade_no: get("trade_no"),
            out_return_no: get("out_return_no"),
        }
    }
}

// --- single_trade_query (protocol §8.3) ----------------------------------------------------

/// A trade's state, from a signed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeStatus {
    /// `TRADE_SUCCESS` or `TRADE_FINISHED` (cross-border accounts report a paid order so).
    Paid,
    /// `WAIT_BUYER_PAY`.
    WaitBuyerPay,
    /// `TRADE_CLOSED`: unpaid and expired, or fully refunded.
    Closed,
}

impl TradeStatus {
    /// `"PAID"`, `"WAIT_BUYER_PAY"`, `"CLOSED"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeStatus::Paid => "PAID",
            TradeStatus::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeStatus::Closed => "CLOSED",
        }
    }

    /// The status a `trade_status` value means; `None` for a value protocol §8.3 does not
    /// list (never taken as paid).
    pub fn from_trade_status(s: &str) -> Option<TradeStatus> {
        match s {
            "TRADE_SUCCESS" | "TRADE_FINISHED" => Some(TradeStatus::Paid),
            "WAIT_BUYER_PAY" => Some(TradeStatus::WaitBuyerPay),
            "TRADE_CLOSED" => Some(TradeStatus::Closed),
            _ => None,
        }
    }
}

/// The trade of a signed `single_trade_query` reply. Fields with an empty value read as
/// `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub status: TradeStatus,
    /// `trade_status` as Alipay wrote it.
    pub trade_status: String,
    pub out_trade_no: Option<String>,
    pub trade_no: Option<String>,
    /// Caution (protocol §8.3): seen in CNY for buyers paying from a mainland wallet; match
    /// the amount on the verified notification.
    pub total_fee: Option<String>,
    pub seller_id: Option<String>,
    pub seller_email: Option<String>,
    pub buyer_id: Option<String>,
    /// Masked by Alipay (`for***@alitest.com`), as written.
    pub buyer_email: Option<String>,
    pub subject: Option<String>,
    pub gmt_create: Option<String>,
    pub gmt_payment: Option<String>,
    pub gmt_last_modified_time: Option<String>,
    /// Every signed field, (name, text) in document order, empty ones included.
    pub fields: Vec<(String, String)>,
}

/// What `single_trade_query` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeQueryOutcome {
    /// A signed trade: its status is a state to act on.
    Trade(Box<Signed<Trade>>),
    /// `TRADE_NOT_EXIST` (unsigned): normal right after the orderStr, before the buyer
    /// opened the cashier. Not paid (yet), not an error, not final.
    NotFound,
    /// Any other error code (unsigned).
    GatewayError(GatewayError),
}

impl TradeQueryOutcome {
    /// `"PAID"`, `"WAIT_BUYER_PAY"`, `"CLOSED"` or `"NOT_FOUND"`; `None` for a gateway error.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            TradeQueryOutcome::Trade(t) => Some(t.status.as_str()),
            TradeQueryOutcome::NotFound => Some("NOT_FOUND"),
            TradeQueryOutcome::GatewayError(_) => None,
        }
    }
}

// --- forex_refund (protocol §8.4) ------------------------------------------------------------

/// What `forex_refund` said. Its reply is `is_success` and `error` only: unsigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// `is_success=T`: accepted (with `is_sync=N`, the result comes later by a
    /// `refund_status_sync` notification; with `is_sync=Y`, Alipay reports it done). Not a
    /// verified final state: confirm with `alipay.acquire.refund.query` or the verified
    /// notification. `response` holds the fields of a `<response>` if the gateway ever sends
    /// one, verified.
    Accepted { response: Option<SignedFields> },
    /// `is_success=F` with its code (`RETURN_AMOUNT_EXCEED`, `REPEATED_REFUNDMENT_REQUEST`,
    /// …). After a lost reply, `REPEATED_REFUNDMENT_REQUEST` means the first request
    /// arrived: ask the refund query.
    Refused(GatewayError),
}

// --- alipay.acquire.refund.query (protocol §8.5) ------------------------------------------

/// A refund's state, from a signed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundStatus {
    Success,
    Failed,
    Canceled,
    Processing,
    /// `response_code` `NOT_FOUND` or `TRADE_NOT_EXIST`: no such refund.
    NotFound,
}

impl RefundStatus {
    /// `"SUCCESS"`, `"FAILED"`, `"CANCELED"`, `"PROCESSING"`, `"NOT_FOUND"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Failed => "FAILED",
            RefundStatus::Canceled => "CANCELED",
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::NotFound => "NOT_FOUND",
        }
    }
}

/// The refund of a signed `alipay.acquire.refund.query` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub status: RefundStatus,
    pub response_code: Option<String>,
    pub refund_result_code: Option<String>,
    /// With FAILED / PROCESSING, e.g. `MERCHANT_BALANCE_NOT_ENOUGH`.
    pub refund_error_code: Option<String>,
    pub out_trade_no: Option<String>,
    pub out_return_no: Option<String>,
    pub trade_no: Option<String>,
    pub gmt_create: Option<String>,
    /// Every signed field, (name, text) in document order.
    pub fields: Vec<(String, String)>,
}

/// What `alipay.acquire.refund.query` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundQueryOutcome {
    /// A signed answer, `NOT_FOUND` included.
    Refund(Box<Signed<RefundRecord>>),
    /// `is_success=F` with `TRADE_NOT_EXIST` (unsigned): no such order, so no such refund.
    NotFound,
    /// Any other error code: `is_success=F` (unsigned), or a signed `response_code` such as
    /// `ACCESS_FORBIDDEN` or `QUERY_FAILED`.
    GatewayError(GatewayError),
}

impl RefundQueryOutcome {
    /// `"SUCCESS"`, `"FAILED"`, `"CANCELED"`, `"PROCESSING"` or `"NOT_FOUND"`; `None` for a
    /// gateway error.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            RefundQueryOutcome::Refund(r) => Some(r.status.as_str()),
            RefundQueryOutcome::NotFound => Some("NOT_FOUND"),
            RefundQueryOutcome::GatewayError(_) => None,
        }
    }
}

// --- notify_verify (protocol §8.6) ------------------------------------------------------------

/// What `notify_verify` said (unsigned, as the service is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyVerifyOutcome {
    /// `true`: Alipay sent a notification with this notify_id.
    Genuine,
    /// `false`: unknown, expired or already confirmed notify_id.
    NotGenuine,
    /// `invalid` (the partner or notify_id is wrong), or an XML error envelope.
    Refused(GatewayError),
}

/// Any service's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayOutcome {
    TradeQuery(TradeQueryOutcome),
    Refund(RefundOutcome),
    RefundQuery(RefundQueryOutcome),
    NotifyVerify(NotifyVerifyOutcome),
}

/// Parses and checks the reply to `service`. `key` (Alipay's RSA public key and/or the MD5
/// key) is required for every service but `notify_verify`.
pub fn parse_gateway_reply(
    service: Service,
    body: &[u8],
    key: Option<&VerifyKey>,
    expected: &Expected,
) -> ReplyResult<GatewayOutcome> {
    let key = || {
        key.ok_or_else(|| {
            ReplyError::from(Error::argument(
                "key",
                format!("{service} replies are signed: pass Alipay's public key (RSA, RSA2) or the MD5 key to check them"),
            ))
        })
    };
    match service {
        Service::NotifyVerify => parse_notify_verify_reply(body).map(GatewayOutcome::NotifyVerify),
        Service::SingleTradeQuery => {
            parse_trade_query_reply(body, key()?, expected).map(GatewayOutcome::TradeQuery)
        }
        Service::ForexRefund => {
            parse_refund_reply(body, key()?, expected).map(GatewayOutcome::Refund)
        }
        Service::RefundQuery => {
            parse_refund_query_reply(body, key()?, expected).map(GatewayOutcome::RefundQuery)
        }
    }
}

/// The `<response>` fields of a reply, verified; `None` when there is no `<response>`.
fn verified_fields(
    reply: &Reply,
    key: &VerifyKey,
    service: Service,
) -> ReplyResult<Option<SignedFields>> {
    let Some(response) = &reply.response else {
        return Ok(None);
    };
    match check_reply_signature(reply, key) {
        Ok(sign_type) => Ok(Some(Signed::new(response.fields.clone(), sign_type))),
        Err(failure) => Err(ReplyError {
            error: Error::with_field(
                ErrorCode::ReplySignature,
                "sign",
                format!(
                    "{service}: {} ({})",
                    failure.message,
                    failure.reason.as_str()
                ),
            ),
            reason: Some(failure.reason),
        }),
    }
}

/// A field's text, empty read as absent.
fn get(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

fn no_response(service: Service) -> ReplyError {
    Error::malformed_reply(format!(
        "{service}: is_success is T but the reply has no <response>, so nothing in it is signed; it is not taken as an answer"
    ))
    .into()
}

/// A signed id must be the one asked for. `required`: a missing id is refused too.
fn check_id(
    service: Service,
    name: &str,
    expected: Option<&String>,
    got: Option<&String>,
    required: bool,
) -> ReplyResult<()> {
    let Some(want) = expected else {
        return Ok(());
    };
    match got {
        Some(g) if g == want => Ok(()),
        Some(g) => Err(Error::with_field(
            ErrorCode::MalformedReply,
            name,
            format!(
                "{service}: the signed reply is about {name} {}, not {} that was asked for",
                short(g),
                short(want)
            ),
        )
        .into()),
        None if required => Err(Error::with_field(
            ErrorCode::MalformedReply,
            name,
            format!(
                "{service}: the signed reply does not say its {name}, so it cannot be matched to {} that was asked for",
                short(want)
            ),
        )
        .into()),
        None => Ok(()),
    }
}

/// `single_trade_query` (protocol §8.3).
pub fn parse_trade_query_reply(
    body: &[u8],
    key: &VerifyKey,
    expected: &Expected,
) -> ReplyResult<TradeQueryOutcome> {
    let service = Service::SingleTradeQuery;
    let reply = parse_reply(body)?;
    if !reply.is_success {
        let code = reply.error.unwrap_or_default();
        return Ok(if code == "TRADE_NOT_EXIST" {
            TradeQueryOutcome::NotFound
        } else {
            TradeQueryOutcome::GatewayError(GatewayError::new(&code))
        });
    }
    let signed = verified_fields(&reply, key, service)?.ok_or_else(|| no_response(service))?;
    let fields = signed.value();
    let trade_status = get(fields, "trade_status").ok_or_else(|| {
        ReplyError::from(Error::with_field(
            ErrorCode::MalformedReply,
            "trade_status",
            "single_trade_query: the signed trade has no trade_status",
        ))
    })?;
    let status = TradeStatus::from_trade_status(&trade_status).ok_or_else(|| {
        ReplyError::from(Error::with_field(
            ErrorCode::MalformedReply,
            "trade_status",
            format!(
                "single_trade_query: trade_status {} is not one of WAIT_BUYER_PAY, TRADE_CLOSED, TRADE_SUCCESS, TRADE_FINISHED; it is not taken as paid",
                short(&trade_status)
            ),
        ))
    })?;
    let trade = Trade {
        status,
        trade_status,
        out_trade_no: get(fields, "out_trade_no"),
        trade_no: get(fields, "trade_no"),
        total_fee: get(fields, "total_fee"),
        seller_id: get(fields, "seller_id"),
        seller_email: get(fields, "seller_email"),
        buyer_id: get(fields, "buyer_id"),
        buyer_email: get(fields, "buyer_email"),
        subject: get(fields, "subject"),
        gmt_create: get(fields, "gmt_create"),
        gmt_payment: get(fields, "gmt_payment"),
        gmt_last_modified_time: get(fields, "gmt_last_modified_time"),
        fields: fields.clone(),
    };
    check_id(
        service,
        "out_trade_no",
        expected.out_trade_no.as_ref(),
        trade.out_trade_no.as_ref(),
        true,
    )?;
    check_id(
        service,
        "trade_no",
        expected.trade_no.as_ref(),
        trade.trade_no.as_ref(),
        true,
    )?;
    let sign_type = signed.sign_type();
    Ok(TradeQueryOutcome::Trade(Box::new(Signed::new(
        trade, sign_type,
    ))))
}

/// `forex_refund` (protocol §8.4).
pub fn parse_refund_reply(
    body: &[u8],
    key: &VerifyKey,
    expected: &Expected,
) -> ReplyResult<RefundOutcome> {
    let service = Service::ForexRefund;
    let reply = parse_reply(body)?;
    if !reply.is_success {
        return Ok(RefundOutcome::Refused(GatewayError::new(
            reply.error.as_deref().unwrap_or_default(),
        )));
    }
    let response = verified_fields(&reply, key, service)?;
    if let Some(fields) = &response {
        for name in ["out_trade_no", "out_return_no"] {
            let want = match name {
                "out_trade_no" => expected.out_trade_no.as_ref(),
                _ => expected.out_return_no.as_ref(),
            };
            check_id(service, name, want, get(fields, name).as_ref(), false)?;
        }
    }
    Ok(RefundOutcome::Accepted { response })
}

/// A refund-query code, spellings tolerated (protocol §8.5 has no published sample).
fn refund_status_of(code: &str) -> Option<RefundStatus> {
    match code.to_ascii_uppercase().as_str() {
        "SUCCESS" | "REFUND_SUCCESS" => Some(RefundStatus::Success),
        "FAILED" | "FAIL" | "REFUND_FAIL" | "REFUND_FAILED" => Some(RefundStatus::Failed),
        "CANCELED" | "CANCELLED" | "REFUND_CANCELED" | "REFUND_CANCELLED" => {
            Some(RefundStatus::Canceled)
        }
        "PROCESSING" | "REFUND_PROCESSING" => Some(RefundStatus::Processing),
        _ => None,
    }
}

/// `alipay.acquire.refund.query` (protocol §8.5). No reply sample is published, so it is
/// read tolerantly: the fields may sit in an element inside `<response>` or directly in it;
/// `response_code` may be called `result_code`, `refund_result_code` may be called
/// `refund_status`; codes are compared ignoring ASCII case, with `CANCELLED`, `FAIL` and
/// `REFUND_`-prefixed spellings taken as their §8.5 names. Without `response_code`, the
/// refund's code alone decides. The ids must match what was asked when the reply names them.
pub fn parse_refund_query_reply(
    body: &[u8],
    key: &VerifyKey,
    expected: &Expected,
) -> ReplyResult<RefundQueryOutcome> {
    let service = Service::RefundQuery;
    let reply = parse_reply(body)?;
    if !reply.is_success {
        let code = reply.error.unwrap_or_default();
        return Ok(if code == "TRADE_NOT_EXIST" {
            RefundQueryOutcome::NotFound
        } else {
            RefundQueryOutcome::GatewayError(GatewayError::new(&code))
        });
    }
    let signed = verified_fields(&reply, key, service)?.ok_or_else(|| no_response(service))?;
    let fields = signed.value();
    let response_code = get(fields, "response_code").or_else(|| get(fields, "result_code"));
    let refund_result_code =
        get(fields, "refund_result_code").or_else(|| get(fields, "refund_status"));
    let status = match response_code
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("NOT_FOUND" | "TRADE_NOT_EXIST" | "REFUND_NOT_EXIST") => RefundStatus::NotFound,
        Some("SUCCESS") | None => {
            let code = refund_result_code.as_deref().ok_or_else(|| {
                ReplyError::from(Error::with_field(
                    ErrorCode::MalformedReply,
                    "refund_result_code",
                    format!(
                        "{service}: the signed reply has no refund_result_code{}",
                        if response_code.is_none() {
                            " and no response_code"
                        } else {
                            ""
                        }
                    ),
                ))
            })?;
            refund_status_of(code).ok_or_else(|| {
                ReplyError::from(Error::with_field(
                    ErrorCode::MalformedReply,
                    "refund_result_code",
                    format!(
                        "{service}: refund_result_code {} is not one of SUCCESS, FAILED, CANCELED, PROCESSING",
                        short(code)
                    ),
                ))
            })?
        }
        Some(_) => {
            let code = response_code.unwrap_or_default();
            return Ok(RefundQueryOutcome::GatewayError(GatewayError::new(&code)));
        }
    };
    let record = RefundRecord {
        status,
        response_code,
        refund_result_code,
        refund_error_code: get(fields, "refund_error_code"),
        out_trade_no: get(fields, "out_trade_no"),
        out_return_no: get(fields, "out_return_no"),
        trade_no: get(fields, "trade_no"),
        gmt_create: get(fields, "gmt_create"),
        fields: fields.clone(),
    };
    check_id(
        service,
        "out_trade_no",
        expected.out_trade_no.as_ref(),
        record.out_trade_no.as_ref(),
        false,
    )?;
    check_id(
        service,
        "out_return_no",
        expected.out_return_no.as_ref(),
        record.out_return_no.as_ref(),
        false,
    )?;
    let sign_type = signed.sign_type();
    Ok(RefundQueryOutcome::Refund(Box::new(Signed::new(
        record, sign_type,
    ))))
}

/// `notify_verify` (protocol §8.6): the body is the text `true` or `false` (surrounding
/// whitespace ignored). `invalid` and an XML error envelope are refusals; anything else is
/// `ERR_ALIPAYHK_MALFORMED_REPLY`.
pub fn parse_notify_verify_reply(body: &[u8]) -> ReplyResult<NotifyVerifyOutcome> {
    if body.len() > MAX_REPLY_BYTES {
        return Err(Error::malformed_reply(format!(
            "notify_verify: the reply is {} bytes long; it should be the text true or false",
            body.len()
        ))
        .into());
    }
    let trimmed = body.trim_ascii();
    match trimmed {
        b"true" => return Ok(NotifyVerifyOutcome::Genuine),
        b"false" => return Ok(NotifyVerifyOutcome::NotGenuine),
        b"invalid" => {
            return Ok(NotifyVerifyOutcome::Refused(GatewayError {
                code: "invalid".to_owned(),
                explanation: "notify_verify answered invalid: the partner or the notify_id is wrong (a notify_id of another partner, or cut short)".to_owned(),
                retryable: false,
            }))
        }
        _ => {}
    }
    if trimmed.first() == Some(&b'<') {
        // An XML envelope: an error is a refusal; anything else in XML (or HTML) is malformed.
        let reply = parse_reply(body)?;
        if let (false, Some(code)) = (reply.is_success, reply.error) {
            return Ok(NotifyVerifyOutcome::Refused(GatewayError::new(&code)));
        }
    }
    let preview = String::from_utf8_lossy(&trimmed[..trimmed.len().min(40)]).into_owned();
    Err(Error::malformed_reply(format!(
        "notify_verify answered {}; expected the text true or false",
        short(&preview)
    ))
    .into())
}
