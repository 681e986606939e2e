//! Checking what Alipay sends back: notifications, tradePay results, and orderStr
//! diagnosis. Conversion only; the rules are in the core.

use crate::convert::{
    byte_view, check_len, describe, is_nullish, js_len, key_bytes_of, not_a_record, record_of,
    secret_string_of, string_of, text_pairs_of,
};
use crate::js_error::{run, Outcome};
use alipayhk_pay_core::key_cache::{KeyCache, DEFAULT_CAPACITY};
use alipayhk_pay_core::limits::{MAX_KEY_CHARS, MAX_MESSAGE_BYTES};
use alipayhk_pay_core::merchant::{self, ExpectedOrder};
use alipayhk_pay_core::notify::{self, NotifyVerification};
use alipayhk_pay_core::order_str::{self, TradePayVerification};
use alipayhk_pay_core::{Error, Failure, Md5Key, Reason, RsaPublicKey, VerifyKey};
use napi::bindgen_prelude::*;
use napi::JsValue;
use napi_derive::napi;
use std::sync::Arc;

/// The body of a notification as bytes to decode, or fields already decoded.
pub enum NotifyBody {
    Raw(Vec<u8>),
    Decoded(Vec<(String, String)>),
    /// Fields that cannot be read as text (an array for a repeated name, …).
    Unreadable(String),
}

pub fn notify_body_of(env: &Env, body: &Unknown<'_>) -> Outcome<NotifyBody> {
    match body.get_type()? {
        ValueType::String if js_len(body)? > MAX_MESSAGE_BYTES => {
            check_len(js_len(body)?, MAX_MESSAGE_BYTES, "body").map(|_| NotifyBody::Raw(Vec::new()))
        }
        ValueType::String => Ok(match string_of(body)? {
            Some(s) => NotifyBody::Raw(s.into_bytes()),
            None => NotifyBody::Unreadable("the body holds a lone UTF-16 surrogate".into()),
        }),
        ValueType::Object if byte_view(body)?.is_some() => {
            let bytes = byte_view(body)?.unwrap_or_default();
            check_len(bytes.len(), MAX_MESSAGE_BYTES, "body")?;
            Ok(NotifyBody::Raw(bytes.to_vec()))
        }
        // A Map, a Promise, binary data other than bytes …: refused, not read as an empty
        // object. A URLSearchParams (from any realm): its own serialisation is lossless;
        // decoding that once gives back its fields, and a repeated name stays visible.
        ValueType::Object if !body.is_array()? && not_a_record(env, body)?.is_some() => {
            match not_a_record(env, body)? {
                Some("a URLSearchParams") => {
                    let text = body.coerce_to_string()?.to_unknown();
                    check_len(js_len(&text)?, MAX_MESSAGE_BYTES, "body")?;
                    Ok(match string_of(&text)? {
                        Some(s) => NotifyBody::Raw(s.into_bytes()),
                        None => NotifyBody::Unreadable(
                            "the URLSearchParams hold a lone UTF-16 surrogate".into(),
                        ),
                    })
                }
                what => Err(Error::argument(
                    "body",
                    format!(
                        "body must be the raw form body (string, Buffer or Uint8Array), a URLSearchParams, or an object of decoded fields; got {}",
                        what.unwrap_or("an object")
                    ),
                )
                .into()),
            }
        }
        ValueType::Object if !body.is_array()? => {
            let object: Object = unsafe { body.cast()? };
            Ok(match text_pairs_of(env, &object, "body")? {
                Ok(pairs) => NotifyBody::Decoded(pairs),
                Err(e) => NotifyBody::Unreadable(e.0),
            })
        }
        _ => Err(Error::argument(
            "body",
            format!(
                "body must be the raw form body (string or Buffer), a URLSearchParams, or an object of decoded fields; got {}",
                describe(body)?
            ),
        )
        .into()),
    }
}

/// Public keys already parsed, found by a digest of their bytes.
static PUBLIC_KEYS: KeyCache<VerifyKey> = KeyCache::new(DEFAULT_CAPACITY);

/// `{ alipayPublicKey }` or `{ md5Key }` (or, for an orderStr, `{ publicKey }`).
pub fn verify_key_of(
    key: &Unknown<'_>,
    public_key_name: &str,
    arg: &str,
) -> Outcome<Arc<VerifyKey>> {
    let wrong = || -> Outcome<Arc<VerifyKey>> {
        Err(Error::argument(
            arg,
            format!(
                "{arg} must be {{ {public_key_name}: string | Buffer }} or {{ md5Key: string }}; got {}",
                describe(key)?
            ),
        )
        .into())
    };
    if key.get_type()? != ValueType::Object || key.is_array()? || key.is_buffer()? {
        return wrong();
    }
    let object: Object = unsafe { key.cast()? };
    let public: Unknown = crate::convert::own_field(&object, public_key_name)?;
    let md5: Unknown = crate::convert::own_field(&object, "md5Key")?;
    match (is_nullish(&public)?, is_nullish(&md5)?) {
        (false, false) => Err(Error::argument(
            arg,
            format!("{arg} has both {public_key_name} and md5Key; give the one that matches the sign_type"),
        )
        .into()),
        (false, true) => {
            let field = format!("{arg}.{public_key_name}");
            let bytes = key_bytes_of(&public, &field)?;
            let digest = KeyCache::<VerifyKey>::digest("public", bytes.as_bytes());
            Ok(PUBLIC_KEYS.get_or_insert_with(digest, || {
                RsaPublicKey::parse(bytes.input()).map(VerifyKey::Rsa)
            })?)
        }
        (true, false) => Ok(Arc::new(VerifyKey::Md5(md5_key_of(&md5, &format!("{arg}.md5Key"))?))),
        (true, true) => wrong(),
    }
}

pub fn md5_key_of(value: &Unknown<'_>, field: &str) -> Outcome<Md5Key> {
    if value.get_type()? != ValueType::String {
        return Err(Error::argument(
            field,
            format!("{field} must be a string (the 32-character key from Alipay's merchant portal); got {}", describe(value)?),
        )
        .into());
    }
    check_md5_key_len(value, field)?;
    let text = secret_string_of(value)?.ok_or_else(|| {
        Error::key(format!(
            "{field} holds a lone UTF-16 surrogate; an MD5 key is letters and digits"
        ))
    })?;
    Ok(Md5Key::new(text.as_str())?)
}

/// Refuses an MD5 key string longer than any key before it is copied (Alipay's are 32).
pub fn check_md5_key_len(value: &Unknown<'_>, field: &str) -> Outcome<()> {
    let n = js_len(value)?;
    if n > MAX_KEY_CHARS {
        return Err(Error::key(format!(
            "{field} is {n} characters long; a key is at most {MAX_KEY_CHARS} (Alipay's MD5 keys are 32)"
        ))
        .into());
    }
    Ok(())
}

pub fn verify_notify_with(body: NotifyBody, key: &VerifyKey) -> NotifyVerification {
    match body {
        NotifyBody::Raw(bytes) => notify::verify_notify_body(&bytes, key),
        NotifyBody::Decoded(pairs) => notify::verify_notify_params(pairs, key),
        NotifyBody::Unreadable(why) => NotifyVerification {
            failure: Some(Failure::new(Reason::Malformed, why)),
            sign_type: String::new(),
            params: Vec::new(),
        },
    }
}

fn set_failure(object: &mut Object<'_>, failure: &Option<Failure>) -> Result<()> {
    object.set("ok", failure.is_none())?;
    if let Some(f) = failure {
        object.set("reason", f.reason.as_str())?;
        object.set("message", f.message.as_str())?;
    }
    Ok(())
}

pub fn notify_result<'env>(env: &'env Env, v: &NotifyVerification) -> Result<Object<'env>> {
    let mut out = Object::new(env)?;
    set_failure(&mut out, &v.failure)?;
    out.set("signType", v.sign_type.as_str())?;
    out.set("params", record_of(env, &v.params)?)?;
    Ok(out)
}

pub fn trade_pay_result<'env>(env: &'env Env, v: &TradePayVerification) -> Result<Object<'env>> {
    let mut out = Object::new(env)?;
    set_failure(&mut out, &v.failure)?;
    out.set("success", v.success)?;
    if let Some(s) = &v.result_status {
        out.set("resultStatus", s.as_str())?;
    }
    out.set("signType", v.sign_type.as_str())?;
    out.set("params", record_of(env, &v.params)?)?;
    Ok(out)
}

pub fn text_arg(value: &Unknown<'_>, field: &str) -> Outcome<String> {
    if value.get_type()? == ValueType::String {
        check_len(js_len(value)?, MAX_MESSAGE_BYTES, field)?;
    }
    if value.get_type()? != ValueType::String {
        return Err(Error::argument(
            field,
            format!("{field} must be a string; got {}", describe(value)?),
        )
        .into());
    }
    Ok(string_of(value)?.ok_or_else(|| {
        Error::argument(
            field,
            format!("{field} holds a lone UTF-16 surrogate, which has no UTF-8 form"),
        )
    })?)
}

/// Checks an asynchronous notification. Give the raw `application/x-www-form-urlencoded`
/// body (string or Buffer) when you can: it is decoded exactly once, `+` as a space, nothing
/// trimmed. An object or `URLSearchParams` a framework already decoded also works.
///
/// `key` is Alipay's public key (`{ alipayPublicKey }`, never your own) or `{ md5Key }`.
/// A bad signature returns `ok: false` with a `reason`; only an unusable key or a wrong
/// argument type throws.
#[napi(
    ts_args_type = "body: NotifyBody, key: AlipayVerifyKey",
    ts_return_type = "NotifyVerification"
)]
pub fn verify_notify<'env>(env: &'env Env, body: Unknown, key: Unknown) -> Result<Object<'env>> {
    run(env, || {
        let key = verify_key_of(&key, "alipayPublicKey", "key")?;
        let body = notify_body_of(env, &body)?;
        let v = verify_notify_with(body, &key);
        Ok(notify_result(env, &v)?)
    })
}

/// `verifyNotify` on the libuv thread pool. A wrong argument or an unusable key rejects at
/// once; `options.signal` cancels the check if it has not started.
#[napi(
    ts_args_type = "body: NotifyBody, key: AlipayVerifyKey, options?: { signal?: AbortSignal }",
    ts_return_type = "Promise<NotifyVerification>"
)]
pub fn verify_notify_async<'env>(
    env: &'env Env,
    body: Unknown,
    key: Unknown,
    options: Option<Unknown>,
) -> Result<Unknown<'env>> {
    let prepare = || {
        let key = verify_key_of(&key, "alipayPublicKey", "key")?;
        let body = notify_body_of(env, &body)?;
        let signal = crate::tasks::signal_of(env, options.as_ref())?;
        Ok((crate::tasks::VerifyNotifyTask::new(key, body), signal))
    };
    crate::tasks::promise(env, prepare)
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
        let key = verify_key_of(&key, "alipayPublicKey", "key")?;
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
            Some(k) if !is_nullish(k)? => Some(verify_key_of(k, "publicKey", "key")?),
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

fn params_arg(env: &Env, params: &Unknown<'_>) -> Outcome<Vec<(String, String)>> {
    if params.get_type()? != ValueType::Object || params.is_array()? {
        return Err(Error::argument(
            "params",
            format!(
                "params must be the params of a verified notification; got {}",
                describe(params)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { params.cast()? };
    match text_pairs_of(env, &object, "params")? {
        Ok(p) if p.is_empty() && not_a_record(env, params)?.is_some() => Err(Error::argument(
            "params",
            format!(
                "params must be the params of a verified notification; got {}",
                not_a_record(env, params)?.unwrap_or("an object")
            ),
        )
        .into()),
        Ok(p) => Ok(p),
        Err(e) => {
            Err(Error::argument("params", format!("params must hold text values: {}", e.0)).into())
        }
    }
}

/// Every way a verified notification disagrees with your own order: `out_trade_no`,
/// `total_fee` (as decimals: `0.1` equals `0.10`), `currency` and the seller. Empty when
/// all agree. Only the fields you give in `expected` are compared.
#[napi(
    ts_args_type = "params: Record<string, string>, expected: ExpectedOrder",
    ts_return_type = "string[]"
)]
pub fn check_notify_matches_order(
    env: Env,
    params: Unknown,
    expected: Unknown,
) -> Result<Vec<String>> {
    run(&env, || {
        let params = params_arg(&env, &params)?;
        if expected.get_type()? != ValueType::Object || expected.is_array()? {
            return Err(Error::argument(
                "expected",
                format!(
                    "expected must be {{ outTradeNo, totalFee, currency, sellerId }}; got {}",
                    describe(&expected)?
                ),
            )
            .into());
        }
        let e: Object = unsafe { expected.cast()? };
        // A Promise (a forgotten `await`), a Map, a typed array …: its fields would all
        // read as absent, and an empty list would say that everything agrees.
        if let Some(what) = not_a_record(&env, &expected)? {
            return Err(Error::argument(
                "expected",
                format!(
                    "expected must be {{ outTradeNo, totalFee, currency, sellerId }}; got {what}"
                ),
            )
            .into());
        }
        let expected = ExpectedOrder {
            out_trade_no: optional_text(&e, "outTradeNo", "expected.outTradeNo")?,
            total_fee: optional_text(&e, "totalFee", "expected.totalFee")?,
            currency: optional_text(&e, "currency", "expected.currency")?,
            seller_id: optional_text(&e, "sellerId", "expected.sellerId")?,
        };
        Ok(merchant::check_notify_matches_order(&params, &expected))
    })
}

/// `trade_status` is TRADE_SUCCESS or TRADE_FINISHED (cross-border accounts report a paid
/// order as TRADE_FINISHED). Use it on verified params only.
#[napi(ts_args_type = "params: Record<string, string>")]
pub fn is_paid(env: Env, params: Unknown) -> Result<bool> {
    run(&env, || Ok(notify::is_paid(&params_arg(&env, &params)?)))
}

/// Alipay's gateway for the notify_verify check, unless you pass another.
pub const DEFAULT_GATEWAY: &str = "https://intlmapi.alipay.com/gateway.do";

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
        if !(partner.len() == 16
            && partner.starts_with("2088")
            && partner.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(
                Error::invalid("partner", "partner must be 16 digits starting with 2088").into(),
            );
        }
        let notify_id = text_arg(&notify_id, "notifyId")?;
        if notify_id.is_empty() {
            return Err(Error::invalid(
                "notifyId",
                "notifyId is empty; pass the notification's notify_id",
            )
            .into());
        }
        let gateway = match &gateway {
            Some(g) if !is_nullish(g)? => text_arg(g, "gateway")?,
            _ => DEFAULT_GATEWAY.to_owned(),
        };
        if !(gateway.starts_with("https://") || gateway.starts_with("http://")) {
            return Err(Error::invalid("gateway", "gateway must be an http(s) URL").into());
        }
        Ok(merchant::notify_verify_url(&gateway, &partner, &notify_id))
    })
}

/// Puts `TRADE_PAY_RESULT_CODES` on the module: the resultCode table of `my.tradePay`.
#[napi(module_exports)]
pub fn module_exports(mut exports: Object, env: Env) -> Result<()> {
    let pairs: Vec<(String, String)> = merchant::TRADE_PAY_RESULT_CODES
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let table = record_of(&env, &pairs)?;
    check_status!(unsafe { sys::napi_object_freeze(env.raw(), table.raw()) })?;
    exports.set("TRADE_PAY_RESULT_CODES", table)?;
    Ok(())
}
