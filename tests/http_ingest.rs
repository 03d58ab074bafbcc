//! The tracker-facing HTTP surface through the real server: the captured
//! analytics.js and analytics-node requests replayed byte for byte, every
//! Segment endpoint, write keys, encodings, CORS, the settings relay, the
//! generic `/collect` source, h2c, the admin endpoints, and bad input — each
//! with the right status and JSON error, the server serving on afterwards.

mod common;

use bytes::Bytes;
use common::*;
use std::time::Duration;

async fn start_with(
    upstream: &Upstream,
    source_extra: &str,
    server_extra: &str,
) -> privgate::app::Running {
    let config = segment_config(&http_destination(
        "backend",
        upstream,
        r#"batch = { max_events = 100, max_wait = "20ms" }"#,
    ))
    .replace("[server]\n", &format!("[server]\n{server_extra}\n"))
    .replace(
        "cors_origins = [\"http://shop.test\"]",
        &format!("cors_origins = [\"http://shop.test\"]\n{source_extra}"),
    );
    start_privgate(&config).await
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_the_server_keeps_serving() {
    let upstream = Upstream::start().await;
    let pg = start_with(
        &upstream,
        "",
        "max_body_bytes = \"2KiB\"\nmax_decompressed_bytes = \"8KiB\"",
    )
    .await;
    let addr = pg.ingest_addr();
    let json = ("content-type", "application/json");
    // (path, headers, body, expected status, expected error code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "/v1/t",
            vec![AUTH, json],
            b"{\"event\":".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "/v1/t",
            vec![AUTH, json],
            b"{\"a\":1}}".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "/v1/t",
            vec![AUTH, json],
            b"{\"event\":\"\xff\xfe\"}".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "/v1/t",
            vec![AUTH, json],
            b"[{\"event\":\"x\"}]".to_vec(),
            400,
            "invalid_json",
        ),
        ("/v1/t", vec![AUTH, json], b"".to_vec(), 400, "invalid_json"),
        (
            "/v1/batch",
            vec![AUTH, json],
            b"{\"batch\":5}".to_vec(),
            400,
            "invalid_payload",
        ),
        (
            "/v1/t",
            vec![("authorization", "Basic d3Jvbmc6"), json],
            track("x").into_bytes(),
            401,
            "invalid_write_key",
        ),
        (
            "/v1/t",
            vec![json],
            track("x").into_bytes(),
            401,
            "missing_write_key",
        ),
        (
            "/v1/nope",
            vec![AUTH, json],
            track("x").into_bytes(),
            404,
            "not_found",
        ),
        (
            "/v1/t",
            vec![AUTH, json],
            format!("{{\"pad\":\"{}\"}}", "x".repeat(4096)).into_bytes(),
            413,
            "body_too_large",
        ),
        (
            "/v1/t",
            vec![AUTH, json, ("content-encoding", "gzip")],
            gzip(format!("{{\"pad\":\"{}\"}}", " ".repeat(64 * 1024)).as_bytes()),
            413,
            "body_too_large",
        ),
        (
            "/v1/t",
            vec![AUTH, json, ("content-encoding", "gzip")],
            b"\x1f\x8b\x08garbage".to_vec(),
            400,
            "invalid_gzip",
        ),
        (
            "/v1/t",
            vec![AUTH, json, ("content-encoding", "br")],
            track("x").into_bytes(),
            415,
            "unsupported_encoding",
        ),
        (
            "/v1/t",
            vec![AUTH, ("content-type", "application/x-www-form-urlencoded")],
            track("x").into_bytes(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (i, (path, headers, body, status, code)) in cases.into_iter().enumerate() {
        let answer = send("POST", addr, path, &headers, body).await;
        assert_error(&answer, status, code);
        still_serving(addr, &upstream, &format!("after-{i}")).await;
    }
    let wrong_key = send(
        "POST",
        addr,
        "/v1/t",
        &[("authorization", "Basic d3Jvbmc6")],
        track("x"),
    )
    .await;
    assert!(wrong_key.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let get = send("GET", addr, "/v1/t", &[AUTH], Bytes::new()).await;
    assert_error(&get, 405, "method_not_allowed");
    assert_eq!(get.headers["allow"], "POST, OPTIONS");
    // Nothing from the bad requests reached the backend.
    assert!(upstream
        .delivered_ids()
        .iter()
        .all(|id| id.starts_with("after-")));
    pg.shutdown().await;
}

#[tokio::test]
async fn a_bad_element_does_not_take_down_its_batch() {
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    let body = format!(
        r#"{{"batch":[{},42,{{"event":"no type"}},{}]}}"#,
        track("good-1"),
        track("good-2")
    );
    let answer = post(pg.ingest_addr(), "/v1/batch", body).await;
    assert_eq!(answer.status, 200);
    let got = upstream.wait_for_delivered(2, Duration::from_secs(5)).await;
    assert_eq!(got, ["good-1", "good-2"]);
    let dropped = metric(
        pg.admin_addr(),
        "privgate_events_dropped_total{destination=\"none\",reason=\"invalid_event\"}",
    )
    .await;
    assert_eq!(dropped, Some(2.0));
    pg.shutdown().await;
}

#[tokio::test]
async fn write_keys_encodings_and_every_endpoint() {
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    let addr = pg.ingest_addr();
    // writeKey in the body, text/plain as sendBeacon sends it.
    let body = r#"{"event":"beacon","messageId":"body-key","writeKey":"test-key"}"#;
    let answer = send(
        "POST",
        addr,
        "/v1/t",
        &[("content-type", "text/plain;charset=UTF-8")],
        body,
    )
    .await;
    assert_eq!(answer.status, 200);
    // gzip with Content-Encoding.
    let answer = send(
        "POST",
        addr,
        "/v1/t",
        &[
            AUTH,
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        gzip(track("gzipped").as_bytes()),
    )
    .await;
    assert_eq!(answer.status, 200);
    // Every alias, each event typed by its endpoint when it says nothing.
    let endpoints = [
        ("/v1/t", "track"),
        ("/v1/track", "track"),
        ("/v1/i", "identify"),
        ("/v1/identify", "identify"),
        ("/v1/p", "page"),
        ("/v1/page", "page"),
        ("/v1/s", "screen"),
        ("/v1/screen", "screen"),
        ("/v1/g", "group"),
        ("/v1/group", "group"),
        ("/v1/a", "alias"),
        ("/v1/alias", "alias"),
    ];
    for (path, _) in endpoints {
        let answer = post(
            addr,
            path,
            format!(r#"{{"messageId":"ep{path}","userId":"u"}}"#),
        )
        .await;
        assert_eq!(answer.status, 200, "{path}");
    }
    for path in ["/v1/b", "/v1/batch", "/v1/import"] {
        let answer = post(
            addr,
            path,
            format!(r#"{{"batch":[{}]}}"#, track(&format!("ep{path}"))),
        )
        .await;
        assert_eq!(answer.status, 200, "{path}");
    }
    upstream
        .wait_for_delivered(2 + endpoints.len() + 3, Duration::from_secs(5))
        .await;
    let events: Vec<serde_json::Value> = upstream
        .received()
        .iter()
        .flat_map(|r| r.events())
        .collect();
    for (path, kind) in endpoints {
        let event = events
            .iter()
            .find(|e| e["messageId"] == format!("ep{path}"))
            .unwrap();
        assert_eq!(event["type"], kind, "{path}");
    }
    assert!(events.iter().any(|e| e["messageId"] == "body-key"));
    assert!(events.iter().any(|e| e["messageId"] == "gzipped"));
    pg.shutdown().await;
}

#[tokio::test]
async fn cors_echoes_allowed_origins_with_credentials_and_never_star() {
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    let addr = pg.ingest_addr();
    let preflight = send(
        "OPTIONS",
        addr,
        "/v1/t",
        &[
            ("origin", "http://shop.test"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "http://shop.test"
    );
    assert_eq!(
        preflight.headers["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(
        preflight.headers["access-control-allow-headers"],
        "authorization"
    );

    let denied = send(
        "OPTIONS",
        addr,
        "/v1/t",
        &[("origin", "http://evil.test")],
        Bytes::new(),
    )
    .await;
    assert_error(&denied, 403, "origin_not_allowed");
    assert!(denied.headers.get("access-control-allow-origin").is_none());

    let ok = send(
        "POST",
        addr,
        "/v1/t",
        &[AUTH, ("origin", "http://shop.test")],
        track("cors"),
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers["access-control-allow-origin"],
        "http://shop.test"
    );
    assert_eq!(ok.headers["access-control-allow-credentials"], "true");
    // Errors carry CORS headers too, so the page can read them.
    let err = send(
        "POST",
        addr,
        "/v1/t",
        &[("origin", "http://shop.test")],
        track("nokey"),
    )
    .await;
    assert_eq!(err.status, 401);
    assert_eq!(
        err.headers["access-control-allow-origin"],
        "http://shop.test"
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn settings_are_relayed_without_cookies_or_404_without_upstream() {
    let upstream = Upstream::start().await;
    let pg = start_with(
        &upstream,
        &format!("upstream = \"{}\"", upstream.url("/cdn")),
        "",
    )
    .await;
    let answer = send(
        "GET",
        pg.ingest_addr(),
        "/v1/projects/test-key/settings?x=1",
        &[
            ("cookie", "ajs_user_id=secret"),
            ("origin", "http://shop.test"),
        ],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(&answer.body[..], b"{\"ok\":true}");
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://shop.test"
    );
    let seen = &upstream.received()[0];
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/cdn/v1/projects/test-key/settings?x=1");
    assert!(seen.headers.get("cookie").is_none());
    pg.shutdown().await;

    let bare = start_with(&upstream, "", "").await;
    let answer = send(
        "GET",
        bare.ingest_addr(),
        "/v1/projects/test-key/settings",
        &[],
        Bytes::new(),
    )
    .await;
    assert_error(&answer, 404, "not_found");
    bare.shutdown().await;
}

#[tokio::test]
async fn the_generic_source_takes_objects_arrays_and_ndjson() {
    let upstream = Upstream::start().await;
    let config =
        format!(
        "{}\n[[sources]]\nname = \"apps\"\nprotocol = \"json\"\nwrite_keys = [\"collect-key\"]\n",
        segment_config(&http_destination("backend", &upstream, r#"batch = { max_wait = "20ms" }"#))
    );
    let pg = start_privgate(&config).await;
    let addr = pg.ingest_addr();
    let basic = ("authorization", "Basic Y29sbGVjdC1rZXk6");
    assert_eq!(
        send("POST", addr, "/collect", &[basic], r#"{"messageId":"c1"}"#)
            .await
            .status,
        200
    );
    assert_eq!(
        send(
            "POST",
            addr,
            "/collect",
            &[basic],
            r#"[{"messageId":"c2"},{"messageId":"c3"}]"#
        )
        .await
        .status,
        200
    );
    let ndjson = "{\"messageId\":\"c4\"}\n{\"messageId\":\"c5\"}\n";
    assert_eq!(
        send(
            "POST",
            addr,
            "/collect?writeKey=collect-key",
            &[("content-type", "application/x-ndjson")],
            ndjson
        )
        .await
        .status,
        200
    );
    // A Segment key does not open the generic source.
    assert_eq!(
        send("POST", addr, "/collect", &[AUTH], r#"{"a":1}"#)
            .await
            .status,
        401
    );
    let mut got = upstream.wait_for_delivered(5, Duration::from_secs(5)).await;
    got.sort();
    assert_eq!(got, ["c1", "c2", "c3", "c4", "c5"]);
    assert_eq!(
        metric(
            pg.admin_addr(),
            "privgate_events_received_total{source=\"apps\"}"
        )
        .await,
        Some(5.0)
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn http2_cleartext_is_served() {
    use http_body_util::{BodyExt, Full};
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let request = http::Request::post(format!("http://{}/v1/t", pg.ingest_addr()))
        .header(AUTH.0, AUTH.1)
        .body(Full::new(Bytes::from(track("h2c"))))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"success":true}"#);
    assert_eq!(
        upstream.wait_for_delivered(1, Duration::from_secs(5)).await,
        ["h2c"]
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints() {
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    post(pg.ingest_addr(), "/v1/t", track("m")).await;
    let admin = pg.admin_addr();
    assert_eq!(
        send("GET", admin, "/healthz", &[], Bytes::new())
            .await
            .status,
        200
    );
    assert_eq!(
        send("GET", admin, "/readyz", &[], Bytes::new())
            .await
            .status,
        200
    );
    assert_eq!(
        send("GET", admin, "/nope", &[], Bytes::new()).await.status,
        404
    );
    let metrics = send("GET", admin, "/metrics", &[], Bytes::new()).await;
    assert!(metrics.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = String::from_utf8(metrics.body.to_vec()).unwrap();
    for needle in [
        "privgate_build_info{version=",
        "privgate_http_request_duration_seconds_bucket{source=\"web\",status=\"200\"",
        "privgate_events_received_total{source=\"web\"} 1",
        "privgate_queue_depth_events{destination=\"backend\"}",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}");
    }
    // Metrics never carry field values.
    assert!(!text.contains("Order Completed") && !text.contains("a-1"));
    pg.shutdown().await;
}

/// Each answer is counted once, under its own source and status, whether
/// its series is kept at hand (200) or looked up (400), and an answer
/// before any source is known is `unknown`'s.
#[tokio::test]
async fn request_durations_are_counted_by_source_and_status() {
    let upstream = Upstream::start().await;
    let pg = start_with(&upstream, "", "").await;
    let (ingest, admin) = (pg.ingest_addr(), pg.admin_addr());
    for id in ["d1", "d2", "d3"] {
        assert_eq!(post(ingest, "/v1/t", track(id)).await.status, 200);
    }
    assert_eq!(post(ingest, "/v1/t", "{not json").await.status, 400);
    let unauthenticated = send("POST", ingest, "/v1/t", &[], track("d4")).await;
    assert_eq!(unauthenticated.status, 401);
    let count = |status: &'static str, source: &'static str| async move {
        let series = format!(
            "privgate_http_request_duration_seconds_count{{source=\"{source}\",status=\"{status}\"}}"
        );
        metric(admin, &series).await
    };
    assert_eq!(count("200", "web").await, Some(3.0));
    assert_eq!(count("400", "web").await, Some(1.0));
    assert_eq!(count("401", "unknown").await, Some(1.0));
    assert_eq!(count("503", "web").await, None);
    pg.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let upstream = Upstream::start().await;
    let app = start_with(&upstream, "", "max_connections = 2").await;
    let addr = app.ingest_addr();
    // Two clients hold both slots without sending anything.
    let idle_a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _idle_b = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = tokio::spawn(async move { post(addr, "/v1/track", track("over-limit")).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !third.is_finished(),
        "a third connection is not served while two are open"
    );
    drop(idle_a);
    let answer = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("served once a slot frees")
        .unwrap();
    assert_eq!(answer.status, 200);
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    app.shutdown().await;
}
