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
//! validation, secrets), [`ingest`] (the tracker-facing HTTP server and the
//! wire protocols), [`event`] (the protocol-neutral event), [`json`] (reading JSON within
//! bounds: the top-level scan and the byte-level reader), [`consent`] (the
//! per-destination consent decision), [`policy`] (rules, selectors, PII
//! detectors), [`crypto`] (keys, HMAC, JWE), [`tls`] (rustls for the
//! listeners and the destinations), [`pipeline`] (consent and policy in
//! order, per destination), [`forward`] (per-destination queues, batching,
//! delivery, retries), [`admin`] (operator endpoints) and
//! [`metrics`] (every metric's name). [`app`] wires them together and
//! [`explain`] runs the same pipeline offline; the binary only parses the
//! command line.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod config;
pub mod consent;
pub mod crypto;
pub mod event;
pub mod explain;
pub mod forward;
pub mod fuzzing;
pub mod ingest;
pub mod json;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod protocol;
pub mod reload;
pub mod spool;
pub mod tls;
