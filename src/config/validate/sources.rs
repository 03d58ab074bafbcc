//! `[[sources]]`: the trackers privgate accepts, their write keys, CORS
//! origins, upstream and destinations.

use super::{parse_http_url, Validator};
use crate::config::schema::{self, Protocol};
use crate::config::secret::{Secret, SecretRef};
use crate::forward::settings::DestinationConfig;
use crate::ingest::settings::SourceConfig;
use http::HeaderValue;
use std::collections::HashSet;

impl Validator<'_> {
    /// Source `i`; `destinations` are the validated ones, which it names.
    pub(super) fn source(
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
