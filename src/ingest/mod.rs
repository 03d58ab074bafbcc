//! The tracker-facing HTTP server: routing, authentication, body decoding,
//! the per-request flow and the answers each client expects.
//!
//! One request flows, in order, through the listener's tower stack
//! ([`stack`]: endpoint, metrics, CORS, deadline, per-IP rate limit, head
//! limits, in-flight budget), then [`Ingest::route`]: CORS preflight →
//! write key from the head → payload read within the body limits
//! (`payload`, charged to the in-flight budget, [`inflight`]) → decoded
//! into events (one JSON object each, the events within one byte budget;
//! a key in the body checked as it is read) → the accept stack
//! ([`accept`], built once per config: per-write-key rate limit → the
//! pipeline's [`Delivery`]: consent, global rules, then each
//! destination's consent, rules and allow list → all-or-nothing
//! hand-over to the destinations' queues and spools) → the success
//! answer. `GET /privacy` ([`privacy`]) is the one path that is no
//! tracker's: the public notice of what this config does, needing no key.
//!
//! That sequence is the same for every protocol (`Ingest::events`): what
//! differs per protocol — its routes, where its key is, how its payload is
//! read and decoded, its answer — is asked of the endpoint's
//! [`crate::protocol::Codec`]. Ingest never makes policy decisions and
//! never logs field values.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub(crate) mod accept;
pub(crate) mod body;
pub(crate) mod client_ip;
pub(crate) mod conn;
pub(crate) mod cors;
pub(crate) use crate::tracker_http::error;
pub(crate) mod inflight;
pub(crate) mod memory_limit;
pub(crate) mod passthrough;
mod payload;
pub(crate) mod privacy;
pub(crate) mod ratelimit;
pub(crate) mod server;
pub(crate) mod settings;
pub(crate) mod stack;

use crate::crypto::secret::{matches_any, Secret};
use crate::event::RequestMeta;
use crate::forward::Queues;
use crate::metrics::Metrics;
use crate::pipeline::{Delivery, Pipeline};
use crate::protocol::Protocol;
use crate::protocol::{self, Codec, Decoded, Endpoint, Input, Kind, Route};
use accept::{Accept, Batch};
use cors::Cors;
use error::IngestError;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use server::{Body, ClientAddr, HeadLimits};
use settings::{Settings, SourceConfig};
use stack::SourceIndex;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower::{ServiceBuilder, ServiceExt};

pub(crate) use crate::tracker_http::{empty, full, json_response};

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
    client_ip: settings::ClientIp,
    /// How its relayed requests that carry user ids are decided.
    relay: passthrough::RelayConsent,
    /// Its request-duration series for the answers most requests get
    /// ([`CACHED_STATUSES`]), looked up once instead of per request.
    durations: [std::sync::OnceLock<prometheus::Histogram>; CACHED_STATUSES.len()],
}

/// The statuses whose request-duration series a source keeps at hand:
/// accepted, and refused for backpressure (where a refusal's cost counts).
const CACHED_STATUSES: [StatusCode; 2] = [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE];

/// Everything a request needs; shared by all connections.
pub(crate) struct Ingest {
    sources: Vec<Source>,
    /// By [`Protocol::index`]: the origins of the sources that protocol's
    /// endpoints serve ([`Codec::serves`]).
    cors: Vec<Cors>,
    /// The pipeline and the destinations' queues, which every request's
    /// events go to through `accept`.
    delivery: Arc<Delivery>,
    /// The accept stack (see [`accept`]), built once per config.
    accept: ratelimit::PerKeyLimit<Accept>,
    /// `GET /privacy`, rendered once per config.
    privacy: privacy::PrivacyPage,
    metrics: Metrics,
    limits: body::Limits,
    json_limits: crate::json::Limits,
    request_timeout: Duration,
    head_limits: HeadLimits,
    trusted_proxies: Vec<ipnet::IpNet>,
    relay: passthrough::RelayClient,
    rate: Arc<ratelimit::RateLimits>,
    /// The bytes requests in flight hold; shared with the handlers of
    /// earlier configs ([`Ingest::sharing_inflight`]).
    inflight: Arc<inflight::Inflight>,
}

impl Ingest {
    /// Builds the request handler from its settings (`Config::ingest`).
    pub(crate) fn new(
        config: Settings<'_>,
        pipeline: Pipeline,
        queues: Queues,
        metrics: Metrics,
    ) -> Ingest {
        let sources = config
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.destinations.as_slice()));
        let destinations = config.destinations.iter().copied();
        let delivery = Delivery::new(sources, destinations, pipeline, queues, metrics.clone());
        let delivery = Arc::new(delivery);
        let rate = Arc::new(ratelimit::RateLimits::new(&config, &metrics));
        // Relay series exist from the start (at 0), so a rate over them
        // has data before the first relay.
        for s in config.sources.iter().filter(|s| s.upstream.is_some()) {
            metrics
                .passthrough
                .with_label_values(&[s.name.as_str(), "2xx"]);
        }
        let accept = ServiceBuilder::new()
            .layer(ratelimit::PerKeyLayer(rate.clone()))
            .service(Accept(delivery.clone()));
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
        let inflight = inflight::Inflight::new(config.server.max_inflight_bytes, &metrics);
        inflight.memory().set_limit(config.server.memory_limit);
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
                    client_ip: s.client_ip,
                    relay: passthrough::RelayConsent::new(delivery.pipeline().consent(), &s.relay),
                    durations: Default::default(),
                })
                .collect(),
            cors: Protocol::ALL
                .iter()
                .map(|p| cors_for(p.codec().serves()))
                .collect(),
            privacy: privacy::PrivacyPage::new(
                crate::privacy::Page::new(&config.privacy),
                config
                    .sources
                    .iter()
                    .flat_map(|s| s.cors_origins.iter().cloned())
                    .collect(),
            ),
            delivery,
            accept,
            rate,
            inflight,
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
    pub(crate) fn sharing_inflight(mut self, previous: &Ingest) -> Ingest {
        previous.inflight.take_limits(&self.inflight);
        self.inflight = previous.inflight.clone();
        self
    }

    /// The in-flight budget, which the listener's connections charge too
    /// (see [`conn`]); the same one across reloads.
    pub(crate) fn inflight(&self) -> Arc<inflight::Inflight> {
        self.inflight.clone()
    }

    /// The endpoint a request is for (see [`protocol::endpoint`]).
    /// Endpoints of protocols no source speaks do not exist.
    fn endpoint(&self, method: &Method, path: &str) -> Option<Endpoint> {
        let endpoint = protocol::endpoint(method, path)?;
        let serves = endpoint.codec().serves();
        self.sources
            .iter()
            .any(|s| serves.contains(&s.protocol))
            .then_some(endpoint)
    }

    fn cors(&self, endpoint: Option<Endpoint>) -> Option<&Cors> {
        Some(&self.cors[endpoint?.protocol.index()])
    }

    /// The source serving `protocols`, if there is exactly one.
    fn only_source(&self, protocols: &[Protocol]) -> Option<usize> {
        let mut serving = (self.sources.iter().enumerate())
            .filter(|(_, source)| protocols.contains(&source.protocol))
            .map(|(i, _)| i);
        let first = serving.next()?;
        serving.next().is_none().then_some(first)
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

    /// A request of a protocol with a secret (the Measurement Protocol's
    /// `api_secret`) must also name one of its source's `api_secrets`
    /// (compared in constant time, like write keys). The client's secret
    /// is never forwarded: a destination names its own.
    fn check_secret(
        &self,
        index: usize,
        parts: &http::request::Parts,
        param: &str,
    ) -> Result<(), IngestError> {
        let secret =
            protocol::query_param(parts.uri.query(), param).ok_or(IngestError::MissingWriteKey)?;
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
            response.extensions_mut().insert(SourceIndex(index));
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
        let Some(endpoint) = endpoint else {
            return match request.uri().path() == crate::privacy::PATH {
                true => self.privacy.answer(&request),
                false => Err(IngestError::NotFound),
            };
        };
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
        match endpoint.kind {
            Kind::Relay => self.passthrough(request, endpoint, source).await,
            Kind::Events(route) => self.events(request, endpoint.codec(), route, source).await,
        }
    }

    /// A request of events, the same for every protocol: its codec says
    /// where the key is, how the payload is read and decoded, and what
    /// the SDK takes as success.
    async fn events(
        self: &Arc<Self>,
        request: Request<Incoming>,
        codec: &'static dyn Codec,
        route: Route,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        codec.allows(route, request.method())?;
        let (parts, body) = request.into_parts();
        if let Err(refused) = self.key_from_head(codec, route, &parts, source) {
            if matches!(refused, IngestError::Backpressure) {
                // Shedding: keep the connection for the client's retry.
                body::discard(&parts, body);
            }
            return Err(refused);
        }
        // What the request holds is charged to the in-flight budget as it
        // grows (see `inflight`).
        let charge = self.charge_of(&parts);
        let payload = self.payload(codec, route, &parts, body, &charge).await?;
        let input = Input {
            parts: &parts,
            payload: &payload,
            received_at: SystemTime::now(),
            limits: self.json_limits,
            key_from_head: source.is_some(),
        };
        let batch = self.decode(codec, route, &input, &charge, source)?;
        // The answer is made now (from what the request said), so that
        // neither the payload nor the head is held while the events are
        // handed over: a spool's commit waits for its group's fsync. The
        // events are copies of the payload's elements (or share it, when
        // they are the body); the head's values are slices of the
        // connection's read buffer, which hyper cannot reuse while they
        // live, and so reads the next request into another.
        let answer = codec.accepted(route, batch.events.len(), &input);
        drop(payload);
        drop(parts);
        self.accept.clone().oneshot(batch).await?;
        Ok(answer)
    }

    /// A client that names its key up front is checked before its body is
    /// read (and refused before its body is read and parsed when that
    /// could not be queued: the body is then dropped unlooked-at, see
    /// [`body::discard`]); one whose body cannot name a key needs one up
    /// front.
    fn key_from_head(
        &self,
        codec: &dyn Codec,
        route: Route,
        parts: &http::request::Parts,
        source: &mut Option<usize>,
    ) -> Result<(), IngestError> {
        let Some(key) = codec.head_key(route, parts)? else {
            if !codec.body_names_key() {
                return Err(IngestError::MissingWriteKey);
            }
            // The key is in the body (analytics.js). When one source
            // serves this protocol, the body can only be for it: with its
            // queue full, the request is refused before its body is read
            // and parsed, so shedding under overload stays cheap.
            return match self.only_source(codec.serves()) {
                Some(index) if !self.delivery.has_room(index) => Err(IngestError::Backpressure),
                _ => Ok(()),
            };
        };
        let index = self.authenticate(codec.serves(), key.as_bytes())?;
        if let Some(param) = codec.secret_param() {
            self.check_secret(index, parts, param)?;
        }
        *source = Some(index);
        match self.delivery.has_room(index) {
            true => Ok(()),
            false => Err(IngestError::Backpressure),
        }
    }

    /// Decodes a payload into the batch the accept stack takes: the
    /// events, the client's address written into them, and what the
    /// request says besides (see [`RequestMeta`]).
    fn decode(
        &self,
        codec: &dyn Codec,
        route: Route,
        input: &Input<'_>,
        charge: &inflight::Charge,
        source: &mut Option<usize>,
    ) -> Result<Batch, IngestError> {
        // A key in the body is checked as the decoder reads it, before the
        // work the request's elements would cost (see `Decoded`); a key
        // from the head decides alone.
        let from_head = source.is_some();
        let mut body_key = |key: &str| match from_head {
            true => Ok(()),
            false => self.one_source(codec.serves(), source, key),
        };
        // The events and what is copied into them, at most the events'
        // ceiling; then what they hold.
        let room = charge.reserve(Decoded::ceiling(self.json_limits))?;
        let mut decoded = codec.decode(route, input, &mut body_key)?;
        let index = source.ok_or(IngestError::MissingWriteKey)?;
        let parts = input.parts;
        let client = self.client_ip(parts);
        let protocol = self.sources[index].protocol;
        let passed_on =
            client_ip::passed_on(self.sources[index].client_ip, client, decoded.anonymous);
        // The address is request data copied into every event: within the
        // events' budget too.
        let address = client_ip::Address::new(protocol.ip_field(), passed_on);
        decoded.rewrite(|event, marks| address.write(event, marks))?;
        room.settle(decoded.memory());
        let meta = Arc::new(RequestMeta {
            source: index,
            protocol,
            received_at: input.received_at,
            client_ip: client,
            // A copy: the header's value is a slice of the connection's
            // read buffer, which the events' metadata would keep.
            user_agent: (parts.headers.get(header::USER_AGENT))
                .and_then(|v| http::HeaderValue::from_bytes(v.as_bytes()).ok()),
            sec_gpc: crate::consent::sec_gpc(&parts.headers),
            tcf: crate::consent::request_tcf(parts.uri.query()),
            jurisdiction: self.jurisdiction(parts),
            us: crate::consent::request_us(parts.uri.query()),
        });
        Ok(Batch {
            source: index,
            events: decoded.events,
            invalid: decoded.invalid,
            meta,
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

    /// The jurisdiction the request's headers state, believed only from a
    /// peer in `server.trusted_proxies` (the CDN sets it; anyone else could
    /// claim any country).
    fn jurisdiction(
        &self,
        parts: &http::request::Parts,
    ) -> Option<crate::consent::jurisdiction::Jurisdiction> {
        let peer = parts.extensions.get::<ClientAddr>()?.0.ip();
        client_ip::is_trusted(peer, &self.trusted_proxies)
            .then(|| {
                self.delivery
                    .pipeline()
                    .consent()
                    .jurisdiction(&parts.headers)
            })
            .flatten()
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
        let seconds = started.elapsed().as_secs_f64();
        let status = response.status();
        let source =
            (response.extensions().get::<SourceIndex>()).and_then(|s| self.sources.get(s.0));
        let series = |label: &str| {
            self.metrics
                .request_duration
                .with_label_values(&[label, status.as_str()])
        };
        let Some(source) = source else {
            return series("unknown").observe(seconds);
        };
        match CACHED_STATUSES.iter().position(|&s| s == status) {
            Some(k) => source.durations[k]
                .get_or_init(|| series(&source.name))
                .observe(seconds),
            None => series(&source.name).observe(seconds),
        }
    }

    async fn passthrough(
        &self,
        request: Request<Incoming>,
        endpoint: Endpoint,
        source: &mut Option<usize>,
    ) -> Result<Response<Body>, IngestError> {
        // A path or query that names a write key relays through its source.
        // Otherwise the first source of the protocol with an upstream serves.
        let codec = endpoint.codec();
        let protocols = codec.serves();
        let names_user = codec.relay_names_user(request.uri().path());
        let named = codec.relay_key(request.uri());
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
            let consent = self.delivery.pipeline().consent();
            match passthrough::with_user_ids(codec, consent, &src.relay, self.limits, request)
                .await?
            {
                Ok(request) => request,
                Err(why) => {
                    tracing::debug!(source = %src.name, reason = why.as_str(), "relay withheld");
                    self.metrics
                        .passthrough
                        .with_label_values(&[&src.name, "withheld"])
                        .inc();
                    return Ok(codec.relay_withheld(&uri));
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
