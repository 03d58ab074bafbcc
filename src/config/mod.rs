//! Configuration: reading `proxy.toml`, resolving secrets, validating
//! everything, and producing the compiled [`Config`] the rest of the program
//! runs on.
//!
//! Validation collects every problem before failing, and each problem names
//! the file, line, column and key, says what is wrong and how to fix it.
//! This module performs no I/O beyond reading the config file and the secret
//! files it names.

mod rate_limit;
mod relay;
mod schema;
mod secret;
mod tls;
pub mod units;
mod warnings;

pub use rate_limit::{Rate, RateLimitConfig};
pub use relay::RelayConfig;
pub use schema::ClientIp;
pub use schema::Compression;
pub use schema::{
    BatchFormat, ConsentDefault, Delivery, DestinationKind, Encrypt, Fsync, Protocol,
};
pub use secret::{matches_any, Secret, SecretError, SecretRef};
pub use warnings::Warning;

use http::{HeaderName, HeaderValue, Uri};
use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The validated, compiled configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The tracker-facing listener.
    pub server: ServerConfig,
    /// The admin listener.
    pub admin_listen: SocketAddr,
    /// `[admin.tls]`: HTTPS on the admin listener; plaintext when `None`.
    pub admin_tls: Option<crate::tls::ServerTls>,
    /// The bearer token `/admin/*` requires, when set.
    pub admin_token: Option<Secret>,
    /// Sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// Destinations, in file order.
    pub destinations: Vec<DestinationConfig>,
    /// Consent defaults.
    pub consent: ConsentConfig,
    /// Hashing and encryption keys.
    pub keyring: std::sync::Arc<crate::crypto::Keyring>,
    /// Global rules, in order, compiled for each protocol.
    pub policy: crate::policy::Policies,
    /// The spool of durable destinations.
    pub spool: SpoolConfig,
}

/// `[spool]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The directory (one subdirectory per durable destination).
    pub dir: PathBuf,
    /// When appends reach stable storage.
    pub fsync: Fsync,
    /// The group-commit window of `Fsync::Interval`.
    pub fsync_interval: Duration,
    /// Per destination: bytes on disk before ingest answers 503.
    pub max_bytes: u64,
    /// Per destination: undelivered events older than this are deleted and counted.
    pub max_age: Duration,
    /// Segment file size.
    pub segment_bytes: u64,
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
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Request-head deadline.
    pub header_read_timeout: Duration,
    /// Keep-alive idle limit.
    pub idle_timeout: Duration,
    /// Whole-request deadline.
    pub request_timeout: Duration,
    /// Graceful-shutdown deadline.
    pub shutdown_timeout: Duration,
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
    /// Indexes into [`Config::destinations`].
    pub destinations: Vec<usize>,
    /// Events per second: its own `rate_limit`, else the server's
    /// `per_write_key`; no limit when `None`.
    pub rate_limit: Option<Rate>,
    /// What of the client's address its events carry.
    pub client_ip: schema::ClientIp,
    /// How relayed requests that carry user ids are decided.
    pub relay: RelayConfig,
}

/// A destination, validated.
#[derive(Debug)]
pub struct DestinationConfig {
    /// Unique name.
    pub name: String,
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
    /// This destination's rules (after the global ones) and the fields it
    /// keeps (minimization; everything when it has no allow list), compiled
    /// for each protocol.
    pub policy: crate::policy::Policies,
}

/// Delivery-specific settings.
#[derive(Debug)]
pub enum SinkConfig {
    /// POST batches over HTTP.
    Http(Box<HttpSinkConfig>),
    /// Append NDJSON to a file.
    File(PathBuf),
    /// Print NDJSON on stdout.
    Stdout,
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
    pub concurrency: usize,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Circuit breaker.
    pub breaker: BreakerConfig,
    /// Trust and client certificate for `https://`.
    pub tls: crate::tls::ClientTls,
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

/// `[consent]`, validated.
#[derive(Clone, Debug)]
pub struct ConsentConfig {
    /// Decision with no signal.
    pub default: ConsentDefault,
    /// Purposes `Sec-GPC: 1` denies.
    pub gpc_denies: Vec<String>,
    /// CMP category id -> purpose.
    pub categories: std::collections::BTreeMap<String, String>,
    /// Purpose -> the TCF purposes (1-24) that must all have consent.
    pub tcf_purposes: std::collections::BTreeMap<String, Vec<u8>>,
    /// Object keys leading to a TC string in events.
    pub tcf_path: Vec<String>,
    /// Google consent mode signal -> purpose.
    pub consent_mode: Vec<(crate::consent::gcm::Kind, String)>,
    /// The opt-out registry file.
    pub opt_out_registry: Option<PathBuf>,
    /// How often it is checked for changes.
    pub opt_out_reload_interval: Duration,
}

/// One thing wrong in the config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key, as a path such as `destinations[0].url`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

/// Why a config could not be loaded: every problem found, with positions.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// Everything wrong with it.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (p.line, p.column) {
                (Some(line), Some(col)) => write!(f, "{file}:{line}:{col}: ")?,
                _ => write!(f, "{file}: ")?,
            }
            write!(f, "`{}`: {}", p.key, p.message)?;
            if let Some(hint) = &p.hint {
                write!(f, "\n  help: {hint}")?;
            }
        }
        Ok(())
    }
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![Problem {
                line: None,
                column: None,
                key: "(file)".into(),
                message: format!("cannot read the config file: {e}"),
                hint: Some("pass an existing file with --config".into()),
            }],
        })?;
        Config::from_str(&text, path)
    }

    /// Parses and validates config text; `path` names it in errors and is
    /// the base for relative paths.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: schema::File = toml::from_str(text).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![parse_problem(text, &e)],
        })?;
        let mut v = Validator {
            text,
            base: path.parent().unwrap_or(Path::new("")).to_owned(),
            problems: Vec::new(),
        };
        let config = v.validate(file, path);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                file: path.to_owned(),
                problems: v.problems,
            })
        }
    }

    /// A short human summary for `privgate check` (never prints secrets).
    pub fn summary(&self) -> String {
        use fmt::Write;
        let mut out = String::new();
        let s = &self.server;
        let _ = writeln!(
            out,
            "server: listen {} (max body {}, request timeout {}), admin {}",
            s.listen,
            units::ByteSize(s.max_body_bytes as u64),
            humantime::format_duration(s.request_timeout),
            self.admin_listen
        );
        let _ = writeln!(out, "sources ({}):", self.sources.len());
        for src in &self.sources {
            let dests: Vec<&str> = src
                .destinations
                .iter()
                .map(|&i| self.destinations[i].name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {} [{}] {} write key(s), {} CORS origin(s), upstream {}, -> {}",
                src.name,
                src.protocol.as_str(),
                src.write_keys.len(),
                src.cors_origins.len(),
                src.upstream
                    .as_ref()
                    .map_or("none".to_owned(), |u| u.to_string()),
                dests.join(", ")
            );
        }
        let _ = writeln!(out, "destinations ({}):", self.destinations.len());
        for d in &self.destinations {
            let what = match &d.sink {
                SinkConfig::Http(h) => format!(
                    "http POST {} ({:?}, {} extra header(s), up to {} in flight, {} retries)",
                    h.url,
                    h.format,
                    h.headers.len(),
                    h.concurrency,
                    h.retry.max_retries
                ),
                SinkConfig::File(p) => format!("file {}", p.display()),
                SinkConfig::Stdout => "stdout".to_owned(),
            };
            let sealed = if d.encrypt == Encrypt::Payload {
                ", payload encrypted (JWE)"
            } else {
                ""
            };
            let delivery = match d.delivery {
                Delivery::Durable => format!(
                    "durable (spool {}, up to {})",
                    self.spool.dir.join(&d.name).display(),
                    units::ByteSize(self.spool.max_bytes)
                ),
                Delivery::Memory => format!("memory (queue {} events)", d.queue_max_events),
            };
            let _ = writeln!(
                out,
                "  {}: {what}{sealed}; batch {} events / {} / {}; {delivery}",
                d.name,
                d.batch.max_events,
                units::ByteSize(d.batch.max_bytes as u64),
                humantime::format_duration(d.batch.max_wait),
            );
        }
        let default = match self.consent.default {
            ConsentDefault::Deny => "deny",
            ConsentDefault::Allow => "allow",
        };
        let (hmac, encryption) = self.keyring.counts();
        let active = |id: Option<&str>| id.map_or(String::new(), |id| format!(" (active {id})"));
        let _ = writeln!(
            out,
            "keys: {hmac} hmac{}, {encryption} encryption{}",
            active(self.keyring.active_hmac().map(|k| k.id())),
            active(self.keyring.active_encryption().map(|k| k.id()))
        );
        let _ = writeln!(out, "tls: {}", self.tls_summary());
        let _ = writeln!(out, "rate limit: {}", self.rate_limit_summary());
        let required: Vec<String> = self
            .destinations
            .iter()
            .filter(|d| !d.consent.purposes.is_empty())
            .map(|d| {
                let mode = match d.consent.mode {
                    crate::consent::Match::All => "all",
                    crate::consent::Match::Any => "any",
                };
                format!(
                    "{} needs {mode} of {}",
                    d.name,
                    d.consent.purposes.join("+")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "consent: default {default}; {}; opt-out registry {}",
            if required.is_empty() {
                "no destination requires consent".to_owned()
            } else {
                required.join(", ")
            },
            self.consent
                .opt_out_registry
                .as_ref()
                .map_or("none".to_owned(), |p| p.display().to_string())
        );
        for d in self
            .destinations
            .iter()
            .filter(|d| !d.consent.honor_opt_out)
        {
            let _ = writeln!(
                out,
                "warning: destination {} has honor_opt_out = false: events of ids in the opt-out registry reach it",
                d.name
            );
        }
        let _ = writeln!(out, "rules ({} global):", self.policy.rules().len());
        let describe = |r: &crate::policy::rules::Rule| {
            format!("{} {} {}", r.id, r.action.name(), r.select.join(", "))
        };
        for r in self.policy.rules() {
            let _ = writeln!(out, "  {}", describe(r));
        }
        for d in &self.destinations {
            for r in d.policy.rules() {
                let _ = writeln!(out, "  {} only: {}", d.name, describe(r));
            }
            if let Some(allow) = d.policy.allow() {
                let _ = writeln!(
                    out,
                    "  {} only: allow {} field pattern(s), everything else removed",
                    d.name,
                    allow.len()
                );
            }
        }
        out
    }
}

/// Turns a TOML/serde error into a positioned problem.
fn parse_problem(text: &str, e: &toml::de::Error) -> Problem {
    let (line, column, key) = match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            (Some(line), Some(col), key_at(text, span.start))
        }
        None => (None, None, "(file)".to_owned()),
    };
    let message = e.message().trim().to_owned();
    let hint = if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; see docs/config.md for every key".into())
    } else if message.starts_with("missing field") {
        Some("add the key; see docs/config.md".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".into())
    } else {
        Some("see docs/config.md for the expected form".into())
    };
    Problem {
        line,
        column,
        key,
        message,
        hint,
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Best-effort dotted key at `offset`: the enclosing `[table]` header plus the
/// key on the line, e.g. `sources[1].protocol`.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[line_start..line_end].trim();
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for l in text[..line_start].lines() {
        let l = l.trim();
        if let Some(name) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = counts.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_owned();
        }
    }
    let key = if line.starts_with('[') {
        String::new()
    } else {
        line.split('=').next().unwrap_or("").trim().to_owned()
    };
    match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

struct Validator<'a> {
    text: &'a str,
    base: PathBuf,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem(&mut self, span: Range<usize>, key: String, message: String, hint: &str) {
        let (line, column) = if span == (0..0) {
            (None, None)
        } else {
            let (l, c) = line_col(self.text, span.start);
            (Some(l), Some(c))
        };
        self.problems.push(Problem {
            line,
            column,
            key,
            message,
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
        });
    }

    fn addr(&mut self, value: &Spanned<String>, key: &str) -> SocketAddr {
        match value.get_ref().parse() {
            Ok(addr) => addr,
            Err(_) => {
                self.problem(
                    value.span(),
                    key.into(),
                    format!("`{}` is not an IP address with a port", value.get_ref()),
                    "write e.g. \"127.0.0.1:8080\" or \"[::]:8080\" (host names are not resolved)",
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        }
    }

    fn name(&mut self, value: &Spanned<String>, key: &str, seen: &mut HashSet<String>) {
        let name = value.get_ref();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            self.problem(
                value.span(),
                key.into(),
                format!("`{name}` is not a valid name"),
                "use 1-64 characters from a-z, A-Z, 0-9, '-' and '_' (names become metric labels)",
            );
        } else if !seen.insert(name.clone()) {
            self.problem(
                value.span(),
                key.into(),
                format!("the name `{name}` is used twice"),
                "give every source and every destination its own name",
            );
        }
    }

    fn positive(&mut self, value: Duration, key: &str) -> Duration {
        if value.is_zero() {
            self.problem(
                0..0,
                key.into(),
                "must be longer than zero".into(),
                "write e.g. \"10s\"",
            );
        }
        value
    }

    fn validate(&mut self, file: schema::File, path: &Path) -> Config {
        let server = ServerConfig {
            listen: self.addr(&file.server.listen, "server.listen"),
            max_body_bytes: file.server.max_body_bytes.as_usize(),
            max_decompressed_bytes: file.server.max_decompressed_bytes.as_usize(),
            json: crate::json::Limits {
                max_depth: self.in_range(
                    &file.server.max_json_depth,
                    "server.max_json_depth",
                    2..=crate::json::Limits::DEPTH_CEILING as u64,
                ),
                max_fields: self.in_range(
                    &file.server.max_event_fields,
                    "server.max_event_fields",
                    1..=1_000_000,
                ),
                max_batch: self.in_range(
                    &file.server.max_batch_events,
                    "server.max_batch_events",
                    1..=1_000_000,
                ),
                max_bytes: file.server.max_decompressed_bytes.as_usize(),
            },
            max_headers: self.in_range(&file.server.max_headers, "server.max_headers", 8..=10_000),
            max_header_bytes: file.server.max_header_bytes.as_usize(),
            max_connections: self.in_range(
                &file.server.max_connections,
                "server.max_connections",
                1..=1_000_000,
            ),
            max_inflight_bytes: file.server.max_inflight_bytes.get_ref().as_usize(),
            max_concurrent_streams: self.in_range(
                &file.server.max_concurrent_streams,
                "server.max_concurrent_streams",
                1..=10_000,
            ) as u32,
            header_read_timeout: self.positive(
                file.server.header_read_timeout.0,
                "server.header_read_timeout",
            ),
            idle_timeout: self.positive(file.server.idle_timeout.0, "server.idle_timeout"),
            request_timeout: self.positive(file.server.request_timeout.0, "server.request_timeout"),
            shutdown_timeout: self
                .positive(file.server.shutdown_timeout.0, "server.shutdown_timeout"),
            tls: self.listener_tls(file.server.tls.as_ref(), "server.tls"),
            rate_limit: self.rate_limit(
                file.server.rate_limit.as_ref(),
                *file.server.max_batch_events.get_ref(),
            ),
            trusted_proxies: self.trusted_proxies(&file.server.trusted_proxies),
        };
        if server.max_body_bytes == 0 || server.max_decompressed_bytes < server.max_body_bytes {
            self.problem(
                0..0,
                "server.max_decompressed_bytes".into(),
                "must be at least server.max_body_bytes (and neither may be zero)".into(),
                "raise max_decompressed_bytes or lower max_body_bytes",
            );
        }
        let largest = crate::ingest::inflight::largest_request(&server);
        if server.max_inflight_bytes < largest {
            self.problem(
                file.server.max_inflight_bytes.span(),
                "server.max_inflight_bytes".into(),
                format!(
                    "is less than one request may hold with the other limits (use at least {})",
                    units::ByteSize((largest as u64).div_ceil(1 << 20) << 20)
                ),
                "raise it, or lower max_body_bytes, max_decompressed_bytes or max_batch_events",
            );
        }
        let admin_listen = self.addr(&file.admin.listen, "admin.listen");
        let admin_tls = self.listener_tls(file.admin.tls.as_ref(), "admin.tls");
        let admin_token = file.admin.token.as_ref().and_then(|value| {
            let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
                SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
                r => r.resolve(&self.base),
            });
            match resolved {
                Ok(token) if token.expose().len() >= 16 => Some(token),
                Ok(_) => {
                    self.problem(
                        value.span(),
                        "admin.token".into(),
                        "the token is shorter than 16 characters".into(),
                        "use a long random token, e.g. from `privgate keygen`",
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        value.span(),
                        "admin.token".into(),
                        e.to_string(),
                        "write token = \"env:PRIVGATE_ADMIN_TOKEN\" or \"file:/path/to/token\"",
                    );
                    None
                }
            }
        });
        if admin_listen == server.listen && admin_listen.port() != 0 {
            self.problem(
                file.admin.listen.span(),
                "admin.listen".into(),
                "the admin listener cannot share the server's address".into(),
                "pick another port, e.g. 127.0.0.1:9090",
            );
        }

        let keyring = self.keys(&file.keys);
        let mut names = HashSet::new();
        let destinations: Vec<DestinationConfig> = file
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| self.destination(i, d, &mut names, &keyring))
            .collect();
        let mut destinations = destinations;
        let mut purposes: Vec<&str> = file.consent.gpc_denies.iter().map(String::as_str).collect();
        purposes.extend(
            file.destinations
                .iter()
                .flat_map(|d| d.require_consent.iter().map(String::as_str)),
        );
        purposes.sort_unstable();
        purposes.dedup();
        if purposes.len() > crate::consent::MAX_PURPOSES {
            self.problem(
                0..0,
                "destinations[].require_consent".into(),
                format!(
                    "{} distinct consent purposes are required or denied by GPC; at most {} are supported",
                    purposes.len(),
                    crate::consent::MAX_PURPOSES
                ),
                "name fewer purposes: map CMP categories onto a few purposes in [consent] categories",
            );
        }
        if file.destinations.is_empty() {
            self.problem(
                0..0,
                "destinations".into(),
                "no destination is configured".into(),
                "add a [[destinations]] table, e.g. kind = \"stdout\"",
            );
        }

        let mut source_names = HashSet::new();
        let mut sources: Vec<SourceConfig> = file
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.source(i, s, &mut source_names, &destinations))
            .collect();
        self.source_rate_limits(&mut sources, &file.sources, &server);
        self.formats(&mut destinations, &file.destinations, &sources);
        if file.sources.is_empty() {
            self.problem(
                0..0,
                "sources".into(),
                "no source is configured".into(),
                "add a [[sources]] table, e.g. protocol = \"segment\"",
            );
        }

        let policy = self.policies(&file.rules, None, "rules", &keyring);
        let spool = self.spool(&file.spool);

        Config {
            spool,
            path: path.to_owned(),
            server,
            admin_listen,
            admin_tls,
            admin_token,
            sources,
            destinations,
            consent: ConsentConfig {
                default: file.consent.default,
                gpc_denies: file.consent.gpc_denies,
                categories: file.consent.categories,
                tcf_purposes: self.tcf_purposes(&file.consent.tcf_purposes),
                tcf_path: file.consent.tcf_path.as_ref().map_or(Vec::new(), |path| {
                    let keys: Vec<String> = path.get_ref().split('.').map(str::to_owned).collect();
                    if keys.iter().any(String::is_empty) {
                        self.problem(
                            path.span(),
                            "consent.tcf_path".into(),
                            format!("`{}` has an empty key", path.get_ref()),
                            "write object keys separated by dots, e.g. \"context.gdpr_consent\"",
                        );
                    }
                    keys
                }),
                consent_mode: self.consent_mode(&file.consent.consent_mode),
                opt_out_registry: file.consent.opt_out_registry.as_ref().and_then(|p| {
                    let text = p.get_ref();
                    let path = text.strip_prefix("file:").unwrap_or(text);
                    let path = self.base.join(path);
                    if let Err(e) = std::fs::metadata(&path) {
                        self.problem(
                            p.span(),
                            "consent.opt_out_registry".into(),
                            format!("cannot read `{}`: {}", path.display(), e.kind()),
                            "create the file (one id per line; it may be empty) or remove the key",
                        );
                        return None;
                    }
                    Some(path)
                }),
                opt_out_reload_interval: self.positive(
                    file.consent.opt_out_reload_interval.0,
                    "consent.opt_out_reload_interval",
                ),
            },
            keyring: std::sync::Arc::new(keyring),
            policy,
        }
    }

    /// `server.trusted_proxies`: addresses (a host's /32 or /128) or CIDR
    /// blocks.
    fn trusted_proxies(&mut self, written: &Spanned<Vec<String>>) -> Vec<ipnet::IpNet> {
        let mut out = Vec::new();
        for text in written.get_ref() {
            let parsed = text
                .parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            match parsed {
                Ok(net) => out.push(net),
                Err(_) => self.problem(
                    written.span(),
                    "server.trusted_proxies".into(),
                    format!("`{text}` is not an address or CIDR block"),
                    "e.g. trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]",
                ),
            }
        }
        out
    }

    /// `[consent] tcf_purposes`, checked: TCF purposes are 1 to 24.
    fn tcf_purposes(
        &mut self,
        written: &std::collections::BTreeMap<String, Spanned<Vec<u8>>>,
    ) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        for (purpose, tcf) in written {
            if tcf.get_ref().is_empty() || tcf.get_ref().iter().any(|&p| !(1..=24).contains(&p)) {
                self.problem(
                    tcf.span(),
                    format!("consent.tcf_purposes.{purpose}"),
                    "TCF purposes are numbers from 1 to 24, at least one".into(),
                    "e.g. tcf_purposes = { analytics = [1, 8, 9, 10] }",
                );
                continue;
            }
            out.insert(purpose.clone(), tcf.get_ref().clone());
        }
        out
    }

    /// `[consent] consent_mode`, checked: the four signal names.
    fn consent_mode(
        &mut self,
        written: &std::collections::BTreeMap<String, Spanned<String>>,
    ) -> Vec<(crate::consent::gcm::Kind, String)> {
        let mut out = Vec::new();
        for (signal, purpose) in written {
            match crate::consent::gcm::Kind::from_name(signal) {
                Some(kind) => out.push((kind, purpose.get_ref().clone())),
                None => self.problem(
                    purpose.span(),
                    format!("consent.consent_mode.{signal}"),
                    format!("`{signal}` is not a consent mode signal"),
                    "use ad_storage, analytics_storage, ad_user_data or ad_personalization",
                ),
            }
        }
        out
    }

    /// Settles each http destination's batch format: as written, or the one
    /// its sources' protocol implies; a destination fed by sources whose
    /// events its format cannot carry is an error.
    fn formats(
        &mut self,
        destinations: &mut [DestinationConfig],
        written: &[schema::Destination],
        sources: &[SourceConfig],
    ) {
        for (i, (d, w)) in destinations.iter_mut().zip(written).enumerate() {
            let SinkConfig::Http(http) = &mut d.sink else {
                continue;
            };
            let feeders: Vec<Protocol> = sources
                .iter()
                .filter(|s| s.destinations.contains(&i))
                .map(|s| s.protocol)
                .collect();
            let mut natives = feeders.iter().map(|&p| BatchFormat::native(p));
            let implied = match natives.next() {
                Some(first) if natives.all(|f| f == first) => first,
                _ => BatchFormat::Segment,
            };
            let format = w.format.as_ref().map_or(implied, |f| *f.get_ref());
            http.format = format;
            // A url naming only the vendor's host gets the path the vendor
            // takes this format's batches on.
            if http.url.path() == "/" && http.url.query().is_none() {
                if let Some(path) = format.vendor_path() {
                    let mut parts = http.url.clone().into_parts();
                    parts.path_and_query = Some(http::uri::PathAndQuery::from_static(path));
                    if let Ok(url) = Uri::from_parts(parts) {
                        http.url = url;
                    }
                }
            }
            let span = w.format.as_ref().map_or(w.kind.span(), |f| f.span());
            if let Some(p) = feeders.iter().find(|&&p| !format.carries(p)) {
                self.problem(
                    span.clone(),
                    format!("destinations[{i}].format"),
                    format!(
                        "a `{}` batch cannot carry the events of a `{p}` source",
                        format.as_str()
                    ),
                    "send each protocol's sources to destinations of that protocol, or set format = \"ndjson\"",
                );
            }
            let needs_key = match format {
                BatchFormat::Amplitude => Some((
                    "api_key",
                    "an amplitude destination needs the project's API key",
                    "add api_key = \"env:AMPLITUDE_API_KEY\"",
                )),
                BatchFormat::Posthog => Some((
                    "api_key",
                    "a posthog destination needs the project's API key",
                    "add api_key = \"env:POSTHOG_PROJECT_TOKEN\"",
                )),
                BatchFormat::Ga4Mp => Some((
                    "api_secret",
                    "a ga4_mp destination needs the stream's Measurement Protocol API secret",
                    "add api_secret = \"env:GA4_API_SECRET\"",
                )),
                _ => None,
            };
            if let (Some((name, message, fix)), None) = (needs_key, &http.api_key) {
                self.problem(
                    span.clone(),
                    format!("destinations[{i}].{name}"),
                    message.into(),
                    fix,
                );
            }
            if format == BatchFormat::Ga4Mp {
                self.mp_url(i, w, &http.url);
                // Unlike Amplitude's API key, it is a secret (never in a page).
                if let Some(key) = &w.api_key {
                    if let Ok(SecretRef::Literal(_)) = SecretRef::parse(key.get_ref()) {
                        self.problem(
                            key.span(),
                            format!("destinations[{i}].api_secret"),
                            SecretError::LiteralNotAllowed.to_string(),
                            "",
                        );
                    }
                }
            }
            if let Some(cap) = format.max_events() {
                let max_events = &w.batch.max_events;
                if max_events.span() == (0..0) {
                    // Unwritten: the vendor's bound instead of the default.
                    d.batch.max_events = d.batch.max_events.min(cap);
                } else if d.batch.max_events > cap {
                    self.problem(
                        max_events.span(),
                        format!("destinations[{i}].batch.max_events"),
                        format!(
                            "a `{}` request takes at most {cap} event(s)",
                            format.as_str()
                        ),
                        "lower batch.max_events, or leave it out for the largest allowed",
                    );
                }
            }
        }
    }

    /// A `ga4_mp` url names its stream (`?measurement_id=`) and not the API
    /// secret, which is a secret (`api_secret`, added when sending).
    fn mp_url(&mut self, i: usize, w: &schema::Destination, url: &Uri) {
        let span = w.url.as_ref().map_or(w.kind.span(), |u| u.span());
        let names = |name: &str| {
            form_urlencoded::parse(url.query().unwrap_or_default().as_bytes())
                .any(|(k, _)| k == name)
        };
        if !names("measurement_id") {
            self.problem(
                span.clone(),
                format!("destinations[{i}].url"),
                "a ga4_mp url names its stream".into(),
                "write e.g. url = \"https://region1.google-analytics.com/mp/collect?measurement_id=G-XXXXXXXXXX\"",
            );
        }
        if names("api_secret") {
            self.problem(
                span,
                format!("destinations[{i}].url"),
                "the API secret cannot be written in the url".into(),
                "remove it from the url and set api_secret = \"env:GA4_API_SECRET\"",
            );
        }
    }

    /// Compiles one scope's rules and allow list (`scope` is `rules` or
    /// `destinations[N]`) for every protocol. What is wrong with a rule is
    /// the same for every protocol, so it is reported once.
    fn policies(
        &mut self,
        written: &[schema::Rule],
        allow: Option<&[Spanned<String>]>,
        scope: &str,
        keyring: &crate::crypto::Keyring,
    ) -> crate::policy::Policies {
        use crate::event::Protocol;
        use crate::policy::selector::Selector;
        let (rules_key, allow_key) = match scope {
            "rules" => ("rules".to_owned(), "allow".to_owned()),
            _ => (format!("{scope}.rules"), format!("{scope}.allow")),
        };
        let mut by_protocol = Vec::new();
        for protocol in Protocol::ALL {
            let before = self.problems.len();
            let rules = written
                .iter()
                .enumerate()
                .filter_map(|(r, rule)| {
                    self.rule(rule, &format!("{rules_key}[{r}]"), keyring, protocol)
                })
                .collect();
            let allow = allow.map(|list| {
                list.iter()
                    .flat_map(|text| match Selector::parse_in(text.get_ref(), protocol) {
                        Ok(selectors) => selectors,
                        Err(e) => {
                            self.problem(
                                text.span(),
                                allow_key.clone(),
                                e.to_string(),
                                "see docs/config.md#selectors",
                            );
                            Vec::new()
                        }
                    })
                    .collect()
            });
            if protocol != Protocol::ALL[0] {
                self.problems.truncate(before);
            }
            let key = format!("{rules_key} ({protocol} events)");
            by_protocol.push(self.policy(rules, allow, written, key));
        }
        crate::policy::Policies::new(by_protocol)
    }

    /// Compiles one scope's rules and allow list into a [`Policy`], or
    /// reports that its selectors combine into too many matching states
    /// (a pathological mix of `**`) at the scope's first rule.
    ///
    /// [`Policy`]: crate::policy::Policy
    fn policy(
        &mut self,
        rules: Vec<crate::policy::rules::Rule>,
        allow: Option<Vec<crate::policy::selector::Selector>>,
        written: &[schema::Rule],
        key: String,
    ) -> crate::policy::Policy {
        use crate::policy::Policy;
        Policy::new(rules, allow).unwrap_or_else(|too_complex| {
            let span = written.first().map_or(0..0, |r| r.select.span());
            self.problem(
                span,
                key,
                too_complex.to_string(),
                "split rules with several `**` into plainer paths",
            );
            Policy::new(Vec::new(), None).expect("an empty policy compiles")
        })
    }

    /// Compiles one rule; `id` is its position for errors and metrics.
    fn rule(
        &mut self,
        rule: &schema::Rule,
        position: &str,
        keyring: &crate::crypto::Keyring,
        protocol: crate::event::Protocol,
    ) -> Option<crate::policy::rules::Rule> {
        use crate::policy::pii::{Detector, Scanner};
        use crate::policy::rules::{Action, Normalize};
        use schema::RuleAction as A;
        let before = self.problems.len();
        let action = *rule.action.get_ref();
        let name = match action {
            A::Drop => "drop",
            A::Hash => "hash",
            A::RedactPii => "redact_pii",
            A::TruncateIp => "truncate_ip",
            A::ScrubUrl => "scrub_url",
            A::GeneralizeUa => "generalize_ua",
            A::EncryptField => "encrypt_field",
        };
        // Options that do not belong to the action are errors, not ignored.
        let misplaced = [
            (
                "normalize",
                rule.normalize.as_ref().map(|v| v.span()),
                action != A::Hash,
            ),
            (
                "phone_region",
                rule.phone_region.as_ref().map(|v| v.span()),
                action != A::Hash,
            ),
            (
                "detectors",
                rule.detectors.as_ref().map(|v| v.span()),
                !matches!(action, A::RedactPii | A::ScrubUrl),
            ),
            (
                "keep_params",
                rule.keep_params.as_ref().map(|v| v.span()),
                action != A::ScrubUrl,
            ),
            (
                "ipv4_prefix",
                rule.ipv4_prefix.as_ref().map(|v| v.span()),
                action != A::TruncateIp,
            ),
            (
                "ipv6_prefix",
                rule.ipv6_prefix.as_ref().map(|v| v.span()),
                action != A::TruncateIp,
            ),
        ];
        for (option, span, wrong) in misplaced {
            if let (Some(span), true) = (span, wrong) {
                self.problem(
                    span,
                    format!("{position}.{option}"),
                    format!("`{option}` does not apply to action = \"{name}\""),
                    "remove it, or change the action",
                );
            }
        }
        let mut selectors = Vec::new();
        let select = rule.select.get_ref().list();
        if select.is_empty() {
            self.problem(
                rule.select.span(),
                format!("{position}.select"),
                "selects nothing".into(),
                "write e.g. select = \"@email\" or [\"userId\", \"**.email\"]",
            );
        }
        for text in &select {
            match crate::policy::selector::Selector::parse_in(text, protocol) {
                Ok(s) => selectors.extend(s),
                Err(e) => self.problem(rule.select.span(), format!("{position}.select"), e.to_string(), "selectors are dotted paths with `*`, `**`, `[*]`/`[N]`, or a semantic field such as @email"),
            }
        }
        let scanner = match &rule.detectors {
            None => Scanner::default(),
            Some(list) => {
                let mut detectors = Vec::new();
                for d in list.get_ref() {
                    match Detector::from_name(d) {
                        Some(d) => detectors.push(d),
                        None => self.problem(
                            list.span(),
                            format!("{position}.detectors"),
                            format!("unknown detector `{d}`"),
                            "use email, phone, credit_card, iban, ip, ssn",
                        ),
                    }
                }
                Scanner::new(&detectors)
            }
        };
        let prefix = |v: &Option<Spanned<u8>>, default: u8| {
            v.as_ref()
                .map_or((default, 0..0), |p| (*p.get_ref(), p.span()))
        };
        let (v4, v4_span) = prefix(&rule.ipv4_prefix, 24);
        let (v6, v6_span) = prefix(&rule.ipv6_prefix, 48);
        if v4 > 32 {
            self.problem(
                v4_span,
                format!("{position}.ipv4_prefix"),
                format!("{v4} is longer than an IPv4 address"),
                "use 0 to 32; 24 keeps the network, drops the host",
            );
        }
        if v6 > 128 {
            self.problem(
                v6_span,
                format!("{position}.ipv6_prefix"),
                format!("{v6} is longer than an IPv6 address"),
                "use 0 to 128; 48 is the usual site prefix",
            );
        }
        let region = rule.phone_region.as_ref().and_then(|r| {
            let parsed = r
                .get_ref()
                .to_ascii_uppercase()
                .parse::<phonenumber::country::Id>();
            if parsed.is_err() {
                self.problem(
                    r.span(),
                    format!("{position}.phone_region"),
                    format!("`{}` is not a region phonenumber knows", r.get_ref()),
                    "use a two-letter ISO 3166 code such as \"US\", \"GB\" or \"DE\"",
                );
            }
            parsed.ok()
        });
        if action == A::EncryptField && keyring.active_encryption().is_none() {
            self.problem(rule.action.span(), format!("{position}.action"), "encrypt_field needs an active encryption key".into(), "add [keys] encryption = [{ id = \"e1\", key = \"env:PRIVGATE_KEY_E1\", active = true }] (make one with `privgate keygen`)");
        }
        if action == A::Hash && keyring.active_hmac().is_none() {
            self.problem(rule.action.span(), format!("{position}.action"), "hash needs an active HMAC key".into(), "add [keys] hmac = [{ id = \"h1\", secret = \"env:PRIVGATE_HMAC_H1\" }] (make one with `privgate keygen`)");
        }
        let id = match &rule.name {
            Some(n) => {
                let valid = !n.get_ref().is_empty()
                    && n.get_ref().len() <= 64
                    && n.get_ref()
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !valid {
                    self.problem(n.span(), format!("{position}.name"), format!("`{}` is not a valid rule name", n.get_ref()), "use 1-64 characters from a-z, A-Z, 0-9, '-' and '_' (names become metric labels)");
                }
                n.get_ref().clone()
            }
            None => position.to_owned(),
        };
        let action = match action {
            A::Drop => Action::Drop,
            A::Hash => Action::Hash {
                normalize: rule
                    .normalize
                    .as_ref()
                    .map_or(Normalize::Auto, |n| *n.get_ref()),
                region,
            },
            A::GeneralizeUa => Action::GeneralizeUa(Default::default()),
            A::EncryptField => Action::EncryptField,
            A::RedactPii => Action::RedactPii(scanner),
            A::TruncateIp => Action::TruncateIp { v4, v6 },
            A::ScrubUrl => Action::ScrubUrl {
                keep: rule.keep_params.as_ref().map_or_else(Vec::new, |k| {
                    k.get_ref()
                        .iter()
                        .map(|p| crate::policy::rules::Glob::new(p))
                        .collect()
                }),
                scanner,
            },
        };
        (self.problems.len() == before).then_some(crate::policy::rules::Rule {
            id,
            select,
            selectors,
            action,
        })
    }

    /// Resolves and checks `[keys]`: ids unique and usable as a JWE `kid`,
    /// values by reference only, exactly one active key of each kind.
    fn keys(&mut self, keys: &schema::Keys) -> crate::crypto::Keyring {
        use crate::crypto::{EncryptionKey, HmacKey, Keyring};
        let mut ids = HashSet::new();
        let mut hmac = Vec::new();
        let mut hmac_active = Vec::new();
        for (i, k) in keys.hmac.iter().enumerate() {
            let key = format!("keys.hmac[{i}]");
            self.key_id(&k.id, &key, &mut ids);
            if let Some(text) = self.key_secret(&k.secret, &format!("{key}.secret")) {
                match HmacKey::from_text(k.id.get_ref(), text.expose()) {
                    Ok(h) => {
                        hmac_active.push(k.active);
                        hmac.push(h);
                    }
                    Err(e) => self.problem(
                        k.secret.span(),
                        format!("{key}.secret"),
                        e.to_string(),
                        "generate one with `privgate keygen`",
                    ),
                }
            }
        }
        let mut encryption = Vec::new();
        let mut enc_active = Vec::new();
        for (i, k) in keys.encryption.iter().enumerate() {
            let key = format!("keys.encryption[{i}]");
            self.key_id(&k.id, &key, &mut ids);
            if let Some(text) = self.key_secret(&k.key, &format!("{key}.key")) {
                match EncryptionKey::from_text(k.id.get_ref(), text.expose()) {
                    Ok(e) => {
                        enc_active.push(k.active);
                        encryption.push(e);
                    }
                    Err(e) => self.problem(
                        k.key.span(),
                        format!("{key}.key"),
                        e.to_string(),
                        "generate one with `privgate keygen`",
                    ),
                }
            }
        }
        let active_hmac = self.one_active(&hmac_active, "keys.hmac");
        let active_enc = self.one_active(&enc_active, "keys.encryption");
        Keyring::new(hmac, active_hmac, encryption, active_enc)
    }

    fn key_id(&mut self, id: &Spanned<String>, key: &str, seen: &mut HashSet<String>) {
        let valid = !id.get_ref().is_empty()
            && id.get_ref().len() <= 32
            && id
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            self.problem(
                id.span(),
                format!("{key}.id"),
                format!("`{}` is not a valid key id", id.get_ref()),
                "use 1-32 characters from a-z, A-Z, 0-9, '-' and '_'",
            );
        } else if !seen.insert(id.get_ref().clone()) {
            self.problem(
                id.span(),
                format!("{key}.id"),
                format!("the key id `{}` is used twice", id.get_ref()),
                "give every key its own id; ids are how old data finds its key",
            );
        }
    }

    fn key_secret(&mut self, value: &Spanned<String>, key: &str) -> Option<Secret> {
        let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
            SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
            r => r.resolve(&self.base),
        });
        match resolved {
            Ok(secret) => Some(secret),
            Err(e) => {
                self.problem(value.span(), key.into(), e.to_string(), "");
                None
            }
        }
    }

    fn one_active(&mut self, flags: &[Option<bool>], key: &str) -> Option<usize> {
        let active: Vec<usize> = flags
            .iter()
            .enumerate()
            .filter(|(_, f)| **f == Some(true) || (flags.len() == 1 && f.is_none()))
            .map(|(i, _)| i)
            .collect();
        match active[..] {
            [] if flags.is_empty() => None,
            [one] => Some(one),
            _ => {
                self.problem(0..0, key.into(), format!("{} keys are active; exactly one must be", active.len()), "set active = true on the key new data should use, and leave the others for decryption");
                None
            }
        }
    }

    fn source(
        &mut self,
        i: usize,
        s: &schema::Source,
        names: &mut HashSet<String>,
        destinations: &[DestinationConfig],
    ) -> SourceConfig {
        let key = |k: &str| format!("sources[{i}].{k}");
        self.name(&s.name, &key("name"), names);

        let mut write_keys = Vec::new();
        for text in s.write_keys.get_ref() {
            match SecretRef::parse(text).and_then(|r| r.resolve(&self.base)) {
                Ok(secret) => write_keys.push(secret),
                Err(e) => self.problem(
                    s.write_keys.span(),
                    key("write_keys"),
                    e.to_string(),
                    "write keys may be literal, \"env:NAME\" or \"file:PATH\"",
                ),
            }
        }
        if s.write_keys.get_ref().is_empty() {
            self.problem(
                s.write_keys.span().start..s.name.span().end.max(s.write_keys.span().end),
                key("write_keys"),
                "a source needs at least one write key".into(),
                "add write_keys = [\"env:MY_WRITE_KEY\"]; requests without a known key get 401",
            );
        }

        let api_secrets = self.api_secrets(s, &key("api_secrets"));

        let mut cors_origins = Vec::new();
        for origin in &s.cors_origins {
            match parse_origin(origin.get_ref()) {
                Ok(value) => cors_origins.push(value),
                Err(msg) => self.problem(
                    origin.span(),
                    key("cors_origins"),
                    msg,
                    "write a scheme, host and optional port, e.g. \"https://shop.example.com\"; \"*\" is never allowed because trackers send credentials",
                ),
            }
        }

        let upstream = s
            .upstream
            .as_ref()
            .and_then(|u| match parse_http_url(u.get_ref()) {
                Ok(uri) if uri.query().is_none() => Some(uri),
                Ok(_) => {
                    self.problem(
                        u.span(),
                        key("upstream"),
                        "an upstream base URL cannot have a query".into(),
                        "remove the `?...` part",
                    );
                    None
                }
                Err(msg) => {
                    self.problem(
                        u.span(),
                        key("upstream"),
                        msg,
                        "write e.g. \"https://cdn.segment.com\"",
                    );
                    None
                }
            });

        let dest_indexes = match &s.destinations {
            None => (0..destinations.len()).collect(),
            Some(list) => list
                .iter()
                .filter_map(|name| {
                    let found = destinations.iter().position(|d| d.name == *name.get_ref());
                    if found.is_none() {
                        self.problem(
                            name.span(),
                            key("destinations"),
                            format!("no destination is named `{}`", name.get_ref()),
                            "use the name of a [[destinations]] table",
                        );
                    }
                    found
                })
                .collect(),
        };

        SourceConfig {
            name: s.name.get_ref().clone(),
            protocol: s.protocol,
            write_keys,
            api_secrets,
            cors_origins,
            upstream,
            upstream_timeout: self.positive(s.upstream_timeout.0, &key("upstream_timeout")),
            upstream_max_response_bytes: s.upstream_max_response_bytes.as_usize(),
            destinations: dest_indexes,
            rate_limit: None,
            client_ip: s.client_ip,
            relay: self.relay(s, &key),
        }
    }

    /// A `ga4_mp` source's `api_secrets`: required there, secret references
    /// only (they are the vendor's secrets), and nowhere else.
    fn api_secrets(&mut self, s: &schema::Source, key: &str) -> Vec<Secret> {
        let mp = s.protocol == Protocol::Ga4Mp;
        let Some(written) = &s.api_secrets else {
            if mp {
                self.problem(
                    s.name.span(),
                    key.into(),
                    "a ga4_mp source needs the api_secrets its clients send".into(),
                    "add api_secrets = [\"env:GA4_MP_API_SECRET\"]; privgate checks them and never forwards them",
                );
            }
            return Vec::new();
        };
        if !mp {
            self.problem(
                written.span(),
                key.into(),
                format!("a `{}` source takes no api_secrets", s.protocol),
                "remove it; only protocol = \"ga4_mp\" sources read api_secret",
            );
            return Vec::new();
        }
        if written.get_ref().is_empty() {
            self.problem(
                written.span(),
                key.into(),
                "list at least one secret".into(),
                "add api_secrets = [\"env:GA4_MP_API_SECRET\"]",
            );
        }
        let mut secrets = Vec::new();
        for text in written.get_ref() {
            match self.reference(text) {
                Ok(secret) => secrets.push(secret),
                Err(e) => self.problem(written.span(), key.into(), e.to_string(), ""),
            }
        }
        secrets
    }

    /// A secret that must be an `env:` or `file:` reference.
    fn reference(&self, text: &str) -> Result<Secret, SecretError> {
        SecretRef::parse(text).and_then(|r| match r {
            SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
            r => r.resolve(&self.base),
        })
    }

    fn destination(
        &mut self,
        i: usize,
        d: &schema::Destination,
        names: &mut HashSet<String>,
        keyring: &crate::crypto::Keyring,
    ) -> DestinationConfig {
        let key = |k: &str| format!("destinations[{i}].{k}");
        self.name(&d.name, &key("name"), names);
        let kind = *d.kind.get_ref();

        // Keys that only make sense for one kind are errors elsewhere: a
        // mistyped setup must not be half-applied.
        let misplaced = [
            (
                "url",
                d.url.as_ref().map(|v| v.span()),
                kind != DestinationKind::Http,
            ),
            (
                "path",
                d.path.as_ref().map(|v| v.span()),
                kind != DestinationKind::File,
            ),
            (
                "tls",
                d.tls.as_ref().map(|v| v.span()),
                kind != DestinationKind::Http,
            ),
        ];
        for (name, span, wrong) in misplaced {
            if let (Some(span), true) = (span, wrong) {
                self.problem(
                    span,
                    key(name),
                    format!("`{name}` does not apply to kind = \"{kind:?}\"").to_lowercase(),
                    "remove it, or change `kind`",
                );
            }
        }

        let sink = match kind {
            DestinationKind::Http => SinkConfig::Http(Box::new(self.http_sink(i, d))),
            DestinationKind::File => match &d.path {
                Some(p) if !p.get_ref().is_empty() => SinkConfig::File(self.base.join(p.get_ref())),
                _ => {
                    self.problem(
                        d.kind.span(),
                        key("path"),
                        "a file destination needs `path`".into(),
                        "add path = \"./privgate-out/events.ndjson\"",
                    );
                    SinkConfig::Stdout
                }
            },
            DestinationKind::Stdout => SinkConfig::Stdout,
        };

        let max_events = *d.batch.max_events.get_ref();
        if !(1..=100_000).contains(&max_events) {
            self.problem(
                d.batch.max_events.span(),
                key("batch.max_events"),
                format!("{max_events} is out of range"),
                "use 1 to 100000",
            );
        }
        if d.batch.max_bytes.0 < 1024 {
            self.problem(
                0..0,
                key("batch.max_bytes"),
                "must be at least 1KiB".into(),
                "write e.g. \"1MiB\"",
            );
        }
        let queue = *d.queue_max_events.get_ref();
        if queue < max_events {
            self.problem(
                d.queue_max_events.span(),
                key("queue_max_events"),
                format!("{queue} is smaller than batch.max_events ({max_events})"),
                "the queue must hold at least one full batch",
            );
        }
        let delivery = match &d.delivery {
            Some(delivery) => *delivery.get_ref(),
            None if kind == DestinationKind::Http => Delivery::Durable,
            None => Delivery::Memory,
        };
        if delivery == Delivery::Durable && keyring.active_encryption().is_none() {
            self.problem(
                d.delivery.as_ref().map_or(d.kind.span(), |v| v.span()),
                key("delivery"),
                format!(
                    "durable delivery{} keeps events on disk encrypted at rest, which needs an active encryption key",
                    if d.delivery.is_none() { " (the default for kind = \"http\")" } else { "" }
                ),
                "add [keys] encryption = [{ id = \"e1\", key = \"file:keys/e1.key\" }] (make a key with `privgate keygen`), or set delivery = \"memory\" to accept losing queued events on a crash",
            );
        }
        let encrypt = *d.encrypt.get_ref();
        if encrypt == Encrypt::Payload && keyring.active_encryption().is_none() {
            self.problem(
                d.encrypt.span(),
                key("encrypt"),
                "payload encryption needs an active encryption key".into(),
                "add [keys] encryption = [{ id = \"e1\", key = \"file:keys/e1.key\" }] (make a key with `privgate keygen`)",
            );
        }
        let scope = format!("destinations[{i}]");
        let policy = self.policies(&d.rules, d.allow.as_deref(), &scope, keyring);
        DestinationConfig {
            policy,
            consent: crate::consent::Requirement {
                purposes: d.require_consent.clone(),
                mode: d.consent_match,
                tcf_vendor: d.tcf_vendor,
                honor_opt_out: d.honor_opt_out,
            },
            encrypt,
            name: d.name.get_ref().clone(),
            sink,
            delivery,
            queue_max_events: usize::try_from(queue).unwrap_or(usize::MAX),
            batch: BatchConfig {
                max_events: max_events as usize,
                max_bytes: d.batch.max_bytes.as_usize(),
                max_wait: self.positive(d.batch.max_wait.0, &key("batch.max_wait")),
            },
        }
    }

    /// `value` if within `range`; otherwise a problem, and the range's end.
    fn in_range(
        &mut self,
        value: &Spanned<u64>,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> usize {
        let v = *value.get_ref();
        if !range.contains(&v) {
            self.problem(
                value.span(),
                key.into(),
                format!("{v} is out of range"),
                &format!("use {} to {}", range.start(), range.end()),
            );
            return *range.end() as usize;
        }
        v as usize
    }

    fn spool(&mut self, s: &schema::Spool) -> SpoolConfig {
        let dir = s.dir.get_ref();
        if dir.is_empty() {
            self.problem(
                s.dir.span(),
                "spool.dir".into(),
                "must not be empty".into(),
                "write e.g. dir = \"./privgate-spool\"",
            );
        }
        let segment_bytes = s.segment_bytes.0;
        if segment_bytes < 4096 {
            self.problem(
                0..0,
                "spool.segment_bytes".into(),
                "must be at least 4KiB".into(),
                "write e.g. \"16MiB\"",
            );
        }
        // Bounds the records per segment far below 2^32: the record index
        // is the end of each record's AES-GCM nonce.
        if segment_bytes > crate::spool::segment::MAX_SEGMENT_BYTES {
            self.problem(
                0..0,
                "spool.segment_bytes".into(),
                "must be at most 1GiB".into(),
                "write e.g. \"16MiB\"",
            );
        }
        if s.max_bytes.0 < segment_bytes.saturating_mul(2) {
            self.problem(
                0..0,
                "spool.max_bytes".into(),
                format!(
                    "{} is less than two segments ({} each)",
                    s.max_bytes, s.segment_bytes
                ),
                "raise max_bytes or lower segment_bytes",
            );
        }
        SpoolConfig {
            dir: self.base.join(dir),
            fsync: s.fsync,
            fsync_interval: self.positive(s.fsync_interval.0, "spool.fsync_interval"),
            max_bytes: s.max_bytes.0,
            max_age: self.positive(s.max_age.0, "spool.max_age"),
            segment_bytes,
        }
    }

    fn http_sink(&mut self, i: usize, d: &schema::Destination) -> HttpSinkConfig {
        let key = |k: &str| format!("destinations[{i}].{k}");
        let url = match &d.url {
            None => {
                self.problem(
                    d.kind.span(),
                    key("url"),
                    "an http destination needs `url`".into(),
                    "add url = \"https://collector.example.com/v1/batch\"",
                );
                Uri::from_static("http://127.0.0.1/")
            }
            Some(u) => parse_http_url(u.get_ref()).unwrap_or_else(|msg| {
                self.problem(
                    u.span(),
                    key("url"),
                    msg,
                    "write e.g. \"https://collector.example.com/v1/batch\"",
                );
                Uri::from_static("http://127.0.0.1/")
            }),
        };

        let mut headers = Vec::new();
        for (name, value) in &d.headers {
            let lower = name.to_ascii_lowercase();
            if ["authorization", "proxy-authorization", "cookie"].contains(&lower.as_str())
                || ["key", "token", "secret", "auth", "password"]
                    .iter()
                    .any(|w| lower.contains(w))
            {
                self.problem(
                    value.span(),
                    key(&format!("headers.{name}")),
                    format!("`{name}` looks like a credential and cannot be written literally"),
                    "move it to secret_headers with a value of \"env:NAME\" or \"file:PATH\"",
                );
                continue;
            }
            if let Some(h) = self.header(name, value.get_ref(), value.span(), key("headers")) {
                headers.push(h);
            }
        }
        for (name, value) in &d.secret_headers {
            let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
                SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
                r => r.resolve(&self.base),
            });
            match resolved {
                Ok(secret) => {
                    if let Some((n, mut v)) =
                        self.header(name, secret.expose(), value.span(), key("secret_headers"))
                    {
                        v.set_sensitive(true);
                        headers.push((n, v));
                    }
                }
                Err(e) => self.problem(
                    value.span(),
                    key(&format!("secret_headers.{name}")),
                    e.to_string(),
                    "",
                ),
            }
        }

        let concurrency = *d.concurrency.get_ref();
        if !(1..=256).contains(&concurrency) {
            self.problem(
                d.concurrency.span(),
                key("concurrency"),
                format!("{concurrency} is out of range"),
                "use 1 to 256",
            );
        }
        if d.retry.initial_backoff.0 > d.retry.max_backoff.0 || d.retry.initial_backoff.0.is_zero()
        {
            self.problem(
                0..0,
                key("retry.initial_backoff"),
                "must be above zero and at most retry.max_backoff".into(),
                "e.g. retry = { initial_backoff = \"100ms\", max_backoff = \"10s\" }",
            );
        }
        let cb = &d.circuit_breaker;
        if cb.failures == 0 || cb.cooldown.0.is_zero() || cb.cooldown.0 > cb.max_cooldown.0 {
            self.problem(
                0..0,
                key("circuit_breaker"),
                "failures must be at least 1, and 0 < cooldown <= max_cooldown".into(),
                "e.g. circuit_breaker = { failures = 5, cooldown = \"5s\", max_cooldown = \"60s\" }",
            );
        }
        let tls = self.destination_tls(i, d, &url);
        HttpSinkConfig {
            breaker: BreakerConfig {
                failures: cb.failures.max(1),
                cooldown: cb.cooldown.0,
                max_cooldown: cb.max_cooldown.0.max(cb.cooldown.0),
            },
            tls,
            url,
            compression: d.compression,
            format: d
                .format
                .as_ref()
                .map_or(BatchFormat::Segment, |f| *f.get_ref()),
            api_key: d.api_key.as_ref().and_then(|text| {
                let resolved = SecretRef::parse(text.get_ref()).and_then(|r| r.resolve(&self.base));
                resolved
                    .map_err(|e| self.problem(text.span(), key("api_key"), e.to_string(), ""))
                    .ok()
            }),
            headers,
            connect_timeout: self.positive(d.connect_timeout.0, &key("connect_timeout")),
            request_timeout: self.positive(d.request_timeout.0, &key("request_timeout")),
            concurrency: concurrency as usize,
            retry: RetryConfig {
                max_retries: d.retry.max_retries,
                initial_backoff: d.retry.initial_backoff.0,
                max_backoff: d.retry.max_backoff.0,
            },
        }
    }

    fn header(
        &mut self,
        name: &str,
        value: &str,
        span: Range<usize>,
        key: String,
    ) -> Option<(HeaderName, HeaderValue)> {
        // Never echo the value: it may be a secret.
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => Some((n, v)),
            (Err(_), _) => {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is not a valid header name"),
                    "use letters, digits and '-'",
                );
                None
            }
            (_, Err(_)) => {
                self.problem(
                    span,
                    key,
                    format!("the value of `{name}` is not a valid header value"),
                    "remove control characters and line breaks",
                );
                None
            }
        }
    }
}

/// Parses an absolute `http://` or `https://` URL with a host.
fn parse_http_url(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{text}` must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(uri)
}

/// Parses a CORS origin: scheme, host and optional port, nothing else.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    if text == "*" {
        return Err("`*` cannot be used as an origin".into());
    }
    let uri = parse_http_url(text)?;
    if uri.path() != "/" || text.ends_with('/') || uri.query().is_some() {
        return Err(format!(
            "`{text}` has a path; an origin is only scheme://host[:port]"
        ));
    }
    HeaderValue::try_from(text).map_err(|_| format!("`{text}` is not a valid origin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(text, Path::new("proxy.toml"))
    }

    pub(super) const MINIMAL: &str = r#"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "stdout"
"#;

    #[test]
    fn a_destination_that_ignores_opt_outs_is_a_check_warning() {
        let config = load(MINIMAL).unwrap();
        assert!(config.destinations[0].consent.honor_opt_out, "the default");
        assert!(!config.summary().contains("honor_opt_out"));
        let config = load(&format!("{MINIMAL}honor_opt_out = false\n")).unwrap();
        assert!(!config.destinations[0].consent.honor_opt_out);
        let summary = config.summary();
        assert!(
            summary.contains("warning: destination out has honor_opt_out = false"),
            "{summary}"
        );
    }

    #[test]
    fn the_shipped_config_is_valid() {
        let text = include_str!("../../proxy.toml");
        let config = load(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.admin_listen.to_string(), "127.0.0.1:9090");
        assert!(config.sources[0].write_keys[0].ct_eq(b"demo"));
    }

    #[test]
    fn a_destination_speaks_its_sources_protocol_or_says_why_not() {
        let sources = |second: &str| {
            format!(
                "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\ndestinations = [\"seg\"]\n[[sources]]\nname = \"amp\"\nprotocol = \"amplitude\"\nwrite_keys = [\"a\"]\ndestinations = [{second}]\n"
            )
        };
        let http = |name: &str, extra: &str| {
            format!("[[destinations]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\ndelivery = \"memory\"\n{extra}\n")
        };
        let ok = format!(
            "{}{}{}",
            sources("\"amp\""),
            http("seg", ""),
            http("amp", "api_key = \"env:PATH\"")
        );
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        let format = |i: usize| match &config.destinations[i].sink {
            SinkConfig::Http(h) => (h.format, h.api_key.is_some()),
            _ => unreachable!(),
        };
        assert_eq!(format(0), (BatchFormat::Segment, false));
        assert_eq!(format(1), (BatchFormat::Amplitude, true));
        // Their urls named only a host: the vendors' batch paths follow.
        let url = |i: usize| match &config.destinations[i].sink {
            SinkConfig::Http(h) => h.url.to_string(),
            _ => unreachable!(),
        };
        assert_eq!(url(0), "http://127.0.0.1:1/v1/batch");
        assert_eq!(url(1), "http://127.0.0.1:1/2/httpapi");

        // Amplitude events in a Segment batch: refused, with the fix.
        let mixed = format!("{}{}", sources("\"seg\""), http("seg", ""));
        let err = load(&mixed).unwrap_err();
        assert_eq!(err.problems[0].key, "destinations[0].format");
        assert!(
            err.problems[0].message.contains("`amplitude` source"),
            "{err}"
        );
        // ... unless the destination takes any event.
        let ndjson = format!(
            "{}{}",
            sources("\"seg\""),
            http("seg", "format = \"ndjson\"")
        );
        load(&ndjson).unwrap_or_else(|e| panic!("{e}"));
        // An Amplitude batch names a project.
        let keyless = format!(
            "{}{}{}",
            sources("\"amp\""),
            http("seg", ""),
            http("amp", "")
        );
        let err = load(&keyless).unwrap_err();
        assert_eq!(err.problems[0].key, "destinations[1].api_key");

        // Snowplow sources: a snowplow payload by default; it carries no
        // other protocol's events, and no other format carries theirs.
        let snowplow = |web_to: &str, sp_to: &str, sp_extra: &str| {
            format!(
                "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\ndestinations = [{web_to}]\n[[sources]]\nname = \"sp\"\nprotocol = \"snowplow\"\nwrite_keys = [\"app\"]\ndestinations = [{sp_to}]\n{}{}",
                http("seg", ""),
                http("sp", sp_extra)
            )
        };
        let config = load(&snowplow("\"seg\"", "\"sp\"", "")).unwrap_or_else(|e| panic!("{e}"));
        let format = |i: usize| match &config.destinations[i].sink {
            SinkConfig::Http(h) => h.format,
            _ => unreachable!(),
        };
        assert_eq!(
            (format(0), format(1)),
            (BatchFormat::Segment, BatchFormat::Snowplow)
        );
        for (web_to, sp_to, sp_extra, wrong) in [
            ("\"seg\"", "\"seg\"", "", "`snowplow` source"),
            (
                "\"seg\"",
                "\"sp\"",
                "format = \"segment\"",
                "`snowplow` source",
            ),
            (
                "\"sp\"",
                "\"sp\"",
                "format = \"snowplow\"",
                "`segment` source",
            ),
            ("\"sp\"", "\"sp\"", "", "`snowplow` source"),
        ] {
            let err = load(&snowplow(web_to, sp_to, sp_extra)).unwrap_err();
            assert!(err.problems[0].message.contains(wrong), "{err}");
        }
        load(&snowplow("\"sp\"", "\"sp\"", "format = \"ndjson\""))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn consent_signal_mappings_are_checked() {
        let ok = format!("{MINIMAL}[consent]\ntcf_purposes = {{ analytics = [1, 24] }}\nconsent_mode = {{ analytics_storage = \"analytics\" }}\n");
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.consent.tcf_purposes["analytics"], [1, 24]);
        assert_eq!(config.consent.consent_mode.len(), 1);
        for (bad, key) in [
            (
                "tcf_purposes = { analytics = [0] }",
                "consent.tcf_purposes.analytics",
            ),
            (
                "tcf_purposes = { analytics = [25] }",
                "consent.tcf_purposes.analytics",
            ),
            (
                "tcf_purposes = { analytics = [] }",
                "consent.tcf_purposes.analytics",
            ),
            (
                "consent_mode = { analytics = \"analytics\" }",
                "consent.consent_mode.analytics",
            ),
        ] {
            let err = load(&format!("{MINIMAL}[consent]\n{bad}\n")).unwrap_err();
            assert_eq!(err.problems[0].key, key, "{bad}");
            assert_eq!(err.problems[0].line, Some(10), "{bad}");
        }
    }

    #[test]
    fn ga4_destinations_speak_gtag_or_the_measurement_protocol_within_their_bounds() {
        let sources = r#"
[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-1"]
destinations = ["hits"]
[[sources]]
name = "mp"
protocol = "ga4_mp"
write_keys = ["G-1"]
api_secrets = ["env:PATH"]
destinations = ["mp"]
"#;
        let http = |name: &str, url: &str, extra: &str| {
            format!("[[destinations]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"{url}\"\ndelivery = \"memory\"\n{extra}\n")
        };
        let hits = |extra: &str| http("hits", "https://g.test/g/collect", extra);
        let mp = |url: &str, extra: &str| http("mp", url, extra);
        let mp_url = "https://g.test/mp/collect?measurement_id=G-1";
        let ok = format!(
            "{sources}{}{}",
            hits(""),
            mp(mp_url, "api_secret = \"env:PATH\"")
        );
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        let sink = |i: usize| match &config.destinations[i].sink {
            SinkConfig::Http(h) => (h.format, config.destinations[i].batch.max_events),
            _ => unreachable!(),
        };
        // The format follows the sources; the batch bound is the vendor's.
        assert_eq!(sink(0), (BatchFormat::Ga4, 20));
        assert_eq!(sink(1), (BatchFormat::Ga4Mp, 1));
        assert_eq!(config.sources[1].api_secrets.len(), 1);

        let problems = |text: String| -> Vec<String> {
            load(&text)
                .unwrap_err()
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect()
        };
        // More than a request takes, written: refused, not lowered.
        let big = format!(
            "{sources}{}{}",
            hits("batch = { max_events = 21 }"),
            mp(
                mp_url,
                "api_secret = \"env:PATH\"\nbatch = { max_events = 2 }"
            )
        );
        assert_eq!(
            problems(big),
            [
                "destinations[0].batch.max_events: a `ga4` request takes at most 20 event(s)",
                "destinations[1].batch.max_events: a `ga4_mp` request takes at most 1 event(s)",
            ]
        );
        // The secret: required, never in the url, which names the stream.
        let bare = format!(
            "{sources}{}{}",
            hits(""),
            mp("https://g.test/mp/collect?api_secret=s", "")
        );
        let found = problems(bare);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("destinations[1].api_secret")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("names its stream")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("cannot be written in the url")),
            "{found:?}"
        );
        // gtag hits cannot go out as Measurement Protocol bodies.
        let crossed = format!(
            "{sources}{}{}",
            hits("format = \"ga4_mp\""),
            mp(mp_url, "api_secret = \"env:PATH\"")
        );
        let found = problems(crossed);
        assert!(
            found[0].contains("a `ga4_mp` batch cannot carry the events of a `ga4` source"),
            "{found:?}"
        );
        // api_secrets: required for ga4_mp, references only, nowhere else.
        let no_secret = ok.replace("api_secrets = [\"env:PATH\"]\n", "");
        assert!(problems(no_secret)[0].starts_with("sources[1].api_secrets"));
        let literal = ok.replace("api_secret = \"env:PATH\"", "api_secret = \"s3cret\"");
        let found = problems(literal);
        assert!(
            found[0].starts_with("destinations[1].api_secret"),
            "{found:?}"
        );
        assert!(!found[0].contains("s3cret"), "never echoed");
        let literal = ok.replace("api_secrets = [\"env:PATH\"]", "api_secrets = [\"s3cret\"]");
        let found = problems(literal);
        assert!(found[0].contains("literally"), "{found:?}");
        assert!(!found[0].contains("s3cret"), "never echoed");
        let misplaced = ok.replace(
            "write_keys = [\"G-1\"]\ndestinations = [\"hits\"]",
            "write_keys = [\"G-1\"]\napi_secrets = [\"env:PATH\"]\ndestinations = [\"hits\"]",
        );
        assert!(problems(misplaced)[0].contains("takes no api_secrets"));
    }

    #[test]
    fn a_minimal_config_gets_safe_defaults() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(config.consent.default, ConsentDefault::Deny);
        assert_eq!(config.server.max_body_bytes, 512 * 1024);
        assert_eq!(config.sources[0].destinations, vec![0]);
    }

    #[test]
    fn the_in_flight_budget_must_hold_one_largest_request() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(config.server.max_inflight_bytes, 64 << 20);
        assert_eq!(config.server.max_concurrent_streams, 100);
        let largest = crate::ingest::inflight::largest_request(&config.server);
        assert!(largest < 64 << 20, "{largest}");
        let with = |server: &str| format!("[server]\n{server}\n{MINIMAL}");
        let err = load(&with("max_inflight_bytes = \"8MiB\"")).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(
            (p.key.as_str(), p.line),
            ("server.max_inflight_bytes", Some(2))
        );
        let at_least = units::ByteSize((largest as u64).div_ceil(1 << 20) << 20);
        assert!(
            p.message.contains(&format!("use at least {at_least}")),
            "{}",
            p.message
        );
        // Smaller requests, a smaller budget.
        let small = "max_inflight_bytes = \"2MiB\"\nmax_body_bytes = \"64KiB\"\n\
                     max_decompressed_bytes = \"256KiB\"\nmax_batch_events = 1000";
        assert_eq!(
            load(&with(small)).unwrap().server.max_inflight_bytes,
            2 << 20
        );
        let err = load(&with("max_concurrent_streams = 0")).unwrap_err();
        assert_eq!(err.problems[0].key, "server.max_concurrent_streams");
    }

    #[test]
    fn more_consent_purposes_than_supported_are_refused() {
        let many: Vec<String> = (0..=crate::consent::MAX_PURPOSES)
            .map(|i| format!("\"p{i}\""))
            .collect();
        let text = MINIMAL.replace(
            "kind = \"stdout\"",
            &format!("kind = \"stdout\"\nrequire_consent = [{}]", many.join(",")),
        );
        let err = load(&text).unwrap_err();
        assert_eq!(err.problems[0].key, "destinations[].require_consent");
        assert!(err.problems[0].message.contains("at most 64"));
        let text = MINIMAL.replace(
            "kind = \"stdout\"",
            &format!(
                "kind = \"stdout\"\nrequire_consent = [{}]",
                many[1..].join(",")
            ),
        );
        assert!(load(&text).is_ok());
    }

    #[test]
    fn unknown_keys_are_errors_with_position_and_key() {
        let text = MINIMAL.replace("kind = \"stdout\"", "kind = \"stdout\"\nbatchh = 3");
        let err = load(&text).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.line, Some(9));
        assert_eq!(p.column, Some(1));
        assert_eq!(p.key, "destinations[0].batchh");
        assert!(
            p.message.contains("unknown field `batchh`"),
            "{}",
            p.message
        );
        assert!(err
            .to_string()
            .starts_with("proxy.toml:9:1: `destinations[0].batchh`"));
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let text = r#"
[server]
listen = "localhost:80"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["env:PRIVGATE_TEST_SURELY_UNSET_VAR"]
cors_origins = ["*"]
destinations = ["nope"]
[[destinations]]
name = "b"
kind = "http"
url = "ftp://x"
headers = { Authorization = "Bearer abc" }
"#;
        let err = load(text).unwrap_err();
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.listen",
                "destinations[0].url",
                "destinations[0].headers.Authorization",
                "destinations[0].delivery",
                "sources[0].write_keys",
                "sources[0].cors_origins",
                "sources[0].destinations"
            ]
        );
        assert_eq!(err.problems[0].line, Some(3));
        // The literal credential is never echoed back.
        assert!(!err.to_string().contains("Bearer abc"));
    }

    #[test]
    fn http_destinations_are_durable_by_default_and_need_a_key_for_it() {
        let http =
            "[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n";
        let err = load(&format!("{MINIMAL}{http}")).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(
            (p.key.as_str(), p.line),
            ("destinations[1].delivery", Some(11))
        );
        assert!(
            p.message.contains("the default for kind = \"http\""),
            "{}",
            p.message
        );
        assert!(p.hint.as_deref().unwrap().contains("privgate keygen"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), crate::crypto::generate_key().as_str()).unwrap();
        let key = format!(
            "[keys]\nencryption = [{{ id = \"e1\", key = \"file:{}/k\" }}]\n",
            dir.path().display()
        );
        let spool = "[spool]\ndir = \"spool-here\"\nfsync = \"always\"\nmax_bytes = \"64MiB\"\nmax_age = \"1h\"\n";
        let config =
            load(&format!("{MINIMAL}{http}{key}{spool}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.destinations[0].delivery, Delivery::Memory, "stdout");
        assert_eq!(config.destinations[1].delivery, Delivery::Durable, "http");
        assert_eq!(config.spool.dir, Path::new("spool-here"));
        assert_eq!(config.spool.fsync, Fsync::Always);
        assert_eq!(config.spool.max_bytes, 64 << 20);
        assert_eq!(config.spool.max_age, Duration::from_secs(3600));
        assert!(
            config
                .summary()
                .contains("durable (spool spool-here/b, up to 64MiB)"),
            "{}",
            config.summary()
        );

        let memory = format!("{MINIMAL}{http}delivery = \"memory\"\n");
        assert_eq!(
            load(&memory).unwrap().destinations[1].delivery,
            Delivery::Memory
        );

        let tiny =
            format!("{MINIMAL}{http}{key}[spool]\nmax_bytes = \"1MiB\"\nfsync = \"sometimes\"\n");
        let err = load(&tiny).unwrap_err();
        assert!(err.to_string().contains("fsync"), "{err}");
        let tiny = format!("{MINIMAL}{http}{key}[spool]\nmax_bytes = \"1MiB\"\n");
        let err = load(&tiny).unwrap_err();
        assert_eq!(err.problems[0].key, "spool.max_bytes");
        let huge = format!(
            "{MINIMAL}{http}{key}[spool]\nsegment_bytes = \"2GiB\"\nmax_bytes = \"8GiB\"\n"
        );
        let err = load(&huge).unwrap_err();
        assert_eq!(err.problems[0].key, "spool.segment_bytes");
        let largest = format!(
            "{MINIMAL}{http}{key}[spool]\nsegment_bytes = \"1GiB\"\nmax_bytes = \"8GiB\"\n"
        );
        assert_eq!(load(&largest).unwrap().spool.segment_bytes, 1 << 30);
    }

    #[test]
    fn rules_compile_and_mistakes_point_at_their_line() {
        let ok = format!(
            "{MINIMAL}allow = [\"type\", \"properties.*\"]\n[[destinations.rules]]\nselect = \"context.ip\"\naction = \"truncate_ip\"\nipv4_prefix = 16\n[[rules]]\nname = \"scrub\"\nselect = [\"@url\", \"@referrer\"]\naction = \"scrub_url\"\nkeep_params = [\"utm_*\"]\n"
        );
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.policy.rules()[0].id, "scrub");
        assert_eq!(config.policy.rules()[0].selectors.len(), 12);
        assert_eq!(
            config.destinations[0].policy.rules()[0].id,
            "destinations[0].rules[0]"
        );
        assert_eq!(config.destinations[0].policy.allow().unwrap().len(), 2);

        let bad = format!("{MINIMAL}[[rules]]\nselect = \"@ip\"\naction = \"truncate\"\n");
        let err = load(&bad).unwrap_err();
        assert_eq!(err.problems[0].line, Some(11));
        assert!(err.problems[0]
            .message
            .contains("unknown variant `truncate`"));

        let bad = format!(
            "{MINIMAL}[[rules]]\nselect = \"a..b\"\naction = \"hash\"\nkeep_params = [\"x\"]\n[[rules]]\nselect = \"**\"\naction = \"redact_pii\"\ndetectors = [\"passport\"]\n"
        );
        let err = load(&bad).unwrap_err();
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "rules[0].keep_params",
                "rules[0].select",
                "rules[0].action",
                "rules[1].detectors"
            ]
        );
        assert_eq!(err.problems[1].line, Some(10));
    }

    #[test]
    fn keys_are_checked_by_reference_id_and_activity() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::crypto::generate_key();
        std::fs::write(dir.path().join("k"), key.as_str()).unwrap();
        let d = dir.path().display();
        let ok = format!(
            "{MINIMAL}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/k\", active = false }}, {{ id = \"e2\", key = \"file:{d}/k\", active = true }}]\nhmac = [{{ id = \"h1\", secret = \"file:{d}/k\" }}]\n"
        );
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.keyring.active_encryption().unwrap().id(), "e2");
        assert_eq!(config.keyring.active_hmac().unwrap().id(), "h1");
        assert!(config
            .summary()
            .contains("keys: 1 hmac (active h1), 2 encryption (active e2)"));
        assert!(!config.summary().contains(key.as_str()));

        let bad = format!(
            "{MINIMAL}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/k\", active = true }}, {{ id = \"e1\", key = \"file:{d}/k\", active = true }}]\nhmac = [{{ id = \"h1\", secret = \"{key}\" }}]\n",
            key = key.as_str()
        );
        let err = load(&bad).unwrap_err();
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "keys.hmac[0].secret",
                "keys.encryption[1].id",
                "keys.encryption"
            ]
        );
        assert!(
            !err.to_string().contains(key.as_str()),
            "a literal key is never echoed"
        );
    }

    #[test]
    fn secret_headers_must_be_references() {
        let text = MINIMAL.replace(
            "kind = \"stdout\"",
            "kind = \"http\"\nurl = \"http://127.0.0.1:1/\"\nsecret_headers = { Authorization = \"Bearer abc\" }",
        );
        let err = load(&text).unwrap_err();
        assert!(err.to_string().contains("cannot be written literally"));
        assert!(!err.to_string().contains("Bearer abc"));
    }
}
