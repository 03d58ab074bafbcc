//! Every way a client request can fail, and the one place that maps a
//! failure to an HTTP status and a short JSON body. Messages never contain
//! field values, only positions and reasons.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

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
    InvalidJson(String),
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
    TooComplex(String),
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
    /// The requests in flight hold `server.max_inflight_bytes`; the client
    /// should retry.
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
        let body = serde_json::json!({
            "success": false,
            "code": self.status().as_u16(),
            "error": self.code(),
            "message": self.to_string(),
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
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

impl From<super::object::Refused> for IngestError {
    fn from(r: super::object::Refused) -> IngestError {
        use super::bounds::Exceeded;
        match r.exceeded {
            None => IngestError::InvalidJson(r.error.to_string()),
            Some(Exceeded::Depth | Exceeded::Fields) => {
                IngestError::TooComplex(r.error.to_string())
            }
            Some(Exceeded::Batch) => IngestError::TooManyEvents(r.limits.max_batch),
        }
    }
}
