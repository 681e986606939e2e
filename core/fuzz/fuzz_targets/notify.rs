#![no_main]
//! See README.md and `alipayhk_pay_core_fuzz::notify` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| alipayhk_pay_core_fuzz::notify(data));
