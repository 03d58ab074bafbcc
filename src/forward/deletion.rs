//! A destination's deletion call (`[destinations.deletion]`), validated:
//! the HTTP request that asks its backend to delete a subject's data,
//! made once per erased id by [`super::requests`].

use http::{HeaderName, HeaderValue, Method};
use std::time::Duration;

/// What `{id}` in a url keeps as it is: RFC 3986's unreserved characters.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where `{id}` goes in `url` and `body`.
pub(crate) const PLACEHOLDER: &str = "{id}";

/// `[destinations.deletion]`, validated.
#[derive(Debug, Clone)]
pub struct DeletionConfig {
    /// The url; `{id}` is replaced by the id, percent-encoded.
    pub url: String,
    /// `POST` (default), `PUT`, `PATCH` or `DELETE`.
    pub method: Method,
    /// Headers, secrets resolved (and marked sensitive).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body; `{id}` is replaced by the id, escaped as in a JSON string.
    pub body: Option<String>,
    /// The body's `Content-Type`.
    pub content_type: HeaderValue,
    /// Attempts per id before it counts as failed.
    pub max_attempts: u32,
    /// Backoff before the first retry (doubling, with jitter).
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
    /// Whole-request timeout per attempt.
    pub request_timeout: Duration,
}

impl DeletionConfig {
    /// The url for `id`.
    pub fn url_for(&self, id: &str) -> String {
        let encoded: String = percent_encoding::utf8_percent_encode(id, UNRESERVED).collect();
        self.url.replace(PLACEHOLDER, &encoded)
    }

    /// The body for `id` (empty without one).
    pub fn body_for(&self, id: &str) -> String {
        let Some(body) = &self.body else {
            return String::new();
        };
        let quoted = serde_json::to_string(id).expect("a string serializes");
        body.replace(PLACEHOLDER, &quoted[1..quoted.len() - 1])
    }
}
