//! The [`Secret`] type: a resolved secret value (a write key, a token, an
//! API key), zeroized on drop, compared in constant time and never
//! printed (`Debug` and `Display` say `[redacted]`). Resolving references
//! (`env:NAME`, `file:PATH`) is config's; holding and comparing the value
//! is this module's.

use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A resolved secret value. Zeroized on drop, compared in constant time,
/// never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value (tests and generated keys).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The value, for the one place that must use it (a header, a key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a candidate (the length is not hidden).
    pub fn ct_eq(&self, candidate: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(candidate).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Checks `candidate` against every key without stopping at the first match,
/// so timing does not reveal which key (or how many) matched.
pub fn matches_any(keys: &[Secret], candidate: &[u8]) -> Option<usize> {
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        if key.ct_eq(candidate) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
    }

    #[test]
    fn matching_finds_the_key_index() {
        let keys = [Secret::new("a"), Secret::new("bb")];
        assert_eq!(matches_any(&keys, b"bb"), Some(1));
        assert_eq!(matches_any(&keys, b"b"), None);
        assert_eq!(matches_any(&keys, b""), None);
    }
}
