//! Google Analytics 4, as gtag.js and the Measurement Protocol send it. No
//! GA4 client was captured (`tests/fixtures/trackers/WIRE-FORMATS.md` covers other
//! SDKs), so both formats follow Google's documentation and the parsers of
//! projects that read them, cited where relied on.
//!
//! **gtag.js** (`protocol = "ga4"`): a hit is a query string of parameters
//! (`v=2`, `tid`, `cid`, `en`, `dl`, `ep.*`, `up.*`, `gcs`, ...).
//! `GET /g/collect?<hit>` carries one; `POST /g/collect?<shared>` carries
//! one per body line, the URL's parameters apply to every line and a
//! line's own override them, and an empty body makes the URL's parameters
//! the one hit. So read it d8a's GA4 reader (`d8a-tech/d8a`,
//! `pkg/protocol/ga4/protocol.go`: lines split at `\n` and trimmed) and
//! Amplitude's GA forwarder (`amplitude/Amplitude-TypeScript`,
//! `packages/plugin-ga-events-forwarder-browser/src/helpers.ts`: lines
//! split at `\r\n`); privgate takes either and writes `\r\n`. Each hit
//! becomes one flat JSON object of its decoded parameters, all strings,
//! keys as sent: `{"v":"2","tid":"G-X","en":"page_view","ep.a":"b"}`;
//! [`gtag::encode_hit`] writes it back as a query string for forwarding. The
//! measurement id `tid` is the write key: every hit of a request must name
//! the one the request was accepted for.
//!
//! **Measurement Protocol** (`protocol = "ga4_mp"`): `POST /mp/collect?
//! measurement_id=...&api_secret=...` with `{"client_id", "user_id",
//! "timestamp_micros", "user_properties", "user_data", "consent", ...,
//! "events": [{"name", "params"}]}` (reference:
//! <https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference>).
//! Each element of `events` becomes one event: the request's body with
//! that element alone in `events`. So every event is a complete MP body
//! for one client, and a destination can send it as it is, whatever other
//! clients' events it is batched with (it is not: MP allows one client per
//! request, so `ga4_mp` destinations send one event per request).
//!
//! Both answer `204 No Content` with an empty body, as Google does: the
//! Measurement Protocol "returns a 2xx status code if the HTTP request is
//! received" (reference above; 204 as logged in AzuraCast/AzuraCast#6033).
//! gtag.js posts its hits with `navigator.sendBeacon` or a keepalive fetch
//! and acts on no answer (Google's `/g/collect` answers 204 too, as seen in
//! browsers' network logs; not captured here): a beacon's answer is never
//! read, and an opaque `no-cors` one cannot be, so an empty 2xx serves every
//! transport.
//!
//! This module never decides anything about consent: it marks where `uid`,
//! `cid`, `gdpr_consent`, `gcs` and `gcd` (gtag) or `user_id`, `client_id`
//! and `consent` (MP) are. It never logs a parameter, a key or a secret.

pub mod gtag;
pub mod mp;
#[cfg(test)]
mod tests;

pub use gtag::{decode_gtag, encode_hit, Gtag, GtagLayout, GTAG_PATH};
pub use mp::{decode_mp, Mp, MpLayout, MP_PATH};

use crate::tracker_http::Body;
use http::{Response, StatusCode};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What privgate answers an accepted gtag.js or Measurement Protocol
/// request: `204 No Content`, as Google does.
pub fn accepted() -> Response<Body> {
    let mut response = Response::new(crate::tracker_http::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// An object's members in order, duplicates kept, values unparsed.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(Entries)
    }
}

/// A JSON string of `text`.
fn json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a string serializes into a Vec");
}
