//! Fuzz target `ga4`: the input and the invariants are described at
//! `privgate::fuzzing::ga4`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::ga4(data));
