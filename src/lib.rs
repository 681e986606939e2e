//! The JavaScript surface of `alipayhk-pay`. Converts JS values, calls the core
//! (`alipayhk-pay-core`), and maps core errors to coded JS errors. No protocol logic here.

#![deny(clippy::all)]

mod convert;
pub mod front;
mod js_error;
pub mod tasks;
pub mod verify_api;

use alipayhk_pay_core::key_cache::{KeyCache, DEFAULT_CAPACITY};
use alipayhk_pay_core::{
    BuildOptions, Error, Md5Key, OrderParams, RsaPrivateKey, SignType, Signer,
};
use convert::{describe, is_nullish, key_bytes_of, options_of, params_of, string_of};
use convert::{JsText, KeyBytes};
use js_error::{run, Outcome};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// Every `code` an error from this package can carry.
#[napi(string_enum = "UPPERCASE")]
pub enum ErrorCode {
    /// A parameter the AlipayHK rules require is absent (`err.field` names it).
    #[napi(value = "ERR_ALIPAYHK_MISSING_PARAM")]
    MissingParam,
    /// A parameter's name or value breaks a rule (`err.field` names it).
    #[napi(value = "ERR_ALIPAYHK_INVALID_PARAM")]
    InvalidParam,
    /// A key cannot be used: wrong kind or format, encrypted, too short, empty.
    #[napi(value = "ERR_ALIPAYHK_INVALID_KEY")]
    InvalidKey,
    /// A sign type is unknown or does not agree with the key or the params.
    #[napi(value = "ERR_ALIPAYHK_SIGN_TYPE")]
    SignType,
    /// An argument has the wrong type or shape (`err.field` names it); a `TypeError`.
    #[napi(value = "ERR_ALIPAYHK_INVALID_ARGUMENT")]
    InvalidArgument,
    /// A bug in this package, never the caller's fault.
    #[napi(value = "ERR_ALIPAYHK_INTERNAL")]
    Internal,
    /// A gateway reply is not the XML envelope Alipay sends (empty, truncated, an HTML page,
    /// a DTD, too large or too deep, a field twice), or is about another order.
    #[napi(value = "ERR_ALIPAYHK_MALFORMED_REPLY")]
    MalformedReply,
    /// A gateway reply's signature is missing, of a type not accepted, or does not verify;
    /// such a reply is never taken as a final state.
    #[napi(value = "ERR_ALIPAYHK_REPLY_SIGNATURE")]
    ReplySignature,
    /// The gateway answered with an error code (`err.gatewayError`).
    #[napi(value = "ERR_ALIPAYHK_GATEWAY_ERROR")]
    GatewayError,
    /// The gateway could not be reached (network error, time-out, HTTP 5xx; `err.cause`).
    #[napi(value = "ERR_ALIPAYHK_GATEWAY_UNREACHABLE")]
    GatewayUnreachable,
    /// A reconciliation file breaks its format (`err.field` names the line and column).
    #[napi(value = "ERR_ALIPAYHK_INVALID_FILE")]
    InvalidFile,
}

/// Private keys already parsed, found by a digest of their bytes (never the bytes).
static SIGNERS: KeyCache<Signer> = KeyCache::new(DEFAULT_CAPACITY);

/// An RSA signer for these key bytes, parsed once and then taken from the cache.
fn cached_rsa_signer(sign_type: SignType, bytes: &KeyBytes) -> Outcome<Arc<Signer>> {
    let digest = KeyCache::<Signer>::digest(sign_type.as_str(), bytes.as_bytes());
    Ok(SIGNERS.get_or_insert_with(digest, || {
        Signer::rsa(sign_type, RsaPrivateKey::parse(bytes.input())?)
    })?)
}

/// Reads `{ signType, privateKey | md5Key }`, a private-key string, or an `OrderSigner`.
pub(crate) fn signer_of(env: &Env, key: &Unknown<'_>) -> Outcome<Arc<Signer>> {
    match key.get_type()? {
        // A bare key string names no sign type, and no default is safe: a merchant whose
        // portal says RSA2 would learn of a SHA-1 default from "sign check fail" on a
        // customer's phone.
        ValueType::String => Err(Error::with_field(
            alipayhk_pay_core::ErrorCode::SignType,
            "key.signType",
            "a private-key string names no sign type; pass { signType: 'RSA2', privateKey } (or 'RSA', whichever your AlipayHK merchant portal is set to), or an OrderSigner",
        )
        .into()),
        ValueType::Object if OrderSigner::instance_of(env, key)? => {
            // `FromNapiRef` only works inside napi-rs's generated argument conversion (it
            // needs a native borrow scope); `ClassInstance` unwraps without one.
            // `instanceof` holds for Object.create(signer) too, which wraps no key.
            let signer: ClassInstance<OrderSigner> =
                unsafe { ClassInstance::from_napi_value(env.raw(), key.raw()) }.map_err(|_| {
                    Error::argument(
                        "key",
                        "key is an object made from an OrderSigner but not an OrderSigner itself; pass the OrderSigner",
                    )
                })?;
            Ok(signer.inner.clone())
        }
        ValueType::Object if !key.is_array()? && !key.is_buffer()? => {
            let object: Object = unsafe { key.cast()? };
            signer_of_object(&object, "key")
        }
        _ => Err(Error::argument(
            "key",
            format!(
                "key must be {{ signType: 'RSA' | 'RSA2', privateKey }}, {{ signType: 'MD5', md5Key }}, a private-key PEM string, or an OrderSigner; got {}",
                describe(key)?
            ),
        )
        .into()),
    }
}

/// `{ signType, privateKey | md5Key }`; `arg` names the object in errors (`key`, `config`).
pub(crate) fn signer_of_object(object: &Object<'_>, arg: &str) -> Outcome<Arc<Signer>> {
    let sign_type: Unknown = convert::own_field(object, "signType")?;
    let private_key: Unknown = convert::own_field(object, "privateKey")?;
    let md5_key: Unknown = convert::own_field(object, "md5Key")?;
    let sign_type = match sign_type.get_type()? {
        // A long text is never echoed: it may be a key put in the wrong field.
        ValueType::String if convert::js_len(&sign_type)? > 13 => {
            return Err(Error::sign_type(format!(
                "{arg}.signType is a {}-character text, not 'RSA', 'RSA2' or 'MD5' (it is not shown: it may be a key in the wrong field)",
                convert::js_len(&sign_type)?
            ))
            .into())
        }
        ValueType::String => SignType::parse(&string_of(&sign_type)?.unwrap_or_default())?,
        ValueType::Undefined | ValueType::Null => {
            return Err(Error::sign_type(format!(
                "{arg}.signType is missing: say 'RSA2' (SHA256withRSA) or 'RSA' (SHA1withRSA) with privateKey, whichever your AlipayHK merchant portal is set to, or 'MD5' with md5Key"
            ))
            .into())
        }
        _ => {
            return Err(Error::argument(
                &format!("{arg}.signType"),
                format!(
                    "{arg}.signType must be 'RSA', 'RSA2' or 'MD5'; got {}",
                    describe(&sign_type)?
                ),
            )
            .into())
        }
    };
    let has_private = !is_nullish(&private_key)?;
    let has_md5 = !is_nullish(&md5_key)?;
    if has_private && has_md5 {
        return Err(Error::argument(
            arg,
            format!("{arg} has both privateKey and md5Key; give the one that matches signType"),
        )
        .into());
    }
    match sign_type {
        SignType::Md5 => {
            if has_private {
                return Err(Error::sign_type(
                    "signType 'MD5' was given with privateKey; MD5 signs with md5Key (the 32-character key from Alipay), or use signType 'RSA' / 'RSA2' with privateKey",
                )
                .into());
            }
            let key = verify_api::md5_key_of(&md5_key, &format!("{arg}.md5Key"))?;
            Ok(Arc::new(Signer::md5(key)))
        }
        SignType::Rsa | SignType::Rsa2 => {
            if has_md5 {
                return Err(Error::sign_type(format!(
                    "signType '{sign_type}' was given with md5Key; RSA and RSA2 sign with privateKey, or use signType 'MD5' with md5Key"
                ))
                .into());
            }
            let field = format!("{arg}.privateKey");
            let bytes = key_bytes_of(&private_key, &field)?;
            cached_rsa_signer(sign_type, &bytes).map_err(|e| e.in_field(&field))
        }
    }
}

fn order_params(
    env: &Env,
    params: &Unknown<'_>,
    options: Option<&Unknown<'_>>,
) -> Outcome<OrderParams> {
    let options: BuildOptions = options_of(options)?;
    let raw = params_of(env, params)?;
    Ok(OrderParams::new(raw, &options)?)
}

fn content_of(content: &Unknown<'_>) -> Outcome<String> {
    if content.get_type()? == ValueType::String {
        convert::check_len(
            convert::js_len(content)?,
            alipayhk_pay_core::limits::MAX_MESSAGE_BYTES,
            "content",
        )?;
    }
    if content.get_type()? != ValueType::String {
        return Err(Error::argument(
            "content",
            format!("content must be a string; got {}", describe(content)?),
        )
        .into());
    }
    Ok(string_of(content)?.ok_or_else(|| {
        Error::argument(
            "content",
            "content holds a lone UTF-16 surrogate, which has no UTF-8 form; pass well-formed text",
        )
    })?)
}

/// Builds the signed `orderStr` for `my.tradePay({ orderStr })`.
///
/// `params` is a plain object of parameter names to string values, in the order they are
/// to be signed (`options.sortKeys` sorts them instead). `undefined`, `null` and `''` leave
/// a parameter out; `total_fee` / `rmb_fee` may be numbers with at most 2 decimals.
/// `sign` and `sign_type` are appended for you.
///
/// @example
/// ```ts
/// const orderStr = buildOrderStr(params, { signType: 'RSA2', privateKey: fs.readFileSync('merchant.pem', 'utf8') })
/// ```
/// @throws {AlipayHKError} with `code` and, for parameters, `field`.
#[napi(
    ts_args_type = "params: OrderParams, key: SigningKey, options?: BuildOptions",
    ts_return_type = "string"
)]
pub fn build_order_str(
    env: Env,
    params: Unknown,
    key: Unknown,
    options: Option<Unknown>,
) -> Result<JsText> {
    run(&env, || {
        let order = order_params(&env, &params, options.as_ref())?;
        let signer = signer_of(&env, &key)?;
        Ok(JsText(signer.sign_order(&order)?.order_str))
    })
}

/// `buildOrderStr` on the libuv thread pool, off the event loop. Arguments are checked
/// first: bad input rejects at once with the same `code` and `field`. `options.signal`
/// (an `AbortSignal`) cancels the work if it has not started.
#[napi(
    ts_args_type = "params: OrderParams, key: SigningKey, options?: AsyncBuildOptions",
    ts_return_type = "Promise<string>"
)]
pub fn build_order_str_async<'env>(
    env: &'env Env,
    params: Unknown,
    key: Unknown,
    options: Option<Unknown>,
) -> Result<Unknown<'env>> {
    let prepare = || {
        let order = order_params(env, &params, options.as_ref())?;
        let signer = signer_of(env, &key)?;
        let signal = tasks::signal_of(env, options.as_ref())?;
        Ok((tasks::SignOrderTask::new(signer, order), signal))
    };
    tasks::promise(env, prepare)
}

/// How many async calls (`buildOrderStrAsync`, `verifyNotifyAsync` and the methods of the
/// same names) run on the libuv thread pool at once from this thread; the others wait their
/// turn, in order, and an aborted one leaves the queue at once. With a number from 1 to
/// 1024, sets it for this thread (each worker thread has its own) and returns it; without
/// one (or with `null`), returns it.
///
/// The default is the number of CPU cores, but one less than the libuv pool
/// (`UV_THREADPOOL_SIZE`, 4 unless set), and at least 1: signing is pure CPU, so more at
/// once only makes every call wait for a core, and the pool keeps a thread for `fs`,
/// `dns.lookup` and `zlib` however many calls wait.
///
/// @example
/// ```ts
/// asyncConcurrency(1) // keep signing to one core, whatever the machine has
/// ```
#[napi(ts_args_type = "limit?: number", ts_return_type = "number")]
pub fn async_concurrency(env: Env, limit: Option<Unknown>) -> Result<u32> {
    run(&env, || {
        let Some(limit) = limit.filter(|l| !matches!(l.get_type(), Ok(ValueType::Undefined)))
        else {
            return Ok(tasks::sched::limit() as u32);
        };
        let n = match limit.get_type()? {
            ValueType::Number => limit.coerce_to_number()?.get_double()?,
            _ => f64::NAN,
        };
        if !(n.fract() == 0.0 && (1.0..=1024.0).contains(&n)) {
            let got = match limit.get_type()? {
                ValueType::Number => format!("{n}"),
                _ => describe(&limit)?.to_owned(),
            };
            return Err(Error::argument(
                "limit",
                format!("limit must be a whole number from 1 to 1024; got {got}"),
            )
            .into());
        }
        tasks::sched::set_limit(&env, n as usize);
        Ok(n as u32)
    })
}

/// The exact string that is signed for `params`: `key="value"` pairs joined with `&`,
/// without `sign` and `sign_type`. Applies the same rules as `buildOrderStr`.
#[napi(
    ts_args_type = "params: OrderParams, options?: BuildOptions",
    ts_return_type = "string"
)]
pub fn pre_sign_string(env: Env, params: Unknown, options: Option<Unknown>) -> Result<JsText> {
    run(&env, || {
        Ok(JsText(
            order_params(&env, &params, options.as_ref())?.pre_sign(),
        ))
    })
}

/// The signature of any text: standard base64 for RSA / RSA2, lowercase hex for MD5.
/// Not URL-encoded.
#[napi(
    ts_args_type = "content: string, key: SigningKey",
    ts_return_type = "string"
)]
pub fn sign_content(env: Env, content: Unknown, key: Unknown) -> Result<JsText> {
    run(&env, || {
        let content = content_of(&content)?;
        Ok(JsText(signer_of(&env, &key)?.sign_content(&content)?))
    })
}

/// A merchant key parsed once, for signing many orders.
///
/// @example
/// ```ts
/// const signer = new OrderSigner({ signType: 'RSA2', privateKey: process.env.ALIPAY_PRIVATE_KEY! })
/// const orderStr = signer.buildOrderStr(params)
/// ```
#[napi]
pub struct OrderSigner {
    inner: Arc<Signer>,
}

#[napi]
impl OrderSigner {
    /// Parses and checks the key; throws `ERR_ALIPAYHK_INVALID_KEY` or
    /// `ERR_ALIPAYHK_SIGN_TYPE` when it cannot be used.
    #[napi(constructor, ts_args_type = "key: SigningKey")]
    pub fn new(env: Env, this: This<Unknown>, key: Unknown) -> Result<Self> {
        run(&env, || {
            require_new::<OrderSigner>(&env, &this, "OrderSigner", "new OrderSigner(key)")?;
            Ok(OrderSigner {
                inner: signer_of(&env, &key)?,
            })
        })
    }

    /// Builds the signed `orderStr` for `params` (see the function `buildOrderStr`).
    #[napi(
        ts_args_type = "params: OrderParams, options?: BuildOptions",
        ts_return_type = "string"
    )]
    pub fn build_order_str(
        &self,
        env: Env,
        params: Unknown,
        options: Option<Unknown>,
    ) -> Result<JsText> {
        run(&env, || {
            let order = order_params(&env, &params, options.as_ref())?;
            Ok(JsText(self.inner.sign_order(&order)?.order_str))
        })
    }

    /// `buildOrderStr` on the libuv thread pool; see the function `buildOrderStrAsync`.
    #[napi(
        ts_args_type = "params: OrderParams, options?: AsyncBuildOptions",
        ts_return_type = "Promise<string>"
    )]
    pub fn build_order_str_async<'env>(
        &self,
        env: &'env Env,
        params: Unknown,
        options: Option<Unknown>,
    ) -> Result<Unknown<'env>> {
        let prepare = || {
            let order = order_params(env, &params, options.as_ref())?;
            let signal = tasks::signal_of(env, options.as_ref())?;
            Ok((tasks::SignOrderTask::new(self.inner.clone(), order), signal))
        };
        tasks::promise(env, prepare)
    }

    /// The exact string `buildOrderStr` would sign for `params`.
    #[napi(
        ts_args_type = "params: OrderParams, options?: BuildOptions",
        ts_return_type = "string"
    )]
    pub fn pre_sign(&self, env: Env, params: Unknown, options: Option<Unknown>) -> Result<JsText> {
        run(&env, || {
            let order = order_params(&env, &params, options.as_ref())?;
            self.inner.check_declared_sign_type(&order)?;
            Ok(JsText(order.pre_sign()))
        })
    }

    /// The signature of any text: base64 (RSA, RSA2) or lowercase hex (MD5), not URL-encoded.
    #[napi(ts_args_type = "content: string", ts_return_type = "string")]
    pub fn sign_content(&self, env: Env, content: Unknown) -> Result<JsText> {
        run(&env, || {
            Ok(JsText(self.inner.sign_content(&content_of(&content)?)?))
        })
    }

    /// `'RSA'`, `'RSA2'` or `'MD5'`.
    #[napi(getter, ts_return_type = "SignType")]
    pub fn sign_type(&self) -> &'static str {
        self.inner.sign_type().as_str()
    }

    /// The RSA modulus size in bits; `null` for MD5.
    #[napi(getter)]
    pub fn key_bits(&self) -> Option<u32> {
        self.inner.key_bits().map(|b| b as u32)
    }

    /// SHA-256 hex of the public key's SubjectPublicKeyInfo DER (RSA), or of the MD5 key:
    /// tells which key is loaded without showing it.
    #[napi(getter)]
    pub fn fingerprint(&self) -> String {
        self.inner.fingerprint()
    }
}

/// Refuses a class constructor called without `new` (`OrderSigner(key)`): napi-rs would
/// otherwise wrap whatever `this` is (the global object, the module's exports) and keep the
/// key on it for the life of the process.
pub(crate) fn require_new<T: JavaScriptClassExt>(
    env: &Env,
    this: &Unknown<'_>,
    class: &str,
    usage: &str,
) -> Outcome<()> {
    if this.get_type()? != ValueType::Object || !T::instance_of(env, this)? {
        return Err(
            Error::argument(class, format!("{class} is a class: call it with `{usage}`")).into(),
        );
    }
    Ok(())
}

/// Test hook, not part of the API: proves that a Rust panic becomes an
/// `ERR_ALIPAYHK_INTERNAL` error (or rejection) instead of an aborted process. Refuses to run
/// unless the environment variable `ALIPAYHK_PAY_TEST_HOOKS` is `1`.
#[napi(
    js_name = "__panicForTests",
    ts_args_type = "where: 'sync' | 'async'",
    ts_return_type = "string | Promise<string>"
)]
pub fn panic_for_tests<'env>(env: &'env Env, place: Unknown) -> Result<Unknown<'env>> {
    let allowed = std::env::var("ALIPAYHK_PAY_TEST_HOOKS").as_deref() == Ok("1");
    let place = run(env, || {
        if !allowed {
            return Err(Error::argument(
                "where",
                "__panicForTests is a test hook; set ALIPAYHK_PAY_TEST_HOOKS=1 to use it",
            )
            .into());
        }
        Ok(string_of(&place)?.unwrap_or_default())
    })?;
    if place == "async" {
        return tasks::promise(env, || {
            let signer = Arc::new(Signer::md5(Md5Key::new("test-hook")?));
            let params = OrderParams::new(
                vec![(
                    "test_hook".to_owned(),
                    alipayhk_pay_core::ParamValue::from("1"),
                )],
                &BuildOptions {
                    sort_keys: false,
                    strict: false,
                },
            )?;
            let mut task = tasks::SignOrderTask::new(signer, params);
            task.panic_for_tests = true;
            Ok((task, None))
        });
    }
    run(env, || -> Outcome<Unknown<'env>> {
        panic!("test hook: a panic on the JS thread")
    })
}
