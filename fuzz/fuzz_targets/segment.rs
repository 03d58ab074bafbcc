//! Fuzz target `segment`: the input and the invariants are described at
//! `privgate::fuzzing::segment`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::segment(data));
