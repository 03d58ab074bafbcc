//! Relayed SDK requests (settings, source config, remote config, feature
//! flags, assets) through the real server to a vendor written here, which
//! records what it got and answers with its own CORS headers:
//!
//! - no header naming the client's address or an id reaches the vendor;
//! - the answer's CORS is the source's rule, never the vendor's `*`;
//! - PostHog feature-flag requests, whose body names the user, reach the
//!   vendor only as consent allows (`consent.default`, `Sec-GPC`, the
//!   opt-out registry, `relay_purposes`, `relay_personal_data`); otherwise
//!   the SDK gets "no flags" and the vendor nothing.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One request the vendor got.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The vendor's flags for everyone.
const VENDOR_FLAGS: &str =
    r#"{"flags":{"beta":{"key":"beta","enabled":true}},"errorsWhileComputingFlags":false}"#;

/// A vendor that records requests and answers each with permissive CORS
/// of its own (`*`, credentials, exposed headers) and [`VENDOR_FLAGS`].
#[derive(Clone)]
struct Vendor {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Vendor {
    async fn start() -> Vendor {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let vendor = Vendor {
            addr: listener.local_addr().unwrap(),
            seen: Arc::default(),
        };
        let serving = vendor.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { this.answer(req).await }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        vendor
    }

    async fn answer(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Seen {
            path: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.to_string()),
            headers: parts.headers,
            body,
        });
        let mut response = Response::new(Full::new(Bytes::from_static(VENDOR_FLAGS.as_bytes())));
        let h = response.headers_mut();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("access-control-allow-origin", "*".parse().unwrap());
        h.insert("access-control-allow-credentials", "true".parse().unwrap());
        h.insert("access-control-allow-methods", "*".parse().unwrap());
        h.insert("access-control-allow-headers", "*".parse().unwrap());
        h.insert(
            "access-control-expose-headers",
            "x-vendor-session".parse().unwrap(),
        );
        h.insert("vary", "Origin, Accept-Encoding".parse().unwrap());
        Ok(response)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Sources of every protocol that relays, all pointed at `vendor`, with
/// `posthog` (extra keys for the PostHog source) and `rest` (other tables).
fn config(vendor: &Vendor, posthog: &str, rest: &str) -> String {
    let upstream = vendor.url();
    config_with(
        &format!(
            r#"[[sources]]
name = "seg"
protocol = "segment"
write_keys = ["k-seg"]
cors_origins = ["https://shop.test"]
upstream = "{upstream}"
[[sources]]
name = "rs"
protocol = "rudderstack"
write_keys = ["k-rs"]
cors_origins = ["https://shop.test"]
upstream = "{upstream}"
[[sources]]
name = "amp"
protocol = "amplitude"
write_keys = ["k-amp"]
cors_origins = ["https://shop.test"]
upstream = "{upstream}"
[[sources]]
name = "ph"
protocol = "posthog"
write_keys = ["phc_token"]
cors_origins = ["https://shop.test"]
upstream = "{upstream}"
{posthog}"#
        ),
        &format!(
            "[[destinations]]\nname = \"out\"\nkind = \"stdout\"\nrequire_consent = [\"analytics\"]\n{rest}"
        ),
    )
}

/// Every relay the SDKs make: (method, path, body).
const RELAYS: &[(&str, &str, &str)] = &[
    ("GET", "/v1/projects/k-seg/settings", ""),
    ("POST", "/v1/m", r#"{"series":[]}"#),
    ("GET", "/sourceConfig/?p=npm&writeKey=k-rs", ""),
    ("GET", "/config/k-amp?config_group=browser", ""),
    ("GET", "/array/phc_token/config.js", ""),
    ("GET", "/static/surveys.js", ""),
    (
        "POST",
        "/flags/?v=2",
        r#"{"token":"phc_token","distinct_id":"user-1"}"#,
    ),
];

/// Headers that name the client's address, or an id.
const WHO: &[(&str, &str)] = &[
    ("x-forwarded-for", "198.51.100.7"),
    ("forwarded", "for=198.51.100.7"),
    ("x-real-ip", "198.51.100.7"),
    ("true-client-ip", "198.51.100.7"),
    ("cf-connecting-ip", "198.51.100.7"),
    ("fastly-client-ip", "198.51.100.7"),
    ("x-client-ip", "198.51.100.7"),
    ("x-cluster-client-ip", "198.51.100.7"),
    ("client-ip", "198.51.100.7"),
    ("cookie", "ajs_user_id=user-1"),
    ("anonymousid", "ZDI4ZGZhNGI="),
];

#[tokio::test]
async fn relays_pass_on_no_client_address_header() {
    let vendor = Vendor::start().await;
    // Consent allows the flags request, so that every relay goes.
    let pg = start_privgate(&config(&vendor, "", "[consent]\ndefault = \"allow\"\n")).await;
    for (method, path, body) in RELAYS {
        let mut headers = WHO.to_vec();
        headers.push(("x-keep", "yes"));
        let answer = send(method, pg.ingest_addr(), path, &headers, body.to_string()).await;
        assert_eq!(answer.status, 200, "{method} {path}");
    }
    let seen = vendor.seen();
    assert_eq!(seen.len(), RELAYS.len(), "every relay reached the vendor");
    for request in &seen {
        for (name, _) in WHO {
            assert!(
                request.headers.get(*name).is_none(),
                "{} passed on {name}",
                request.path
            );
        }
        assert_eq!(request.headers["x-keep"], "yes", "{}", request.path);
        let all = format!("{:?}", request.headers);
        assert!(!all.contains("198.51.100.7"), "{}: {all}", request.path);
    }
    pg.shutdown().await;
}

#[tokio::test]
async fn relayed_answers_carry_the_sources_cors_not_the_vendors() {
    let vendor = Vendor::start().await;
    let pg = start_privgate(&config(&vendor, "", "[consent]\ndefault = \"allow\"\n")).await;
    for (method, path, body) in RELAYS {
        let listed = send(
            method,
            pg.ingest_addr(),
            path,
            &[("origin", "https://shop.test")],
            body.to_string(),
        )
        .await;
        let h = &listed.headers;
        assert_eq!(
            h["access-control-allow-origin"], "https://shop.test",
            "{path}"
        );
        assert_eq!(h.get_all("access-control-allow-origin").iter().count(), 1);
        assert_eq!(h["access-control-allow-credentials"], "true", "{path}");
        for vendors in [
            "access-control-expose-headers",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert!(h.get(vendors).is_none(), "{path}: {vendors} passed on");
        }
        let vary: Vec<&str> = h
            .get_all("vary")
            .iter()
            .flat_map(|v| v.to_str().unwrap().split(','))
            .map(str::trim)
            .collect();
        assert_eq!(
            vary.iter()
                .filter(|v| v.eq_ignore_ascii_case("origin"))
                .count(),
            1,
            "{path}: {vary:?}"
        );
        assert!(vary.contains(&"Accept-Encoding"), "{path}: {vary:?}");

        for origin in [Some("https://evil.test"), None] {
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            let other = send(method, pg.ingest_addr(), path, &headers, body.to_string()).await;
            assert_eq!(other.status, 200);
            let cors: Vec<_> = other
                .headers
                .keys()
                .filter(|k| k.as_str().starts_with("access-control-"))
                .collect();
            assert!(cors.is_empty(), "{path} from {origin:?}: {cors:?}");
        }
    }
    pg.shutdown().await;
}

/// A flags request of posthog-js (`/flags/?v=2`) for these ids.
fn flags_body(distinct_id: &str, anon: &str, device: &str) -> String {
    json!({
        "token": "phc_token",
        "distinct_id": distinct_id,
        "$anon_distinct_id": anon,
        "$device_id": device,
        "groups": {},
        "person_properties": {"$initial_referrer": "https://shop.test/?email=jane%40example.com"},
    })
    .to_string()
}

/// Sends a flags request; whether the vendor got it, and the answer.
async fn flags(
    pg: &privgate::app::Running,
    vendor: &Vendor,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (bool, Value) {
    let before = vendor.seen().len();
    let answer = send("POST", pg.ingest_addr(), path, headers, body).await;
    assert_eq!(answer.status, 200, "{path}");
    (vendor.seen().len() > before, answer.json())
}

#[tokio::test]
async fn feature_flags_go_with_their_ids_only_as_consent_allows() {
    let vendor = Vendor::start().await;
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("optouts.txt");
    std::fs::write(&registry, "gone-user\ngone-anon\ngone-device\n").unwrap();
    let optouts = format!("opt_out_registry = \"file:{}\"\n", registry.display());
    let none = json!({"flags": {}, "errorsWhileComputingFlags": false});
    let vendors: Value = serde_json::from_str(VENDOR_FLAGS).unwrap();
    let body = flags_body("user-1", "anon-1", "device-1");

    // The default deny and no signal: withheld, in the shape each version reads.
    let pg = start_privgate(&config(&vendor, "", "[consent]\ndefault = \"deny\"\n")).await;
    assert_eq!(
        flags(&pg, &vendor, "/flags/?v=2", &[], body.clone()).await,
        (false, none.clone())
    );
    assert_eq!(
        flags(&pg, &vendor, "/flags", &[], body.clone()).await,
        (false, none.clone())
    );
    assert_eq!(
        flags(&pg, &vendor, "/decide/?v=4", &[], body.clone()).await,
        (false, none.clone())
    );
    let v3 =
        json!({"featureFlags": {}, "featureFlagPayloads": {}, "errorsWhileComputingFlags": false});
    assert_eq!(
        flags(&pg, &vendor, "/decide/?v=3", &[], body.clone()).await,
        (false, v3.clone())
    );
    assert_eq!(
        flags(&pg, &vendor, "/decide/", &[], body.clone()).await,
        (false, v3)
    );
    let withheld = "privgate_passthrough_requests_total{source=\"ph\",status=\"withheld\"}";
    assert_eq!(metric(pg.admin_addr(), withheld).await, Some(5.0));
    // Requests that carry no ids still go.
    let config_js = send(
        "GET",
        pg.ingest_addr(),
        "/array/phc_token/config.js",
        &[],
        "",
    )
    .await;
    assert_eq!(config_js.status, 200);
    assert_eq!(vendor.seen().len(), 1);
    pg.shutdown().await;

    // Allowed by default: relayed as sent, unless GPC denies a purpose
    // the relay serves, or an id is opted out.
    let pg = start_privgate(&config(
        &vendor,
        "relay_purposes = [\"analytics\", \"advertising\"]",
        &format!(
            "[consent]\ndefault = \"allow\"\ngpc_denies = [\"advertising\"]\n{optouts}\
             tcf_purposes = {{ analytics = [1] }}\n[consent.us_opt_outs]\nsale = [\"advertising\"]\n"
        ),
    ))
    .await;
    let (relayed, answer) = flags(&pg, &vendor, "/flags/?v=2", &[], body.clone()).await;
    assert!(relayed);
    assert_eq!(answer, vendors);
    assert_eq!(
        vendor.seen().last().unwrap().body,
        body.as_bytes(),
        "relayed as sent"
    );
    let gpc = [("sec-gpc", "1")];
    assert_eq!(
        flags(&pg, &vendor, "/flags/?v=2", &gpc, body.clone()).await,
        (false, none.clone())
    );
    // The request's own consent strings count as they do for events: an
    // opt-out of sale, a GPP string that cannot be read or a TC string
    // without consent withhold it; an opted-in one does not.
    for (query, goes) in [
        ("us_privacy=1YYN", false),
        ("us_privacy=1NNN", false),
        ("gpp=DBABLA~nope&gpp_sid=7", false),
        ("gdpr_consent=not-a-tc-string", false),
        ("us_privacy=1YNN", true),
    ] {
        let path = format!("/flags/?v=2&{query}");
        let (relayed, _) = flags(&pg, &vendor, &path, &[], body.clone()).await;
        assert_eq!(relayed, goes, "{query}");
    }
    for ids in [
        ("gone-user", "anon-1", "device-1"),
        ("user-1", "gone-anon", "device-1"),
        ("user-1", "anon-1", "gone-device"),
    ] {
        let opted_out = flags_body(ids.0, ids.1, ids.2);
        assert_eq!(
            flags(&pg, &vendor, "/flags/?v=2", &[], opted_out.clone()).await,
            (false, none.clone()),
            "{ids:?}"
        );
        // In every body form posthog-js sends: gzip without a marker too.
        let gz = gzip(opted_out.as_bytes());
        let text = [("content-type", "text/plain")];
        assert_eq!(
            flags(&pg, &vendor, "/flags/?v=2", &text, gz).await,
            (false, none.clone())
        );
    }
    // A body whose ids cannot be read is withheld; a readable gzip one goes.
    for unreadable in [
        "not json",
        "[1]",
        r#"{"distinct_id":"a","distinct_id":"gone-user"}"#,
    ] {
        assert_eq!(
            flags(&pg, &vendor, "/flags/?v=2", &[], unreadable).await,
            (false, none.clone()),
            "{unreadable}"
        );
    }
    let (relayed, _) = flags(&pg, &vendor, "/flags/?v=2", &[], gzip(body.as_bytes())).await;
    assert!(relayed, "gzip without opted-out ids goes");
    pg.shutdown().await;

    // The operator's explicit opt-in relays without a signal under the
    // default deny; GPC and opted-out ids still withhold.
    let pg = start_privgate(&config(
        &vendor,
        "relay_personal_data = true",
        &format!("[consent]\ndefault = \"deny\"\ngpc_denies = [\"analytics\"]\n{optouts}"),
    ))
    .await;
    let (relayed, answer) = flags(&pg, &vendor, "/flags/?v=2", &[], body.clone()).await;
    assert!(relayed);
    assert_eq!(answer, vendors);
    assert_eq!(
        flags(&pg, &vendor, "/flags/?v=2", &gpc, body.clone()).await,
        (false, none.clone())
    );
    let opted_out = flags_body("gone-user", "a", "d");
    assert_eq!(
        flags(&pg, &vendor, "/flags/?v=2", &[], opted_out).await,
        (false, none)
    );
    pg.shutdown().await;
}
