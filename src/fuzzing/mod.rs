//! Fuzzing entry points: one function per fuzz target in `fuzz/`, each
//! taking arbitrary bytes, running one decoder or transform on them and
//! panicking when an invariant breaks. The cargo-fuzz targets
//! (coverage-guided, docs/development.md, "Fuzzing") and `tests/fuzz_fallback.rs`
//! (proptest, part of `cargo test`) call these same functions, so every
//! check is written once.
//!
//! A target that needs more than bytes (a route, a size cap, a set of
//! detectors or kept parameters) reads it from the first bytes of its
//! input, so the fuzzer explores those choices too.
//!
//! Where there is a strict reference (`serde_json::Value`, the `url` and
//! `form_urlencoded` crates, `flate2` read in small steps), the checks
//! compare against it; where there is none, they check what the code
//! promises: caps hold, outputs are well-formed, a second pass changes
//! nothing. Bugs found and not fixed yet are exempted where marked `KNOWN
//! BUG` (fuzz/artifacts-found/README.md).
//!
//! One file per family of targets: `ingest.rs` (a body and Segment-style
//! JSON), `trackers.rs` (the other trackers' codecs), `policy.rs`
//! (selectors, URLs, PII, a whole policy), `consent.rs` (TC and GPP strings); the
//! checks they share are here.
//!
//! Not an API: only built with the `fuzzing` feature, hidden from the docs, never used by the server, and free to
//! change with the targets.
#![doc(hidden)]

mod consent;
mod ingest;
mod policy;
mod trackers;

pub use consent::{gpp, tcf, tcf_string};
pub use ingest::{collect, gunzip, parse_event, segment};
pub use policy::{filter_query, pii, pii_context, policy, scrub_url, selector};
pub use trackers::{amplitude, ga4, posthog, snowplow};

use crate::ingest::error::IngestError;
use crate::json::Limits;
use serde::de::IgnoredAny;
use serde_json::Value;

/// A target: runs on any input, panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/`.
pub const TARGETS: [(&str, Target); 17] = [
    ("gunzip", gunzip),
    ("segment", segment),
    ("collect", collect),
    ("parse_event", parse_event),
    ("selector", selector),
    ("scrub_url", scrub_url),
    ("filter_query", filter_query),
    ("pii", pii),
    ("pii_context", pii_context),
    ("policy", policy),
    ("tcf", tcf),
    ("tcf_string", tcf_string),
    ("gpp", gpp),
    ("snowplow", snowplow),
    ("posthog", posthog),
    ("amplitude", amplitude),
    ("ga4", ga4),
];

/// A decoder's key callback that accepts every key and notes it.
fn noting(keys: &mut Vec<String>) -> impl FnMut(&str) -> Result<(), IngestError> + '_ {
    |key| {
        keys.push(key.to_owned());
        Ok(())
    }
}

/// The strict reading of `json`, if it has one.
/// `json` as `serde_json::Value` reads it, if that is also within ingest's
/// default bounds (depth, fields, batch size): the values ingest must accept.
fn strict(json: &[u8]) -> Option<Value> {
    let value: Value = serde_json::from_slice(json).ok()?;
    let limits = Limits::default();
    let (depth, fields, longest) = measure(&value);
    (depth <= limits.max_depth && fields <= limits.max_fields && longest <= limits.max_batch)
        .then_some(value)
}

/// Nesting depth (a scalar is 0), object members, and the longest array.
fn measure(value: &Value) -> (usize, usize, usize) {
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Object(o) => Box::new(o.values()),
        Value::Array(a) => Box::new(a.iter()),
        _ => return (0, 0, 0),
    };
    let own = match value {
        Value::Object(o) => (o.len(), 0),
        Value::Array(a) => (0, a.len()),
        _ => (0, 0),
    };
    children.fold((1, own.0, own.1), |(d, f, l), child| {
        let (cd, cf, cl) = measure(child);
        (d.max(cd + 1), f + cf, l.max(cl))
    })
}

fn assert_utf8(bytes: &[u8]) {
    assert!(std::str::from_utf8(bytes).is_ok(), "accepted invalid UTF-8");
}

/// `json` is one well-formed JSON value (serde_json stops at 128 levels;
/// deeper values are only copied, so they are not held against the code).
fn assert_well_formed(json: &[u8], what: &str) {
    if let Err(e) = serde_json::from_slice::<IgnoredAny>(json) {
        assert!(
            e.to_string().starts_with("recursion limit exceeded"),
            "{what} is not JSON ({e}): {:?}",
            String::from_utf8_lossy(json)
        );
    }
}
