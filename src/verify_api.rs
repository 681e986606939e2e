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
use alipayhk_pay_core::{Error, ErrorCode, Failure, Md5Key, Reason, RsaPublicKey, SignType, VerifyKey};
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
static PUBLIC_KEYS: KeyCache<RsaPublicKey> = KeyCache::new(DEFAULT_CAPACITY);

/// `{ alipayPublicKey, acceptSignTypes? }` or `{ md5Key }` (or, for an orderStr, `{ publicKey }`).
/// `alipayPublicKey` may be a list: several of Alipay's keys during a rotation.
pub fn verify_key_of(
    env: &Env,
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
    let accept: Unknown = crate::convert::own_field(&object, "acceptSignTypes")?;
    let key = match (is_nullish(&public)?, is_nullish(&md5)?) {
        (false, false) => {
            return Err(Error::argument(
                arg,
                format!("{arg} has both {public_key_name} and md5Key; give the one that matches the sign_type"),
            )
            .into())
        }
        (false, true) => public_keys_of(&public, &format!("{arg}.{public_key_name}"))?,
        (true, false) => VerifyKey::md5(md5_key_of(&md5, &format!("{arg}.md5Key"))?),
        (true, true) => return wrong(),
    };
    let key = match sign_types_of(env, &accept, &format!("{arg}.acceptSignTypes"))? {
        Some(types) => key.accept(&types, &format!("{arg}.acceptSignTypes"))?,
        None => key,
    };
    Ok(Arc::new(key))
}

/// One public key, or a list of them (a rotation window), each parsed once and cached.
pub fn public_keys_of(value: &Unknown<'_>, field: &str) -> Outcome<VerifyKey> {
    let mut keys = Vec::new();
    if value.is_array()? {
        let list: Object = unsafe { value.cast()? };
        let n = crate::convert::array_len(value)?;
        if n == 0 || n > 8 {
            return Err(Error::argument(
                field,
                format!("{field} is a list of {n} keys; give 1 to 8 (Alipay's current key, and the next one during a rotation)"),
            )
            .into());
        }
        for i in 0..n {
            let item: Unknown = list.get_element(i as u32)?;
            keys.push(public_key_of(&item, &format!("{field}[{i}]"))?);
        }
    } else {
        keys.push(public_key_of(value, field)?);
    }
    Ok(VerifyKey::rsa_keys(keys).map_err(|e| e.in_field(field))?)
}

fn public_key_of(value: &Unknown<'_>, field: &str) -> Outcome<RsaPublicKey> {
    let bytes = key_bytes_of(value, field)?;
    let digest = KeyCache::<RsaPublicKey>::digest("public", bytes.as_bytes());
    let key = PUBLIC_KEYS
        .get_or_insert_with(digest, || RsaPublicKey::parse(bytes.input()))
        .map_err(|e| e.in_field(field))?;
    Ok((*key).clone())
}

/// `acceptSignTypes`: a list of 'RSA', 'RSA2', 'MD5'; `None` when absent.
pub fn sign_types_of(env: &Env, value: &Unknown<'_>, field: &str) -> Outcome<Option<Vec<SignType>>> {
    if is_nullish(value)? {
        return Ok(None);
    }
    if !value.is_array()? {
        return Err(Error::argument(
            field,
            format!("{field} must be a list such as ['RSA2'] or ['RSA2', 'RSA']; got {}", describe(value)?),
        )
        .into());
    }
    let list: Object = unsafe { value.cast()? };
    let n = crate::convert::array_len(value)?;
    if n > 8 {
        return Err(Error::argument(
            field,
            format!("{field} lists {n} sign types; there are only RSA, RSA2 and MD5"),
        )
        .into());
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let item: Unknown = list.get_element(i as u32)?;
        let text = if item.get_type()? == ValueType::String {
            string_of(&item)?.unwrap_or_default()
        } else {
            String::new()
        };
        out.push(SignType::parse(&text).map_err(|_| {
            Error::with_field(
                ErrorCode::SignType,
                format!("{field}[{i}]"),
                format!("{field}[{i}] must be 'RSA', 'RSA2' or 'MD5'"),
            )
        })?);
    }
    let _ = env;
    Ok(Some(out))
}

pub fn md5_key_of(value: &Unknown<'_>, field: &str) -> Outcome<Md5Key> {
    if value.get_type()? != ValueType::String {
        return Err(Error::argument(
            field,
            format!("{field} must be a string (the 32-character key from Alipay's merchant portal); got {}", describe(value)?),
        )
        .into());
    }
    check_md5_key_len(value, field).map_err(|e| e.in_field(field))?;
    let text = secret_string_of(value)?.ok_or_else(|| {
        Error::key(format!(
            "{field} holds a lone UTF-16 surrogate; an MD5 key is letters and digits"
        ))
        .in_field(field)
    })?;
    Ok(Md5Key::new(text.as_str()).map_err(|e| e.in_field(field))?)
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
            key_fingerprint: None,
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

/// A notification whose signature verified: the only thing `isPaid`, `checkNotifyMatchesOrder`
/// and `decideNotify` take. It cannot be made from JavaScript (there is no constructor), so a
/// plain object of fields, verified or not, can never stand in for it.
#[napi]
pub struct VerifiedNotification {
    params: Vec<(String, String)>,
    sign_type: String,
    key_fingerprint: String,
}

#[napi]
impl VerifiedNotification {
    /// Every field as sent, `sign` and `sign_type` included: a frozen copy.
    #[napi(getter, ts_return_type = "Readonly<Record<string, string>>")]
    pub fn params<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        let object = record_of(env, &self.params)?;
        check_status!(unsafe { sys::napi_object_freeze(env.raw(), object.raw()) })?;
        Ok(object)
    }

    /// One field, or `undefined`.
    #[napi]
    pub fn get(&self, name: String) -> Option<String> {
        self.field(&name).map(str::to_owned)
    }

    /// `'payment'` (trade_status_sync), `'refund'` (refund_status_sync) or `'unknown'`.
    #[napi(getter, ts_return_type = "NotifyKind")]
    pub fn kind(&self) -> &'static str {
        notify::notify_kind(&self.params).as_str()
    }

    /// `out_trade_no`: the order to look up.
    #[napi(getter)]
    pub fn out_trade_no(&self) -> Option<String> {
        self.field("out_trade_no").map(str::to_owned)
    }

    /// `trade_status` (payments), or `undefined`.
    #[napi(getter)]
    pub fn trade_status(&self) -> Option<String> {
        self.field("trade_status").map(str::to_owned)
    }

    /// `'RSA'`, `'RSA2'` or `'MD5'`: the sign type that verified.
    #[napi(getter, ts_return_type = "SignType")]
    pub fn sign_type(&self) -> String {
        self.sign_type.clone()
    }

    /// SHA-256 hex of the key that verified it (one of several during a key rotation).
    #[napi(getter)]
    pub fn key_fingerprint(&self) -> String {
        self.key_fingerprint.clone()
    }

    /// `trade_status` is TRADE_SUCCESS or TRADE_FINISHED.
    #[napi]
    pub fn is_paid(&self) -> bool {
        notify::is_paid(&self.params)
    }
}

impl VerifiedNotification {
    fn field(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn verification(&self) -> NotifyVerification {
        NotifyVerification {
            failure: None,
            sign_type: self.sign_type.clone(),
            params: self.params.clone(),
            key_fingerprint: Some(self.key_fingerprint.clone()),
        }
    }
}

/// The JS result of a notification check: a `VerifiedNotification` when it verified, and
/// otherwise the fields under a name that says they are not verified.
pub fn notify_result(env: &Env, v: NotifyVerification) -> Result<Object<'_>> {
    let mut out = Object::new(env)?;
    set_failure(&mut out, &v.failure)?;
    out.set("signType", v.sign_type.as_str())?;
    match (v.failure, v.key_fingerprint) {
        (None, Some(key_fingerprint)) => {
            out.set("keyFingerprint", key_fingerprint.as_str())?;
            out.set(
                "notification",
                VerifiedNotification {
                    params: v.params,
                    sign_type: v.sign_type,
                    key_fingerprint,
                },
            )?;
        }
        _ => out.set("unverifiedParams", record_of(env, &v.params)?)?,
    }
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
    let name = if v.failure.is_none() {
        "params"
    } else {
        "unverifiedParams"
    };
    out.set(name, record_of(env, &v.params)?)?;
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
        let key = verify_key_of(env, &key, "alipayPublicKey", "key")?;
        let body = notify_body_of(env, &body)?;
        Ok(notify_result(env, verify_notify_with(body, &key))?)
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
        let key = verify_key_of(env, &key, "alipayPublicKey", "key")?;
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
            format!("expected must be {EXPECTED_SHAPE}; got {}", describe(expected)?),
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
    for name in crate::convert::own_key_names(env, &e, "expected")? {
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
