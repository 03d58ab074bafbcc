//! What RudderStack's `@rudderstack/analytics-js` sends besides the Segment
//! API it shares with analytics.js (`POST /v1/<type>`, decoded by
//! [`super::segment`]):
//! - the beacon queue (`useBeacon`): `POST /beacon/v1/batch?writeKey=...`,
//!   `text/plain`, a Segment batch envelope, answer never read;
//! - the source-config fetch, `GET /sourceConfig/?...&writeKey=...`
//!   (preflighted for its `Authorization`). Without a successful answer the
//!   SDK sends nothing at all, so it is relayed to the source's `upstream`.
//!
//! The `AnonymousId` header (the anonymous id, base64) is read by nobody
//! and passed to nobody: privgate forwards the event, not the request.

/// The beacon queue's path.
pub const BEACON: &str = "/beacon/v1/batch";

/// Whether `path` is the source-config fetch (or its preflight).
pub fn is_passthrough(path: &str) -> bool {
    matches!(path, "/sourceConfig" | "/sourceConfig/")
}

use super::{
    query_param, segment, Codec, Decoded, Framing, Input, IpField, KeySink, Protocol, Route, Stamp,
};
use crate::json::Limits;
use crate::json::{Refused, TopLevel};
use crate::tracker_http::error::IngestError;
use http::request::Parts;

/// RudderStack's codec: its own endpoints (the Segment API's are
/// [`segment::Segment`]'s); its events are Segment events.
pub struct Rudderstack;

impl Codec for Rudderstack {
    fn protocol(&self) -> Protocol {
        Protocol::Rudderstack
    }

    fn serves(&self) -> &'static [Protocol] {
        &[Protocol::Rudderstack]
    }

    fn route(&self, path: &str) -> Option<Route> {
        (path == BEACON).then_some(Route::Events)
    }

    fn relays(&self, _method: &http::Method, path: &str) -> bool {
        is_passthrough(path)
    }

    fn relay_key(&self, uri: &http::Uri) -> Option<String> {
        query_param(uri.query(), "writeKey")
    }

    /// A beacon cannot set headers: the key may be in the query.
    fn head_key(&self, _route: Route, parts: &Parts) -> Result<Option<String>, IngestError> {
        Ok(super::basic_username(&parts.headers)?
            .or_else(|| query_param(parts.uri.query(), "writeKey")))
    }

    fn decode(
        &self,
        _route: Route,
        input: &Input<'_>,
        key: KeySink<'_>,
    ) -> Result<Decoded, IngestError> {
        let received_at = &input.stamp();
        let stamp = Stamp { received_at };
        segment::decode(
            segment::Route::Batch,
            input.payload,
            &stamp,
            input.limits,
            key,
        )
    }

    fn scan<'a>(&self, event: &'a [u8], limits: Limits) -> Result<TopLevel<'a>, Refused> {
        segment::Segment.scan(event, limits)
    }

    fn semantic_paths(&self, name: &str) -> Option<&'static [&'static str]> {
        segment::Segment.semantic_paths(name)
    }

    fn ip_field(&self) -> IpField {
        segment::Segment.ip_field()
    }

    fn framing(&self, api_key: Option<&str>) -> Framing {
        segment::Segment.framing(api_key)
    }
}
