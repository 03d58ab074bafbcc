//! The file format of `proxy.toml`, as serde types.
//!
//! These structs are the config reference: every field's doc comment says
//! what it does. Unknown keys are rejected everywhere (a mistyped privacy
//! setting must fail loudly, never be skipped). Values that need semantic
//! checks carry their position ([`Spanned`]) so that errors can point at
//! file:line:column; the checks themselves live in `validate`.

use super::units::{ByteSize, Dur};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The tracker-facing listener.
    #[serde(default)]
    pub server: Server,
    /// The operator listener.
    #[serde(default)]
    pub admin: Admin,
    /// What traffic is accepted.
    #[serde(default)]
    pub sources: Vec<Source>,
    /// Where events are delivered.
    #[serde(default)]
    pub destinations: Vec<Destination>,
    /// How consent is decided.
    #[serde(default)]
    pub consent: Consent,
    /// Keys for hashing and encryption.
    #[serde(default)]
    pub keys: Keys,
    /// Global privacy rules, applied in order to every event.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Where and how durable destinations keep events until delivered.
    #[serde(default)]
    pub spool: Spool,
}

/// `[spool]`: the on-disk write-ahead log of `delivery = "durable"`
/// destinations (one directory per destination under `dir`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spool {
    /// The directory; relative paths are relative to the config file.
    #[serde(default = "Spool::default_dir")]
    pub dir: Spanned<String>,
    /// When an acknowledged event is on stable storage: `always` (the
    /// default: fsync before every answer; what arrives during one fsync
    /// shares the next), `interval` (at most one fsync per
    /// `fsync_interval`, for disks where syncs are slow; answers wait for
    /// it) or `never` (the OS decides; a power loss can lose acknowledged
    /// events, a process crash cannot).
    #[serde(default)]
    pub fsync: Fsync,
    /// `fsync = "interval"`: the group-commit window.
    #[serde(default = "Spool::default_fsync_interval")]
    pub fsync_interval: Dur,
    /// Per destination: beyond this many bytes on disk, ingest answers 503.
    #[serde(default = "Spool::default_max_bytes")]
    pub max_bytes: ByteSize,
    /// Per destination: undelivered events older than this are deleted and
    /// counted (`privgate_events_dropped_total{reason="expired"}`).
    #[serde(default = "Spool::default_max_age")]
    pub max_age: Dur,
    /// Size at which a segment file is closed and a new one started; whole
    /// segments are deleted once delivered. 4KiB to 1GiB.
    #[serde(default = "Spool::default_segment_bytes")]
    pub segment_bytes: ByteSize,
}

impl Spool {
    fn default_dir() -> Spanned<String> {
        Spanned::new(0..0, "./privgate-spool".to_owned())
    }
    fn default_fsync_interval() -> Dur {
        Dur(Duration::from_millis(10))
    }
    fn default_max_bytes() -> ByteSize {
        ByteSize(1 << 30)
    }
    fn default_max_age() -> Dur {
        Dur(Duration::from_secs(7 * 24 * 3600))
    }
    fn default_segment_bytes() -> ByteSize {
        ByteSize(16 << 20)
    }
}

impl Default for Spool {
    fn default() -> Self {
        Spool {
            dir: Spool::default_dir(),
            fsync: Fsync::default(),
            fsync_interval: Spool::default_fsync_interval(),
            max_bytes: Spool::default_max_bytes(),
            max_age: Spool::default_max_age(),
            segment_bytes: Spool::default_segment_bytes(),
        }
    }
}

/// `[spool] fsync`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before every answer (group commit).
    #[default]
    Always,
    /// Once per `fsync_interval` (group commit).
    Interval,
    /// Never explicitly (only when a segment is closed).
    Never,
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

/// `[server]`: the listener trackers talk to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address to bind, e.g. `"127.0.0.1:8080"` or `"[::]:8080"`.
    #[serde(default = "Server::default_listen")]
    pub listen: Spanned<String>,
    /// Largest request body on the wire; larger bodies get 413.
    #[serde(default = "Server::default_max_body")]
    pub max_body_bytes: ByteSize,
    /// Largest body after decompression; larger gets 413 (gzip bombs).
    #[serde(default = "Server::default_max_decompressed")]
    pub max_decompressed_bytes: ByteSize,
    /// Deepest nesting of objects and arrays in one event (the event is 1;
    /// at most 128); deeper gets 400 `too_complex`.
    #[serde(default = "Server::default_max_json_depth")]
    pub max_json_depth: Spanned<u64>,
    /// Most object members in one event, all levels together; more gets
    /// 400 `too_complex`.
    #[serde(default = "Server::default_max_event_fields")]
    pub max_event_fields: Spanned<u64>,
    /// Most events in one batch request; more gets 413 `too_many_events`.
    #[serde(default = "Server::default_max_batch_events")]
    pub max_batch_events: Spanned<u64>,
    /// Most header fields in one request; more gets 431.
    #[serde(default = "Server::default_max_headers")]
    pub max_headers: Spanned<u64>,
    /// Largest request head (request line and headers; at least 8KiB);
    /// larger gets 431.
    #[serde(default = "Server::default_max_header_bytes")]
    pub max_header_bytes: ByteSize,
    /// Client connections served at once; beyond it new connections wait
    /// in the listen backlog.
    #[serde(default = "Server::default_max_connections")]
    pub max_connections: Spanned<u64>,
    /// Bytes all requests in flight may hold together (heads, bodies, and
    /// what they decompress and decode to); beyond it 503 with
    /// `Retry-After`.
    #[serde(default = "Server::default_max_inflight_bytes")]
    pub max_inflight_bytes: Spanned<ByteSize>,
    /// HTTP/2 streams (requests) one connection may have open at once.
    #[serde(default = "Server::default_max_concurrent_streams")]
    pub max_concurrent_streams: Spanned<u64>,
    /// Deadline for a client to send a complete request head.
    #[serde(default = "Server::default_header_timeout")]
    pub header_read_timeout: Dur,
    /// A connection with no request in flight is closed after this long.
    #[serde(default = "Server::default_idle_timeout")]
    pub idle_timeout: Dur,
    /// Deadline for a whole request, body included (then 408).
    #[serde(default = "Server::default_request_timeout")]
    pub request_timeout: Dur,
    /// How long a graceful shutdown may take before it gives up.
    #[serde(default = "Server::default_shutdown_timeout")]
    pub shutdown_timeout: Dur,
    /// `[server.tls]`: serve HTTPS instead of plaintext HTTP.
    pub tls: Option<ListenerTls>,
    /// `[server.rate_limit]`: requests per client address and events per
    /// write key; no limit when absent.
    pub rate_limit: Option<RateLimit>,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` and
    /// `Forwarded` headers are believed; from anyone else they are ignored.
    #[serde(default = "Server::default_trusted_proxies")]
    pub trusted_proxies: Spanned<Vec<String>>,
}

/// `[server.rate_limit]`: answers 429 with `Retry-After` beyond a rate
/// (token buckets: `burst` at once, refilled at the rate). Only the
/// tracker listener is limited, never the admin one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per client address (IPv6: per /64), every request counted
    /// before its body is read. The address is the TCP peer's: behind a
    /// load balancer every client shares the balancer's.
    pub per_ip: Option<Spanned<RequestRate>>,
    /// Events per source (a batch of 100 costs 100; the write keys of one
    /// source share one budget), checked after decoding and before anything
    /// is queued. A source's own `rate_limit` replaces it.
    pub per_write_key: Option<Spanned<EventRate>>,
}

/// `per_ip = { requests_per_second = 100, burst = 200 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRate {
    /// Sustained requests per second (1 to 1000000).
    pub requests_per_second: Spanned<u64>,
    /// Requests allowed at once after a quiet spell (default:
    /// `requests_per_second`).
    pub burst: Option<Spanned<u64>>,
}

/// `{ events_per_second = 5000, burst = 10000 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRate {
    /// Sustained events per second (1 to 10000000).
    pub events_per_second: Spanned<u64>,
    /// Events allowed at once after a quiet spell; at least
    /// `server.max_batch_events`, so a full batch can pass (default: the
    /// larger of the two).
    pub burst: Option<Spanned<u64>>,
}

impl Server {
    fn default_trusted_proxies() -> Spanned<Vec<String>> {
        Spanned::new(0..0, Vec::new())
    }
    fn default_listen() -> Spanned<String> {
        Spanned::new(0..0, "127.0.0.1:8080".to_owned())
    }
    fn default_max_body() -> ByteSize {
        ByteSize(512 * 1024)
    }
    fn default_max_decompressed() -> ByteSize {
        ByteSize(4 << 20)
    }
    fn default_max_json_depth() -> Spanned<u64> {
        Spanned::new(0..0, 64)
    }
    fn default_max_event_fields() -> Spanned<u64> {
        Spanned::new(0..0, 10_000)
    }
    fn default_max_batch_events() -> Spanned<u64> {
        Spanned::new(0..0, 10_000)
    }
    fn default_max_headers() -> Spanned<u64> {
        Spanned::new(0..0, 100)
    }
    fn default_max_header_bytes() -> ByteSize {
        ByteSize(64 << 10)
    }
    fn default_max_connections() -> Spanned<u64> {
        Spanned::new(0..0, 10_000)
    }
    fn default_max_inflight_bytes() -> Spanned<ByteSize> {
        Spanned::new(0..0, ByteSize(64 << 20))
    }
    fn default_max_concurrent_streams() -> Spanned<u64> {
        Spanned::new(0..0, 100)
    }
    fn default_header_timeout() -> Dur {
        Dur(Duration::from_secs(10))
    }
    fn default_idle_timeout() -> Dur {
        Dur(Duration::from_secs(60))
    }
    fn default_request_timeout() -> Dur {
        Dur(Duration::from_secs(30))
    }
    fn default_shutdown_timeout() -> Dur {
        Dur(Duration::from_secs(10))
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: Server::default_listen(),
            max_body_bytes: Server::default_max_body(),
            max_decompressed_bytes: Server::default_max_decompressed(),
            max_json_depth: Server::default_max_json_depth(),
            max_event_fields: Server::default_max_event_fields(),
            max_batch_events: Server::default_max_batch_events(),
            max_headers: Server::default_max_headers(),
            max_header_bytes: Server::default_max_header_bytes(),
            max_connections: Server::default_max_connections(),
            max_inflight_bytes: Server::default_max_inflight_bytes(),
            max_concurrent_streams: Server::default_max_concurrent_streams(),
            header_read_timeout: Server::default_header_timeout(),
            idle_timeout: Server::default_idle_timeout(),
            request_timeout: Server::default_request_timeout(),
            shutdown_timeout: Server::default_shutdown_timeout(),
            tls: None,
            rate_limit: None,
            trusted_proxies: Server::default_trusted_proxies(),
        }
    }
}

/// `[server.tls]` or `[admin.tls]`: the listener speaks TLS 1.2/1.3 only,
/// with ALPN `h2` and `http/1.1`. The files are read when the config is
/// loaded, so reloading the config picks up renewed certificates (for new
/// connections; open ones keep theirs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    /// PEM certificate chain, leaf first: `"file:PATH"` or a plain path
    /// (relative to the config file).
    pub cert: Spanned<String>,
    /// PEM private key of the leaf certificate (PKCS#8, PKCS#1 or SEC1):
    /// `"file:PATH"` or `"env:NAME"`, never written literally.
    pub key: Spanned<String>,
    /// Oldest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub min_version: crate::tls::MinVersion,
}

/// `tls = { ... }` of an `http` destination with an `https://` url.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationTls {
    /// PEM bundle of CA certificates (`"file:PATH"` or a plain path): when
    /// set, the only ones trusted, instead of the built-in webpki roots.
    pub ca: Option<Spanned<String>>,
    /// PEM client certificate chain, presented when the server asks (mTLS);
    /// needs `client_key`.
    pub client_cert: Option<Spanned<String>>,
    /// Its private key: `"file:PATH"` or `"env:NAME"`; needs `client_cert`.
    pub client_key: Option<Spanned<String>>,
}

/// `[keys]`: key material, by reference only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// HMAC-SHA256 keys for pseudonymous hashes.
    #[serde(default)]
    pub hmac: Vec<HmacKey>,
    /// AES-256-GCM keys for JWE encryption.
    #[serde(default)]
    pub encryption: Vec<EncryptionKey>,
}

/// `{ id = "h1", secret = "env:NAME", active = true }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacKey {
    /// Key id, prefixed to every hash (`h1:...`).
    pub id: Spanned<String>,
    /// `env:`/`file:` reference to base64url of at least 32 bytes.
    pub secret: Spanned<String>,
    /// The key new hashes use; exactly one (a lone key is active by default).
    pub active: Option<bool>,
}

/// `{ id = "e1", key = "file:./keys/e1.key", active = true }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKey {
    /// Key id, the JWE `kid`.
    pub id: Spanned<String>,
    /// `env:`/`file:` reference to base64url of exactly 32 bytes.
    pub key: Spanned<String>,
    /// The key new ciphertexts use; exactly one (a lone key is active by default).
    pub active: Option<bool>,
}

/// `[admin]`: /metrics, /healthz, /readyz and /admin/* on their own listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Address to bind; keep it off the public network.
    #[serde(default = "Admin::default_listen")]
    pub listen: Spanned<String>,
    /// `[admin.tls]`: serve HTTPS instead of plaintext HTTP.
    pub tls: Option<ListenerTls>,
    /// When set (an `env:` or `file:` reference), `/admin/*` (e.g.
    /// `POST /admin/reload`) needs `Authorization: Bearer <token>`.
    pub token: Option<Spanned<String>>,
}

impl Admin {
    fn default_listen() -> Spanned<String> {
        Spanned::new(0..0, "127.0.0.1:9090".to_owned())
    }
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: Admin::default_listen(),
            tls: None,
            token: None,
        }
    }
}

pub use crate::event::Protocol;

/// `[[sources]]`: one kind of tracker traffic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Unique name, used in metrics and logs.
    pub name: Spanned<String>,
    /// The wire protocol.
    pub protocol: Protocol,
    /// Accepted write keys (literal, `env:NAME` or `file:PATH`).
    #[serde(default = "Source::default_write_keys")]
    pub write_keys: Spanned<Vec<String>>,
    /// `ga4_mp` (required there): the `api_secret`s Measurement Protocol
    /// clients may send (`env:`/`file:` references).
    pub api_secrets: Option<Spanned<Vec<String>>>,
    /// Browser origins allowed by CORS, e.g. `"https://shop.example.com"`.
    #[serde(default)]
    pub cors_origins: Vec<Spanned<String>>,
    /// Base URL that non-event requests (SDK settings) are proxied to.
    pub upstream: Option<Spanned<String>>,
    /// Timeout for a proxied non-event request.
    #[serde(default = "Source::default_upstream_timeout")]
    pub upstream_timeout: Dur,
    /// Largest response body relayed from `upstream`.
    #[serde(default = "Source::default_upstream_max")]
    pub upstream_max_response_bytes: ByteSize,
    /// Destinations this source's events go to; all when unset.
    pub destinations: Option<Vec<Spanned<String>>>,
    /// This source's events-per-second limit, instead of
    /// `[server.rate_limit] per_write_key`.
    pub rate_limit: Option<Spanned<EventRate>>,
    /// What of the client's IP address its events carry to destinations:
    /// `truncated` (default), `full` (the rules on `@ip` decide) or `none`.
    #[serde(default)]
    pub client_ip: ClientIp,
    /// The purposes that relayed requests carrying user ids (PostHog's
    /// feature flags) serve: they are relayed with the ids only with
    /// consent for all of them, as events are. Default `["analytics"]`.
    pub relay_purposes: Option<Spanned<Vec<String>>>,
    /// Relay requests carrying user ids without a consent signal (under
    /// `consent.default = "deny"`); `Sec-GPC` and opted-out ids still
    /// withhold them. Default `false`; `privgate check` warns when set.
    pub relay_personal_data: Option<Spanned<bool>>,
}

impl Source {
    fn default_write_keys() -> Spanned<Vec<String>> {
        Spanned::new(0..0, Vec::new())
    }
    fn default_upstream_timeout() -> Dur {
        Dur(Duration::from_secs(10))
    }
    fn default_upstream_max() -> ByteSize {
        ByteSize(1 << 20)
    }
}

/// What of the client's IP address privgate writes into events that do not
/// carry one (browsers never do: vendors read it from the connection, which
/// is now privgate's).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientIp {
    /// IPv4 /24, IPv6 /48, in the protocol's IP field.
    #[default]
    Truncated,
    /// The whole address (global and destination rules on `@ip` still
    /// apply).
    Full,
    /// Nothing: the vendor sees no client address.
    None,
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

/// `[[destinations]]`: a backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Unique name, used in metrics and logs.
    pub name: Spanned<String>,
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
    /// `http`: batches in flight at once.
    #[serde(default = "Destination::default_concurrency")]
    pub concurrency: Spanned<u32>,
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
    fn default_concurrency() -> Spanned<u32> {
        Spanned::new(0..0, 4)
    }
    fn default_queue() -> Spanned<u64> {
        Spanned::new(0..0, 10_000)
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

/// `batch = { ... }`: when a batch is sent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
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
pub struct Retry {
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
pub struct CircuitBreaker {
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

/// What applies when an event carries no consent signal at all.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConsentDefault {
    /// No signal means no consent (the default).
    #[default]
    Deny,
    /// No signal means consent; only for first-party, consent-exempt setups.
    Allow,
}

/// `[consent]`: how consent is decided (see the `consent` module).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Decision when an event carries no consent signal.
    #[serde(default)]
    pub default: ConsentDefault,
    /// Purposes denied by the `Sec-GPC: 1` header.
    #[serde(default)]
    pub gpc_denies: Vec<String>,
    /// CMP category ids mapped to purposes, e.g. `{ C0002 = "analytics" }`.
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    /// Purposes granted by an IAB TCF TC string, each by the TCF purposes
    /// (1-24) that must all have consent, e.g. `{ analytics = [1, 8, 9, 10] }`.
    /// Without it, TC strings are not read.
    #[serde(default)]
    pub tcf_purposes: BTreeMap<String, Spanned<Vec<u8>>>,
    /// Where in an event a TC string may be, as a dotted path of object
    /// keys (e.g. `context.gdpr_consent`), besides the places protocols
    /// define (GA4's `gdpr_consent`, the `?gdpr_consent=` query parameter).
    pub tcf_path: Option<Spanned<String>>,
    /// Purposes granted by Google consent mode signals (`gcs`, `gcd`), e.g.
    /// `{ analytics_storage = "analytics", ad_storage = "advertising" }`.
    /// Without it, those signals are not read.
    #[serde(default)]
    pub consent_mode: BTreeMap<String, Spanned<String>>,
    /// File of opted-out user/anonymous ids, one per line (`file:PATH`).
    pub opt_out_registry: Option<Spanned<String>>,
    /// How often the registry file is checked for changes.
    #[serde(default = "Consent::default_reload")]
    pub opt_out_reload_interval: Dur,
}

impl Consent {
    fn default_reload() -> Dur {
        Dur(Duration::from_secs(10))
    }
}

impl Default for Consent {
    fn default() -> Self {
        Consent {
            default: ConsentDefault::default(),
            gpc_denies: Vec::new(),
            categories: BTreeMap::new(),
            tcf_purposes: BTreeMap::new(),
            tcf_path: None,
            consent_mode: BTreeMap::new(),
            opt_out_registry: None,
            opt_out_reload_interval: Consent::default_reload(),
        }
    }
}

/// `select = "path"` or `select = ["path", "@field"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Select {
    /// One selector.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Select {
    /// The selectors as written.
    pub fn list(&self) -> Vec<String> {
        match self {
            Select::One(s) => vec![s.clone()],
            Select::Many(v) => v.clone(),
        }
    }
}

/// What a rule does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Remove the selected values.
    Drop,
    /// Keyed hash (HMAC-SHA256) of the selected values.
    Hash,
    /// Replace PII in the selected strings by typed tokens.
    RedactPii,
    /// Zero the host part of selected IP addresses.
    TruncateIp,
    /// Clean selected URLs.
    ScrubUrl,
    /// User agents to browser family, major version and OS family.
    GeneralizeUa,
    /// Replace selected values by JWE compact strings (active encryption key).
    EncryptField,
}

/// `[[rules]]`: one privacy rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for metrics and `explain` (default: its position).
    pub name: Option<Spanned<String>>,
    /// What it applies to.
    pub select: Spanned<Select>,
    /// What it does.
    pub action: Spanned<RuleAction>,
    /// `hash`: `auto` (default), `email`, `phone` or `none`.
    pub normalize: Option<Spanned<crate::policy::rules::Normalize>>,
    /// `hash`: ISO 3166 region national phone numbers are written in
    /// (`"GB"`), so they normalize to E.164 like international ones.
    pub phone_region: Option<Spanned<String>>,
    /// `redact_pii`, `scrub_url`: detectors to run (default: all).
    pub detectors: Option<Spanned<Vec<String>>>,
    /// `scrub_url`: query parameters kept (globs with `*`).
    pub keep_params: Option<Spanned<Vec<String>>>,
    /// `truncate_ip`: IPv4 prefix kept (default 24).
    pub ipv4_prefix: Option<Spanned<u8>>,
    /// `truncate_ip`: IPv6 prefix kept (default 48).
    pub ipv6_prefix: Option<Spanned<u8>>,
}
