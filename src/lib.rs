//! The JavaScript surface of `alipayhk-pay`: converts JS values, calls the core
//! (`alipayhk-pay-core`), and maps core errors to coded JS errors. No protocol rule lives here.
//!
//! Files are named for what a JS caller reaches through them: `orders` (buildOrderStr,
//! OrderSigner), `notifications` (verifyNotify, VerifiedNotification, decideNotify),
//! `order_str` (parseOrderStr, verifyOrderStr, verifyTradePayResult), `alipayhk` (the
//! `AlipayHK` front), `keys` (every key argument); `convert` and `js_error` are shared, and
//! `pool` is the async machinery, which knows nothing of Alipay. The JS-facing modules are
//! `pub` so that the test build (where napi-rs registers nothing) still sees them used.

#![deny(clippy::all)]

pub mod alipayhk;
mod convert;
pub mod gateway;
mod js_error;
mod keys;
pub mod notifications;
pub mod notify_checks;
pub mod order_str;
pub mod orders;
mod pool;
pub mod reconcile;
mod records;

use alipayhk_pay_core::merchant;
use alipayhk_pay_core::{BuildOptions, Error, Md5Key, OrderParams, Signer};
use convert::{describe, string_of};
use js_error::{run, Outcome};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use records::record_of;
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
            return Ok(pool::sched::limit() as u32);
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
        pool::sched::set_limit(&env, n as usize);
        Ok(n as u32)
    })
}

/// Puts `TRADE_PAY_RESULT_CODES` on the module: the resultCode table of `my.tradePay`.
#[napi(module_exports)]
pub fn module_exports(mut exports: Object, env: Env) -> Result<()> {
    let pairs: Vec<(String, String)> = merchant::TRADE_PAY_RESULT_CODES
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let table = record_of(&env, &pairs)?;
    check_status!(unsafe { sys::napi_object_freeze(env.raw(), table.raw()) })?;
    exports.set("TRADE_PAY_RESULT_CODES", table)?;
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
        return pool::promise(env, || {
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
            let mut task = crate::orders::SignOrderTask::new(signer, params);
            task.panic_for_tests = true;
            Ok((task, None))
        });
    }
    run(env, || -> Outcome<Unknown<'env>> {
        panic!("test hook: a panic on the JS thread")
    })
}
