//! Fuzz target `selector`: the input and the invariants are described at
//! `privgate::fuzzing::selector`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::selector(data));
