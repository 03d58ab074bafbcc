//! Fuzz target `scrub_url`: the input and the invariants are described at
//! `privgate::fuzzing::scrub_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::scrub_url(data));
