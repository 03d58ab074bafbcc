//! Fuzz target `gpp`: the input and the invariants are described at
//! `privgate::fuzzing::gpp`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| privgate::fuzzing::gpp(data));
