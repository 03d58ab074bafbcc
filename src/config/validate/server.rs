//! `[server]` (the listener trackers talk to and the bounds of what it
//! reads) and `[admin]` (the admin listener and its token).

use super::Validator;
use crate::config::schema;
use crate::config::secret::{Secret, SecretError, SecretRef};
use crate::config::units;
use crate::ingest::settings::ServerConfig;
use std::net::SocketAddr;
use toml::Spanned;

/// The smallest `server.memory_limit`: privgate's heap at rest is about
/// 10MiB with the shipped policy, more with an opt-out registry.
const MIN_MEMORY_LIMIT: u64 = 32 << 20;

impl Validator<'_> {
    /// `[server]`, with the bounds checked against each other.
    pub(super) fn server(&mut self, s: &schema::Server) -> ServerConfig {
        let server = ServerConfig {
            listen: self.addr(&s.listen, "server.listen"),
            max_body_bytes: s.max_body_bytes.as_usize(),
            max_decompressed_bytes: s.max_decompressed_bytes.as_usize(),
            json: crate::json::Limits {
                max_depth: self.in_range(
                    &s.max_json_depth,
                    "server.max_json_depth",
                    2..=crate::json::Limits::DEPTH_CEILING as u64,
                ),
                max_fields: self.in_range(
                    &s.max_event_fields,
                    "server.max_event_fields",
                    1..=1_000_000,
                ),
                max_batch: self.in_range(
                    &s.max_batch_events,
                    "server.max_batch_events",
                    1..=1_000_000,
                ),
                max_bytes: s.max_decompressed_bytes.as_usize(),
            },
            max_headers: self.in_range(&s.max_headers, "server.max_headers", 8..=10_000),
            max_header_bytes: s.max_header_bytes.as_usize(),
            max_connections: self.in_range(
                &s.max_connections,
                "server.max_connections",
                1..=1_000_000,
            ),
            max_inflight_bytes: s.max_inflight_bytes.get_ref().as_usize(),
            memory_limit: s.memory_limit.as_ref().map(|m| m.get_ref().0),
            max_concurrent_streams: self.in_range(
                &s.max_concurrent_streams,
                "server.max_concurrent_streams",
                1..=10_000,
            ) as u32,
            header_read_timeout: self
                .positive(s.header_read_timeout.0, "server.header_read_timeout"),
            idle_timeout: self.positive(s.idle_timeout.0, "server.idle_timeout"),
            request_timeout: self.positive(s.request_timeout.0, "server.request_timeout"),
            send_timeout: self.positive(s.send_timeout.0, "server.send_timeout"),
            shutdown_timeout: self.positive(s.shutdown_timeout.0, "server.shutdown_timeout"),
            worker_threads: s
                .worker_threads
                .as_ref()
                .map(|w| self.in_range(w, "server.worker_threads", 1..=1024)),
            tls: self.listener_tls(s.tls.as_ref(), "server.tls"),
            rate_limit: self.rate_limit(s.rate_limit.as_ref(), *s.max_batch_events.get_ref()),
            trusted_proxies: self.trusted_proxies(&s.trusted_proxies),
        };
        if server.max_body_bytes == 0 || server.max_decompressed_bytes < server.max_body_bytes {
            self.problem(
                0..0,
                "server.max_decompressed_bytes".into(),
                "must be at least server.max_body_bytes (and neither may be zero)".into(),
                "raise max_decompressed_bytes or lower max_body_bytes",
            );
        }
        if let Some(limit) = &s.memory_limit {
            if limit.get_ref().0 < MIN_MEMORY_LIMIT {
                self.problem(
                    limit.span(),
                    "server.memory_limit".into(),
                    format!(
                        "is less than privgate holds at rest (use at least {})",
                        units::ByteSize(MIN_MEMORY_LIMIT)
                    ),
                    "raise it to what you give privgate, less what its binary maps (about 30MiB), or remove it",
                );
            }
        }
        let largest = crate::ingest::inflight::largest_request(&server);
        if server.max_inflight_bytes < largest {
            self.problem(
                s.max_inflight_bytes.span(),
                "server.max_inflight_bytes".into(),
                format!(
                    "is less than one request may hold with the other limits (use at least {})",
                    units::ByteSize((largest as u64).div_ceil(1 << 20) << 20)
                ),
                "raise it, or lower max_body_bytes, max_decompressed_bytes or max_batch_events",
            );
        }
        server
    }

    /// `[admin]`: its listener (never the server's address), TLS and token.
    pub(super) fn admin(
        &mut self,
        a: &schema::Admin,
        server: &ServerConfig,
    ) -> (SocketAddr, Option<crate::tls::ServerTls>, Option<Secret>) {
        let admin_listen = self.addr(&a.listen, "admin.listen");
        let admin_tls = self.listener_tls(a.tls.as_ref(), "admin.tls");
        let admin_token = self.admin_secret(a.token.as_ref(), "admin.token");
        if admin_listen == server.listen && admin_listen.port() != 0 {
            self.problem(
                a.listen.span(),
                "admin.listen".into(),
                "the admin listener cannot share the server's address".into(),
                "pick another port, e.g. 127.0.0.1:9090",
            );
        }
        (admin_listen, admin_tls, admin_token)
    }

    /// `[admin] read_token`: like `token`, and only beside it.
    pub(super) fn admin_read_token(&mut self, a: &schema::Admin) -> Option<Secret> {
        let read = self.admin_secret(a.read_token.as_ref(), "admin.read_token");
        if let (Some(value), None) = (&a.read_token, &a.token) {
            self.problem(
                value.span(),
                "admin.read_token".into(),
                "a read-only token needs [admin] token (without it, /admin/* is open)".into(),
                "set token = \"env:PRIVGATE_ADMIN_TOKEN\" as well",
            );
        }
        read
    }

    /// An admin token reference at `key`, resolved (16+ characters).
    fn admin_secret(&mut self, value: Option<&Spanned<String>>, key: &str) -> Option<Secret> {
        value.and_then(|value| {
            let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
                SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
                r => r.resolve(&self.base),
            });
            match resolved {
                Ok(token) if token.expose().len() >= 16 => Some(token),
                Ok(_) => {
                    self.problem(
                        value.span(),
                        key.into(),
                        "the token is shorter than 16 characters".into(),
                        "use a long random token, e.g. from `privgate keygen`",
                    );
                    None
                }
                Err(e) => {
                    self.problem(
                        value.span(),
                        key.into(),
                        e.to_string(),
                        "write token = \"env:PRIVGATE_ADMIN_TOKEN\" or \"file:/path/to/token\"",
                    );
                    None
                }
            }
        })
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
}
