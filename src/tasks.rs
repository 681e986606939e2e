//! The async twins: arguments are converted and checked on the JS thread (bad input rejects
//! at once, with the same `code` and `field` as the sync call), then the crypto runs on the
//! libuv thread pool. An `AbortSignal` cancels work that has not started.

use crate::convert::is_nullish;
use crate::js_error::{guard, internal, to_js, Fail, Outcome};
use crate::verify_api::{notify_result, verify_notify_with, NotifyBody};
use alipayhk_pay_core::notify::NotifyVerification;
use alipayhk_pay_core::{Error, OrderParams, Signer, VerifyKey};
use napi::bindgen_prelude::*;
use napi::JsValue;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// `options.signal`, when there is one: checked to be a real `AbortSignal`.
pub fn signal_of<'s>(env: &Env, options: Option<&Unknown<'s>>) -> Outcome<Option<Unknown<'s>>> {
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
    if signal.get_type()? != ValueType::Object
        || crate::convert::class_tag(env, &signal)? != "[object AbortSignal]"
    {
        return Err(Error::argument(
            "options.signal",
            "options.signal must be an AbortSignal (from an AbortController)",
        )
        .into());
    }
    Ok(Some(signal))
}

/// A caller's `AbortSignal` linked to one task: an `abort` listener sets `flag`, which the
/// task reads on the thread pool before it starts. The listener is removed when the task
/// settles, so a long-lived signal (a server's shutdown signal) does not collect listeners,
/// and the caller's own `onabort` is never touched.
struct AbortLink {
    flag: Arc<AtomicBool>,
    // napi references, used only on the JS thread (in `finally`), kept as integers so that
    // the task stays `Send`.
    signal: usize,
    listener: usize,
}

impl AbortLink {
    fn new(env: &Env, signal: &Unknown<'_>) -> Result<AbortLink> {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let listener =
            env.create_function_from_closure::<(), (), _>("alipayhkAbort", move |_| {
                set.store(true, Ordering::SeqCst);
                Ok(())
            })?;
        call_method(
            env,
            signal.raw(),
            "addEventListener",
            &[env.create_string("abort")?.raw(), listener.raw()],
        )?;
        let raw_env = env.raw();
        let mut signal_ref = ptr::null_mut();
        let mut listener_ref = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_reference(raw_env, signal.raw(), 1, &mut signal_ref)
        })?;
        check_status!(unsafe {
            sys::napi_create_reference(raw_env, listener.raw(), 1, &mut listener_ref)
        })?;
        Ok(AbortLink {
            flag,
            signal: signal_ref as usize,
            listener: listener_ref as usize,
        })
    }

    fn aborted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Removes the listener and drops the references (JS thread only).
    fn release(self, env: &Env) {
        let raw_env = env.raw();
        let signal_ref = self.signal as sys::napi_ref;
        let listener_ref = self.listener as sys::napi_ref;
        let mut signal = ptr::null_mut();
        let mut listener = ptr::null_mut();
        unsafe {
            if sys::napi_get_reference_value(raw_env, signal_ref, &mut signal)
                == sys::Status::napi_ok
                && sys::napi_get_reference_value(raw_env, listener_ref, &mut listener)
                    == sys::Status::napi_ok
                && !signal.is_null()
                && !listener.is_null()
            {
                if let Ok(abort) = env.create_string("abort") {
                    let _ =
                        call_method(env, signal, "removeEventListener", &[abort.raw(), listener]);
                }
            }
            sys::napi_delete_reference(raw_env, signal_ref);
            sys::napi_delete_reference(raw_env, listener_ref);
        }
    }
}

fn call_method(
    env: &Env,
    this: sys::napi_value,
    name: &str,
    args: &[sys::napi_value],
) -> Result<()> {
    let raw_env = env.raw();
    let object = Object::from_raw(raw_env, this);
    let method: Unknown = object.get_named_property(name)?;
    let mut result = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_call_function(
            raw_env,
            this,
            method.raw(),
            args.len(),
            args.as_ptr(),
            &mut result,
        )
    })
}

/// The rejection of an aborted call: an `AbortError` with code `ABORT_ERR`, as Node's own
/// APIs reject, with the signal's `reason` as its `cause`.
fn abort_error(env: &Env, reason: Option<sys::napi_value>) -> Result<sys::napi_value> {
    let raw_env = env.raw();
    let code = env.create_string("ABORT_ERR")?;
    let message = env.create_string("The operation was aborted")?;
    let mut error = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_error(raw_env, code.raw(), message.raw(), &mut error)
    })?;
    let mut object = Object::from_raw(raw_env, error);
    object.set("name", "AbortError")?;
    if let Some(reason) = reason {
        object.set("cause", unsafe {
            Unknown::from_raw_unchecked(raw_env, reason)
        })?;
    }
    Ok(error)
}

/// A task that does nothing once its signal has fired, and rejects with an `AbortError`.
pub struct Cancellable<T> {
    inner: T,
    abort: Option<AbortLink>,
    aborted: bool,
}

impl<T: Task> Task for Cancellable<T> {
    type Output = T::Output;
    type JsValue = T::JsValue;

    fn compute(&mut self) -> Result<T::Output> {
        if self.abort.as_ref().is_some_and(AbortLink::aborted) {
            self.aborted = true;
            return Err(napi::Error::from_status(Status::Cancelled));
        }
        self.inner.compute()
    }

    fn resolve(&mut self, env: Env, output: T::Output) -> Result<T::JsValue> {
        self.inner.resolve(env, output)
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> Result<T::JsValue> {
        if self.aborted {
            let reason = self
                .abort
                .as_ref()
                .and_then(|link| signal_reason(&env, link));
            let error = abort_error(&env, reason)?;
            return Err(napi::Error::from(unsafe {
                Unknown::from_raw_unchecked(env.raw(), error)
            }));
        }
        self.inner.reject(env, err)
    }

    fn finally(self, env: Env) -> Result<()> {
        if let Some(link) = self.abort {
            link.release(&env);
        }
        self.inner.finally(env)
    }
}

fn signal_reason(env: &Env, link: &AbortLink) -> Option<sys::napi_value> {
    let mut signal = ptr::null_mut();
    let ok = unsafe {
        sys::napi_get_reference_value(env.raw(), link.signal as sys::napi_ref, &mut signal)
    };
    if ok != sys::Status::napi_ok || signal.is_null() {
        return None;
    }
    let object = Object::from_raw(env.raw(), signal);
    object
        .get_named_property::<Unknown>("reason")
        .ok()
        .map(|r| r.raw())
}

/// Queues `task` and returns its Promise, or a Promise already rejected with the reason
/// the arguments were refused (or an `AbortError` when the signal has already fired).
pub fn promise<'env, 's, T>(
    env: &'env Env,
    prepare: impl FnOnce() -> Outcome<(T, Option<Unknown<'s>>)>,
) -> Result<Unknown<'env>>
where
    T: Task,
{
    let (task, signal) = match guard(prepare) {
        Ok(prepared) => prepared,
        Err(fail) => return rejected(env, fail),
    };
    let abort = match &signal {
        None => None,
        Some(signal) => {
            let object: Object = unsafe { signal.cast()? };
            let already: bool = object
                .get_named_property::<Unknown>("aborted")?
                .coerce_to_bool()?;
            if already {
                let reason: Unknown = object.get_named_property("reason")?;
                let error = abort_error(env, Some(reason.raw()))?;
                return rejected_with(env, error);
            }
            Some(AbortLink::new(env, signal)?)
        }
    };
    let task = Cancellable {
        inner: task,
        abort,
        aborted: false,
    };
    let raw = unsafe { AsyncTask::to_napi_value(env.raw(), AsyncTask::new(task))? };
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), raw) })
}

fn rejected_with<'env>(env: &'env Env, reason: sys::napi_value) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    check_status!(unsafe { sys::napi_reject_deferred(raw_env, deferred, reason) })?;
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, promise) })
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
    rejected_with(env, reason)
}
