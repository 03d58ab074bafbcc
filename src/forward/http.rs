//! The `http` sink: POSTs batches over a pooled keep-alive client (rustls
//! for `https://`, trusting what the destination's `tls` says), with
//! per-attempt timeouts and retries as decided by [`super::retry`].

use super::batch::framing;
use super::breaker::{Breaker, BreakerMetrics};
use super::concurrency::Outcome;
use super::limiter::Limiter;
use super::retry::{Attempt, Backoff};
use super::settings::{BatchFormat, Compression, HttpSinkConfig, RetryConfig};
use super::DestMetrics;
use crate::metrics::{status_class, DropReason, Metrics};
use crate::protocol::Framing;
use crate::tls::ClientTls;
use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use prometheus::IntCounter;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The client every outbound request uses.
pub(super) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds a pooled client for http:// and https:// (trust and client
/// certificate from `tls`; ALPN h2 and http/1.1).
pub(super) fn client(connect_timeout: Duration, tls: &ClientTls) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.rustls().clone())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build(https)
}

/// Where batches go: the configured url, plus the Measurement Protocol's
/// `api_secret` for `ga4_mp` (kept out of the config's url, which `check`
/// prints; config validation made sure the url has a query to extend).
fn url(cfg: &HttpSinkConfig) -> Uri {
    match (cfg.format, &cfg.api_key) {
        (BatchFormat::Ga4Mp, Some(secret)) => {
            let encoded: String =
                form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
            format!("{}&api_secret={encoded}", cfg.url)
                .parse()
                .expect("a url with one more encoded query parameter is a url")
        }
        _ => cfg.url.clone(),
    }
}

/// One HTTP destination.
pub(super) struct HttpSink {
    client: HttpClient,
    url: Uri,
    framing: Framing,
    content_type: HeaderValue,
    compression: Compression,
    headers: Vec<(HeaderName, HeaderValue)>,
    request_timeout: Duration,
    /// Told how each attempt went (an adaptive limit learns from it).
    limiter: Arc<Limiter>,
    retry: RetryConfig,
    metrics: DestMetrics,
    retries: IntCounter,
    breaker: Breaker,
}

impl HttpSink {
    /// A sink for `cfg`.
    /// `sealed`: bodies arrive as JWE compact strings.
    pub(super) fn new(
        cfg: &HttpSinkConfig,
        metrics: DestMetrics,
        all: &Metrics,
        sealed: bool,
        limiter: Arc<Limiter>,
    ) -> HttpSink {
        HttpSink {
            client: client(cfg.connect_timeout, &cfg.tls),
            url: url(cfg),
            framing: framing(cfg.format, cfg.api_key.as_ref().map(|k| k.expose())),
            compression: cfg.compression,
            content_type: HeaderValue::from_static(match (sealed, cfg.format) {
                (true, _) => "application/jose",
                (
                    false,
                    BatchFormat::Segment
                    | BatchFormat::Amplitude
                    | BatchFormat::Posthog
                    | BatchFormat::Snowplow
                    | BatchFormat::Ga4Mp,
                ) => "application/json",
                (false, BatchFormat::Ga4) => "text/plain;charset=UTF-8",
                (false, BatchFormat::Ndjson) => "application/x-ndjson",
            }),
            headers: cfg.headers.clone(),
            request_timeout: cfg.request_timeout,
            limiter,
            retry: cfg.retry,
            retries: all.upstream_retries.with_label_values(&[&metrics.name]),
            breaker: Breaker::new(
                cfg.breaker,
                BreakerMetrics {
                    state: all.circuit_state.with_label_values(&[&metrics.name]),
                    opened: all
                        .circuit_transitions
                        .with_label_values(&[&metrics.name, "open"]),
                    closed: all
                        .circuit_transitions
                        .with_label_values(&[&metrics.name, "closed"]),
                },
            ),
            metrics,
        }
    }

    /// How its batch bodies wrap events.
    pub(super) fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Pause between rounds of retries of a batch kept in a spool.
    pub(super) fn pause(&self) -> Duration {
        self.retry.max_backoff
    }

    /// Delivers one batch body, retrying as the policy allows. Before
    /// every attempt it asks `fresh` whether the body may still be sent (an
    /// erase since it was built says no: it gives up, and the caller
    /// filters the batch again).
    pub(super) async fn deliver(
        &self,
        body: Bytes,
        fresh: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), DropReason> {
        // Compressed once, whatever the number of attempts.
        let body = match self.compression {
            Compression::None => body,
            Compression::Gzip => gzip(&body),
        };
        let backoff = Backoff {
            initial: self.retry.initial_backoff,
            max: self.retry.max_backoff,
        };
        let mut retry = 0;
        loop {
            // While the breaker is open this waits; nothing is sent.
            let admitted = self.breaker.admit().await;
            if !fresh() {
                // Given up unsent: the next attempt may be the probe.
                return Err(DropReason::RetriesExhausted);
            }
            let attempt = self.attempt(body.clone()).await;
            admitted.record(!matches!(attempt, Attempt::Retry { .. }));
            let asked = match attempt {
                Attempt::Delivered => return Ok(()),
                Attempt::DontRetry => return Err(DropReason::Rejected),
                Attempt::Retry { after } => after,
            };
            if retry >= self.retry.max_retries {
                return Err(DropReason::RetriesExhausted);
            }
            self.retries.inc();
            tokio::time::sleep(backoff.delay(retry, asked)).await;
            retry += 1;
        }
    }

    async fn attempt(&self, body: Bytes) -> Attempt {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, self.content_type.clone())
            .body(Full::new(body))
            .expect("request parts are valid");
        if self.compression == Compression::Gzip {
            request
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        for (name, value) in &self.headers {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.request_timeout;
        let outcome = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Ok(Ok(response)) => {
                let (parts, body) = response.into_parts();
                // Read the (small) answer so the connection can be reused.
                // The status decided already: a body that does not end in
                // time costs the connection, never a resend of a batch the
                // backend took.
                let read = http_body_util::Limited::new(body, 64 * 1024).collect();
                let _ = tokio::time::timeout_at(deadline, read).await;
                Ok(Ok(parts))
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(elapsed) => Err(elapsed),
        };
        let (label, attempt, load) = match outcome {
            Ok(Ok(parts)) => (
                status_class(parts.status.as_u16()),
                Attempt::from_response(parts.status, &parts.headers),
                if matches!(parts.status.as_u16(), 429 | 503) {
                    Outcome::Backpressure
                } else {
                    Outcome::Answered
                },
            ),
            Ok(Err(e)) => {
                tracing::debug!(destination = %self.metrics.name, error = %e, "request to destination failed");
                (
                    "error",
                    Attempt::Retry { after: None },
                    Outcome::Backpressure,
                )
            }
            Err(_) => (
                "timeout",
                Attempt::Retry { after: None },
                Outcome::Backpressure,
            ),
        };
        self.limiter.observe(started.elapsed(), load);
        self.metrics
            .metrics
            .upstream_duration
            .with_label_values(&[&self.metrics.name, label])
            .observe(started.elapsed().as_secs_f64());
        attempt
    }
}

/// `body`, gzipped (fast level: batches are sent often, and mostly
/// repeated keys compress well at any level).
fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .expect("writing to a Vec cannot fail");
    Bytes::from(encoder.finish().expect("writing to a Vec cannot fail"))
}
