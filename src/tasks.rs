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

/// A caller's `AbortSignal` linked to one call: the call's `flag` is set when the signal
/// fires, and read on the pool before the call starts.
///
/// A signal has one `abort` listener per JS thread, however many calls share it (a server's
/// shutdown signal passed to every call would otherwise collect a listener per call in
/// flight, and Node warns past ten). The listener is removed when the last call on the
/// signal settles, and the caller's own `onabort` is never touched.
struct AbortLink {
    flag: Arc<AtomicBool>,
    /// The signal's entry in this thread's registry.
    signal: u64,
    job: u64,
}

impl AbortLink {
    fn new(env: &Env, signal: &Unknown<'_>, job: u64) -> Result<AbortLink> {
        let flag = Arc::new(AtomicBool::new(false));
        let entry = signals::join(env, signal, job, flag.clone())?;
        Ok(AbortLink {
            flag,
            signal: entry,
            job,
        })
    }

    fn aborted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Leaves the signal's entry; the last call to leave removes the listener (JS thread only).
    fn release(self, env: &Env) {
        signals::leave(env, self.signal, self.job);
    }
}

/// The signals that calls on this JS thread are linked to: one listener each, found again
/// through a `WeakMap` keyed by the signal (so a signal is never kept alive by it, and the
/// lookup costs the same however many signals there are).
mod signals {
    use super::call_method;
    use napi::bindgen_prelude::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Entry {
        signal: sys::napi_ref,
        listener: sys::napi_ref,
        /// The calls linked to the signal, and their flags.
        calls: Vec<(u64, Arc<AtomicBool>)>,
    }

    #[derive(Default)]
    struct Registry {
        /// A `WeakMap` from signal to entry number, and its `get`, `set` and `delete` as they
        /// were when it was made.
        map: Option<[sys::napi_ref; 4]>,
        entries: HashMap<u64, Entry>,
        next: u64,
    }

    thread_local! {
        static REGISTRY: RefCell<Registry> = RefCell::new(Registry::default());
    }

    fn value_of(env: &Env, r: sys::napi_ref) -> Result<sys::napi_value> {
        let mut value = ptr::null_mut();
        check_status!(unsafe { sys::napi_get_reference_value(env.raw(), r, &mut value) })?;
        if value.is_null() {
            return Err(Error::from_reason("a reference was collected"));
        }
        Ok(value)
    }

    fn reference(env: &Env, value: sys::napi_value) -> Result<sys::napi_ref> {
        let mut r = ptr::null_mut();
        check_status!(unsafe { sys::napi_create_reference(env.raw(), value, 1, &mut r) })?;
        Ok(r)
    }

    /// The WeakMap and its methods, made on first use.
    fn weak_map(env: &Env) -> Result<[sys::napi_value; 4]> {
        if let Some(refs) = REGISTRY.with(|r| r.borrow().map) {
            return Ok([
                value_of(env, refs[0])?,
                value_of(env, refs[1])?,
                value_of(env, refs[2])?,
                value_of(env, refs[3])?,
            ]);
        }
        let global = env.get_global()?;
        let ctor: Unknown = global.get_named_property("WeakMap")?;
        let mut map = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_new_instance(env.raw(), ctor.raw(), 0, ptr::null(), &mut map)
        })?;
        let object = Object::from_raw(env.raw(), map);
        let get: Unknown = object.get_named_property("get")?;
        let set: Unknown = object.get_named_property("set")?;
        let delete: Unknown = object.get_named_property("delete")?;
        let values = [map, get.raw(), set.raw(), delete.raw()];
        let refs = [
            reference(env, values[0])?,
            reference(env, values[1])?,
            reference(env, values[2])?,
            reference(env, values[3])?,
        ];
        REGISTRY.with(|r| r.borrow_mut().map = Some(refs));
        Ok(values)
    }

    fn call(
        env: &Env,
        this: sys::napi_value,
        f: sys::napi_value,
        args: &[sys::napi_value],
    ) -> Result<sys::napi_value> {
        let mut out = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_call_function(env.raw(), this, f, args.len(), args.as_ptr(), &mut out)
        })?;
        Ok(out)
    }

    /// Links call `job` to `signal`; returns the signal's entry number.
    pub(super) fn join(
        env: &Env,
        signal: &Unknown<'_>,
        job: u64,
        flag: Arc<AtomicBool>,
    ) -> Result<u64> {
        let [map, get, set, _] = weak_map(env)?;
        let found = call(env, map, get, &[signal.raw()])?;
        let found = unsafe { Unknown::from_raw_unchecked(env.raw(), found) };
        if found.get_type()? == ValueType::Number {
            let id = found.coerce_to_number()?.get_int64()? as u64;
            let joined = REGISTRY.with(|r| {
                let mut r = r.borrow_mut();
                let entry = r.entries.get_mut(&id)?;
                entry.calls.push((job, flag.clone()));
                Some(())
            });
            if joined.is_some() {
                return Ok(id);
            }
        }
        let id = REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            r.next += 1;
            r.next
        });
        let listener =
            env.create_function_from_closure::<(), (), _>("alipayhkAbort", move |ctx| {
                fired(ctx.env, id);
                Ok(())
            })?;
        call_method(
            env,
            signal.raw(),
            "addEventListener",
            &[env.create_string("abort")?.raw(), listener.raw()],
        )?;
        let entry = Entry {
            signal: reference(env, signal.raw())?,
            listener: reference(env, listener.raw())?,
            calls: vec![(job, flag)],
        };
        REGISTRY.with(|r| r.borrow_mut().entries.insert(id, entry));
        call(
            env,
            map,
            set,
            &[signal.raw(), env.create_int64(id as i64)?.raw()],
        )?;
        Ok(id)
    }

    /// The signal fired: every linked call is flagged, and those still waiting for the pool
    /// are rejected now.
    fn fired(env: &Env, id: u64) {
        let calls: Vec<u64> = REGISTRY.with(|r| {
            let r = r.borrow();
            r.entries.get(&id).map_or_else(Vec::new, |e| {
                e.calls
                    .iter()
                    .map(|(job, flag)| {
                        flag.store(true, Ordering::SeqCst);
                        *job
                    })
                    .collect()
            })
        });
        for job in calls {
            super::sched::abort_waiting(env, job);
        }
    }

    /// The signal of entry `id`, while a call is linked to it.
    pub(super) fn signal(env: &Env, id: u64) -> Option<sys::napi_value> {
        let r = REGISTRY.with(|r| r.borrow().entries.get(&id).map(|e| e.signal))?;
        value_of(env, r).ok()
    }

    /// Unlinks call `job`; the last call to leave removes the listener and the entry.
    pub(super) fn leave(env: &Env, id: u64, job: u64) {
        let emptied = REGISTRY.with(|r| {
            let mut r = r.borrow_mut();
            let entry = r.entries.get_mut(&id)?;
            entry.calls.retain(|(j, _)| *j != job);
            if entry.calls.is_empty() {
                r.entries.remove(&id)
            } else {
                None
            }
        });
        let Some(entry) = emptied else {
            return;
        };
        if let (Ok(signal), Ok(listener)) =
            (value_of(env, entry.signal), value_of(env, entry.listener))
        {
            if let Ok(abort) = env.create_string("abort") {
                let _ = call_method(env, signal, "removeEventListener", &[abort.raw(), listener]);
            }
            if let Ok([map, _, _, delete]) = weak_map(env) {
                let _ = call(env, map, delete, &[signal]);
            }
        }
        unsafe {
            sys::napi_delete_reference(env.raw(), entry.signal);
            sys::napi_delete_reference(env.raw(), entry.listener);
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
    let signal = signals::signal(env, link.signal)?;
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

/// How the async calls share the libuv pool, per JS thread (the main thread and each worker
/// have their own). Calls wait in a queue; up to `limit` runners, each an `AsyncTask` on the
/// pool, take calls from it in order and do them one after another, handing the outcomes
/// back to the JS thread in small batches (a runner stops for that after about a
/// millisecond of work or 64 calls, or when the queue is empty).
///
/// Signing is pure CPU: more signatures at once than there are cores only makes every one
/// of them wait for a core. The default limit is the number of cores, but one less than the
/// pool (and at least 1), so that the pool keeps a thread for `fs`, `dns.lookup` and `zlib`
/// however many calls wait. A runner goes straight on to the next call, without a round
/// trip through the event loop per call, and offers its core between calls to a waiting
/// thread, so that the event loop is not kept waiting when the runners fill every core.
pub mod sched {
    use super::Job;
    use napi::bindgen_prelude::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// How long a runner works before it hands back what it has done.
    const BATCH: Duration = Duration::from_millis(1);
    /// At most this many calls are handed back at once, so that settling them (a few
    /// microseconds each, on the event loop) stays short when each call is cheap (MD5).
    const MAX_BATCH: usize = 64;
    /// How much work a runner does before it offers its core to a waiting thread.
    const YIELD: Duration = Duration::from_micros(200);

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
        cores.min(pool_size().saturating_sub(1)).max(1)
    }

    type Queue = Arc<Mutex<VecDeque<Box<dyn Job>>>>;

    struct Sched {
        limit: usize,
        runners: usize,
        next_id: u64,
        queue: Queue,
    }

    thread_local! {
        static SCHED: RefCell<Sched> = RefCell::new(Sched {
            limit: default_limit(),
            runners: 0,
            next_id: 0,
            queue: Arc::default(),
        });
    }

    fn lock(queue: &Queue) -> MutexGuard<'_, VecDeque<Box<dyn Job>>> {
        // A job never panics while the lock is held (run() is outside it), so a poisoned
        // lock still holds a consistent queue.
        queue.lock().unwrap_or_else(|p| p.into_inner())
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

    /// Sets this thread's limit; more runners start at once if calls are waiting.
    pub fn set_limit(env: &Env, limit: usize) {
        SCHED.with(|s| s.borrow_mut().limit = limit);
        start_runners(env);
    }

    pub(super) fn submit(env: &Env, job: Box<dyn Job>) {
        let queue = SCHED.with(|s| s.borrow().queue.clone());
        lock(&queue).push_back(job);
        start_runners(env);
    }

    /// Starts runners while calls wait and the limit allows. Nothing is borrowed while napi
    /// runs, so a call made from inside (a listener, a getter) finds the state usable.
    fn start_runners(env: &Env) {
        loop {
            let queue = SCHED.with(|s| {
                let mut s = s.borrow_mut();
                if s.runners >= s.limit || lock(&s.queue).is_empty() {
                    return None;
                }
                s.runners += 1;
                Some(s.queue.clone())
            });
            let Some(queue) = queue else {
                return;
            };
            let runner = Runner {
                queue,
                done: Vec::new(),
                owner: std::thread::current().id(),
            };
            // The runner's own Promise is not needed: its calls settle their own.
            if unsafe { AsyncTask::to_napi_value(env.raw(), AsyncTask::new(runner)) }.is_err() {
                SCHED.with(|s| s.borrow_mut().runners -= 1);
                return;
            }
        }
    }

    /// A waiting call whose signal fired: out of the queue, rejected with its AbortError.
    /// (A call a runner has already taken finishes.)
    pub fn abort_waiting(env: &Env, id: u64) {
        let queue = SCHED.with(|s| s.borrow().queue.clone());
        let found = {
            let mut q = lock(&queue);
            q.iter()
                .position(|j| j.id() == id)
                .and_then(|at| q.remove(at))
        };
        if let Some(job) = found {
            job.abandon(env);
        }
    }

    /// Works through the queue on the pool.
    struct Runner {
        queue: Queue,
        done: Vec<Box<dyn Job>>,
        owner: std::thread::ThreadId,
    }

    impl Task for Runner {
        type Output = ();
        type JsValue = ();

        fn compute(&mut self) -> Result<()> {
            let start = Instant::now();
            let mut yielded = start;
            while start.elapsed() < BATCH && self.done.len() < MAX_BATCH {
                let Some(mut job) = lock(&self.queue).pop_front() else {
                    break;
                };
                job.run();
                self.done.push(job);
                // Between calls, at most every YIELD of work, the core is offered to a thread
                // that is waiting for it (the event loop, when the runners fill every core).
                if yielded.elapsed() >= YIELD {
                    std::thread::yield_now();
                    yielded = Instant::now();
                }
            }
            Ok(())
        }

        fn resolve(&mut self, env: Env, _: ()) -> Result<()> {
            for job in self.done.drain(..) {
                job.settle(&env);
            }
            Ok(())
        }

        fn finally(self, env: Env) -> Result<()> {
            drop(self);
            start_runners(&env);
            Ok(())
        }
    }

    impl Drop for Runner {
        fn drop(&mut self) {
            // Settled or not (a dying env), this runner no longer counts.
            if std::thread::current().id() == self.owner {
                SCHED.with(|s| {
                    let mut s = s.borrow_mut();
                    s.runners = s.runners.saturating_sub(1);
                });
            }
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
