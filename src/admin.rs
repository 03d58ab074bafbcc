//! The operator listener: `GET /metrics` (Prometheus text), `GET /healthz`
//! (the process is alive) and `GET /readyz` (listeners are bound and the
//! proxy is not shutting down). It never serves tracker traffic.

use crate::ingest::server::{Body, Handler};
use crate::ingest::{full, json_response};
use crate::metrics::Metrics;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The admin endpoints.
pub struct Admin {
    metrics: Metrics,
    ready: Arc<AtomicBool>,
}

impl Admin {
    /// `ready` is set once every listener is bound, cleared on shutdown.
    pub fn new(metrics: Metrics, ready: Arc<AtomicBool>) -> Admin {
        Admin { metrics, ready }
    }
}

impl Handler for Admin {
    async fn call(&self, request: Request<Incoming>, _peer: SocketAddr) -> Response<Body> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut r = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                r#"{"error":"method_not_allowed"}"#,
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        match request.uri().path() {
            "/metrics" => {
                let mut r = Response::new(full(Bytes::from(self.metrics.render())));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                r
            }
            "/healthz" => json_response(StatusCode::OK, r#"{"status":"ok"}"#),
            "/readyz" if self.ready.load(Ordering::Acquire) => {
                json_response(StatusCode::OK, r#"{"status":"ready"}"#)
            }
            "/readyz" => {
                json_response(StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"not_ready"}"#)
            }
            _ => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
        }
    }
}
