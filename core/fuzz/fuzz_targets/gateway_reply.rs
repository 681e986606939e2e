#![no_main]
//! Gateway replies (protocol §8.2–§8.6); the properties are in `src/gateway_reply.rs`.

#[path = "../src/gateway_reply.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::gateway_reply(data));
