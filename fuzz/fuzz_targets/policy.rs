//! Fuzz target `policy`: the input and the invariants are described at
//! `privgate::fuzzing::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::policy(data));
