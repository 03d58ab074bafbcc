//! A fast HTTP sink for load tests: answers every POST with 204 after reading
//! the body, counts the events in it (one per `"messageId":"` occurrence, the
//! template has exactly one per event) and remembers their ids. It also counts
//! the PII of the load event (event.json) that reaches it: occurrences of
//! `example.com` (every email there, however its `@` is encoded), the phone
//! number `7946 0958` and the client IP `203.0.113.7`. Behind privgate with
//! the shipped policy that count must stay 0.
//!
//! `GET /stats` → `{"requests":N,"events":N,"unique":N,"pii_seen":N,"duplicates":N}`,
//! `GET /ids` → the ids seen, one per line, `POST /reset` forgets everything.
//! `POST /v1/shed` → the 503 privgate answers on a full queue (the shed
//! scenario's floor for hyper: what answering it costs with nothing else).
//! `POST /pace?events_per_s=N` paces what is posted to `/v1/slow` from then
//! on (0: no pace): a backend that takes N events a second, the overload
//! scenario's. Each request there is counted when it arrives and answered
//! once its events' share of the second has passed after the requests
//! before it (no burst).
//!
//! Usage: sink <port>

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Seen {
    requests: u64,
    events: u64,
    duplicates: u64,
    pii_seen: u64,
    ids: HashSet<Box<str>>,
    /// `/v1/slow`'s pace (events a second; 0: none) and when the requests
    /// paced so far have all been answered.
    pace: u64,
    paced_until: Option<tokio::time::Instant>,
}

/// privgate's answer to a request refused for backpressure.
const SHED: &[u8] = br#"{"code":503,"error":"backpressure","message":"temporarily unable to accept events; retry later","success":false}"#;

const KEY: &[u8] = b"\"messageId\":\"";
/// The PII event.json carries (see the module docs).
const PII: [&[u8]; 3] = [b"example.com", b"7946 0958", b"203.0.113.7"];

fn pii_seen(body: &[u8]) -> u64 {
    PII.iter().map(|p| memchr::memmem::find_iter(body, p).count() as u64).sum()
}

fn ids(body: &[u8]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(at) = find(rest, KEY) {
        rest = &rest[at + KEY.len()..];
        let end = rest.iter().position(|&b| b == b'"').unwrap_or(rest.len());
        out.push(std::str::from_utf8(&rest[..end]).unwrap_or(""));
        rest = &rest[end..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

async fn answer(seen: Arc<Mutex<Seen>>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let req_query = req.uri().query().map(str::to_owned);
    let body = req.into_body().collect().await?.to_bytes();
    let mut response = Response::new(Full::new(Bytes::new()));
    match (method.as_str(), path.as_str()) {
        ("GET", "/stats") => {
            let s = seen.lock().unwrap();
            *response.body_mut() = Full::new(Bytes::from(format!(
                "{{\"requests\":{},\"events\":{},\"unique\":{},\"pii_seen\":{},\"duplicates\":{}}}",
                s.requests,
                s.events,
                s.ids.len(),
                s.pii_seen,
                s.duplicates
            )));
        }
        ("GET", "/ids") => {
            let s = seen.lock().unwrap();
            let mut text = String::with_capacity(s.ids.len() * 24);
            for id in &s.ids {
                text.push_str(id);
                text.push('\n');
            }
            *response.body_mut() = Full::new(Bytes::from(text));
        }
        ("POST", "/reset") => {
            let mut s = seen.lock().unwrap();
            let pace = s.pace;
            *s = Seen { pace, ..Seen::default() };
        }
        ("POST", "/pace") => {
            let query = req_query.unwrap_or_default();
            let pace = query.strip_prefix("events_per_s=").and_then(|n| n.parse().ok());
            let mut s = seen.lock().unwrap();
            match pace {
                Some(pace) => (s.pace, s.paced_until) = (pace, None),
                None => *response.status_mut() = hyper::StatusCode::BAD_REQUEST,
            }
        }
        // The shed scenario's floor for a hyper server: the 503 privgate
        // answers on a full queue, made by hyper with no layers around it.
        ("POST", "/v1/shed") => {
            *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
            *response.body_mut() = Full::new(Bytes::from_static(SHED));
            let headers = response.headers_mut();
            headers.insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
            headers.insert("retry-after", hyper::header::HeaderValue::from_static("1"));
        }
        _ => {
            let found = ids(&body);
            let pii = pii_seen(&body);
            let answer_at = {
                let mut s = seen.lock().unwrap();
                s.requests += 1;
                s.pii_seen += pii;
                s.events += found.len() as u64;
                let events = found.len() as u64;
                for id in found {
                    if !s.ids.insert(id.into()) {
                        s.duplicates += 1;
                    }
                }
                // Paced: after the requests before it, its events' share.
                (path == "/v1/slow" && s.pace > 0).then(|| {
                    let now = tokio::time::Instant::now();
                    let start = s.paced_until.map_or(now, |t| t.max(now));
                    let until = start + std::time::Duration::from_secs_f64(events as f64 / s.pace as f64);
                    s.paced_until = Some(until);
                    until
                })
            };
            if let Some(at) = answer_at {
                tokio::time::sleep_until(at).await;
            }
            *response.status_mut() = hyper::StatusCode::NO_CONTENT;
        }
    }
    Ok(response)
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: sink <port>");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let seen = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| answer(seen.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
