//! The tracker listener's request path as one tower stack, built once per
//! config ([`Handler`]; a reload builds the next). Outermost first,
//! and why each layer sits where it does:
//!
//! 1. **resolve**: which endpoint the path is, and who the client is
//!    (`server.trusted_proxies`, see [`super::client_ip`]), kept in the
//!    request's extensions for every layer below.
//! 2. observe ([`Finish`]): times every answer and counts it by source and status
//!    (`privgate_http_request_duration_seconds`). Outermost of the rest, so the
//!    answers the layers below make themselves (408, 429, 431) count too.
//! 3. CORS ([`Finish`]): the endpoint's CORS headers on every answer, so a
//!    browser tracker can read a 429 or a 503 and back off instead of seeing
//!    an opaque network error.
//! 4. [`Deadline`]: `server.request_timeout` for the rest (408
//!    `timeout`).
//! 5. per-IP rate limit ([`Gate`] of [`super::ratelimit::RateLimits::check_request`]):
//!    before anything costs more than a lookup.
//! 6. head limits ([`Gate`] of [`super::server::HeadLimits::check`]): 431
//!    `headers_too_large` for heads over `max_headers` / `max_header_bytes`
//!    that hyper let through (see [`super::server`]).
//! 7. in-flight budget ([`Gate`] charging the head to
//!    [`super::inflight::Inflight`]): 503 `overloaded` when the requests in
//!    flight hold `server.max_inflight_bytes`, while the heap is over
//!    `server.memory_limit` ([`super::memory_limit`]), or when the
//!    connection found no room for the request's answer
//!    ([`super::conn::Overdrawn`]). Last
//!    of the gates, so a
//!    refused or oversized head is never charged; the charge rides in the
//!    request's extensions, and the body and what it decodes to are charged
//!    to it below.
//! 8. [`Router`]: preflight, write key, body, the protocol's decoder, and
//!    the accept stack (per-write-key limit, pipeline, queues; see
//!    [`super::accept`]).
//!
//! Layers below the deadline answer in-band: every service here has
//! `Error = Infallible`, and a refusal is an answer made by
//! [`IngestError::into_response`], the one place that maps failures to
//! statuses.

use super::conn::Overdrawn;
use super::error::IngestError;
use super::server::{Body, Swappable};
use super::{full, Ingest};
use crate::protocol::Endpoint;
use futures_util::future::{self, BoxFuture, Either, Ready};
use http::{header, HeaderMap, HeaderValue, Request, Response};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

/// The source (its index in the [`super::Ingest`] that answered) whose key
/// authenticated a request, in its answer's extensions (for the request
/// metrics' label).
#[derive(Clone, Copy)]
pub(crate) struct SourceIndex(pub usize);

/// The tracker listener's service: each request goes through the stack of
/// the config current when it arrived, and finishes with it.
#[derive(Clone)]
pub(crate) struct IngestService(pub Arc<Swappable<Handler>>);

/// One config's request handler and its stack, built once for all of its
/// requests (a reload builds the next).
pub(crate) struct Handler {
    ingest: Arc<Ingest>,
    stack: BoxCloneSyncService<Request<Incoming>, Response<Body>, Infallible>,
}

impl Handler {
    /// `ingest`'s stack (see the module doc).
    pub(crate) fn new(ingest: Ingest) -> Handler {
        let ingest = Arc::new(ingest);
        Handler {
            stack: BoxCloneSyncService::new(stack(ingest.clone())),
            ingest,
        }
    }

    /// The request handler the stack ends in.
    pub(crate) fn ingest(&self) -> &Ingest {
        &self.ingest
    }
}

impl Service<Request<Incoming>> for IngestService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        Box::pin(self.0.get().stack.clone().oneshot(request))
    }
}

/// The stack of the module doc, for one config.
fn stack(
    ingest: Arc<Ingest>,
) -> impl Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future: Send + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    let resolve = {
        let ingest = ingest.clone();
        move |mut request: Request<Incoming>| {
            let endpoint = ingest.endpoint(request.method(), request.uri().path());
            request.extensions_mut().insert(endpoint);
            ingest.resolve_client(&mut request);
            request
        }
    };
    let (observe, cors) = (ingest.clone(), ingest.clone());
    let (rate, head, inflight) = (
        ingest.rate.clone(),
        ingest.head_limits,
        ingest.inflight.clone(),
    );
    let after = ingest.request_timeout;
    ServiceBuilder::new()
        .map_request(resolve)
        .layer(Finish::layer(move |_: &Request<Incoming>| {
            let (ingest, started) = (observe.clone(), Instant::now());
            move |response: &mut Response<Body>| ingest.observe(started, response)
        }))
        .layer(Finish::layer(move |request: &Request<Incoming>| {
            let ingest = cors.clone();
            let endpoint = request.extensions().get::<Option<Endpoint>>().copied();
            // Only the Origin is needed for the answer: a copy, as the
            // value is a slice of the connection's read buffer, which hyper
            // cannot reuse while a slice of it lives.
            let mut origin = HeaderMap::new();
            let value = request.headers().get(header::ORIGIN);
            if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok()) {
                origin.insert(header::ORIGIN, value);
            }
            move |response: &mut Response<Body>| {
                if let Some(cors) = ingest.cors(endpoint.flatten()) {
                    cors.decorate(&origin, response.headers_mut());
                }
            }
        }))
        .layer_fn(move |inner| Deadline { after, inner })
        .layer(Gate::layer(move |request: &mut Request<Incoming>| {
            rate.check_request(request)
        }))
        .layer(Gate::layer(move |request: &mut Request<Incoming>| {
            head.check(request)
        }))
        .layer(Gate::layer(move |request: &mut Request<Incoming>| {
            // The connection found no room for its answer (see
            // `super::conn`); already counted as refused.
            if request.extensions().get::<Overdrawn>().is_some() {
                return Err(IngestError::Overloaded);
            }
            let charge = inflight.charge(super::server::head_bytes(request))?;
            request.extensions_mut().insert(charge);
            Ok(())
        }))
        .service(Router(ingest))
}

/// Finishes every answer of the layers below: `prepare` reads what it needs
/// of the request and returns what to do to its answer (the metrics and the
/// CORS headers).
#[derive(Clone)]
pub(crate) struct Finish<F, S> {
    prepare: F,
    inner: S,
}

impl<F: Clone, S> Finish<F, S> {
    /// A layer that finishes answers as `prepare` says.
    pub(crate) fn layer(prepare: F) -> impl Layer<S, Service = Finish<F, S>> + Clone {
        tower::layer::layer_fn(move |inner| Finish {
            prepare: prepare.clone(),
            inner,
        })
    }
}

impl<F, G, S, B> Service<Request<B>> for Finish<F, S>
where
    F: Fn(&Request<B>) -> G,
    G: FnOnce(&mut Response<Body>) + Send + 'static,
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let finish = (self.prepare)(&request);
        let answer = self.inner.call(request);
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            finish(&mut response);
            Ok(response)
        })
    }
}

/// Answers 408 `timeout` when the layers below have not answered within
/// `server.request_timeout` (and drops their work).
#[derive(Clone)]
pub(crate) struct Deadline<S> {
    after: Duration,
    inner: S,
}

impl<S, B> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let answer = tokio::time::timeout(self.after, self.inner.call(request));
        Box::pin(async move {
            answer
                .await
                .unwrap_or_else(|_| Ok(IngestError::Timeout.into_response().map(full)))
        })
    }
}

/// Answers a refusal itself, or passes the request on: the per-IP rate
/// limit, the head limits and the in-flight budget (which notes its charge
/// in the request).
#[derive(Clone)]
pub(crate) struct Gate<F, S> {
    check: F,
    inner: S,
}

impl<F: Clone, S> Gate<F, S> {
    /// A layer that refuses what `check` refuses.
    pub(crate) fn layer(check: F) -> impl Layer<S, Service = Gate<F, S>> + Clone {
        tower::layer::layer_fn(move |inner| Gate {
            check: check.clone(),
            inner,
        })
    }
}

impl<F, S, B> Service<Request<B>> for Gate<F, S>
where
    F: Fn(&mut Request<B>) -> Result<(), IngestError>,
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match (self.check)(&mut request) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(refused) => Either::Left(future::ok(refused.into_response().map(full))),
        }
    }
}

/// The endpoints themselves: [`Ingest::route`].
#[derive(Clone)]
pub(crate) struct Router(Arc<Ingest>);

impl Service<Request<Incoming>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let ingest = self.0.clone();
        Box::pin(async move { Ok(ingest.route(request).await) })
    }
}
