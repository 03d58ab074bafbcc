//! `[[sources]]`: the trackers privgate accepts.

use super::{EventRate, Protocol};
use crate::config::units::{ByteSize, Dur};
use crate::ingest::settings::ClientIp;
use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;

/// `[[sources]]`: one kind of tracker traffic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
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
