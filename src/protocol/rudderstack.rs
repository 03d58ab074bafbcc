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
