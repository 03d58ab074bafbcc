//! Fuzz target `snowplow`: the input and the invariants are described at
//! `privgate::fuzzing::snowplow`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::snowplow(data));
