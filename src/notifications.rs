//! Notifications, from JavaScript: `verifyNotify` and its async twin, the
//! `VerifiedNotification` they hand back, `isPaid`, `checkNotifyMatchesOrder`, `decideNotify`
//! and `notifyVerifyUrl`. Conversion only; the signature rule, the matching and the decision
//! table are the core's (core/src/notify.rs, core/src/merchant.rs).

use crate::convert::{byte_view, check_len, describe, js_len, not_a_record, string_of};
use crate::js_error::{run, to_js, Outcome};
use crate::keys::verify_key_of;
use crate::records::{record_of, text_pairs_of};
use alipayhk_pay_core::limits::MAX_MESSAGE_BYTES;
use alipayhk_pay_core::notify::{self, NotifyVerification};
use alipayhk_pay_core::{Error, Failure, Reason, VerifyKey};
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

pub(crate) fn set_failure(object: &mut Object<'_>, failure: &Option<Failure>) -> Result<()> {
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
    pub(crate) params: Vec<(String, String)>,
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

    /// One field, or `null` when the notification has none.
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

    /// `trade_status` (payments), or `null`.
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

    pub(crate) fn verification(&self) -> NotifyVerification {
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
        let signal = crate::pool::signal_of(env, options.as_ref())?;
        Ok((
            crate::notifications::VerifyNotifyTask::new(key, body),
            signal,
        ))
    };
    crate::pool::promise(env, prepare)
}

/// A notification check's outcome, made into the same object the sync call returns.
pub struct NotifyOutcome(NotifyVerification);

impl TypeName for NotifyOutcome {
    fn type_name() -> &'static str {
        "NotifyVerification"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for NotifyOutcome {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        Ok(notify_result(&env, val.0)?.raw())
    }
}

/// Checks a notification on the thread pool.
pub struct VerifyNotifyTask {
    key: Arc<VerifyKey>,
    body: Option<NotifyBody>,
    failure: Option<Error>,
}

impl Task for VerifyNotifyTask {
    type Output = NotifyVerification;
    type JsValue = NotifyOutcome;

    fn compute(&mut self) -> Result<NotifyVerification> {
        let body = self
            .body
            .take()
            .ok_or_else(|| napi::Error::from_reason("the notification was already checked"))?;
        Ok(verify_notify_with(body, &self.key))
    }

    fn resolve(&mut self, _env: Env, output: NotifyVerification) -> Result<NotifyOutcome> {
        Ok(NotifyOutcome(output))
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> Result<NotifyOutcome> {
        Err(match self.failure.take() {
            Some(e) => to_js(&env, e),
            None => err,
        })
    }
}

impl VerifyNotifyTask {
    pub fn new(key: Arc<VerifyKey>, body: NotifyBody) -> Self {
        VerifyNotifyTask {
            key,
            body: Some(body),
            failure: None,
        }
    }
}
