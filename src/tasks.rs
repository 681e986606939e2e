//! The async twins: arguments are converted and checked on the JS thread (bad input rejects
//! at once, with the same `code` and `field` as the sync call), then the crypto runs on the
//! libuv thread pool. An `AbortSignal` cancels work that has not started.

use crate::convert::is_nullish;
use crate::js_error::{guard, internal, to_js, Fail, Outcome};
use crate::verify_api::{notify_result, verify_notify_with, NotifyBody};
use alipayhk_pay_core::notify::NotifyVerification;
use alipayhk_pay_core::{Error, OrderParams, Signer, VerifyKey};
use napi::bindgen_prelude::*;
use napi::{JsValue, ScopedTask};
use std::ptr;
use std::sync::Arc;

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
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        let signed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if self.panic_for_tests {
                panic!("test hook: a panic on the thread pool");
            }
            self.signer.sign_order(&self.params)
        }))
        .unwrap_or_else(|_| Err(internal()));
        signed.map(|signed| signed.order_str).map_err(|e| {
            self.failure = Some(e);
            napi::Error::from_status(Status::GenericFailure)
        })
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> Result<String> {
        Err(match self.failure.take() {
            Some(e) => to_js(&env, e),
            None => err,
        })
    }
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
        Ok(notify_result(&env, &val.0)?.raw())
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
        let key = &self.key;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            verify_notify_with(body, key)
        }))
        .map_err(|_| {
            self.failure = Some(internal());
            napi::Error::from_status(Status::GenericFailure)
        })
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

impl VerifyNotifyTask {
    pub fn new(key: Arc<VerifyKey>, body: NotifyBody) -> Self {
        VerifyNotifyTask {
            key,
            body: Some(body),
            failure: None,
        }
    }
}

/// `options.signal`, when there is one.
pub fn signal_of(env: &Env, options: Option<&Unknown<'_>>) -> Outcome<Option<AbortSignal>> {
    let Some(options) = options else {
        return Ok(None);
    };
    if is_nullish(options)? {
        return Ok(None);
    }
    if options.get_type()? != ValueType::Object || options.is_array()? {
        return Err(Error::argument(
            "options",
            format!(
                "options must be an object such as {{ signal }}; got {}",
                crate::convert::describe(options)?
            ),
        )
        .into());
    }
    let object: Object = unsafe { options.cast()? };
    let signal: Unknown = crate::convert::own_field(&object, "signal")?;
    if is_nullish(&signal)? {
        return Ok(None);
    }
    // napi-rs takes any object for a signal (and sets `onabort` on it), so the class is
    // checked here: a look-alike would never cancel anything.
    if signal.get_type()? != ValueType::Object
        || crate::convert::class_tag(env, &signal)? != "[object AbortSignal]"
    {
        return Err(Error::argument(
            "options.signal",
            "options.signal must be an AbortSignal (from an AbortController)",
        )
        .into());
    }
    match unsafe { AbortSignal::from_napi_value(env.raw(), signal.raw()) } {
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(Error::argument(
            "options.signal",
            "options.signal must be an AbortSignal (from an AbortController)",
        )
        .into()),
    }
}

/// Queues `task` and returns its Promise, or a Promise already rejected with the reason
/// the arguments were refused.
pub fn promise<'env, T>(
    env: &'env Env,
    prepare: impl FnOnce() -> Outcome<(T, Option<AbortSignal>)>,
) -> Result<Unknown<'env>>
where
    T: for<'task> ScopedTask<'task>,
{
    match guard(prepare) {
        Ok((task, signal)) => {
            let raw = unsafe {
                AsyncTask::to_napi_value(env.raw(), AsyncTask::with_optional_signal(task, signal))?
            };
            Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), raw) })
        }
        Err(fail) => rejected(env, fail),
    }
}

fn rejected<'env>(env: &'env Env, fail: Fail) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    // An exception already pending (a getter that threw) becomes the rejection reason.
    let mut pending = false;
    check_status!(unsafe { sys::napi_is_exception_pending(raw_env, &mut pending) })?;
    let reason = if pending {
        let mut value = ptr::null_mut();
        check_status!(unsafe { sys::napi_get_and_clear_last_exception(raw_env, &mut value) })?;
        value
    } else {
        let error = fail.into_js(env);
        unsafe { JsError::from(error).into_value(raw_env) }
    };
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    check_status!(unsafe { sys::napi_reject_deferred(raw_env, deferred, reason) })?;
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, promise) })
}
