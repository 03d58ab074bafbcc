//! Every way a client request can fail, and the one place that maps a
//! failure to an HTTP status and a short JSON body. Messages never contain
//! field values, only positions and reasons: no variant carries a `String`,
//! and a body that cannot be read is described by [`Unreadable`], a fixed
//! text and a position (serde_json's own messages quote the offending
//! value, `invalid type: string "alice@example.com", expected ...`, so they
//! never reach a client).

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use std::fmt;

/// Why a client request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// No route for this path.
    #[error("no such endpoint")]
    NotFound,
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// No write key was given.
    #[error("missing write key: send it as the Basic auth username or as `writeKey`")]
    MissingWriteKey,
    /// The write key matches no source.
    #[error("unknown write key")]
    BadWriteKey,
    /// The body is larger than allowed (on the wire or decompressed).
    #[error("body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    /// The request head has more header fields or bytes than allowed.
    #[error("request headers exceed the limits (server.max_headers, server.max_header_bytes)")]
    HeadersTooLarge,
    /// A `Content-Encoding` we do not decode.
    #[error("unsupported content encoding; send gzip or no encoding")]
    UnsupportedEncoding,
    /// A `Content-Type` that cannot carry events.
    #[error("unsupported content type; send application/json or text/plain")]
    UnsupportedMediaType,
    /// The gzip stream is corrupt.
    #[error("the gzip body could not be decompressed")]
    BadGzip,
    /// The body is not the JSON this endpoint takes.
    #[error("invalid JSON: {0}")]
    InvalidJson(Unreadable),
    /// The JSON is well-formed but not the expected shape.
    #[error("{0}")]
    InvalidShape(&'static str),
    /// The origin is not allowed to call this endpoint (preflight).
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// The request took longer than `server.request_timeout`.
    #[error("request timed out")]
    Timeout,
    /// The body stream failed mid-way.
    #[error("the request body could not be read")]
    BodyRead,
    /// An event nests deeper or holds more fields than the limits allow.
    #[error("{0}")]
    TooComplex(Unreadable),
    /// A batch holds more events than `server.max_batch_events`.
    #[error("a batch may hold at most {0} events; split it")]
    TooManyEvents(usize),
    /// A rate limit is exceeded; the client should retry after this many
    /// seconds (at least 1).
    #[error("rate limit exceeded; retry after {0} s")]
    RateLimited(u64),
    /// A destination's queue is full; the client should retry.
    #[error("temporarily unable to accept events; retry later")]
    Backpressure,
    /// The requests in flight hold `server.max_inflight_bytes`, or the
    /// heap is over `server.memory_limit`; the client should retry.
    #[error("too much request data in flight; retry later")]
    Overloaded,
    /// A durable destination's spool could not store the events.
    #[error("events could not be stored; retry later")]
    StorageUnavailable,
    /// The upstream of a relayed request failed.
    #[error("upstream unavailable")]
    BadGateway,
    /// The upstream of a relayed request did not answer in time.
    #[error("upstream timed out")]
    GatewayTimeout,
}

impl IngestError {
    /// The HTTP status for this failure.
    pub fn status(&self) -> StatusCode {
        use IngestError::*;
        match self {
            NotFound => StatusCode::NOT_FOUND,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            MissingWriteKey | BadWriteKey => StatusCode::UNAUTHORIZED,
            TooLarge(_) | TooManyEvents(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TooComplex(_) => StatusCode::BAD_REQUEST,
            HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            UnsupportedEncoding | UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BadGzip | InvalidJson(_) | InvalidShape(_) | BodyRead => StatusCode::BAD_REQUEST,
            OriginNotAllowed => StatusCode::FORBIDDEN,
            Timeout => StatusCode::REQUEST_TIMEOUT,
            RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Backpressure | StorageUnavailable | Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            BadGateway => StatusCode::BAD_GATEWAY,
            GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use IngestError::*;
        match self {
            NotFound => "not_found",
            MethodNotAllowed(_) => "method_not_allowed",
            MissingWriteKey => "missing_write_key",
            BadWriteKey => "invalid_write_key",
            TooLarge(_) => "body_too_large",
            TooComplex(_) => "too_complex",
            TooManyEvents(_) => "too_many_events",
            HeadersTooLarge => "headers_too_large",
            UnsupportedEncoding => "unsupported_encoding",
            UnsupportedMediaType => "unsupported_media_type",
            BadGzip => "invalid_gzip",
            InvalidJson(_) => "invalid_json",
            InvalidShape(_) => "invalid_payload",
            OriginNotAllowed => "origin_not_allowed",
            Timeout => "timeout",
            BodyRead => "body_read_failed",
            RateLimited(_) => "rate_limited",
            Backpressure => "backpressure",
            Overloaded => "overloaded",
            StorageUnavailable => "storage_unavailable",
            BadGateway => "bad_gateway",
            GatewayTimeout => "gateway_timeout",
        }
    }

    /// The response: status, `{"success":false,"code":status,"error":code,
    /// "message":...}`. The status is in the body too because Amplitude's
    /// SDK reads the outcome from the body's `code` alone.
    pub fn into_response(self) -> Response<Bytes> {
        let body = match self.shedding_body() {
            Some(body) => Bytes::from_static(body.as_bytes()),
            None => Bytes::from(self.json_body()),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            IngestError::MissingWriteKey | IngestError::BadWriteKey => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"privgate\""),
                );
            }
            IngestError::MethodNotAllowed(allow) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            IngestError::Backpressure
            | IngestError::StorageUnavailable
            | IngestError::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            IngestError::RateLimited(secs) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            _ => {}
        }
        response
    }
}

impl IngestError {
    /// The JSON body of [`IngestError::into_response`].
    fn json_body(&self) -> String {
        serde_json::json!({
            "success": false,
            "code": self.status().as_u16(),
            "error": self.code(),
            "message": self.to_string(),
        })
        .to_string()
    }

    /// The body of a refusal made under overload, written out once:
    /// shedding must cost little, and these are answered most often when
    /// the process has least to spare. The same as [`Self::json_body`]
    /// (a test holds them equal).
    fn shedding_body(&self) -> Option<&'static str> {
        Some(match self {
            IngestError::Backpressure => BACKPRESSURE,
            IngestError::Overloaded => OVERLOADED,
            IngestError::StorageUnavailable => STORAGE_UNAVAILABLE,
            _ => return None,
        })
    }
}

const BACKPRESSURE: &str = r#"{"code":503,"error":"backpressure","message":"temporarily unable to accept events; retry later","success":false}"#;
const OVERLOADED: &str = r#"{"code":503,"error":"overloaded","message":"too much request data in flight; retry later","success":false}"#;
const STORAGE_UNAVAILABLE: &str = r#"{"code":503,"error":"storage_unavailable","message":"events could not be stored; retry later","success":false}"#;

impl From<crate::json::Refused> for IngestError {
    fn from(r: crate::json::Refused) -> IngestError {
        use crate::json::Exceeded;
        let at = Position::of(&r.error);
        match r.exceeded {
            None => IngestError::InvalidJson(r.error.into()),
            Some(Exceeded::Depth) => IngestError::TooComplex(Unreadable::at(DEEPER, at)),
            Some(Exceeded::Fields) => IngestError::TooComplex(Unreadable::at(MORE_FIELDS, at)),
            Some(Exceeded::Batch) => IngestError::TooManyEvents(r.limits.max_batch),
        }
    }
}

/// [`IngestError::TooComplex`]'s description for nesting.
const DEEPER: &str = "nested deeper than server.max_json_depth allows";

/// [`IngestError::TooComplex`]'s description for an event's fields.
pub(crate) const MORE_FIELDS: &str = "more fields in one event than server.max_event_fields allows";

/// Why a body could not be read as what its endpoint takes: a fixed
/// description and where reading stopped, never any of the body's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreadable {
    what: &'static str,
    at: Position,
}

/// Where in a body reading stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Unknown (the error is about the body as a whole).
    Unknown,
    /// serde_json's line and column, both from 1.
    LineColumn(usize, usize),
    /// A byte offset, from 0.
    Byte(usize),
}

impl Position {
    /// Where serde_json stopped (its line is 0 when it does not know).
    pub fn of(e: &serde_json::Error) -> Position {
        match e.line() {
            0 => Position::Unknown,
            line => Position::LineColumn(line, e.column()),
        }
    }
}

impl Unreadable {
    /// `what` (a fixed text) went wrong at `at`.
    pub const fn at(what: &'static str, at: Position) -> Unreadable {
        Unreadable { what, at }
    }

    /// `what` went wrong somewhere in the body.
    pub const fn new(what: &'static str) -> Unreadable {
        Unreadable::at(what, Position::Unknown)
    }

    /// The description, without the position.
    pub fn what(&self) -> &'static str {
        self.what
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what)?;
        match self.at {
            Position::Unknown => Ok(()),
            Position::LineColumn(line, column) => write!(f, " at line {line}, column {column}"),
            Position::Byte(offset) => write!(f, " at byte {offset}"),
        }
    }
}

impl From<serde_json::Error> for Unreadable {
    /// serde_json's category and position; its message is dropped, since
    /// it may quote the value it stopped at.
    fn from(e: serde_json::Error) -> Unreadable {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax => "malformed JSON",
            Category::Eof => "the JSON ends early",
            Category::Data => "a value of the wrong type or shape",
            Category::Io => "the body could not be read",
        };
        Unreadable::at(what, Position::of(&e))
    }
}

impl From<std::str::Utf8Error> for Unreadable {
    fn from(e: std::str::Utf8Error) -> Unreadable {
        Unreadable::at(
            "the body is not valid UTF-8",
            Position::Byte(e.valid_up_to()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_under_overload_has_the_body_every_error_has() {
        use IngestError::*;
        for error in [Backpressure, Overloaded, StorageUnavailable] {
            let fixed = error.shedding_body().expect("written out");
            assert_eq!(fixed, error.json_body());
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(response.body(), fixed.as_bytes());
        }
        assert!(NotFound.shedding_body().is_none());
    }

    #[test]
    fn unreadable_bodies_are_described_without_their_content() {
        let marker = "alice@example.com";
        let wrong_type = serde_json::from_str::<Vec<u8>>(&format!("\"{marker}\"")).unwrap_err();
        assert!(
            wrong_type.to_string().contains(marker),
            "serde_json quotes it"
        );
        let cases = [
            (
                wrong_type,
                "a value of the wrong type or shape at line 1, column 19",
            ),
            (
                serde_json::from_str::<serde_json::Value>(&format!("[\"{marker}\" x")).unwrap_err(),
                "malformed JSON at line 1, column 22",
            ),
            (
                serde_json::from_str::<serde_json::Value>(&format!("[\"{marker}\"")).unwrap_err(),
                "the JSON ends early at line 1, column 20",
            ),
        ];
        for (e, want) in cases {
            let error = IngestError::InvalidJson(e.into());
            assert_eq!(error.to_string(), format!("invalid JSON: {want}"));
            let body = error.into_response().into_body();
            assert!(!String::from_utf8_lossy(&body).contains("alice"));
        }
        let bytes: &[u8] = &[b'a', b'b', 0xff, b'c'];
        let utf8 = std::str::from_utf8(std::hint::black_box(bytes)).unwrap_err();
        assert_eq!(
            Unreadable::from(utf8).to_string(),
            "the body is not valid UTF-8 at byte 2"
        );
    }
}
