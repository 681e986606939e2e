//! What to do with a verified notification, from JavaScript: `isPaid`,
//! `checkNotifyMatchesOrder`, `decideNotify` (the decision table) and `notifyVerifyUrl`. They
//! take a `VerifiedNotification` and nothing else. Conversion only; the matching and the
//! decision table are the core's (core/src/merchant.rs, core/src/notify.rs).

use crate::convert::{describe, is_nullish, not_a_record, text_arg};
use crate::js_error::{run, Outcome};
use crate::notifications::VerifiedNotification;
use crate::records::own_key_names;
use alipayhk_pay_core::merchant::{self, ExpectedOrder};
use alipayhk_pay_core::notify::{self, NotifyVerification};
use alipayhk_pay_core::{Error, Failure, Reason};
use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;

fn optional_text(object: &Object<'_>, name: &str, field: &str) -> Outcome<Option<String>> {
    let value: Unknown = crate::convert::own_field(object, name)?;
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(None),
        ValueType::String => Ok(Some(text_arg(&value, field)?)),
        ValueType::Number => Ok(Some(value.coerce_to_string()?.into_utf8()?.into_owned()?)),
        _ => Err(Error::argument(
            field,
            format!("{field} must be a string; got {}", describe(&value)?),
        )
        .into()),
    }
}

/// The `VerifiedNotification` in `value`, or a coded error saying where one comes from.
pub fn verified_of(
    env: &Env,
    value: &Unknown<'_>,
    field: &str,
) -> Outcome<ClassInstance<'static, VerifiedNotification>> {
    let refused = || -> Outcome<ClassInstance<'static, VerifiedNotification>> {
        Err(Error::argument(
            field,
            format!(
                "{field} must be the notification of a verified result (`result.notification` from verifyNotify when `result.ok` is true); got {}. A plain object of fields is refused: nothing says it was verified",
                describe(value)?
            ),
        )
        .into())
    };
    if value.get_type()? != ValueType::Object || !VerifiedNotification::instance_of(env, value)? {
        return refused();
    }
    // `instanceof` holds for Object.create(notification) too, which wraps nothing.
    unsafe { ClassInstance::from_napi_value(env.raw(), value.raw()) }.or_else(|_| refused())
}

const EXPECTED_FIELDS: &[&str] = &["outTradeNo", "totalFee", "currency", "sellerId"];
const EXPECTED_SHAPE: &str = "{ outTradeNo, totalFee, currency?, sellerId? }";

/// `{ outTradeNo, totalFee, currency?, sellerId? }`: own properties only, no unknown names,
/// the order number and the amount required.
pub fn expected_order_of(env: &Env, expected: &Unknown<'_>) -> Outcome<ExpectedOrder> {
    if expected.get_type()? != ValueType::Object || expected.is_array()? {
        return Err(Error::argument(
            "expected",
            format!(
                "expected must be {EXPECTED_SHAPE}; got {}",
                describe(expected)?
            ),
        )
        .into());
    }
    // A Promise (a forgotten `await`), a Map, a typed array …: its fields would all read as
    // absent.
    if let Some(what) = not_a_record(env, expected)? {
        return Err(Error::argument(
            "expected",
            format!("expected must be {EXPECTED_SHAPE}; got {what}"),
        )
        .into());
    }
    let e: Object = unsafe { expected.cast()? };
    for name in own_key_names(env, &e, "expected")? {
        if !EXPECTED_FIELDS.contains(&name.as_str()) {
            return Err(Error::argument(
                &format!("expected.{name}"),
                format!(
                    "expected.{name} is not a known field (known: {}); check the spelling: the order is given in camelCase (totalFee, not total_fee)",
                    EXPECTED_FIELDS.join(", ")
                ),
            )
            .into());
        }
    }
    let required = |name: &str| -> Outcome<String> {
        let field = format!("expected.{name}");
        optional_text(&e, name, &field)?.ok_or_else(|| {
            Error::missing(
                &field,
                format!("{field} is required: a check that compared nothing would say that everything agrees"),
            )
            .into()
        })
    };
    let expected = ExpectedOrder {
        out_trade_no: required("outTradeNo")?,
        total_fee: required("totalFee")?,
        currency: optional_text(&e, "currency", "expected.currency")?,
        seller_id: optional_text(&e, "sellerId", "expected.sellerId")?,
    };
    merchant::check_expected_order(&expected)?;
    Ok(expected)
}

/// One way a verified notification disagrees with your order.
#[napi(object, object_from_js = false)]
pub struct NotifyMismatch {
    /// The notification's field: `out_trade_no`, `total_fee`, `currency` or `seller_id`.
    pub field: String,
    /// What the notification says (`undefined` when it lacks the field).
    pub notification: Option<String>,
    /// What your order says.
    pub order: String,
    /// A sentence for logs.
    pub message: String,
}

fn mismatches_of(list: Vec<merchant::Mismatch>) -> Vec<NotifyMismatch> {
    list.into_iter()
        .map(|m| NotifyMismatch {
            field: m.field.to_owned(),
            notification: m.notification,
            order: m.order,
            message: m.message,
        })
        .collect()
}

/// Every way a verified notification disagrees with your own order: `out_trade_no`,
/// `total_fee` (as decimals: `0.1` equals `0.10`), and `currency` and `seller_id` when your
/// order gives them. A field your order names but the notification lacks is a mismatch.
/// Empty when all agree.
#[napi(
    ts_args_type = "notification: VerifiedNotification, expected: ExpectedOrder",
    ts_return_type = "NotifyMismatch[]"
)]
pub fn check_notify_matches_order(
    env: Env,
    notification: Unknown,
    expected: Unknown,
) -> Result<Vec<NotifyMismatch>> {
    run(&env, || {
        let n = verified_of(&env, &notification, "notification")?;
        let expected = expected_order_of(&env, &expected)?;
        Ok(mismatches_of(merchant::check_notify_matches_order(
            &n.params, &expected,
        )))
    })
}

/// `trade_status` of a verified notification is TRADE_SUCCESS or TRADE_FINISHED
/// (cross-border accounts report a paid order as TRADE_FINISHED).
#[napi(ts_args_type = "notification: VerifiedNotification")]
pub fn is_paid(env: Env, notification: Unknown) -> Result<bool> {
    run(&env, || {
        Ok(notify::is_paid(
            &verified_of(&env, &notification, "notification")?.params,
        ))
    })
}

/// What a notification handler does with a notification, and what it answers Alipay.
#[napi(object, object_from_js = false)]
pub struct NotifyDecision {
    /// `RECORD_PAYMENT`, `RECORD_CLOSED`, `RECORD_REFUND`, `RECORD_REFUND_FAILURE`, `NOTHING`,
    /// `INVESTIGATE` or `REJECT` (see the README's decision table).
    #[napi(ts_type = "NotifyAction")]
    pub action: String,
    /// The exact body to answer Alipay with, once the action is done: `success` stops the
    /// retries, `fail` asks for them.
    #[napi(ts_type = "'success' | 'fail'")]
    pub answer: String,
    #[napi(ts_type = "NotifyKind")]
    pub kind: String,
    /// How it disagrees with your order, when that is why the action is `INVESTIGATE`.
    pub mismatches: Vec<NotifyMismatch>,
    /// A sentence for logs.
    pub message: String,
}

/// The decision table (README, "Handling a notification"): a verification from
/// `verifyNotify`, and your order for its `out_trade_no` (`null` when you have none).
#[napi(
    ts_args_type = "verification: NotifyVerification, expected?: ExpectedOrder | null",
    ts_return_type = "NotifyDecision"
)]
pub fn decide_notify(
    env: Env,
    verification: Unknown,
    expected: Option<Unknown>,
) -> Result<NotifyDecision> {
    run(&env, || {
        if verification.get_type()? != ValueType::Object || verification.is_array()? {
            return Err(Error::argument(
                "verification",
                format!(
                    "verification must be the result of verifyNotify; got {}",
                    describe(&verification)?
                ),
            )
            .into());
        }
        let object: Object = unsafe { verification.cast()? };
        let ok: Unknown = crate::convert::own_field(&object, "ok")?;
        let v = if ok.get_type()? == ValueType::Boolean && ok.coerce_to_bool()? {
            let n: Unknown = crate::convert::own_field(&object, "notification")?;
            verified_of(&env, &n, "verification.notification")?.verification()
        } else {
            let message = optional_text(&object, "message", "verification.message")?
                .unwrap_or_else(|| "the notification was not verified".to_owned());
            let reason = optional_text(&object, "reason", "verification.reason")?;
            NotifyVerification {
                failure: Some(Failure::new(
                    reason
                        .as_deref()
                        .and_then(Reason::parse)
                        .unwrap_or(Reason::Malformed),
                    message.chars().take(500).collect::<String>(),
                )),
                sign_type: String::new(),
                params: Vec::new(),
                key_fingerprint: None,
            }
        };
        let expected = match &expected {
            Some(e) if !is_nullish(e)? => Some(expected_order_of(&env, e)?),
            _ => None,
        };
        let d = notify::decide(&v, expected.as_ref());
        Ok(NotifyDecision {
            action: d.action.as_str().to_owned(),
            answer: d.answer.to_owned(),
            kind: d.kind.as_str().to_owned(),
            mismatches: mismatches_of(d.mismatches),
            message: d.message,
        })
    })
}

/// The URL of the notify_verify check: a GET to it answers `true` for a genuine `notify_id`.
/// `gateway` defaults to `https://intlmapi.alipay.com/gateway.do`.
#[napi(ts_args_type = "partner: string, notifyId: string, gateway?: string")]
pub fn notify_verify_url(
    env: Env,
    partner: Unknown,
    notify_id: Unknown,
    gateway: Option<Unknown>,
) -> Result<String> {
    run(&env, || {
        let partner = text_arg(&partner, "partner")?;
        let notify_id = text_arg(&notify_id, "notifyId")?;
        let gateway = match &gateway {
            Some(g) if !is_nullish(g)? => Some(text_arg(g, "gateway")?),
            _ => None,
        };
        Ok(merchant::checked_notify_verify_url(
            gateway.as_deref(),
            &partner,
            &notify_id,
        )?)
    })
}
