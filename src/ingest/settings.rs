//! What ingest is built from: `[server]` and `[[sources]]` as config
//! validated them. Ingest owns these types and config constructs them, so
//! ingest never reads the config itself.

use crate::crypto::secret::Secret;
use crate::protocol::Protocol;
use http::{HeaderValue, Uri};
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Everything ingest is built from, borrowed from the compiled config
/// (`Config::ingest`).
#[derive(Clone, Debug)]
pub struct Settings<'a> {
    /// `[server]`.
    pub server: &'a ServerConfig,
    /// `[[sources]]`, in file order.
    pub sources: &'a [SourceConfig],
    /// The destinations' names, in file order (what a source's
    /// `destinations` index).
    pub destinations: Vec<&'a str>,
    /// What `GET /privacy` says (see [`crate::privacy`]).
    pub privacy: crate::privacy::Notice,
}

/// `[server]`, validated.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Largest body on the wire.
    pub max_body_bytes: usize,
    /// Largest body after decompression.
    pub max_decompressed_bytes: usize,
    /// Depth, field and batch bounds on events.
    pub json: crate::json::Limits,
    /// Most header fields in a request.
    pub max_headers: usize,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Bytes all requests in flight may hold together.
    pub max_inflight_bytes: usize,
    /// Heap (anonymous resident bytes) over which new requests are
    /// refused; `None`: no limit.
    pub memory_limit: Option<u64>,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Request-head deadline.
    pub header_read_timeout: Duration,
    /// Keep-alive idle limit.
    pub idle_timeout: Duration,
    /// Whole-request deadline.
    pub request_timeout: Duration,
    /// How long a connection may owe an answer without progress.
    pub send_timeout: Duration,
    /// Graceful-shutdown deadline.
    pub shutdown_timeout: Duration,
    /// Threads of the async runtime; `None`: one per CPU core. Read once,
    /// at start (a reload that changes it says a restart is needed).
    pub worker_threads: Option<usize>,
    /// `[server.tls]`: HTTPS; plaintext when `None`.
    pub tls: Option<crate::tls::ServerTls>,
    /// `[server.rate_limit]`.
    pub rate_limit: RateLimitConfig,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// A source, validated.
#[derive(Debug)]
pub struct SourceConfig {
    /// Unique name.
    pub name: String,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Accepted write keys.
    pub write_keys: Vec<Secret>,
    /// `ga4_mp`: the `api_secret`s clients may send.
    pub api_secrets: Vec<Secret>,
    /// Allowed CORS origins, ready to echo.
    pub cors_origins: Vec<HeaderValue>,
    /// Where non-event requests go.
    pub upstream: Option<Uri>,
    /// Deadline of a proxied non-event request.
    pub upstream_timeout: Duration,
    /// Largest relayed upstream response body.
    pub upstream_max_response_bytes: usize,
    /// Indexes into the config's destinations.
    pub destinations: Vec<usize>,
    /// Events per second: its own `rate_limit`, else the server's
    /// `per_write_key`; no limit when `None`.
    pub rate_limit: Option<Rate>,
    /// What of the client's address its events carry.
    pub client_ip: ClientIp,
    /// How relayed requests that carry user ids are decided.
    pub relay: RelayConfig,
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

/// A validated token bucket: `burst` at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Sustained rate, per second.
    pub per_second: NonZeroU32,
    /// Most taken at once after a quiet spell.
    pub burst: NonZeroU32,
}

/// `[server.rate_limit]`, validated.
#[derive(Clone, Copy, Debug, Default)]
pub struct RateLimitConfig {
    /// Requests per client address; no limit when `None`.
    pub per_ip: Option<Rate>,
    /// Events per second of a source without its own `rate_limit`; no
    /// limit when `None`. (Resolved into [`SourceConfig::rate_limit`].)
    pub per_write_key: Option<Rate>,
}

/// The purposes relayed user data serves when a source does not say.
pub(crate) const DEFAULT_RELAY_PURPOSES: &[&str] = &["analytics"];

/// A source's rule for relays that carry user ids, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// The purposes such a relay serves: each must have consent.
    pub purposes: Vec<String>,
    /// Relayed without a consent signal, whatever `consent.default` says
    /// (GPC and opted-out ids still withhold it).
    pub personal_data: bool,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            purposes: DEFAULT_RELAY_PURPOSES
                .iter()
                .map(|p| (*p).to_owned())
                .collect(),
            personal_data: false,
        }
    }
}
