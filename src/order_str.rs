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

/// Takes an orderStr apart: its signed parameters in order, the exact pre-sign string,
/// the signature (URL-decoded) and the sign type. Throws `ERR_ALIPAYHK_INVALID_PARAM`
/// (field `orderStr`) when the text has no `key="value"` structure.
#[napi(ts_args_type = "orderStr: string", ts_return_type = "ParsedOrderStr")]
pub fn parse_order_str<'env>(env: &'env Env, order_str: Unknown) -> Result<Object<'env>> {
    run(env, || {
        let text = text_arg(&order_str, "orderStr")?;
        let parsed = order_str::parse_order_str(&text)?;
        let mut out = Object::new(env)?;
        let mut params = env.create_array(parsed.params.len() as u32)?;
        for (i, (k, v)) in parsed.params.iter().enumerate() {
            params.set(i as u32, vec![k.as_str(), v.as_str()])?;
        }
        out.set("params", params)?;
        out.set("preSign", parsed.pre_sign)?;
        out.set("sign", parsed.sign)?;
        out.set("signType", parsed.sign_type)?;
        Ok(out)
    })
}

/// Checks an orderStr as Alipay's gateway would, with the merchant's own public key
/// (`{ publicKey }`) or `{ md5Key }`, and names every known mistake it finds
/// (`METHOD_INSTEAD_OF_SERVICE`, `SIGN_NOT_URL_ENCODED`, `SIGN_TYPE_MISMATCH`, …).
/// Without a key only the form is checked (`signatureChecked: false`).
/// For tests and for diagnosing "sign check fail".
#[napi(
    ts_args_type = "orderStr: string, key?: MerchantVerifyKey",
    ts_return_type = "OrderStrVerification"
)]
pub fn verify_order_str<'env>(
    env: &'env Env,
    order_str: Unknown,
    key: Option<Unknown>,
) -> Result<Object<'env>> {
    run(env, || {
        let key = match &key {
            Some(k) if !is_nullish(k)? => Some(verify_key_of(env, k, "publicKey", "key")?),
            _ => None,
        };
        let text = text_arg(&order_str, "orderStr")?;
        let mistakes = order_str::diagnose_order_str(&text, key.as_deref());
        let mut out = Object::new(env)?;
        set_failure(&mut out, &mistakes.first().cloned())?;
        out.set("signatureChecked", key.is_some())?;
        let mut list = env.create_array(mistakes.len() as u32)?;
        for (i, m) in mistakes.iter().enumerate() {
            let mut item = Object::new(env)?;
            item.set("reason", m.reason.as_str())?;
            item.set("message", m.message.as_str())?;
            list.set(i as u32, item)?;
        }
        out.set("mistakes", list)?;
        Ok(out)
    })
}
