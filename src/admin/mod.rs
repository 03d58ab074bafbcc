//! The operator listener: `GET /metrics` (Prometheus text), `GET /healthz`
//! (the process is alive), `GET /readyz` (listeners are bound and the
//! proxy is not shutting down), `POST /admin/reload` (see
//! [`crate::reload`]) and, with a token and `consent.suppressions`, the
//! subjects API (`subjects.rs`: suppress, unsuppress, look up, and the
//! change feed replicas poll; `erase.rs`: erase) and
//! `GET /admin/requests/{id}` (deletion requests,
//! [`crate::forward::requests`]). `/admin/*` needs `Authorization: Bearer <token>` when
//! `[admin] token` is set, compared in constant time; without a token it
//! refuses requests that carry an `Origin` header (403), so that a web page
//! cannot make the operator's browser reload the config. It never serves
//! tracker traffic.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod erase;
mod subjects;

use crate::ingest::conn::Overdrawn;
use crate::ingest::server::Body;
use crate::ingest::{full, json_response};
use crate::metrics::Metrics;
use crate::reload::Reloader;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The admin endpoints.
pub(crate) struct Admin {
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    reloader: Arc<Reloader>,
    /// The second of the last audited refusal, and refusals since.
    refusals: std::sync::Mutex<(u64, u64)>,
    /// `[admin] rate_limit`: every `/admin/*` call, over all clients.
    limiter: governor::DefaultDirectRateLimiter,
}

impl Admin {
    /// `ready` is set once every listener is bound, cleared on shutdown.
    pub(crate) fn new(
        metrics: Metrics,
        ready: Arc<AtomicBool>,
        reloader: Arc<Reloader>,
        rate: crate::ingest::settings::Rate,
    ) -> Admin {
        let quota = governor::Quota::per_second(rate.per_second).allow_burst(rate.burst);
        Admin {
            metrics,
            ready,
            reloader,
            refusals: std::sync::Mutex::new((0, 0)),
            limiter: governor::RateLimiter::direct(quota),
        }
    }

    /// `/admin/*`: the token, then the action. Without a token, a request
    /// that carries an `Origin` (a browser's, perhaps sent by any web page
    /// the operator visits) is refused: no cross-site reload.
    async fn admin(&self, request: Request<Incoming>) -> Response<Body> {
        // Before the token: a flood of guesses is refused as cheaply as a
        // flood of calls, and a caller cannot write the audit log or the
        // suppression log faster than this.
        if self.limiter.check().is_err() {
            self.metrics
                .rate_limited
                .with_label_values(&["admin", "none"])
                .inc();
            let mut r = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                r#"{"error":"rate_limited","message":"too many /admin calls; see [admin] rate_limit"}"#,
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        let open = self.reloader.admin_allows(None);
        if open && request.headers().contains_key(header::ORIGIN) {
            return json_response(
                StatusCode::FORBIDDEN,
                r#"{"error":"cross_origin","message":"without [admin] token, /admin/* refuses browser requests (Origin)"}"#,
            );
        }
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        // `[admin] read_token` reads the subjects API and nothing else.
        let reading =
            request.method() == Method::GET && request.uri().path().starts_with("/admin/subjects");
        if !self.reloader.admin_allows(bearer) && self.reloader.read_allows(bearer) && !reading {
            self.audit_refusal(request.uri().path());
            return json_response(
                StatusCode::FORBIDDEN,
                r#"{"error":"read_only","message":"the read token only reads /admin/subjects"}"#,
            );
        }
        if !self.reloader.admin_allows(bearer) && !self.reloader.read_allows(bearer) {
            self.audit_refusal(request.uri().path());
            let mut r = json_response(StatusCode::UNAUTHORIZED, r#"{"error":"unauthorized"}"#);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"privgate-admin\""),
            );
            return r;
        }
        if let Some(id) = request.uri().path().strip_prefix("/admin/requests/") {
            if !self.reloader.has_admin_token() {
                return json_response(
                    StatusCode::FORBIDDEN,
                    r#"{"error":"token_required","message":"set [admin] token to use /admin/requests"}"#,
                );
            }
            return match (request.method(), self.reloader.requests()) {
                (&Method::GET, Some(requests)) => match requests.lookup(id) {
                    Some(body) => json_body(StatusCode::OK, body),
                    None => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
                },
                (&Method::GET, None) => json_response(
                    StatusCode::NOT_FOUND,
                    r#"{"error":"not_configured","message":"set consent.suppressions to a file path to use /admin/requests"}"#,
                ),
                _ => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
            };
        }
        let path = request.uri().path();
        if path.starts_with("/admin/subjects/") || path == "/admin/subjects" {
            if !self.reloader.has_admin_token() {
                return json_response(
                    StatusCode::FORBIDDEN,
                    r#"{"error":"token_required","message":"set [admin] token to use /admin/subjects"}"#,
                );
            }
            let Some(suppressions) = self.reloader.suppressions() else {
                return json_response(
                    StatusCode::NOT_FOUND,
                    r#"{"error":"not_configured","message":"set consent.suppressions to a file path to use /admin/subjects"}"#,
                );
            };
            if request.uri().path() == "/admin/subjects" {
                if request.method() != Method::GET {
                    return json_response(
                        StatusCode::METHOD_NOT_ALLOWED,
                        r#"{"error":"method_not_allowed"}"#,
                    );
                }
                return subjects::list(suppressions, &self.metrics, request.uri().query());
            }
            let (parts, body) = request.into_parts();
            if parts.method == Method::POST && parts.uri.path() == "/admin/subjects/erase" {
                let Some(erasures) = self.reloader.erasures() else {
                    return json_response(StatusCode::NOT_FOUND, r#"{"error":"not_configured"}"#);
                };
                return erase::handle(
                    suppressions,
                    erasures,
                    self.reloader.requests(),
                    &self.reloader,
                    &self.metrics,
                    body,
                )
                .await;
            }
            return subjects::handle(
                suppressions,
                &self.reloader,
                &self.metrics,
                &parts.method,
                parts.uri.path(),
                body,
            )
            .await;
        }
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/admin/reload") => match self.reloader.reload().await {
                Ok(done) => {
                    let body = serde_json::json!({ "status": "reloaded", "result": done });
                    json_body(StatusCode::OK, body)
                }
                Err(e) => {
                    let body =
                        serde_json::json!({ "error": "reload_failed", "message": e.to_string() });
                    json_body(StatusCode::UNPROCESSABLE_ENTITY, body)
                }
            },
            (_, "/admin/reload") => {
                let mut r = json_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    r#"{"error":"method_not_allowed"}"#,
                );
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
                r
            }
            _ => json_response(StatusCode::NOT_FOUND, r#"{"error":"not_found"}"#),
        }
    }
}

impl Admin {
    /// Records a refused admin call in the audit log: at most one record a
    /// second, carrying how many were refused since the last one, so a
    /// flood of bad tokens cannot flood the log (or its fsyncs).
    fn audit_refusal(&self, path: &str) {
        let endpoint = if path.starts_with("/admin/subjects") {
            "subjects"
        } else if path == "/admin/reload" {
            "reload"
        } else {
            "other"
        };
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let refused = {
            let mut last = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            last.1 += 1;
            if last.0 == second {
                return;
            }
            let refused = last.1;
            *last = (second, 0);
            refused
        };
        self.reloader.audit(
            "admin_auth_failure",
            serde_json::json!({ "endpoint": endpoint, "refused": refused }),
        );
    }
}

fn json_body(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl Admin {
    /// The listener's service.
    pub(crate) fn service(
        self: Arc<Self>,
    ) -> impl tower::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
           + Send
           + Sync
           + 'static {
        tower::service_fn(move |request| {
            let admin = self.clone();
            async move { Ok(admin.call(request).await) }
        })
    }

    async fn call(&self, request: Request<Incoming>) -> Response<Body> {
        // The listener's budget had no room for the answer (see
        // `crate::ingest::conn`): every path is refused alike.
        if request.extensions().get::<Overdrawn>().is_some() {
            let mut r = json_response(StatusCode::SERVICE_UNAVAILABLE, r#"{"error":"overloaded"}"#);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        if request.uri().path().starts_with("/admin/") {
            return self.admin(request).await;
        }
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
