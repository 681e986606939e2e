//! The link between a caller's `AbortSignal` and the calls queued with it: one `abort`
//! listener per signal and JS thread, a flag each call reads on the pool before it starts, and
//! the `AbortError` an aborted call rejects with. Knows nothing of Alipay.

use crate::convert::is_nullish;
use crate::js_error::Outcome;
use alipayhk_pay_core::Error;
use napi::bindgen_prelude::*;
use napi::JsValue;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
pub(super) struct AbortLink {
    flag: Arc<AtomicBool>,
    /// The signal's entry in this thread's registry.
    signal: u64,
    job: u64,
}

impl AbortLink {
    pub(super) fn new(env: &Env, signal: &Unknown<'_>, job: u64) -> Result<AbortLink> {
        let flag = Arc::new(AtomicBool::new(false));
        let entry = signals::join(env, signal, job, flag.clone())?;
        Ok(AbortLink {
            flag,
            signal: entry,
            job,
        })
    }

    pub(super) fn aborted(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Leaves the signal's entry; the last call to leave removes the listener (JS thread only).
    pub(super) fn release(self, env: &Env) {
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
            crate::pool::sched::abort_waiting(env, job);
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
pub(super) fn abort_error(env: &Env, reason: Option<sys::napi_value>) -> Result<sys::napi_value> {
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

pub(super) fn signal_reason(env: &Env, link: &AbortLink) -> Option<sys::napi_value> {
    let signal = signals::signal(env, link.signal)?;
    let object = Object::from_raw(env.raw(), signal);
    object
        .get_named_property::<Unknown>("reason")
        .ok()
        .map(|r| r.raw())
}
