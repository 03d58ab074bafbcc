//! privgate: a privacy edge collector.
//!
//! privgate sits between analytics trackers (analytics.js, analytics-node,
//! RudderStack, ...) and the backends they report to. Events flow one way:
//!
//! ```text
//! trackers ──HTTP──▶ ingest ──▶ pipeline (consent, policy) ──▶ forward ──▶ backends
//! ```
//!
//! Every module owns one thing, named after it: [`config`] (schema,
//! validation, compilation, secrets), [`ingest`] (the tracker-facing HTTP
//! server), [`tracker_http`] (the answers and errors ingest and the codecs
//! share), [`protocol`] (one codec per tracker wire format, used by
//! ingest, forward and explain alike), [`event`] (the protocol-neutral
//! event), [`json`] (reading JSON within bounds: the top-level scan and
//! the byte-level reader), [`spool`] (the durable write-ahead log), [`consent`] (the
//! per-destination consent decision), [`policy`] (rules, selectors, PII
//! detectors), [`crypto`] (keys, HMAC, JWE), [`tls`] (rustls for the
//! listeners and the destinations), [`pipeline`] (consent and policy in
//! order, per destination), [`forward`] (per-destination queues, batching,
//! delivery, retries), [`privacy`] (the public notice at `GET /privacy`),
//! [`admin`] (operator endpoints) and
//! [`metrics`] (every metric's name). [`app`] wires them together and
//! [`explain`] runs the same pipeline offline; the binary only parses the
//! command line. `docs/architecture.md` draws the data flow and says what
//! each module owns and must never do.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]

mod admin;
pub mod app;
pub mod audit;
pub mod config;
pub mod consent;
pub mod crypto;
pub mod event;
pub mod explain;
mod forward;
/// The fuzz targets' checks: only with the `fuzzing` feature, which the
/// fuzz crate (`fuzz/`) and `tests/fuzz_fallback.rs` (through privgate's
/// dev-dependency on itself) turn on; not part of the library's API.
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod ingest;
pub mod json;
pub mod metrics;
/// The PII detectors scored on the labeled corpus (`tests/data/pii/`):
/// only with the `pii-eval` feature, for `benches/pii_eval.rs` and
/// `tests/pii_corpus.rs`; not part of the library's API.
#[cfg(feature = "pii-eval")]
pub mod pii_eval;
pub mod pipeline;
pub mod policy;
mod privacy;
pub mod protocol;
mod reload;
mod spool;
mod tls;
mod tracker_http;
