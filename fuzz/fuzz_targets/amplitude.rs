//! Fuzz target `amplitude`: the input and the invariants are described at
//! `privgate::fuzzing::amplitude`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::amplitude(data));
