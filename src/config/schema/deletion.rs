//! `[destinations.deletion]`: the HTTP call that asks a destination's
//! backend to delete a subject's data (`POST /admin/subjects/erase`).

use crate::config::units::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// `[destinations.deletion]` of an `http` destination.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Deletion {
    /// Where the call goes (`http://` or `https://`); `{id}` is replaced
    /// by the id, percent-encoded.
    pub url: Spanned<String>,
    /// `POST` (default), `PUT`, `PATCH` or `DELETE`.
    pub method: Option<Spanned<String>>,
    /// Headers; each value a literal or an `env:`/`file:` reference.
    /// Credentials (`Authorization`, names with key, token, secret, auth,
    /// password) must be references.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// The body; `{id}` is replaced by the id, escaped as inside a JSON
    /// string (e.g. `"{\"userId\":\"{id}\"}"`). None by default.
    pub body: Option<Spanned<String>>,
    /// The body's content type (default `application/json`).
    pub content_type: Option<Spanned<String>>,
    /// Attempts per id before it counts as failed (1 to 20, default 5).
    #[serde(default = "Deletion::default_attempts")]
    pub max_attempts: Spanned<u32>,
    /// Backoff before the first retry; doubles, with jitter (default 1s).
    #[serde(default = "Deletion::default_initial")]
    pub initial_backoff: Dur,
    /// Upper bound of one backoff (default 1m).
    #[serde(default = "Deletion::default_max")]
    pub max_backoff: Dur,
    /// Whole-request timeout per attempt (default 10s).
    #[serde(default = "Deletion::default_timeout")]
    pub request_timeout: Dur,
}

impl Deletion {
    fn default_attempts() -> Spanned<u32> {
        Spanned::new(0..0, 5)
    }
    fn default_initial() -> Dur {
        Dur(Duration::from_secs(1))
    }
    fn default_max() -> Dur {
        Dur(Duration::from_secs(60))
    }
    fn default_timeout() -> Dur {
        Dur(Duration::from_secs(10))
    }
}
