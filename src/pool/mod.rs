//! The machinery of the async calls, knowing nothing of Alipay: arguments are converted and
//! checked on the JS thread by the caller (bad input rejects at once, with the same `code`
//! and `field` as the sync call), then the task runs on the libuv thread pool through the
//! scheduler (`sched`); an `AbortSignal` (`abort`) cancels work that has not started. A panic
//! in a task is caught here, once, and rejects the call with `ERR_ALIPAYHK_INTERNAL`.

mod abort;
pub mod sched;

pub use abort::signal_of;

use crate::js_error::{guard, internal, to_js, Fail, Outcome};
use abort::{abort_error, signal_reason, AbortLink};
use napi::bindgen_prelude::*;
use napi::JsValue;
use std::ptr;

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

/// Queues `task` and returns its Promise, or a Promise already rejected with the reason
/// the arguments were refused (or an `AbortError` when the signal has already fired).
pub fn promise<'env, 's, T>(
    env: &'env Env,
    prepare: impl FnOnce() -> Outcome<(T, Option<Unknown<'s>>)>,
) -> Result<Unknown<'env>>
where
    T: Task + 'static,
{
    let (task, signal) = match guard(prepare) {
        Ok(prepared) => prepared,
        Err(fail) => return rejected(env, fail),
    };
    let job = sched::next_id();
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
            Some(AbortLink::new(env, signal, job)?)
        }
    };
    let task = Cancellable {
        inner: task,
        abort,
        aborted: false,
    };
    let raw_env = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    sched::submit(
        env,
        Box::new(PoolJob {
            id: job,
            task,
            output: None,
            deferred: deferred as usize,
        }),
    );
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, promise) })
}

/// One call's work as the scheduler sees it, whatever it computes.
pub trait Job: Send {
    fn id(&self) -> u64;
    /// On the pool: does the work and keeps the outcome.
    fn run(&mut self);
    /// On the JS thread: settles the call's Promise with the outcome.
    fn settle(self: Box<Self>, env: &Env);
    /// On the JS thread: rejects the call's Promise with its `AbortError`, without running it.
    fn abandon(self: Box<Self>, env: &Env);
}

struct PoolJob<T: Task> {
    id: u64,
    task: Cancellable<T>,
    output: Option<Result<T::Output>>,
    // napi_deferred, used only on the JS thread, kept as an integer so the job is `Send`.
    deferred: usize,
}

impl<T: Task> PoolJob<T> {
    fn finish(self, env: &Env, outcome: Result<sys::napi_value>, resolve: bool) {
        let raw_env = env.raw();
        let deferred = self.deferred as sys::napi_deferred;
        // A call is settled once, and never from a dying env (napi then refuses; the
        // statuses are ignored: there is no JavaScript left to tell).
        unsafe {
            match outcome {
                Ok(value) if resolve => sys::napi_resolve_deferred(raw_env, deferred, value),
                Ok(value) => sys::napi_reject_deferred(raw_env, deferred, value),
                Err(e) => match ToNapiValue::to_napi_value(raw_env, e) {
                    Ok(error) => sys::napi_reject_deferred(raw_env, deferred, error),
                    Err(_) => sys::Status::napi_generic_failure,
                },
            };
        }
        let _ = self.task.finally(Env::from_raw(raw_env));
    }
}

impl<T: Task> Job for PoolJob<T> {
    fn id(&self) -> u64 {
        self.id
    }

    fn run(&mut self) {
        let task = &mut self.task;
        // The tasks catch their own panics; this is the last line, so that a panic can never
        // unwind into libuv. (`output` stays empty then, and the call rejects as INTERNAL.)
        self.output =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.compute())).ok();
    }

    fn settle(mut self: Box<Self>, env: &Env) {
        let Some(output) = self.output.take() else {
            let error = to_js(env, internal());
            return self.finish(env, Err(error), false);
        };
        let value = match output {
            Ok(out) => self.task.resolve(Env::from_raw(env.raw()), out),
            Err(e) => self.task.reject(Env::from_raw(env.raw()), e),
        };
        match value.and_then(|v| unsafe { ToNapiValue::to_napi_value(env.raw(), v) }) {
            Ok(v) => self.finish(env, Ok(v), true),
            Err(e) => self.finish(env, Err(e), false),
        }
    }

    fn abandon(self: Box<Self>, env: &Env) {
        let reason = self
            .task
            .abort
            .as_ref()
            .and_then(|link| signal_reason(env, link));
        let error = abort_error(env, reason);
        self.finish(env, error, false);
    }
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
