//! Reading and checking order strings and tradePay results from JavaScript: `parseOrderStr`,
//! `verifyOrderStr` and `verifyTradePayResult`. Conversion only; the rules are the core's
//! (core/src/order_str.rs).

use crate::convert::{is_nullish, text_arg};
use crate::js_error::run;
use crate::keys::verify_key_of;
use crate::notifications::set_failure;
use crate::records::record_of;
use alipayhk_pay_core::order_str::{self, TradePayVerification};
use napi::bindgen_prelude::*;
use napi_derive::napi;

pub fn trade_pay_result<'env>(env: &'env Env, v: &TradePayVerification) -> Result<Object<'env>> {
    let mut out = Object::new(env)?;
    set_failure(&mut out, &v.failure)?;
    out.set("success", v.success)?;
    if let Some(s) = &v.result_status {
        out.set("resultStatus", s.as_str())?;
    }
    out.set("signType", v.sign_type.as_str())?;
    let name = if v.failure.is_none() {
        "params"
    } else {
        "unverifiedParams"
    };
    out.set(name, record_of(env, &v.params)?)?;
    Ok(out)
}

/// Checks the result string of `my.tradePay` / the native SDK: the whole
/// `resultStatus={…};memo={…};result={…}` text, or its `result`. `sign_type` and `sign` are
/// cut off and the rest verified byte for byte with Alipay's public key. `success` is true
/// only when it verifies, says `success="true"`, and `resultStatus` (if given) is 9000.
/// The notification, not this, is what proves payment.
#[napi(
    ts_args_type = "result: string, key: { alipayPublicKey: PublicKeyInput }",
    ts_return_type = "TradePayVerification"
)]
pub fn verify_trade_pay_result<'env>(
    env: &'env Env,
    result: Unknown,
    key: Unknown,
) -> Result<Object<'env>> {
    run(env, || {
        let key = verify_key_of(env, &key, "alipayPublicKey", "key")?;
        let text = text_arg(&result, "result")?;
        Ok(trade_pay_result(
            env,
            &order_str::verify_trade_pay_result(&text, &key),
        )?)
    })
}

/// An orderStr taken apart by `parseOrderStr`.
#[napi(object, object_from_js = false)]
pub struct ParsedOrderStr {
    /// The signed parameters in order, `sign` and `sign_type` left out.
    #[napi(ts_type = "Array<[string, string]>")]
    pub params: Vec<Vec<String>>,
    /// The exact string the signature covers.
    pub pre_sign: String,
    /// The signature, URL-decoded (`''` when absent).
    pub sign: String,
    /// `sign_type` as written (`''` when absent).
    pub sign_type: String,
}

/// One mistake `verifyOrderStr` found.
#[napi(object, object_from_js = false)]
pub struct OrderStrMistake {
    #[napi(ts_type = "VerifyReason")]
    pub reason: String,
    pub message: String,
}

/// The outcome of `verifyOrderStr`: `ok` when there is no mistake and the signature verifies.
#[napi(object, object_from_js = false)]
pub struct OrderStrVerification {
    pub ok: bool,
    /// The first mistake's reason.
    #[napi(ts_type = "VerifyReason | undefined")]
    pub reason: Option<String>,
    pub message: Option<String>,
    pub mistakes: Vec<OrderStrMistake>,
    /// False when no key was given: then only the form was checked, not the signature.
    pub signature_checked: bool,
}

/// Takes an orderStr apart: its signed parameters in order, the exact pre-sign string,
/// the signature (URL-decoded) and the sign type. Throws `ERR_ALIPAYHK_INVALID_PARAM`
/// (field `orderStr`) when the text has no `key="value"` structure.
#[napi(ts_args_type = "orderStr: string")]
pub fn parse_order_str(env: Env, order_str: Unknown) -> Result<ParsedOrderStr> {
    run(&env, || {
        let text = text_arg(&order_str, "orderStr")?;
        let parsed = order_str::parse_order_str(&text)?;
        Ok(ParsedOrderStr {
            params: parsed.params.into_iter().map(|(k, v)| vec![k, v]).collect(),
            pre_sign: parsed.pre_sign,
            sign: parsed.sign,
            sign_type: parsed.sign_type,
        })
    })
}

/// Checks an orderStr as Alipay's gateway would, with the merchant's own public key
/// (`{ publicKey }`) or `{ md5Key }`, and names every known mistake it finds
/// (`METHOD_INSTEAD_OF_SERVICE`, `SIGN_NOT_URL_ENCODED`, `SIGN_TYPE_MISMATCH`, …).
/// Without a key only the form is checked (`signatureChecked: false`).
/// For tests and for diagnosing "sign check fail".
#[napi(ts_args_type = "orderStr: string, key?: MerchantVerifyKey")]
pub fn verify_order_str(
    env: Env,
    order_str: Unknown,
    key: Option<Unknown>,
) -> Result<OrderStrVerification> {
    run(&env, || {
        let key = match &key {
            Some(k) if !is_nullish(k)? => Some(verify_key_of(&env, k, "publicKey", "key")?),
            _ => None,
        };
        let text = text_arg(&order_str, "orderStr")?;
        let mistakes = order_str::diagnose_order_str(&text, key.as_deref());
        let first = mistakes.first().cloned();
        Ok(OrderStrVerification {
            ok: first.is_none(),
            reason: first.as_ref().map(|f| f.reason.as_str().to_owned()),
            message: first.map(|f| f.message),
            mistakes: mistakes
                .into_iter()
                .map(|m| OrderStrMistake {
                    reason: m.reason.as_str().to_owned(),
                    message: m.message,
                })
                .collect(),
            signature_checked: key.is_some(),
        })
    })
}
