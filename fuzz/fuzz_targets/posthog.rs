//! Fuzz target `posthog`: the input and the invariants are described at
//! `privgate::fuzzing::posthog`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::posthog(data));
