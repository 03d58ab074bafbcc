//! The tracker-facing HTTP server: routing, authentication, body decoding,
//! the per-request flow and the answers each client expects.
//!
//! One request flows, in order, through the listener's tower stack
//! ([`stack`]: endpoint, metrics, CORS, deadline, per-IP rate limit, head
//! limits, in-flight budget), then [`Ingest::route`]: CORS preflight →
//! write key from the head → body limits and decoding (`payload`, charged
//! to the in-flight budget, [`inflight`]) → protocol decoder (one JSON
//! object per event, the events within one byte budget; a key in the body
//! checked as it is read) → the accept stack ([`accept`]: per-write-key
//! rate limit → pipeline (consent, global rules, then each destination's
//! consent, rules and allow list) → all-or-nothing reservation in the
//! destinations' queues) → the protocol's success answer.
//!
//! Ingest never makes policy decisions and never logs field values.

pub mod accept;
pub mod amplitude;
pub mod body;
pub mod bounds;
pub mod client_ip;
pub(crate) mod collect;
pub mod cors;
pub mod error;
pub mod ga4;
pub mod inflight;
pub mod lz64;
pub mod object;
pub mod passthrough;
mod payload;
pub mod posthog;
pub mod ratelimit;
pub mod rudderstack;
pub mod segment;
pub mod server;
pub mod snowplow;
pub mod stack;

use crate::config::{matches_any, Config, Protocol, Secret, SourceConfig};
use crate::event::RequestMeta;
use crate::forward::Queues;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use accept::{Accept, Batch};
use base64::Engine;
use bytes::Bytes;
use cors::Cors;
use error::IngestError;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use prometheus::IntCounter;
use server::{Body, ClientAddr, HeadLimits};
use stack::SourceName;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower::{Service, ServiceBuilder, ServiceExt};

/// A source at run time.
struct Source {
    name: Arc<str>,
    protocol: Protocol,
    write_keys: Vec<Secret>,
    /// `ga4_mp`: the `api_secret`s clients may send.
    api_secrets: Vec<Secret>,
    upstream: Option<http::Uri>,
    upstream_timeout: Duration,
    upstream_max_response: usize,
    destinations: Vec<usize>,
    received: IntCounter,
    client_ip: crate::config::ClientIp,
    /// How its relayed requests that carry user ids are decided.
    relay: passthrough::RelayConsent,
}

/// Everything a request needs; shared by all connections.
pub struct Ingest {
    sources: Vec<Source>,
    destinations: Vec<Arc<str>>,
    /// By [`Protocol::index`]: the origins of that protocol's sources.
    cors: Vec<Cors>,
    /// Segment API endpoints serve Segment and RudderStack sources.
    segment_api_cors: Cors,
    pipeline: Pipeline,
    queues: Queues,
    metrics: Metrics,
    limits: body::Limits,
    json_limits: bounds::Limits,
    request_timeout: Duration,
    head_limits: HeadLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    relay: passthrough::RelayClient,
    rate: Arc<ratelimit::RateLimits>,
    /// The bytes requests in flight hold; shared with the handlers of
    /// earlier configs ([`Ingest::sharing_inflight`]).
    inflight: Arc<inflight::Inflight>,
}

/// Which endpoint a request is for (resolved once, by the stack's first
/// step, and kept in the request's extensions).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Endpoint {
    /// The Segment API's events (Segment and RudderStack sources).
    Segment(segment::Route),
    /// RudderStack's beacon: `POST /beacon/v1/batch?writeKey=`, a Segment
    /// batch with the key in the query.
    RudderBeacon,
    /// Amplitude's uploads.
    Amplitude,
    /// PostHog's capture endpoints.
    Posthog,
    /// Snowplow's POST endpoint or GET pixel.
    Snowplow(snowplow::Route),
    /// gtag.js hits: `GET` or `POST /g/collect`.
    Gtag,
    /// GA4 Measurement Protocol uploads: `POST /mp/collect`.
    Mp,
    /// The generic JSON source.
    Collect,
    /// Relayed unchanged to the `upstream` of a source of this protocol.
    Passthrough(Protocol),
}

impl Endpoint {
    /// The protocols of the sources this endpoint serves.
    fn protocols(self) -> &'static [Protocol] {
        match self {
            Endpoint::Segment(_) | Endpoint::Passthrough(Protocol::Segment) => {
                &[Protocol::Segment, Protocol::Rudderstack]
            }
            Endpoint::RudderBeacon | Endpoint::Passthrough(Protocol::Rudderstack) => {
                &[Protocol::Rudderstack]
            }
            Endpoint::Amplitude | Endpoint::Passthrough(Protocol::Amplitude) => {
                &[Protocol::Amplitude]
            }
            Endpoint::Posthog | Endpoint::Passthrough(Protocol::Posthog) => &[Protocol::Posthog],
            Endpoint::Snowplow(_) | Endpoint::Passthrough(Protocol::Snowplow) => {
                &[Protocol::Snowplow]
            }
            Endpoint::Collect | Endpoint::Passthrough(Protocol::Json) => &[Protocol::Json],
            Endpoint::Gtag | Endpoint::Passthrough(Protocol::Ga4) => &[Protocol::Ga4],
            Endpoint::Mp | Endpoint::Passthrough(Protocol::Ga4Mp) => &[Protocol::Ga4Mp],
        }
    }

    /// The query parameter that names the write key, for clients that
    /// cannot send headers (beacons) or put it in the URL by design.
    fn query_key(self) -> Option<&'static str> {
        match self {
            Endpoint::RudderBeacon | Endpoint::Collect => Some("writeKey"),
            Endpoint::Gtag => Some("tid"),
            Endpoint::Mp => Some("measurement_id"),
            Endpoint::Segment(_)
            | Endpoint::Amplitude
            | Endpoint::Posthog
            | Endpoint::Snowplow(_)
            | Endpoint::Passthrough(_) => None,
        }
    }

    /// Whether the body may name the write key (else it must come in the
    /// head or the URL, and a request without one is refused unread).
    fn body_names_key(self) -> bool {
        !matches!(self, Endpoint::Collect | Endpoint::Mp)
    }

    /// The methods that carry events.
    fn allows(self, method: &Method) -> Result<(), IngestError> {
        match self {
            Endpoint::Gtag if method == Method::GET || method == Method::POST => Ok(()),
            Endpoint::Gtag => Err(IngestError::MethodNotAllowed("GET, POST, OPTIONS")),
            Endpoint::Snowplow(snowplow::Route::Pixel) if method == Method::GET => Ok(()),
            Endpoint::Snowplow(snowplow::Route::Pixel) => {
                Err(IngestError::MethodNotAllowed("GET, OPTIONS"))
            }
            _ if method == Method::POST => Ok(()),
            _ => Err(IngestError::MethodNotAllowed("POST, OPTIONS")),
        }
    }
}

impl Ingest {
    /// Builds the request handler from a validated config.
    pub fn new(config: &Config, pipeline: Pipeline, queues: Queues, metrics: Metrics) -> Ingest {
        let cors_for = |protocols: &[Protocol]| {
            Cors::new(
                config
                    .sources
                    .iter()
                    .filter(|s| protocols.contains(&s.protocol))
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
                    api_secrets: s.api_secrets.clone(),
                    upstream: s.upstream.clone(),
                    upstream_timeout: s.upstream_timeout,
                    upstream_max_response: s.upstream_max_response_bytes,
                    destinations: s.destinations.clone(),
                    received: metrics.events_received.with_label_values(&[&s.name]),
                    client_ip: s.client_ip,
                    relay: passthrough::RelayConsent::new(pipeline.consent(), &s.relay),
                })
                .collect(),
            destinations: config
                .destinations
                .iter()
                .map(|d| d.name.as_str().into())
                .collect(),
            cors: Protocol::ALL.iter().map(|&p| cors_for(&[p])).collect(),
            segment_api_cors: cors_for(&[Protocol::Segment, Protocol::Rudderstack]),
            pipeline,
            queues,
            rate: Arc::new(ratelimit::RateLimits::new(config, &metrics)),
            inflight: inflight::Inflight::new(config.server.max_inflight_bytes, &metrics),
            metrics,
            limits: body::Limits {
                max_body: config.server.max_body_bytes,
                max_decompressed: config.server.max_decompressed_bytes,
            },
            json_limits: config.server.json,
            request_timeout: config.server.request_timeout,
            head_limits: HeadLimits {
                max_headers: config.server.max_headers,
                max_bytes: config.server.max_header_bytes,
            },
            trusted_proxies: config.server.trusted_proxies.clone(),
            relay: passthrough::client(),
        }
    }

    /// This handler, charging its requests to `previous`'s in-flight
    /// budget (under this config's limit): a reload does not start an empty
    /// budget beside the requests the old config is still answering.
    pub fn sharing_inflight(mut self, previous: &Ingest) -> Ingest {
        previous.inflight.set_limit(self.inflight.limit());
        self.inflight = previous.inflight.clone();
        self
    }

    fn endpoint(&self, method: &Method, path: &str) -> Option<Endpoint> {
        let preflight = method == Method::OPTIONS;
        let endpoint = if let Some(route) = segment::route(path) {
            Endpoint::Segment(route)
        } else if path == collect::PATH {
            Endpoint::Collect
        } else if amplitude::is_events_path(path) {
            Endpoint::Amplitude
        } else if posthog::is_events_path(path) {
            Endpoint::Posthog
        } else if path == ga4::GTAG_PATH {
            Endpoint::Gtag
        } else if path == ga4::MP_PATH {
            Endpoint::Mp
        } else if path == rudderstack::BEACON {
            Endpoint::RudderBeacon
        } else if let Some(route) = snowplow::route(path) {
            Endpoint::Snowplow(route)
        } else if segment::is_passthrough(method, path)
            || (preflight && segment::settings_write_key(path).is_some())
        {
            Endpoint::Passthrough(Protocol::Segment)
        } else if rudderstack::is_passthrough(path) {
            Endpoint::Passthrough(Protocol::Rudderstack)
        } else if amplitude::is_passthrough(method, path)
            || (preflight && amplitude::is_passthrough(&Method::GET, path))
        {
            Endpoint::Passthrough(Protocol::Amplitude)
        } else if posthog::is_passthrough(method, path)
            || (preflight && posthog::is_passthrough(&Method::POST, path))
        {
            Endpoint::Passthrough(Protocol::Posthog)
        } else {
            return None;
        };
        // Endpoints of protocols no source speaks do not exist.
        self.sources
            .iter()
            .any(|s| endpoint.protocols().contains(&s.protocol))
            .then_some(endpoint)
    }

    fn cors(&self, endpoint: Option<Endpoint>) -> Option<&Cors> {
        match endpoint?.protocols() {
            [only] => Some(&self.cors[only.index()]),
            _ => Some(&self.segment_api_cors),
        }
    }

    /// The source of one of `protocols` owning `key`. Every key of every
    /// source is compared, in constant time, so timing reveals nothing.
    fn authenticate(&self, protocols: &[Protocol], key: &[u8]) -> Result<usize, IngestError> {
        let mut found = None;
        for (i, source) in self.sources.iter().enumerate() {
            if protocols.contains(&source.protocol)
                && matches_any(&source.write_keys, key).is_some()
                && found.is_none()
            {
                found = Some(i);
            }
        }
        found.ok_or(IngestError::BadWriteKey)
    }

    /// A Measurement Protocol request must also name one of its source's
    /// `api_secrets` (compared in constant time, like write keys). The
    /// client's secret is never forwarded: a destination names its own.
    fn check_api_secret(&self, index: usize, query: Option<&str>) -> Result<(), IngestError> {
        let secret = query_param(query, "api_secret").ok_or(IngestError::MissingWriteKey)?;
        matches_any(&self.sources[index].api_secrets, secret.as_bytes())
            .map(|_| ())
            .ok_or(IngestError::BadWriteKey)
    }

    /// Answers a request that passed the stack's layers (see [`stack`]).
    async fn route(self: &Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let mut source = None;
        let mut response = self
            .endpoints(request, &mut source)
            .await
            .unwrap_or_else(|e| {
                if e.status().is_server_error() {
                    tracing::debug!(error = e.code(), "request failed");
                }
                e.into_response().map(full)
            });
        if let Some(index) = source {
            let name = SourceName(self.sources[index].name.clone());
            response.extensions_mut().insert(name);
        }
        response
    }

    async fn endpoints(
        self: &Arc<Self>,
        request: Request<Incoming>,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        let endpoint = match request.extensions().get::<Option<Endpoint>>() {
            Some(resolved) => *resolved,
            None => self.endpoint(request.method(), request.uri().path()),
        };
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
            Endpoint::Passthrough(protocol) => self.passthrough(request, protocol, source).await,
            _ => {
                endpoint.allows(request.method())?;
                self.events(request, endpoint, source).await
            }
        }
    }

    async fn events(
        self: &Arc<Self>,
        request: Request<Incoming>,
        endpoint: Endpoint,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        let protocols = endpoint.protocols();
        let (parts, body) = request.into_parts();
        // A client that names its key up front is checked before its body
        // is read; one whose body cannot name a key needs one up front.
        let key = self.head_key(endpoint, &parts)?;
        if let Some(key) = &key {
            let index = self.authenticate(protocols, key.as_bytes())?;
            if matches!(endpoint, Endpoint::Mp) {
                self.check_api_secret(index, parts.uri.query())?;
            }
            *source = Some(index);
            // Refuse before reading and parsing a body that could not be queued.
            if !self.sources[index]
                .destinations
                .iter()
                .all(|&d| self.queues.has_room(d))
            {
                return Err(IngestError::Backpressure);
            }
        } else if !endpoint.body_names_key() {
            return Err(IngestError::MissingWriteKey);
        }
        // What the request holds is charged to the in-flight budget as it
        // grows (see `inflight`).
        let charge = self.charge_of(&parts);
        let body = self.payload(endpoint, &parts, body, &charge).await?;
        let received_at = SystemTime::now();
        // A key in the body is checked as the decoder reads it, before the
        // work the request's elements would cost (see segment::Decoded);
        // a key from the head decides alone.
        let from_head = source.is_some();
        let mut body_key = |key: &str| match from_head {
            true => Ok(()),
            false => self.one_source(protocols, source, key),
        };
        // The events and what is copied into them, at most the events'
        // ceiling; then what they hold.
        let room = charge.reserve(segment::Decoded::ceiling(self.json_limits))?;
        let mut decoded = self.decode(endpoint, &parts, &body, received_at, &mut body_key)?;
        let index = source.ok_or(IngestError::MissingWriteKey)?;
        let client = self.client_ip(&parts);
        let protocol = self.sources[index].protocol;
        let passed_on =
            client_ip::passed_on(self.sources[index].client_ip, client, decoded.anonymous);
        // The address is request data copied into every event: within the
        // events' budget too.
        decoded.write_address(&client_ip::Address::new(protocol.ip_field(), passed_on))?;
        room.settle(decoded.memory());
        let meta = Arc::new(RequestMeta {
            source: index,
            protocol,
            received_at,
            client_ip: client,
            user_agent: parts.headers.get(header::USER_AGENT).cloned(),
            sec_gpc: crate::consent::sec_gpc(&parts.headers),
            tcf: crate::consent::request_tcf(parts.uri.query()),
        });
        let batch = Batch {
            source: index,
            events: decoded.events,
            invalid: decoded.invalid,
            meta,
        };
        let events = batch.events.len();
        self.accept().oneshot(batch).await?;
        Ok(match endpoint {
            Endpoint::Amplitude => amplitude::accepted(events, body.len(), received_at),
            // posthog-js takes exactly 200 as delivered.
            Endpoint::Posthog => json_response(StatusCode::OK, r#"{"status":1}"#),
            Endpoint::Snowplow(route) => snowplow::accepted(route),
            Endpoint::Gtag | Endpoint::Mp => ga4::accepted(),
            _ => json_response(StatusCode::OK, r#"{"success":true}"#),
        })
    }

    /// The request's in-flight charge: the stack's (see [`stack`]), or a
    /// new one for a request that did not come through it.
    fn charge_of(&self, parts: &http::request::Parts) -> inflight::Charge {
        match parts.extensions.get::<inflight::Charge>() {
            Some(charge) => charge.clone(),
            None => self
                .inflight
                .charge(0)
                .expect("an empty charge always fits"),
        }
    }

    /// The write key a request names in its head or URL, read before its
    /// body. Snowplow's keys are its events' app ids, in the body.
    fn head_key(
        &self,
        endpoint: Endpoint,
        parts: &http::request::Parts,
    ) -> Result<Option<String>, IngestError> {
        let from_query = || {
            endpoint
                .query_key()
                .and_then(|name| query_param(parts.uri.query(), name))
        };
        Ok(match endpoint {
            Endpoint::Snowplow(_) => None,
            // GA4 names its stream in the URL, and every hit must name the
            // same: a key from elsewhere would let hits of other streams in.
            Endpoint::Gtag | Endpoint::Mp => from_query(),
            Endpoint::Posthog if posthog::is_v1(parts.uri.path()) => {
                basic_username(&parts.headers)?.or_else(|| bearer_token(&parts.headers))
            }
            _ => basic_username(&parts.headers)?.or_else(from_query),
        })
    }

    /// Authenticates a key read from a body: every key of one request must
    /// be one source's, which becomes the request's.
    fn one_source(
        &self,
        protocols: &[Protocol],
        source: &mut Option<usize>,
        key: &str,
    ) -> Result<(), IngestError> {
        let index = self.authenticate(protocols, key.as_bytes())?;
        match *source.get_or_insert(index) == index {
            true => Ok(()),
            false => Err(IngestError::InvalidShape(
                "the events of one request must name keys of one source",
            )),
        }
    }

    /// The client's address, as the stack resolved it
    /// ([`client_ip::ClientIp`]; every request has one).
    fn client_ip(&self, parts: &http::request::Parts) -> std::net::IpAddr {
        parts
            .extensions
            .get::<client_ip::ClientIp>()
            .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |client| client.0)
    }

    /// Who sent `request` (see [`client_ip`]), kept in its extensions.
    fn resolve_client(&self, request: &mut Request<Incoming>) {
        if let Some(peer) = request.extensions().get::<ClientAddr>().map(|a| a.0.ip()) {
            let client = client_ip::resolve(peer, request.headers(), &self.trusted_proxies);
            request.extensions_mut().insert(client_ip::ClientIp(client));
        }
    }

    /// Counts an answer in the request metrics, by source and status.
    fn observe(&self, started: std::time::Instant, response: &Response<Body>) {
        let source = response.extensions().get::<SourceName>();
        let label = source.map_or("unknown", |s| &*s.0);
        self.metrics
            .request_duration
            .with_label_values(&[label, response.status().as_str()])
            .observe(started.elapsed().as_secs_f64());
    }

    /// The accept stack every protocol's decoded batch goes through (see
    /// [`accept`]).
    fn accept(
        self: &Arc<Self>,
    ) -> impl Service<Batch, Response = (), Error = IngestError, Future: Send + 'static> {
        ServiceBuilder::new()
            .layer(ratelimit::PerKeyLayer(self.rate.clone()))
            .service(Accept(self.clone()))
    }

    async fn passthrough(
        &self,
        request: Request<Incoming>,
        protocol: Protocol,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        // A path or query that names a write key relays through its source.
        // Otherwise the first source of the protocol with an upstream serves.
        let protocols = Endpoint::Passthrough(protocol).protocols();
        let path = request.uri().path();
        let names_user = protocol == Protocol::Posthog && posthog::is_flags(path);
        let named = match protocol {
            Protocol::Segment => segment::settings_write_key(path).map(str::to_owned),
            Protocol::Rudderstack => query_param(request.uri().query(), "writeKey"),
            Protocol::Amplitude => path.strip_prefix("/config/").map(str::to_owned),
            Protocol::Posthog => path
                .strip_prefix("/array/")
                .and_then(|rest| rest.split_once('/'))
                .map(|(token, _)| token.to_owned()),
            Protocol::Snowplow | Protocol::Json | Protocol::Ga4 | Protocol::Ga4Mp => None,
        };
        let by_key = named
            .and_then(|key| self.authenticate(protocols, key.as_bytes()).ok())
            .filter(|&i| self.sources[i].upstream.is_some());
        let index = by_key
            .or_else(|| {
                self.sources
                    .iter()
                    .position(|s| protocols.contains(&s.protocol) && s.upstream.is_some())
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
        // A request that names the user goes only as consent allows.
        let request = if names_user {
            let uri = request.uri().clone();
            let consent = self.pipeline.consent();
            match passthrough::with_user_ids(consent, &src.relay, self.limits, request).await? {
                Ok(request) => request,
                Err(why) => {
                    tracing::debug!(source = %src.name, reason = why.as_str(), "relay withheld");
                    self.metrics
                        .passthrough
                        .with_label_values(&[&src.name, "withheld"])
                        .inc();
                    return Ok(passthrough::no_flags(uri.path(), uri.query()));
                }
            }
        } else {
            request.map(|body| body.map_err(Into::into).boxed())
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

/// Scans one event of `protocol` as ingest does: validated within
/// `limits`, its consent inputs marked where that protocol keeps them.
pub fn scan_event(
    protocol: Protocol,
    event: &[u8],
    limits: bounds::Limits,
) -> Result<object::TopLevel<'_>, object::Refused> {
    use object::TopLevel;
    match protocol {
        Protocol::Segment | Protocol::Rudderstack | Protocol::Json => {
            TopLevel::parse_event(event, limits)
        }
        Protocol::Amplitude => {
            TopLevel::parse_event_as::<amplitude::AmplitudeLayout>(event, limits)
        }
        Protocol::Posthog => TopLevel::parse_event_as::<posthog::PosthogLayout>(event, limits),
        Protocol::Snowplow => TopLevel::parse_event_as::<snowplow::SnowplowLayout>(event, limits),
        Protocol::Ga4 => TopLevel::parse_event_as::<ga4::GtagLayout>(event, limits),
        Protocol::Ga4Mp => TopLevel::parse_event_as::<ga4::MpLayout>(event, limits),
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

/// The token of `Authorization: Bearer ...` (posthog-node's v1 mode).
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The first value of a query parameter: `?writeKey=` (beacons cannot set
/// headers), GA4's `?tid=` and `?measurement_id=`.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
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
    json_answer(status, Bytes::from_static(body.as_bytes()))
}

/// A JSON response from bytes made at run time.
pub fn json_answer(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full(body));
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
    fn query_params_are_decoded() {
        assert_eq!(
            query_param(Some("a=1&writeKey=k%20y"), "writeKey").as_deref(),
            Some("k y")
        );
        assert_eq!(query_param(None, "writeKey"), None);
    }
}
