//! The core's integration tests, one file per subject, built as one test binary: one compile
//! of the shared helpers and one link instead of one per file, and the tests of all files run
//! side by side on the test threads. `cargo test -p alipayhk-pay-core --test core keys::`
//! runs one file's tests (the module path is the file name).

mod common;
mod gateway_support;
mod reconcile_support;

mod differential;
mod differential_verify;
mod fuzz_regressions;
mod gateway_fuzz;
mod gateway_hostile;
mod gateway_notify;
mod gateway_reply;
mod gateway_request;
mod keys;
mod notify_handling;
mod pre_sign;
mod reconcile;
mod reconcile_large;
mod reconcile_props;
mod safety_rules;
mod signing;
mod strict_rules;
mod verification;
