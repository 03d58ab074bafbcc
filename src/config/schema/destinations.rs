//! `[[destinations]]`: where events go and how they are delivered.

use super::Rule;
use crate::config::units::{ByteSize, Dur};
use crate::forward::settings::{BatchFormat, Compression, Delivery, DestinationKind, Encrypt};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// `tls = { ... }` of an `http` destination with an `https://` url.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DestinationTls {
    /// PEM bundle of CA certificates (`"file:PATH"` or a plain path): when
    /// set, the only ones trusted, instead of the built-in webpki roots.
    pub ca: Option<Spanned<String>>,
    /// PEM client certificate chain, presented when the server asks (mTLS);
    /// needs `client_key`.
    pub client_cert: Option<Spanned<String>>,
    /// Its private key: `"file:PATH"` or `"env:NAME"`; needs `client_cert`.
    pub client_key: Option<Spanned<String>>,
}

/// `[[destinations]]`: a backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Destination {
    /// Unique name, used in metrics and logs.
    pub name: Spanned<String>,
    /// Its name for people, on the privacy page (`GET /privacy`); default
    /// `name`.
    pub display_name: Option<Spanned<String>>,
    /// What it is and what it is used for, in a sentence or two, on the
    /// privacy page.
    pub description: Option<Spanned<String>>,
    /// `http`, `file` or `stdout`.
    pub kind: Spanned<DestinationKind>,
    /// `http`: where batches are POSTed.
    pub url: Option<Spanned<String>>,
    /// `http`: the batch body format; by default the protocol of the
    /// sources that feed it (`segment` for Segment, RudderStack and JSON
    /// sources, `amplitude`, `posthog`, `snowplow`, `ga4` or `ga4_mp` for
    /// sources of that protocol).
    pub format: Option<Spanned<BatchFormat>>,
    /// `http` with `format = "amplitude"` or `"posthog"`: the project's API
    /// key (a literal, or an `env:`/`file:` reference); with `format =
    /// "ga4_mp"` (also spelled `api_secret`): the stream's Measurement
    /// Protocol API secret, added to the url as `api_secret`.
    #[serde(alias = "api_secret")]
    pub api_key: Option<Spanned<String>>,
    /// `http`: the batch body as it is (`none`, default) or gzipped
    /// (`gzip`, with `Content-Encoding: gzip`).
    #[serde(default)]
    pub compression: Compression,
    /// `http`: extra headers with non-secret values.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// `http`: extra headers whose values are `env:`/`file:` references.
    #[serde(default)]
    pub secret_headers: BTreeMap<String, Spanned<String>>,
    /// `http`: TCP connect timeout per attempt.
    #[serde(default = "Destination::default_connect_timeout")]
    pub connect_timeout: Dur,
    /// `http`: whole-request timeout per attempt.
    #[serde(default = "Destination::default_request_timeout")]
    pub request_timeout: Dur,
    /// `http`: batches in flight at once: a number (fixed), or `"adaptive"`
    /// (default: as many as the backend keeps up with, up to
    /// `max_concurrency`).
    #[serde(default = "Destination::default_concurrency")]
    pub concurrency: Spanned<ConcurrencyKey>,
    /// `http` with `concurrency = "adaptive"`: the most batches in flight
    /// (default 32).
    pub max_concurrency: Option<Spanned<i64>>,
    /// `http`: retry policy.
    #[serde(default)]
    pub retry: Retry,
    /// `http`: when to stop sending to a failing backend for a while.
    #[serde(default)]
    pub circuit_breaker: CircuitBreaker,
    /// `http` with an `https://` url: whom to trust, what to present.
    pub tls: Option<Spanned<DestinationTls>>,
    /// `file`: the file to append to.
    pub path: Option<Spanned<String>>,
    /// `file`: start a new file once the current one would pass this size
    /// (the old one is renamed `<path>.<UTC time>`).
    pub rotate_bytes: Option<ByteSize>,
    /// `file`: start a new file once the current one is this old.
    pub rotate_every: Option<Spanned<Dur>>,
    /// `file`: delete rotated files this long after they were rotated.
    pub retain: Option<Spanned<Dur>>,
    /// `payload`: every batch body becomes a JWE (AES-256-GCM, active key).
    #[serde(default = "Destination::default_encrypt")]
    pub encrypt: Spanned<Encrypt>,
    /// Only these fields reach the destination (minimization); all when unset.
    pub allow: Option<Vec<Spanned<String>>>,
    /// This destination's own rules, after the global ones.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Purposes an event must have consent for to reach this destination.
    #[serde(default)]
    pub require_consent: Vec<String>,
    /// `all` purposes (default) or `any` one of them.
    #[serde(default, rename = "match")]
    pub consent_match: crate::consent::Match,
    /// The destination's vendor id in the IAB Global Vendor List: when an
    /// event carries a TC string, that vendor must have consent in it too.
    pub tcf_vendor: Option<u16>,
    /// Whether events of ids in the opt-out registry are kept from this
    /// destination, whatever it requires (default true). `false` only for
    /// destinations that must see everyone (security, fraud); `check` warns.
    #[serde(default = "Destination::default_honor_opt_out")]
    pub honor_opt_out: bool,
    /// `durable` (default for `http`) or `memory` (default otherwise).
    pub delivery: Option<Spanned<Delivery>>,
    /// `memory` delivery: events waiting for this destination before
    /// ingest answers 503 (durable destinations are bounded by
    /// `[spool] max_bytes` instead).
    #[serde(default = "Destination::default_queue")]
    pub queue_max_events: Spanned<u64>,
    /// Batching limits.
    #[serde(default)]
    pub batch: Batch,
    /// `http`: the call that asks the backend to delete a subject's data
    /// (`POST /admin/subjects/erase`); without it, erasure reports
    /// `NOT_SUPPORTED` for this destination.
    pub deletion: Option<Spanned<super::Deletion>>,
}

impl Destination {
    fn default_honor_opt_out() -> bool {
        true
    }
    fn default_encrypt() -> Spanned<Encrypt> {
        Spanned::new(0..0, Encrypt::None)
    }
    fn default_connect_timeout() -> Dur {
        Dur(Duration::from_secs(2))
    }
    fn default_request_timeout() -> Dur {
        Dur(Duration::from_secs(10))
    }
    fn default_concurrency() -> Spanned<ConcurrencyKey> {
        Spanned::new(0..0, ConcurrencyKey::Adaptive)
    }
    fn default_queue() -> Spanned<u64> {
        Spanned::new(0..0, 10_000)
    }
}

/// `concurrency` as written: an integer, or the string `"adaptive"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConcurrencyKey {
    /// `concurrency = N` (range checked by validation).
    Fixed(i64),
    /// `concurrency = "adaptive"`.
    Adaptive,
}

impl<'de> Deserialize<'de> for ConcurrencyKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ConcurrencyKey;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "an integer (a fixed number of batches in flight, 1 to 256) or \"adaptive\"",
                )
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ConcurrencyKey, E> {
                Ok(ConcurrencyKey::Fixed(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ConcurrencyKey, E> {
                Ok(ConcurrencyKey::Fixed(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConcurrencyKey, E> {
                if v == "adaptive" {
                    Ok(ConcurrencyKey::Adaptive)
                } else {
                    Err(E::invalid_value(serde::de::Unexpected::Str(v), &self))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// `batch = { ... }`: when a batch is sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    /// Send once this many events are waiting.
    #[serde(default = "Batch::default_max_events")]
    pub max_events: Spanned<u64>,
    /// Send before the body would exceed this size.
    #[serde(default = "Batch::default_max_bytes")]
    pub max_bytes: ByteSize,
    /// Send once the oldest waiting event has waited this long.
    #[serde(default = "Batch::default_max_wait")]
    pub max_wait: Dur,
}

impl Batch {
    fn default_max_events() -> Spanned<u64> {
        Spanned::new(0..0, 500)
    }
    fn default_max_bytes() -> ByteSize {
        ByteSize(1 << 20)
    }
    fn default_max_wait() -> Dur {
        Dur(Duration::from_millis(200))
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            max_events: Batch::default_max_events(),
            max_bytes: Batch::default_max_bytes(),
            max_wait: Batch::default_max_wait(),
        }
    }
}

/// `retry = { ... }`: retries of failed HTTP batches.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Retry {
    /// Attempts after the first one before the batch is given up (and counted).
    #[serde(default = "Retry::default_max_retries")]
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each time, with full jitter.
    #[serde(default = "Retry::default_initial")]
    pub initial_backoff: Dur,
    /// Upper bound of one backoff (and of an honoured `Retry-After`).
    #[serde(default = "Retry::default_max")]
    pub max_backoff: Dur,
}

impl Retry {
    fn default_max_retries() -> u32 {
        8
    }
    fn default_initial() -> Dur {
        Dur(Duration::from_millis(100))
    }
    fn default_max() -> Dur {
        Dur(Duration::from_secs(10))
    }
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: Retry::default_max_retries(),
            initial_backoff: Retry::default_initial(),
            max_backoff: Retry::default_max(),
        }
    }
}

/// `circuit_breaker = { ... }`: after `failures` consecutive failed
/// attempts, nothing is sent for `cooldown`; then one probe. A failed probe
/// doubles the cooldown, up to `max_cooldown`. Batches wait meanwhile (the
/// queue or spool fills and ingest answers 503); none is dropped for it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CircuitBreaker {
    /// Consecutive failed attempts that open the breaker.
    #[serde(default = "CircuitBreaker::default_failures")]
    pub failures: u32,
    /// The first pause once open.
    #[serde(default = "CircuitBreaker::default_cooldown")]
    pub cooldown: Dur,
    /// The longest pause.
    #[serde(default = "CircuitBreaker::default_max_cooldown")]
    pub max_cooldown: Dur,
}

impl CircuitBreaker {
    fn default_failures() -> u32 {
        5
    }
    fn default_cooldown() -> Dur {
        Dur(Duration::from_secs(5))
    }
    fn default_max_cooldown() -> Dur {
        Dur(Duration::from_secs(60))
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        CircuitBreaker {
            failures: CircuitBreaker::default_failures(),
            cooldown: CircuitBreaker::default_cooldown(),
            max_cooldown: CircuitBreaker::default_max_cooldown(),
        }
    }
}
