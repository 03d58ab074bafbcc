//! The file format of `proxy.toml`, as serde types.
//!
//! These structs are the config reference: every field's doc comment says
//! what it does. Unknown keys are rejected everywhere (a mistyped privacy
//! setting must fail loudly, never be skipped). Values that need semantic
//! checks carry their position ([`Spanned`]) so that errors can point at
//! file:line:column; the checks themselves live in `validate`.
//!
//! `sources.rs`, `destinations.rs` and `rules.rs` hold those tables; the
//! top-level ones (`[server]`, `[admin]`, `[keys]`, `[consent]`, `[spool]`)
//! are here.

mod deletion;
mod destinations;
mod privacy;
mod rules;
mod sources;

pub use crate::forward::settings::{BatchFormat, Compression, Delivery, DestinationKind, Encrypt};
pub use crate::ingest::settings::ClientIp;
pub(super) use deletion::Deletion;
pub(super) use destinations::{ConcurrencyKey, Destination, DestinationTls};
pub(super) use privacy::Privacy;
pub(super) use rules::{Rule, RuleAction};
pub(super) use sources::Source;

use crate::config::units::{ByteSize, Dur};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct File {
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
    /// What the public privacy page (`GET /privacy`) says about the operator.
    #[serde(default)]
    pub privacy: Privacy,
    /// The tamper-evident audit log.
    pub audit: Option<Audit>,
}

/// `[audit]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Audit {
    /// The log file (`file:PATH` or a path).
    pub log: Spanned<String>,
    /// Records between signed checkpoints.
    #[serde(default = "Audit::default_every")]
    pub checkpoint_every: Spanned<u64>,
}

impl Audit {
    fn default_every() -> Spanned<u64> {
        Spanned::new(0..0, 64)
    }
}

/// `[spool]`: the on-disk write-ahead log of `delivery = "durable"`
/// destinations (one directory per destination under `dir`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Spool {
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

pub use crate::spool::Fsync;

/// `[server]`: the listener trackers talk to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Server {
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
    /// Heap size (anonymous resident memory) over which new requests get
    /// 503 with `Retry-After`; none by default.
    #[serde(default)]
    pub memory_limit: Option<Spanned<ByteSize>>,
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
    /// A connection that owes its client an answer and makes no progress
    /// sending it (the client does not read) is closed after this long.
    #[serde(default = "Server::default_send_timeout")]
    pub send_timeout: Dur,
    /// How long a graceful shutdown may take before it gives up.
    #[serde(default = "Server::default_shutdown_timeout")]
    pub shutdown_timeout: Dur,
    /// Threads of the async runtime (serving requests, delivering);
    /// absent: one per CPU core.
    #[serde(default)]
    pub worker_threads: Option<Spanned<u64>>,
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
/// (token buckets: `burst` at once, refilled at the rate). These limit the
/// tracker listener; `[admin] rate_limit` limits the admin one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RateLimit {
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
pub(super) struct RequestRate {
    /// Sustained requests per second (1 to 1000000).
    pub requests_per_second: Spanned<u64>,
    /// Requests allowed at once after a quiet spell (default:
    /// `requests_per_second`).
    pub burst: Option<Spanned<u64>>,
}

/// `{ events_per_second = 5000, burst = 10000 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventRate {
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
    fn default_send_timeout() -> Dur {
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
            memory_limit: None,
            max_concurrent_streams: Server::default_max_concurrent_streams(),
            header_read_timeout: Server::default_header_timeout(),
            idle_timeout: Server::default_idle_timeout(),
            request_timeout: Server::default_request_timeout(),
            send_timeout: Server::default_send_timeout(),
            shutdown_timeout: Server::default_shutdown_timeout(),
            worker_threads: None,
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
pub(super) struct ListenerTls {
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

/// `[keys]`: key material, by reference only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Keys {
    /// HMAC-SHA256 keys for pseudonymous hashes.
    #[serde(default)]
    pub hmac: Vec<HmacKey>,
    /// AES-256-GCM keys for JWE encryption.
    #[serde(default)]
    pub encryption: Vec<EncryptionKey>,
    /// `env:`/`file:` reference to base64url of a 32-byte Ed25519 seed
    /// (`privgate keygen`) that signs the audit log's checkpoints.
    pub audit: Option<Spanned<String>>,
}

/// `{ id = "h1", secret = "env:NAME", active = true }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HmacKey {
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
pub(super) struct EncryptionKey {
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
pub(super) struct Admin {
    /// Address to bind; keep it off the public network.
    #[serde(default = "Admin::default_listen")]
    pub listen: Spanned<String>,
    /// `[admin.tls]`: serve HTTPS instead of plaintext HTTP.
    pub tls: Option<ListenerTls>,
    /// When set (an `env:` or `file:` reference), `/admin/*` (e.g.
    /// `POST /admin/reload`) needs `Authorization: Bearer <token>`.
    pub token: Option<Spanned<String>>,
    /// Calls to `/admin/*` (reload, the subjects and requests APIs) per
    /// second, over every client; beyond it, 429.
    pub rate_limit: Option<Spanned<RequestRate>>,
    /// A second token (`env:`/`file:`) that may only read: the subjects
    /// listing and lookups (`GET /admin/subjects...`), e.g. for replicas.
    pub read_token: Option<Spanned<String>>,
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
            rate_limit: None,
            read_token: None,
        }
    }
}

pub use crate::event::Protocol;

pub use crate::consent::ConsentDefault;

/// `[consent]`: how consent is decided (see the `consent` module).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Consent {
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
    /// Where in an event an IAB GPP string may be, as a dotted path of
    /// object keys, besides the places protocols define (GA4's `gpp`, the
    /// `?gpp=` query parameter).
    pub gpp_path: Option<Spanned<String>>,
    /// Where in an event an IAB US Privacy string may be, as a dotted path
    /// of object keys, besides GA4's `us_privacy` and `?us_privacy=`.
    pub us_privacy_path: Option<Spanned<String>>,
    /// Purposes denied by the US opt-outs of GPP strings and US Privacy
    /// strings (see [`UsOptOuts`]). Without it, they are not read (but a
    /// GPP string's TCF EU v2 section still is, with `tcf_purposes`).
    #[serde(default)]
    pub us_opt_outs: UsOptOuts,
    /// File of opted-out user/anonymous ids, one per line (`file:PATH`).
    pub opt_out_registry: Option<Spanned<String>>,
    /// How often the registry file is checked for changes.
    #[serde(default = "Consent::default_reload")]
    pub opt_out_reload_interval: Dur,
    /// TC strings last updated longer ago than this grant nothing (the TCF
    /// policy has CMPs ask again after 13 months: `"395d"`). Off by default.
    pub max_age: Option<Spanned<Dur>>,
    /// `[consent.jurisdiction]`: what "no signal" means by the
    /// jurisdiction the CDN states in a request header.
    pub jurisdiction: Option<Jurisdiction>,
    /// The append-only log of ids suppressed through the admin API
    /// (`file:PATH` or a path); without it the API is off.
    pub suppressions: Option<Spanned<String>>,
    /// `[consent.suppression_sync]`: poll a primary privgate's
    /// suppression list and keep it in `suppressions` (a replica).
    pub suppression_sync: Option<SuppressionSync>,
}

/// `[consent.suppression_sync]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SuppressionSync {
    /// The primary's change feed, e.g.
    /// `"https://primary:9090/admin/subjects"`.
    pub url: Spanned<String>,
    /// The primary's `[admin] token` (`env:NAME` or `file:PATH`).
    pub token: Spanned<String>,
    /// Time between polls. Default `"10s"`.
    #[serde(default = "SuppressionSync::default_interval")]
    pub interval: Spanned<Dur>,
    /// Deadline for one page of the feed. Default `"10s"`.
    #[serde(default = "SuppressionSync::default_interval")]
    pub timeout: Spanned<Dur>,
}

impl SuppressionSync {
    fn default_interval() -> Spanned<Dur> {
        Spanned::new(0..0, Dur(Duration::from_secs(10)))
    }
}

/// `[consent.jurisdiction]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Jurisdiction {
    /// The request header the CDN sets to the client's country code
    /// (`CloudFront-Viewer-Country`, `CF-IPCountry`,
    /// `X-Vercel-IP-Country`); `CC-REGION` values are read as well.
    pub country_header: Spanned<String>,
    /// The header with the region (`CloudFront-Viewer-Country-Region`,
    /// `X-Vercel-IP-Country-Region`), for entries such as `US-CA`.
    pub region_header: Option<Spanned<String>>,
    /// Place -> `"deny"` or `"allow"`: a group (`EEA`, `EU`), a country
    /// (`GB`) or a subdivision (`US-CA`); the most specific one applies, and
    /// `[consent] default` where none does.
    #[serde(default)]
    pub defaults: BTreeMap<String, Spanned<ConsentDefault>>,
    /// Where the jurisdiction is unknown (no header, or no country code in
    /// it). Default `"deny"`.
    #[serde(default)]
    pub unknown: ConsentDefault,
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
            gpp_path: None,
            us_privacy_path: None,
            us_opt_outs: UsOptOuts::default(),
            consent_mode: BTreeMap::new(),
            opt_out_registry: None,
            opt_out_reload_interval: Consent::default_reload(),
            max_age: None,
            jurisdiction: None,
            suppressions: None,
            suppression_sync: None,
        }
    }
}

/// `[consent.us_opt_outs]`: for each US opt-out a GPP string (its US
/// National and state sections) or a US Privacy string can carry, the
/// purposes it denies when exercised; each is granted when the signal says
/// the user did not opt out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UsOptOuts {
    /// `SaleOptOut` = 1 (opted out) or `SaleOptOutNotice` = 2 (no notice);
    /// the US Privacy string's opt-out-of-sale `Y`.
    #[serde(default)]
    pub sale: Vec<Spanned<String>>,
    /// `SharingOptOut` = 1 or `SharingOptOutNotice` = 2.
    #[serde(default)]
    pub sharing: Vec<Spanned<String>>,
    /// `TargetedAdvertisingOptOut` = 1 or its notice = 2.
    #[serde(default)]
    pub targeted_advertising: Vec<Spanned<String>>,
    /// Any `SensitiveDataProcessing` entry = 1 (opted out, or no consent).
    #[serde(default)]
    pub sensitive_data: Vec<Spanned<String>>,
    /// Any `KnownChildSensitiveDataConsents` entry = 1 (no consent).
    #[serde(default)]
    pub known_child: Vec<Spanned<String>>,
}
