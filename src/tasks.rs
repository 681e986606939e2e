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
    type JsValue = crate::convert::JsText;

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
    fn new(env: &Env, signal: &Unknown<'_>, job: u64) -> Result<AbortLink> {
        let flag = Arc::new(AtomicBool::new(false));
        let set = flag.clone();
        let listener =
            env.create_function_from_closure::<(), (), _>("alipayhkAbort", move |ctx| {
                set.store(true, Ordering::SeqCst);
                // A call still waiting for a slot rejects now, not when its turn comes.
                sched::abort_waiting(ctx.env, job);
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
    /// Held from the moment the work is queued on the pool until the task is dropped.
    slot: Option<sched::Slot>,
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
        slot: None,
    };
    if sched::try_acquire() {
        let raw = Box::new(task).start(env)?;
        return Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), raw) });
    }
    // Every slot is busy: the call waits its turn in this thread's queue, behind a Promise
    // that follows the work's own once it starts.
    let raw_env = env.raw();
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    check_status!(unsafe { sys::napi_create_promise(raw_env, &mut deferred, &mut promise) })?;
    sched::wait(job, deferred, Box::new(task));
    Ok(unsafe { Unknown::from_raw_unchecked(raw_env, promise) })
}

/// A task as the scheduler sees it, whatever it computes.
trait Job {
    /// Queues the work on the libuv pool (its slot already taken) and returns its Promise.
    fn start(self: Box<Self>, env: &Env) -> Result<sys::napi_value>;
    /// Drops a call that was aborted before it started; returns its `AbortError`.
    fn abandon(self: Box<Self>, env: &Env) -> Result<sys::napi_value>;
    fn aborted(&self) -> bool;
}

impl<T: Task + 'static> Job for Cancellable<T> {
    fn start(mut self: Box<Self>, env: &Env) -> Result<sys::napi_value> {
        self.slot = Some(sched::Slot::new(env));
        unsafe { AsyncTask::to_napi_value(env.raw(), AsyncTask::new(*self)) }
    }

    fn abandon(self: Box<Self>, env: &Env) -> Result<sys::napi_value> {
        let reason = self
            .abort
            .as_ref()
            .and_then(|link| signal_reason(env, link));
        let error = abort_error(env, reason);
        if let Some(link) = self.abort {
            link.release(env);
        }
        error
    }

    fn aborted(&self) -> bool {
        self.abort.as_ref().is_some_and(AbortLink::aborted)
    }
}

/// How many async calls run on the libuv pool at once, per JS thread (the main thread and
/// each worker have their own count). The rest wait in a queue on the JS thread, in order.
///
/// Signing is pure CPU: more signatures at once than there are cores only makes every one
/// of them, and the event loop, wait for a core. The default, one less than the cores and
/// one less than the pool (at least 1), leaves the event loop a core of its own and the
/// pool a thread for `fs`, `dns.lookup` and `zlib`.
pub mod sched {
    use super::Job;
    use napi::bindgen_prelude::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// The libuv pool's size, as libuv reads it (Node's default is 4).
    fn pool_size() -> usize {
        std::env::var("UV_THREADPOOL_SIZE")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .map_or(4, |n| n.min(1024))
    }

    pub fn default_limit() -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.min(pool_size()).saturating_sub(1).max(1)
    }

    struct Waiting {
        id: u64,
        deferred: sys::napi_deferred,
        job: Box<dyn Job>,
    }

    struct Sched {
        limit: usize,
        running: usize,
        next_id: u64,
        queue: VecDeque<Waiting>,
    }

    thread_local! {
        static SCHED: RefCell<Sched> = RefCell::new(Sched {
            limit: default_limit(),
            running: 0,
            next_id: 0,
            queue: VecDeque::new(),
        });
    }

    pub fn next_id() -> u64 {
        SCHED.with(|s| {
            let mut s = s.borrow_mut();
            s.next_id += 1;
            s.next_id
        })
    }

    pub fn limit() -> usize {
        SCHED.with(|s| s.borrow().limit)
    }

    /// Sets this thread's limit and starts waiting calls that now fit.
    pub fn set_limit(env: &Env, limit: usize) {
        SCHED.with(|s| s.borrow_mut().limit = limit);
        pump(env);
    }

    /// Takes a slot if one is free.
    pub(super) fn try_acquire() -> bool {
        SCHED.with(|s| {
            let mut s = s.borrow_mut();
            if s.running < s.limit && s.queue.is_empty() {
                s.running += 1;
                true
            } else {
                false
            }
        })
    }

    pub(super) fn wait(id: u64, deferred: sys::napi_deferred, job: Box<dyn Job>) {
        SCHED.with(|s| {
            s.borrow_mut()
                .queue
                .push_back(Waiting { id, deferred, job })
        });
    }

    /// A slot taken by a task on the pool; given back, and the next call started, when the
    /// task is dropped on its JS thread after it settles (or if it never could).
    pub struct Slot {
        env: usize,
        owner: std::thread::ThreadId,
    }

    impl Slot {
        pub(super) fn new(env: &Env) -> Slot {
            Slot {
                env: env.raw() as usize,
                owner: std::thread::current().id(),
            }
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            if std::thread::current().id() != self.owner {
                return;
            }
            SCHED.with(|s| {
                let mut s = s.borrow_mut();
                s.running = s.running.saturating_sub(1);
            });
            pump(&Env::from_raw(self.env as sys::napi_env));
        }
    }

    /// Starts waiting calls while slots are free. Nothing is borrowed while JavaScript or
    /// napi runs, so a call made from inside (a listener, a getter) finds the queue usable.
    fn pump(env: &Env) {
        loop {
            let next = SCHED.with(|s| {
                let mut s = s.borrow_mut();
                if s.running >= s.limit {
                    return None;
                }
                let next = s.queue.pop_front()?;
                s.running += 1;
                Some(next)
            });
            let Some(Waiting { deferred, job, .. }) = next else {
                return;
            };
            if job.aborted() {
                SCHED.with(|s| {
                    let mut s = s.borrow_mut();
                    s.running = s.running.saturating_sub(1);
                });
                settle(env, deferred, job.abandon(env), false);
            } else {
                settle(env, deferred, job.start(env), true);
            }
        }
    }

    /// A waiting call whose signal fired: out of the queue, rejected with its AbortError.
    pub fn abort_waiting(env: &Env, id: u64) {
        let found = SCHED.with(|s| {
            let mut s = s.borrow_mut();
            let at = s.queue.iter().position(|w| w.id == id)?;
            s.queue.remove(at)
        });
        if let Some(Waiting { deferred, job, .. }) = found {
            settle(env, deferred, job.abandon(env), false);
        }
    }

    /// Resolves the waiting Promise with the work's Promise (it then follows it), or rejects
    /// it with an AbortError or with the error that kept the work from starting.
    fn settle(env: &Env, deferred: sys::napi_deferred, value: Result<sys::napi_value>, ok: bool) {
        let raw_env = env.raw();
        unsafe {
            match value {
                Ok(v) if ok => sys::napi_resolve_deferred(raw_env, deferred, v),
                Ok(v) => sys::napi_reject_deferred(raw_env, deferred, v),
                Err(e) => {
                    let error = JsError::from(e).into_value(raw_env);
                    sys::napi_reject_deferred(raw_env, deferred, error)
                }
            };
        }
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
