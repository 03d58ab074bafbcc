//! Fuzz target `parse_event`: the input and the invariants are described at
//! `privgate::fuzzing::parse_event`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::parse_event(data));
