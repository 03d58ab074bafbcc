//! What forward is built from: `[[destinations]]` as config validated
//! them. Forward owns these types and config constructs them, so forward
//! never reads the config itself.

use crate::crypto::secret::Secret;
use crate::protocol::Protocol;
use http::{HeaderName, HeaderValue, Uri};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Everything forward is built from, borrowed from the compiled config
/// (`Config::forward`): the destinations and what they share.
#[derive(Clone, Copy, Debug)]
pub struct Destinations<'a> {
    /// `[[destinations]]`, in file order.
    pub destinations: &'a [DestinationConfig],
    /// `[spool]`, for the durable ones.
    pub spool: &'a crate::spool::SpoolConfig,
    /// The keys that seal payloads and the spool.
    pub keyring: &'a std::sync::Arc<crate::crypto::Keyring>,
}

/// A destination, validated.
#[derive(Debug)]
pub struct DestinationConfig {
    /// Unique name.
    pub name: String,
    /// Its name for people (the privacy page); `name` unless set.
    pub display_name: String,
    /// What it is for, in the operator's words (the privacy page).
    pub description: Option<String>,
    /// Its allow list as written (the privacy page; `policy` holds it
    /// compiled).
    pub allow: Option<Vec<String>>,
    /// How it delivers.
    pub sink: SinkConfig,
    /// When a client's events count as accepted.
    pub delivery: Delivery,
    /// `Delivery::Memory`: queue bound, in events.
    pub queue_max_events: usize,
    /// Batching limits.
    pub batch: BatchConfig,
    /// Whether each batch body is sealed as a JWE.
    pub encrypt: Encrypt,
    /// Consent this destination requires.
    pub consent: crate::consent::Requirement,
    /// The call that asks its backend to delete a subject's data.
    pub deletion: Option<super::deletion::DeletionConfig>,
    /// This destination's rules (after the global ones) and the fields it
    /// keeps (minimization; everything when it has no allow list), compiled
    /// for each protocol.
    pub policy: crate::policy::Policies,
}

/// `Delivery::Memory`: the bytes a destination's queue may hold, events
/// in flight included: what `queue_max_events` events make in full
/// batches, `batch.max_bytes` for every `batch.max_events` of them (20 MiB
/// with the defaults). Events no larger than a full batch's share
/// (`max_bytes / max_events`, about 2 KiB by default) meet the count bound
/// first; larger ones meet this one, so the queue never holds more than
/// that many batches' worth of bytes, whatever the events' sizes.
pub(crate) fn queue_max_bytes(dest: &DestinationConfig) -> usize {
    let batches = dest.queue_max_events.div_ceil(dest.batch.max_events.max(1));
    batches.max(1).saturating_mul(dest.batch.max_bytes)
}

/// Delivery-specific settings.
#[derive(Debug)]
pub enum SinkConfig {
    /// POST batches over HTTP.
    Http(Box<HttpSinkConfig>),
    /// Append NDJSON to a file.
    File(FileSinkConfig),
    /// Print NDJSON on stdout.
    Stdout,
}

/// A file destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The file appended to.
    pub path: PathBuf,
    /// Rotate before the file would pass this size.
    pub rotate_bytes: Option<u64>,
    /// Rotate once the file is this old.
    pub rotate_every: Option<Duration>,
    /// Delete rotated files this long after their rotation.
    pub retain: Option<Duration>,
}

/// An HTTP destination.
#[derive(Debug)]
pub struct HttpSinkConfig {
    /// Batch URL.
    pub url: Uri,
    /// Body format (settled once the sources are known; see
    /// `Validator::formats`).
    pub format: BatchFormat,
    /// `format = "amplitude"`: the API key every batch names.
    pub api_key: Option<Secret>,
    /// Whether batch bodies are gzipped.
    pub compression: Compression,
    /// Extra headers (secret values included; never print them).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Connect timeout per attempt.
    pub connect_timeout: Duration,
    /// Request timeout per attempt.
    pub request_timeout: Duration,
    /// Batches in flight at once.
    pub concurrency: Concurrency,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Circuit breaker.
    pub breaker: BreakerConfig,
    /// Trust and client certificate for `https://`.
    pub tls: crate::tls::ClientTls,
}

/// `concurrency`: how many batches of a destination are in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// Exactly this many at most (`concurrency = N`).
    Fixed(usize),
    /// As many as the backend keeps up with, found by
    /// [`super::concurrency::Controller`], at most `max`
    /// (`concurrency = "adaptive"`, `max_concurrency`).
    Adaptive {
        /// `max_concurrency`.
        max: usize,
    },
}

/// Circuit breaker of an HTTP destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed attempts that open it.
    pub failures: u32,
    /// First cooldown.
    pub cooldown: Duration,
    /// Longest cooldown.
    pub max_cooldown: Duration,
}

/// Retry policy of an HTTP destination.
#[derive(Clone, Copy, Debug)]
pub struct RetryConfig {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
}

/// Batching limits.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Events per batch.
    pub max_events: usize,
    /// Bytes per batch body.
    pub max_bytes: usize,
    /// Longest wait of the oldest event.
    pub max_wait: Duration,
}

/// `delivery`: when a client gets its 2xx.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// After the event is in the destination's spool on disk (default for
    /// `http`): acknowledged events survive crashes and backend outages.
    Durable,
    /// After the event is in the destination's memory queue (default for
    /// `file` and `stdout`): a crash loses what is queued.
    Memory,
}

/// How an http destination's batch bodies travel.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// As they are.
    #[default]
    None,
    /// Gzipped, with `Content-Encoding: gzip`.
    Gzip,
}

/// How a destination delivers.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DestinationKind {
    /// POST batches to `url`.
    Http,
    /// Append NDJSON to `path`.
    File,
    /// Print NDJSON to standard output.
    Stdout,
}

/// The body of an HTTP batch.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BatchFormat {
    /// `{"batch":[event, ...]}`, as the Segment batch API (and RudderStack's
    /// `/v1/batch`) takes it.
    #[default]
    Segment,
    /// `{"api_key":...,"events":[event, ...]}`, Amplitude's HTTP API v2.
    Amplitude,
    /// `{"api_key":...,"batch":[event, ...]}`, PostHog's `/batch/`.
    Posthog,
    /// `{"schema":"iglu:...payload_data/jsonschema/1-0-4","data":[event,
    /// ...]}`, Snowplow's tracker protocol (`/com.snowplowanalytics.snowplow/tp2`),
    /// each event's contexts re-encoded as they arrived.
    Snowplow,
    /// GA4 gtag.js hits, one query string per line (`/g/collect`).
    Ga4,
    /// GA4 Measurement Protocol bodies, one event per request
    /// (`/mp/collect`, with the destination's `api_secret`).
    #[serde(rename = "ga4_mp")]
    Ga4Mp,
    /// One event per line.
    Ndjson,
}

impl BatchFormat {
    /// The most events one request may carry: gtag.js hits at most 20 (the
    /// bound issue #5 sets; Google documents none for `/g/collect`, and 25
    /// events for the Measurement Protocol), and a Measurement Protocol
    /// body names one client, which only a batch of one event guarantees.
    pub fn max_events(self) -> Option<usize> {
        match self {
            BatchFormat::Ga4 => Some(20),
            BatchFormat::Ga4Mp => Some(1),
            BatchFormat::Segment
            | BatchFormat::Amplitude
            | BatchFormat::Posthog
            | BatchFormat::Snowplow
            | BatchFormat::Ndjson => None,
        }
    }

    /// Where the vendor takes batches of this format, for a destination
    /// `url` that names only a host (`https://eu.i.posthog.com`).
    pub fn vendor_path(self) -> Option<&'static str> {
        Some(match self {
            BatchFormat::Segment => "/v1/batch",
            BatchFormat::Amplitude => "/2/httpapi",
            BatchFormat::Posthog => "/batch/",
            BatchFormat::Snowplow => "/com.snowplowanalytics.snowplow/tp2",
            BatchFormat::Ga4 => "/g/collect",
            // The stream goes in the query: no path alone will do.
            BatchFormat::Ga4Mp | BatchFormat::Ndjson => return None,
        })
    }

    /// The name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchFormat::Segment => "segment",
            BatchFormat::Amplitude => "amplitude",
            BatchFormat::Posthog => "posthog",
            BatchFormat::Snowplow => "snowplow",
            BatchFormat::Ga4 => "ga4",
            BatchFormat::Ga4Mp => "ga4_mp",
            BatchFormat::Ndjson => "ndjson",
        }
    }

    /// The format a batch of `protocol`'s events takes in its own protocol.
    pub fn native(protocol: Protocol) -> BatchFormat {
        match protocol {
            Protocol::Segment | Protocol::Rudderstack | Protocol::Json => BatchFormat::Segment,
            Protocol::Amplitude => BatchFormat::Amplitude,
            Protocol::Posthog => BatchFormat::Posthog,
            Protocol::Snowplow => BatchFormat::Snowplow,
            Protocol::Ga4 => BatchFormat::Ga4,
            Protocol::Ga4Mp => BatchFormat::Ga4Mp,
        }
    }

    /// Whether a batch of this format can carry `protocol`'s events.
    pub fn carries(self, protocol: Protocol) -> bool {
        self == BatchFormat::Ndjson || self == BatchFormat::native(protocol)
    }
}

/// What a destination encrypts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Encrypt {
    /// Nothing.
    #[default]
    None,
    /// The whole batch body, as a JWE compact string.
    Payload,
}
