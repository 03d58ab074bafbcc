//! Fuzz target `tcf`: the input and the invariants are described at
//! `privgate::fuzzing::tcf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::tcf(data));
