//! Fuzz target `pii`: the input and the invariants are described at
//! `privgate::fuzzing::pii`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::pii(data));
