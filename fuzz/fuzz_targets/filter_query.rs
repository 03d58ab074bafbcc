//! Fuzz target `filter_query`: the input and the invariants are described at
//! `privgate::fuzzing::filter_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::filter_query(data));
