//! Fuzz target `pii_context`: the input and the invariants are described
//! at `privgate::fuzzing::pii_context`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::pii_context(data));
