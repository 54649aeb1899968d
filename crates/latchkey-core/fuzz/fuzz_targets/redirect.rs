//! Fuzzes the redirect / deep-link parser; the properties are in `../checks.rs`.
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::redirect(data));
