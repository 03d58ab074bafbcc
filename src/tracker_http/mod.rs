//! The HTTP vocabulary of privgate's tracker-facing side, shared by
//! [`crate::ingest`] (the server) and [`crate::protocol`] (the codecs,
//! which say how a body is unwrapped and what answer an SDK takes): the
//! response body type and JSON answers, every way a tracker request can
//! fail ([`error`]: one status and one short JSON body each), and a
//! body's size limits with capped gunzip ([`body`]).
//!
//! # What it must never do
//! - Read a socket, hold state or decide anything about an event.
//! - Quote a request's value in an answer: errors carry positions and
//!   reasons only.
//! - Import ingest or protocol (they import it).
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub(crate) mod body;
pub(crate) mod error;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};

/// The error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The response body type of every handler.
pub(crate) type Body = BoxBody<Bytes, BoxError>;

/// A body from bytes.
pub(crate) fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// An empty body.
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &'static str) -> Response<Body> {
    json_answer(status, Bytes::from_static(body.as_bytes()))
}

/// A JSON response from bytes made at run time.
pub(crate) fn json_answer(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
