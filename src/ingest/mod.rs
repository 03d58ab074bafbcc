//! The tracker-facing HTTP server: routing, authentication, body decoding,
//! the per-request flow and the answers each client expects.
//!
//! One request flows, in order, through [`Ingest::call`]:
//! request deadline → per-IP rate limit → route → CORS preflight → write
//! key → body limits and decoding → protocol decoder (one JSON object per
//! event) → per-write-key rate limit → pipeline (consent,
//! global rules, then each destination's consent, rules and allow list) →
//! all-or-nothing reservation in the
//! destinations' queues → the protocol's success answer.
//!
//! Ingest never makes policy decisions and never logs field values.

pub mod body;
pub mod bounds;
pub(crate) mod collect;
pub mod cors;
pub mod error;
pub mod object;
pub mod passthrough;
pub mod ratelimit;
pub mod segment;
pub mod server;

use crate::config::{matches_any, Config, Protocol, Secret, SourceConfig};
use crate::event::{Event, Marks, RequestMeta};
use crate::forward::{Accepted, Queues};
use crate::metrics::{DropReason, Metrics};
use crate::pipeline::{Pipeline, Verdict};
use crate::spool::Commit;
use base64::Engine;
use bytes::Bytes;
use cors::Cors;
use error::IngestError;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use prometheus::IntCounter;
use server::{Body, Handler};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A source at run time.
struct Source {
    name: Arc<str>,
    protocol: Protocol,
    write_keys: Vec<Secret>,
    upstream: Option<http::Uri>,
    upstream_timeout: Duration,
    upstream_max_response: usize,
    destinations: Vec<usize>,
    received: IntCounter,
}

/// Everything a request needs; shared by all connections.
pub struct Ingest {
    sources: Vec<Source>,
    destinations: Vec<Arc<str>>,
    segment_cors: Cors,
    collect_cors: Cors,
    pipeline: Pipeline,
    queues: Queues,
    metrics: Metrics,
    limits: body::Limits,
    json_limits: bounds::Limits,
    request_timeout: Duration,
    relay: passthrough::RelayClient,
    rate: ratelimit::RateLimits,
}

/// Which endpoint a request is for.
#[derive(Clone, Copy, Debug)]
enum Endpoint {
    Segment(segment::Route),
    SegmentPassthrough,
    Collect,
}

impl Endpoint {
    fn protocol(self) -> Protocol {
        match self {
            Endpoint::Segment(_) | Endpoint::SegmentPassthrough => Protocol::Segment,
            Endpoint::Collect => Protocol::Json,
        }
    }
}

impl Ingest {
    /// Builds the request handler from a validated config.
    pub fn new(config: &Config, pipeline: Pipeline, queues: Queues, metrics: Metrics) -> Ingest {
        let cors_for = |protocol| {
            Cors::new(
                config
                    .sources
                    .iter()
                    .filter(|s| s.protocol == protocol)
                    .flat_map(|s| s.cors_origins.iter().cloned())
                    .collect(),
            )
        };
        Ingest {
            sources: config
                .sources
                .iter()
                .map(|s: &SourceConfig| Source {
                    name: s.name.as_str().into(),
                    protocol: s.protocol,
                    write_keys: s.write_keys.clone(),
                    upstream: s.upstream.clone(),
                    upstream_timeout: s.upstream_timeout,
                    upstream_max_response: s.upstream_max_response_bytes,
                    destinations: s.destinations.clone(),
                    received: metrics.events_received.with_label_values(&[&s.name]),
                })
                .collect(),
            destinations: config
                .destinations
                .iter()
                .map(|d| d.name.as_str().into())
                .collect(),
            segment_cors: cors_for(Protocol::Segment),
            collect_cors: cors_for(Protocol::Json),
            pipeline,
            queues,
            rate: ratelimit::RateLimits::new(config, &metrics),
            metrics,
            limits: body::Limits {
                max_body: config.server.max_body_bytes,
                max_decompressed: config.server.max_decompressed_bytes,
            },
            json_limits: config.server.json,
            request_timeout: config.server.request_timeout,
            relay: passthrough::client(),
        }
    }

    fn endpoint(&self, method: &Method, path: &str) -> Option<Endpoint> {
        let endpoint = if let Some(route) = segment::route(path) {
            Endpoint::Segment(route)
        } else if path == collect::PATH {
            Endpoint::Collect
        } else if segment::is_passthrough(method, path)
            || (method == Method::OPTIONS && segment::settings_write_key(path).is_some())
        {
            Endpoint::SegmentPassthrough
        } else {
            return None;
        };
        // Endpoints of protocols no source speaks do not exist.
        self.sources
            .iter()
            .any(|s| s.protocol == endpoint.protocol())
            .then_some(endpoint)
    }

    fn cors(&self, endpoint: Option<Endpoint>) -> Option<&Cors> {
        match endpoint?.protocol() {
            Protocol::Segment => Some(&self.segment_cors),
            Protocol::Json => Some(&self.collect_cors),
        }
    }

    /// The source of `protocol` owning `key`. Every key of every source is
    /// compared, in constant time, so timing reveals nothing.
    fn authenticate(&self, protocol: Protocol, key: &[u8]) -> Result<usize, IngestError> {
        let mut found = None;
        for (i, source) in self.sources.iter().enumerate() {
            if source.protocol == protocol
                && matches_any(&source.write_keys, key).is_some()
                && found.is_none()
            {
                found = Some(i);
            }
        }
        found.ok_or(IngestError::BadWriteKey)
    }

    async fn route(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        endpoint: Option<Endpoint>,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        // Before anything else: a flood costs one lookup per request.
        self.rate.check_ip(peer.ip())?;
        let endpoint = endpoint.ok_or(IngestError::NotFound)?;
        if request.method() == Method::OPTIONS {
            let headers = self
                .cors(Some(endpoint))
                .and_then(|c| c.preflight(request.headers()))
                .ok_or(IngestError::OriginNotAllowed)?;
            let mut response = Response::new(empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            *response.headers_mut() = headers;
            return Ok(response);
        }
        match endpoint {
            Endpoint::SegmentPassthrough => self.passthrough(request, source).await,
            Endpoint::Segment(_) | Endpoint::Collect if request.method() != Method::POST => {
                Err(IngestError::MethodNotAllowed("POST, OPTIONS"))
            }
            Endpoint::Segment(_) | Endpoint::Collect => {
                self.events(request, peer, endpoint, source).await
            }
        }
    }

    async fn events(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
        endpoint: Endpoint,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        let protocol = endpoint.protocol();
        let (parts, body) = request.into_parts();
        // A client that names its key up front is checked before its body is read.
        let key = match basic_username(&parts.headers)? {
            Some(key) => Some(key),
            None if protocol == Protocol::Json => query_write_key(parts.uri.query()),
            None => None,
        };
        if let Some(key) = &key {
            let index = self.authenticate(protocol, key.as_bytes())?;
            *source = Some(index);
            // Refuse before reading and parsing a body that could not be queued.
            if !self.sources[index]
                .destinations
                .iter()
                .all(|&d| self.queues.has_room(d))
            {
                return Err(IngestError::Backpressure);
            }
        }
        let body = body::read(&parts.headers, body, self.limits).await?;
        let received_at = SystemTime::now();
        let stamp_text = humantime::format_rfc3339_millis(received_at).to_string();
        let stamp = segment::Stamp {
            received_at: &stamp_text,
        };
        let decoded = match endpoint {
            Endpoint::Segment(route) => segment::decode(route, &body, &stamp, self.json_limits)?,
            _ => collect::decode(&body, &stamp, self.json_limits)?,
        };
        let index = match *source {
            Some(index) => index,
            None => {
                let key = decoded
                    .write_key
                    .as_deref()
                    .ok_or(IngestError::MissingWriteKey)?;
                let index = self.authenticate(protocol, key.as_bytes())?;
                *source = Some(index);
                index
            }
        };
        // Every element sent counts; the whole batch or none of it.
        self.rate
            .check_events(index, decoded.events.len() + decoded.invalid)?;
        if decoded.invalid > 0 {
            self.metrics
                .events_dropped
                .with_label_values(&["none", DropReason::InvalidEvent.as_str()])
                .inc_by(decoded.invalid as u64);
        }
        let meta = Arc::new(RequestMeta {
            source: index,
            received_at,
            client_ip: peer.ip(),
            user_agent: parts.headers.get(header::USER_AGENT).cloned(),
            sec_gpc: parts
                .headers
                .get("sec-gpc")
                .is_some_and(|v| v.as_bytes() == b"1"),
        });
        // Counted once accepted: events refused with 503 are the client's to retry.
        let accepted = decoded.events.len() as u64;
        let commits = self.dispatch(index, decoded.events, meta)?;
        // Durable destinations: the answer waits until the events are in
        // their spools.
        for commit in commits {
            if commit.wait().await.is_err() {
                return Err(IngestError::StorageUnavailable);
            }
        }
        self.sources[index].received.inc_by(accepted);
        Ok(json_response(StatusCode::OK, r#"{"success":true}"#))
    }

    /// Runs each event through the pipeline and hands what each destination
    /// keeps to its queue or spool, for all destinations or none; the
    /// spool commits to wait for.
    fn dispatch(
        &self,
        index: usize,
        events: Vec<(Bytes, Marks)>,
        meta: Arc<RequestMeta>,
    ) -> Result<Vec<Commit>, IngestError> {
        let src = &self.sources[index];
        let mut routed: Vec<Vec<Bytes>> = src
            .destinations
            .iter()
            .map(|_| Vec::with_capacity(events.len()))
            .collect();
        for (body, marks) in events {
            let event = Event {
                body,
                marks,
                meta: meta.clone(),
            };
            self.pipeline
                .route(event, &src.destinations, |slot, verdict| match verdict {
                    Verdict::Keep(e) => routed[slot].push(e.body),
                    Verdict::Drop(reason) => {
                        let dest = &self.destinations[src.destinations[slot]];
                        self.dropped(dest, reason);
                    }
                });
        }

        let wanted: Vec<(usize, usize)> = src
            .destinations
            .iter()
            .zip(&routed)
            .map(|(&dest, events)| (dest, events.len()))
            .collect();
        let mut reservation = self
            .queues
            .reserve(&wanted)
            .map_err(|_| IngestError::Backpressure)?;
        let mut commits = Vec::new();
        for (&dest, events) in src.destinations.iter().zip(routed) {
            if !events.is_empty() {
                match reservation.send(dest, events) {
                    Ok(Accepted::Queued) => {}
                    Ok(Accepted::Committing(commit)) => commits.push(commit),
                    Err(_) => return Err(IngestError::Backpressure),
                }
            }
        }
        Ok(commits)
    }

    fn dropped(&self, destination: &str, reason: &'static str) {
        self.metrics
            .events_dropped
            .with_label_values(&[destination, reason])
            .inc();
    }

    async fn passthrough(
        &self,
        request: Request<Incoming>,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        // The settings path names a write key: relay through its source.
        // Otherwise the first Segment source with an upstream serves.
        let by_key = segment::settings_write_key(request.uri().path())
            .and_then(|key| self.authenticate(Protocol::Segment, key.as_bytes()).ok())
            .filter(|&i| self.sources[i].upstream.is_some());
        let index = by_key
            .or_else(|| {
                self.sources
                    .iter()
                    .position(|s| s.protocol == Protocol::Segment && s.upstream.is_some())
            })
            .ok_or(IngestError::NotFound)?;
        *source = Some(index);
        let src = &self.sources[index];
        let upstream = passthrough::Upstream {
            base: src.upstream.as_ref().expect("filtered on upstream"),
            timeout: src.upstream_timeout,
            max_request: self.limits.max_body,
            max_response: src.upstream_max_response,
        };
        let result = passthrough::relay(&self.relay, upstream, request).await;
        let status = match &result {
            Ok(r) => crate::metrics::status_class(r.status().as_u16()),
            Err(_) => "error",
        };
        self.metrics
            .passthrough
            .with_label_values(&[&src.name, status])
            .inc();
        result
    }
}

impl Handler for Ingest {
    async fn call(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let started = Instant::now();
        let endpoint = self.endpoint(request.method(), request.uri().path());
        // Kept for the CORS headers of the answer, whatever it is.
        let mut request_headers = HeaderMap::new();
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            request_headers.insert(header::ORIGIN, origin.clone());
        }
        let mut source = None;
        let routed = tokio::time::timeout(
            self.request_timeout,
            self.route(request, peer, endpoint, &mut source),
        )
        .await
        .unwrap_or(Err(IngestError::Timeout));
        let mut response = match routed {
            Ok(response) => response,
            Err(e) => {
                if e.status().is_server_error() || e.status() == StatusCode::REQUEST_TIMEOUT {
                    tracing::debug!(error = e.code(), "request failed");
                }
                e.into_response().map(full)
            }
        };
        if let Some(cors) = self.cors(endpoint) {
            cors.decorate(&request_headers, response.headers_mut());
        }
        let source_label = source.map_or("unknown", |i| &*self.sources[i].name);
        self.metrics
            .request_duration
            .with_label_values(&[source_label, response.status().as_str()])
            .observe(started.elapsed().as_secs_f64());
        response
    }
}

/// The username of `Authorization: Basic ...`, which is where Segment SDKs
/// put the write key. Other schemes are ignored; a malformed Basic is refused.
fn basic_username(headers: &HeaderMap) -> Result<Option<String>, IngestError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| IngestError::BadWriteKey)?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| IngestError::BadWriteKey)?;
    let decoded = String::from_utf8(decoded).map_err(|_| IngestError::BadWriteKey)?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(u, _)| u);
    if user.is_empty() {
        return Err(IngestError::MissingWriteKey);
    }
    Ok(Some(user.to_owned()))
}

/// `?writeKey=` (beacons cannot set headers).
fn query_write_key(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "writeKey")
        .map(|(_, v)| v.into_owned())
}

/// A body from bytes.
pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_username_is_the_write_key() {
        let mut h = HeaderMap::new();
        assert_eq!(basic_username(&h).unwrap(), None);
        // base64("demo:")
        h.insert(header::AUTHORIZATION, "Basic ZGVtbzo=".parse().unwrap());
        assert_eq!(basic_username(&h).unwrap().as_deref(), Some("demo"));
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_username(&h).unwrap(), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_username(&h).is_err());
    }

    #[test]
    fn query_write_key_is_decoded() {
        assert_eq!(
            query_write_key(Some("a=1&writeKey=k%20y")).as_deref(),
            Some("k y")
        );
        assert_eq!(query_write_key(None), None);
    }
}
