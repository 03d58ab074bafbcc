//! Fuzz target `gunzip`: the input and the invariants are described at
//! `privgate::fuzzing::gunzip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::gunzip(data));
