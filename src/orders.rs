//! Orders, from JavaScript: `buildOrderStr` and its async twin, `preSignString`,
//! `signContent`, and `OrderSigner`. Conversion only; the parameter rules and the signing are
//! the core's.

use crate::convert::{describe, string_of, JsText};
use crate::js_error::{run, to_js, Outcome};
use crate::keys::signer_of;
use crate::records::{options_of, params_of};
use alipayhk_pay_core::{BuildOptions, Error, OrderParams, Signer};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

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
        crate::convert::check_len(
            crate::convert::js_len(content)?,
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
        let signal = crate::pool::signal_of(env, options.as_ref())?;
        Ok((SignOrderTask::new(signer, order), signal))
    };
    crate::pool::promise(env, prepare)
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
    pub(crate) inner: Arc<Signer>,
}

#[napi]
impl OrderSigner {
    /// Parses and checks the key; throws `ERR_ALIPAYHK_INVALID_KEY` or
    /// `ERR_ALIPAYHK_SIGN_TYPE` when it cannot be used.
    #[napi(constructor, ts_args_type = "key: SigningKey")]
    pub fn new(env: Env, this: This<Unknown>, key: Unknown) -> Result<Self> {
        run(&env, || {
            crate::convert::require_new::<OrderSigner>(
                &env,
                &this,
                "OrderSigner",
                "new OrderSigner(key)",
            )?;
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
            let signal = crate::pool::signal_of(env, options.as_ref())?;
            Ok((SignOrderTask::new(self.inner.clone(), order), signal))
        };
        crate::pool::promise(env, prepare)
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

/// Signs an order on the thread pool.
pub struct SignOrderTask {
    signer: Arc<Signer>,
    params: OrderParams,
    failure: Option<Error>,
    /// Set only by the test hook that proves a panic here becomes a coded rejection.
    pub(crate) panic_for_tests: bool,
}

impl Task for SignOrderTask {
    type Output = String;
    type JsValue = crate::convert::JsText;

    fn compute(&mut self) -> Result<String> {
        if self.panic_for_tests {
            panic!("test hook: a panic on the thread pool");
        }
        self.signer
            .sign_order(&self.params)
            .map(|signed| signed.order_str)
            .map_err(|e| {
                self.failure = Some(e);
                napi::Error::from_status(Status::GenericFailure)
            })
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<crate::convert::JsText> {
        Ok(crate::convert::JsText(output))
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> Result<crate::convert::JsText> {
        Err(match self.failure.take() {
            Some(e) => to_js(&env, e),
            None => err,
        })
    }
}

impl SignOrderTask {
    pub fn new(signer: Arc<Signer>, params: OrderParams) -> Self {
        SignOrderTask {
            signer,
            params,
            failure: None,
            panic_for_tests: false,
        }
    }
}
