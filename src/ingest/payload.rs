//! From a request to its events, per protocol: reading its payload (a
//! body within the body limits, or the Snowplow pixel's query), charged to
//! the request's in-flight budget as it grows (see [`super::inflight`]),
//! and running the protocol's decoder on it.

use super::error::IngestError;
use super::inflight::Charge;
use super::{body, Endpoint, Ingest};
use crate::protocol::{amplitude, ga4, json as collect, posthog, segment, snowplow};
use bytes::Bytes;
use http::header;
use hyper::body::Incoming;
use std::time::SystemTime;

impl Ingest {
    /// The payload of an event request, decoded from its wire form (gzip,
    /// PostHog's forms).
    pub(super) async fn payload(
        &self,
        endpoint: Endpoint,
        parts: &http::request::Parts,
        incoming: Incoming,
        charge: &Charge,
    ) -> Result<Bytes, IngestError> {
        let limits = self.limits;
        Ok(match endpoint {
            Endpoint::Posthog => {
                let forms = body::Forms::Accepted;
                let raw = body::read_as(&parts.headers, incoming, limits, forms, charge).await?;
                let form = parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| {
                    v.as_bytes()
                        .starts_with(b"application/x-www-form-urlencoded")
                });
                // Unwrapping may hold twice the decompression limit (lz64:
                // its UTF-16 units and their text); then what it came
                // from is gone, or is what it made.
                let raw_len = raw.len();
                let room = charge.reserve(2 * limits.max_decompressed)?;
                let body = posthog::unwrap(raw, parts.uri.query(), form, limits)?;
                room.settle(body.len());
                charge.release(raw_len);
                body
            }
            Endpoint::Snowplow(snowplow::Route::Pixel) => {
                let query = snowplow::query(parts.uri.query(), limits.max_body)?;
                charge.add(query.len())?;
                query
            }
            // GA4 hits are query strings, also sent as forms.
            Endpoint::Gtag => {
                let forms = body::Forms::Accepted;
                body::read_as(&parts.headers, incoming, limits, forms, charge).await?
            }
            _ => body::read(&parts.headers, incoming, limits, charge).await?,
        })
    }

    /// The protocol's decoder on a request's payload: one JSON object per
    /// event, within the events' bounds; keys in the body go to `key` as
    /// they are read.
    pub(super) fn decode(
        &self,
        endpoint: Endpoint,
        parts: &http::request::Parts,
        body: &Bytes,
        received_at: SystemTime,
        key: impl FnMut(&str) -> Result<(), IngestError>,
    ) -> Result<segment::Decoded, IngestError> {
        let limits = self.json_limits;
        // Only the protocols that fill `receivedAt` need its text.
        let stamp = || humantime::format_rfc3339_millis(received_at).to_string();
        match endpoint {
            Endpoint::Segment(route) => {
                let received_at = &stamp();
                segment::decode(route, body, &segment::Stamp { received_at }, limits, key)
            }
            Endpoint::RudderBeacon => {
                let received_at = &stamp();
                let stamp = segment::Stamp { received_at };
                segment::decode(segment::Route::Batch, body, &stamp, limits, key)
            }
            Endpoint::Amplitude => amplitude::decode(body, limits, key),
            Endpoint::Posthog => posthog::decode(body, limits, key),
            Endpoint::Snowplow(route) => {
                let facts = snowplow::Facts::of(&parts.headers);
                snowplow::decode(route, body, &facts, limits, key)
            }
            // A GA4 request's events repeat its shared parameters: what they
            // add up to is bounded like every request's events.
            Endpoint::Gtag => ga4::decode_gtag(parts.uri.query(), body, limits, key),
            Endpoint::Mp => ga4::decode_mp(body, limits),
            Endpoint::Collect | Endpoint::Passthrough(_) => {
                let received_at = &stamp();
                collect::decode(body, &segment::Stamp { received_at }, limits)
            }
        }
    }
}
