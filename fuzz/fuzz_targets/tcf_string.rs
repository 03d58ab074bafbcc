//! Fuzz target `tcf_string`: the input and the invariants are described at
//! `privgate::fuzzing::tcf_string`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::tcf_string(data));
