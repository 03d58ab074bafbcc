//! Fuzz target `collect`: the input and the invariants are described at
//! `privgate::fuzzing::collect`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::collect(data));
