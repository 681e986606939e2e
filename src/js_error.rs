//! Core errors as JavaScript `Error` objects with a stable `code` and, for parameters,
//! the offending `field`.

use alipayhk_pay_core::{Error, ErrorCode};
use napi::bindgen_prelude::*;
use std::ptr;

/// Builds the JS error for a core error and hands it to napi-rs, which throws it (or, for
/// a Promise, rejects with it) as is.
pub fn to_js(env: &Env, err: Error) -> napi::Error {
    match build(env, &err) {
        Ok(value) => napi::Error::from(value),
        // The env could not even make an error object; fall back to napi-rs's own.
        Err(_) => napi::Error::new(Status::GenericFailure, err.message),
    }
}

fn build<'env>(env: &'env Env, err: &Error) -> Result<Unknown<'env>> {
    let raw_env = env.raw();
    let code = env.create_string(err.code.as_str())?;
    let message = env.create_string(&err.message)?;
    let mut value = ptr::null_mut();
    let status = unsafe {
        if err.code == ErrorCode::InvalidArgument {
            sys::napi_create_type_error(raw_env, code.raw(), message.raw(), &mut value)
        } else {
            sys::napi_create_error(raw_env, code.raw(), message.raw(), &mut value)
        }
    };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_status(Status::GenericFailure));
    }
    let mut object = Object::from_raw(raw_env, value);
    if let Some(field) = &err.field {
        object.set("field", field.as_str())?;
    }
    Ok(object.to_unknown())
}

/// The JS error of a core error, with more properties.
fn build_detailed(
    env: &Env,
    e: &Error,
    extra: Vec<(&'static str, Extra)>,
) -> Result<sys::napi_value> {
    let value = build(env, e)?;
    let mut object: Object = unsafe { value.cast()? };
    for (name, value) in extra {
        match value {
            Extra::Text(t) => object.set(name, t)?,
            Extra::Flag(b) => object.set(name, b)?,
        }
    }
    Ok(object.raw())
}

/// Why a binding call failed: a rule of ours (a coded core error) or the JavaScript engine
/// itself (an exception already pending, such as a getter that threw).
pub enum Fail {
    Core(Error),
    /// A coded error with more properties for the caller to branch on
    /// (`err.gatewayError`, `err.retryable`, `err.reason`).
    Detailed(Error, Vec<(&'static str, Extra)>),
    Js(napi::Error),
}

/// A property value of a [`Fail::Detailed`] error.
pub enum Extra {
    Text(String),
    Flag(bool),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}

impl From<napi::Error> for Fail {
    fn from(e: napi::Error) -> Self {
        Fail::Js(e)
    }
}

impl Fail {
    /// Names `field` on a core error that names none yet.
    pub fn in_field(self, field: &str) -> Self {
        match self {
            Fail::Core(e) => Fail::Core(e.in_field(field)),
            Fail::Detailed(e, extra) => Fail::Detailed(e.in_field(field), extra),
            js => js,
        }
    }

    pub fn into_js(self, env: &Env) -> napi::Error {
        match self {
            Fail::Core(e) => to_js(env, e),
            Fail::Detailed(e, extra) => match build_detailed(env, &e, extra) {
                Ok(value) => {
                    napi::Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
                }
                Err(_) => napi::Error::new(Status::GenericFailure, e.message),
            },
            Fail::Js(e) => e,
        }
    }
}

pub type Outcome<T> = std::result::Result<T, Fail>;

/// Runs a binding body and turns its failure into the JS error to throw.
pub fn run<T>(env: &Env, body: impl FnOnce() -> Outcome<T>) -> napi::Result<T> {
    guard(body).map_err(|f| thrown(env, f))
}

/// The error a sync call throws.
#[cfg(not(target_family = "wasm"))]
fn thrown(env: &Env, fail: Fail) -> napi::Error {
    fail.into_js(env)
}

/// The error a sync call throws. napi-rs keeps no reference to a JS error object on wasm
/// (its `From<Unknown>` copies only the message there), which would lose `code` and `field`:
/// the error is thrown here, and napi-rs leaves a pending exception as it is.
#[cfg(target_family = "wasm")]
fn thrown(env: &Env, fail: Fail) -> napi::Error {
    let value = match fail {
        Fail::Js(e) => return e,
        Fail::Core(e) => build(env, &e).map(|v| (v.raw(), e.message)),
        Fail::Detailed(e, extra) => build_detailed(env, &e, extra).map(|v| (v, e.message)),
    };
    match value {
        Ok((raw, message)) => {
            unsafe { sys::napi_throw(env.raw(), raw) };
            napi::Error::new(Status::PendingException, message)
        }
        Err(e) => e,
    }
}

/// Catches a panic (a bug of ours) so that it becomes an `ERR_ALIPAYHK_INTERNAL` error
/// instead of aborting the process. The panic's own text is not put into the message.
pub fn guard<T>(body: impl FnOnce() -> Outcome<T>) -> Outcome<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
        .unwrap_or_else(|_| Err(internal().into()))
}

/// The error a caught panic becomes.
pub fn internal() -> Error {
    Error::internal(
        "alipayhk-pay hit an internal error (a Rust panic, caught); nothing was signed or verified. Please report it with the stack trace",
    )
}
