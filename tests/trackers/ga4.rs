//! Google Analytics 4: gtag.js hits and Measurement Protocol uploads, built
//! here (no GA4 client was captured), replayed with and without rules; other
//! streams, wrong secrets and methods refused.

use super::*;

// Google Analytics 4. No GA4 client was captured, so its requests are
// built here as gtag.js and a Measurement Protocol client send them
// (src/protocol/ga4/ cites the documentation), with the test data every
// capture carries. gtag.js hits have no dedup id: `_p` (the page load's
// random id) and `_s` (the hit's number within that page load) together
// name one, and no rule touches either.

const GA4_PAGE: &str = "http://localhost:18091/ga4-browser.html?base=http%3A%2F%2F127.0.0.1%3A18090&utm_source=harness&utm_medium=test&utm_campaign=wire-capture&mode=default";
const GA4_LANDING: &str = "http://localhost:18091/landing.html?from=search";
const GA4_NEXT: &str =
    "http://localhost:18091/next.html?utm_source=harness&base=http%3A%2F%2F127.0.0.1%3A18090";
const GA4_CLIENT: &str = "1234567890.1732449600";
pub(super) const GA4_TC_STRING: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
const GA4_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";

/// A query string (form-encoded: spaces as `+`, where gtag.js writes
/// `%20`; both read the same, and the unit tests cover gtag's encoding).
fn query(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// What gtag.js puts on every request of a page load (`_p`), consent
/// signals and client hints included.
fn gtag_page(p: &'static str, page: &'static str, more: &[(&'static str, &'static str)]) -> String {
    let mut params = vec![
        ("v", "2"),
        ("tid", "G-HARNESS01"),
        ("gtm", "45je4b20v9"),
        ("_p", p),
        ("gcs", "G111"),
        ("gcd", "13l3l3l3l1"),
        ("npa", "0"),
        ("dma", "1"),
        ("dma_cps", "syphamo"),
        ("gdpr", "1"),
        ("gdpr_consent", GA4_TC_STRING),
        ("cid", GA4_CLIENT),
        ("ul", "en-us"),
        ("sr", "1920x1080"),
        ("uaa", "x86"),
        ("uab", "64"),
        ("uafvl", "Chromium;156.0.0.0|Not:A-Brand;8.0.0.0"),
        ("uamb", "0"),
        ("uap", "Linux"),
        ("uapv", "6.5.0"),
        ("frm", "0"),
        ("pscdl", "noapi"),
        ("sid", "1732449600"),
        ("sct", "1"),
        ("seg", "1"),
        ("dl", page),
        ("dr", GA4_LANDING),
        ("dt", "Harness page"),
    ];
    params.extend_from_slice(more);
    format!("/g/collect?{}", query(&params))
}

fn gtag_request(method: &str, target: String, beacon: bool, body: &str) -> Capture {
    let mut headers = vec![
        ("user-agent".to_owned(), GA4_UA.to_owned()),
        ("referer".to_owned(), "http://localhost:18091/".to_owned()),
        ("sec-fetch-mode".to_owned(), "no-cors".to_owned()),
    ];
    if beacon {
        // sendBeacon (and gtag's keepalive fetch) post text with an Origin.
        headers.push(("origin".to_owned(), "http://localhost:18091".to_owned()));
        headers.push((
            "content-type".to_owned(),
            "text/plain;charset=UTF-8".to_owned(),
        ));
    }
    Capture {
        method: method.to_owned(),
        target,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

/// A page view (GET), a batch after identify (POST, one hit per line, the
/// user id among the shared parameters), the unload beacon (POST, the hit
/// in the URL, no body), and the next page's view.
fn gtag_requests() -> Vec<Capture> {
    let p1 = "1732449600123";
    let p2 = "1732449660456";
    let user = ("uid", "user-123");
    let batch = [
        query(&[
            ("en", "harness_identify"),
            ("_s", "2"),
            ("up.email", "jane.doe@example.com"),
            ("up.phone", "+1-555-0100"),
            ("up.name", "Jane Doe"),
            ("_et", "1200"),
        ]),
        query(&[
            ("en", "harness_track"),
            ("_s", "3"),
            ("ep.email", "buyer@example.com"),
            ("ep.phone", "+44 20 7946 0958"),
            ("ep.order_id", "order-1"),
            ("epn.revenue", "42.5"),
            ("ep.currency", "EUR"),
            ("_et", "812"),
        ]),
        query(&[("en", "group"), ("_s", "4"), ("ep.group_id", "group-acme")]),
        query(&[
            ("en", "harness_page"),
            ("_s", "5"),
            ("ep.page_location", GA4_PAGE),
            ("ep.page_referrer", GA4_LANDING),
        ]),
    ]
    .join("\r\n");
    vec![
        gtag_request(
            "GET",
            gtag_page(
                p1,
                GA4_PAGE,
                &[("_s", "1"), ("en", "page_view"), ("_fv", "1"), ("_ss", "1")],
            ),
            false,
            "",
        ),
        gtag_request(
            "POST",
            gtag_page(p1, GA4_PAGE, &[user, ("_s", "2")]),
            true,
            &batch,
        ),
        gtag_request(
            "POST",
            gtag_page(
                p1,
                GA4_PAGE,
                &[
                    user,
                    ("_s", "6"),
                    ("en", "harness_unload_track"),
                    ("ep.email", "late@example.com"),
                    ("ep.phone", "+1 555 0111"),
                    ("_et", "300"),
                ],
            ),
            true,
            "",
        ),
        gtag_request(
            "GET",
            gtag_page(p2, GA4_NEXT, &[user, ("_s", "1"), ("en", "page_view")]),
            false,
            "",
        ),
    ]
}

/// A query string's parameters as a JSON object of strings (read with
/// `form_urlencoded`, not privgate's reader).
fn params_object<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Value {
    Value::Object(
        pairs
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect(),
    )
}

/// The hits of a gtag.js request: each line's parameters over the URL's,
/// or the URL's alone.
fn gtag_hits(c: &Capture) -> Vec<Value> {
    let query = c.target.split_once('?').map_or("", |(_, q)| q);
    let shared = form_urlencoded::parse(query.as_bytes());
    let body = String::from_utf8(c.body.clone()).unwrap();
    let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        return vec![params_object(shared)];
    }
    lines
        .iter()
        .map(|line| {
            let mut hit = params_object(shared);
            let own = params_object(form_urlencoded::parse(line.as_bytes()));
            hit.as_object_mut()
                .unwrap()
                .extend(own.as_object().unwrap().clone());
            hit
        })
        .collect()
}

/// 204, empty: what Google answers, and all gtag.js and MP clients need.
fn no_content(_: &Capture, answer: &Answer) -> Result<(), String> {
    (answer.status == 204 && answer.body.is_empty())
        .then_some(())
        .ok_or_else(|| "not 204 with an empty body".into())
}

const GA4: Tracker = Tracker {
    captures: &[Captures::Built("ga4-gtag (built)", gtag_requests)],
    source: r#"name = "gtag"
protocol = "ga4"
write_keys = ["G-HARNESS01"]"#,
    forward_to: "/g/collect",
    destination: "",
    success: no_content,
    relays: |_| false,
    events: gtag_hits,
    // One hit per line, as gtag.js batches them.
    received: |r| {
        assert_eq!(r.headers["content-type"], "text/plain;charset=UTF-8");
        let body = std::str::from_utf8(&r.body).unwrap();
        body.split("\r\n")
            .map(|line| params_object(form_urlencoded::parse(line.as_bytes())))
            .collect()
    },
    id: |e| {
        format!(
            "{}/{}",
            e["_p"].as_str().unwrap(),
            e["_s"].as_str().unwrap()
        )
    },
    user_id: &["/uid"],
    // The client's address, as the IP override gtag hits carry.
    added: &["/_uip"],
    ip: "/_uip",
};

#[tokio::test]
async fn ga4_gtag_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&GA4, Rules::None).await;
}

#[tokio::test]
async fn ga4_gtag_requests_replay_and_arrive_minimized() {
    let delivered = replay(&GA4, Rules::Shipped).await;
    let hit = |id: &str| &delivered[id];
    let track = hit("1732449600123/3");
    assert!(track["cid"].as_str().unwrap().starts_with("demo:"));
    assert!(track["ep.email"].as_str().unwrap().starts_with("demo:"));
    assert_eq!(track["ep.phone"], "[phone]");
    assert_eq!(track["ep.order_id"], "order-1", "other parameters stay");
    let identify = hit("1732449600123/2");
    assert!(identify["up.email"].as_str().unwrap().starts_with("demo:"));
    // Both URL parameters and quoted-key semantic paths are scrubbed.
    let page = hit("1732449600123/5");
    for url in [&page["dl"], &page["ep.page_location"]] {
        let url = url.as_str().unwrap();
        assert!(url.contains("utm_source=harness"), "{url}");
        assert!(!url.contains("mode="), "{url}");
    }
    assert_eq!(page["dr"], "http://localhost:18091/landing.html");
    // Consent signals are forwarded as sent (their decisions are consent's).
    assert_eq!(page["gcs"], "G111");
    assert_eq!(page["gdpr_consent"], GA4_TC_STRING);
}

/// Measurement Protocol uploads from a backend, with the source's secret.
fn mp_requests() -> Vec<Capture> {
    let request = |body: String| Capture {
        method: "POST".to_owned(),
        target: "/mp/collect?measurement_id=G-HARNESS01&api_secret=HARNESS_MP_API_SECRET"
            .to_owned(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.into_bytes(),
    };
    let identified = serde_json::json!({
        "client_id": GA4_CLIENT,
        "user_id": "user-123",
        "timestamp_micros": 1732449600000000_u64,
        "user_properties": {
            "email": {"value": "jane.doe@example.com"},
            "phone": {"value": "+1-555-0100"},
            "name": {"value": "Jane Doe"}
        },
        "user_data": {
            // SHA-256 of jane.doe@example.com, as Google asks for it.
            "sha256_email_address": "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"
        },
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "events": [
            {"name": "purchase", "params": {
                "transaction_id": "order-1", "value": 42.5, "currency": "EUR",
                "email": "buyer@example.com", "phone": "+44 20 7946 0958",
                "session_id": "1732449600", "engagement_time_msec": 100,
                "page_location": GA4_PAGE, "page_referrer": GA4_LANDING,
                "timestamp_micros": 1732449600000001_u64
            }},
            {"name": "harness_track", "params": {"group_id": "group-acme", "timestamp_micros": 1732449600000002_u64}},
            {"params": {"no": "name: skipped and counted"}}
        ]
    });
    let unload = serde_json::json!({
        "client_id": GA4_CLIENT,
        "user_id": "user-123",
        "events": [{"name": "harness_unload_track", "params": {
            "email": "late@example.com", "phone": "+1 555 0111",
            "timestamp_micros": 1732449600000003_u64
        }}]
    });
    let anonymous = serde_json::json!({
        "client_id": "987654321.1732449700",
        "non_personalized_ads": true,
        "events": [{"name": "page_view", "params": {
            "page_location": GA4_NEXT, "timestamp_micros": 1732449700000000_u64
        }}]
    });
    vec![
        request(identified.to_string()),
        // Pretty-printed: line breaks inside a body are only whitespace.
        request(serde_json::to_string_pretty(&unload).unwrap()),
        request(anonymous.to_string()),
    ]
}

const GA4_MP: Tracker = Tracker {
    captures: &[Captures::Built(
        "ga4-measurement-protocol (built)",
        mp_requests,
    )],
    source: r#"name = "mp"
protocol = "ga4_mp"
write_keys = ["G-HARNESS01"]
api_secrets = ["file:tests/data/ga4-mp-api-secret"]"#,
    forward_to: "/mp/collect?measurement_id=G-HARNESS01",
    destination: r#"api_secret = "file:tests/data/ga4-vendor-api-secret""#,
    success: no_content,
    relays: |_| false,
    // Each named event, as the body it came in with itself alone in `events`.
    events: |c| {
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("name").is_some())
            .map(|e| {
                let mut one = body.clone();
                one["events"] = Value::from(vec![e.clone()]);
                one
            })
            .collect()
    },
    // One body per request, under the destination's own secret.
    received: |r| {
        assert!(
            r.path.ends_with("&api_secret=VENDOR_MP_API_SECRET"),
            "{}",
            r.path
        );
        assert_eq!(r.headers["content-type"], "application/json");
        vec![serde_json::from_slice(&r.body).expect("one MP body")]
    },
    id: |e| e["events"][0]["params"]["timestamp_micros"].to_string(),
    user_id: &["/user_id"],
    // The Measurement Protocol has no address field.
    added: &[],
    ip: "",
};

#[tokio::test]
async fn ga4_measurement_protocol_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&GA4_MP, Rules::None).await;
}

#[tokio::test]
async fn ga4_measurement_protocol_requests_replay_and_arrive_minimized() {
    let delivered = replay(&GA4_MP, Rules::Shipped).await;
    let purchase = &delivered["1732449600000001"];
    assert!(purchase["client_id"].as_str().unwrap().starts_with("demo:"));
    let email = purchase["user_properties"]["email"]["value"]
        .as_str()
        .unwrap();
    assert!(email.starts_with("demo:"), "{email}");
    let params = &purchase["events"][0]["params"];
    assert!(params["email"].as_str().unwrap().starts_with("demo:"));
    assert_eq!(params["phone"], "[phone]");
    let location = params["page_location"].as_str().unwrap();
    assert!(location.contains("utm_source=harness") && !location.contains("mode="));
    assert_eq!(params["value"], 42.5);
    assert_eq!(purchase["consent"]["ad_personalization"], "DENIED");
}

#[tokio::test]
async fn ga4_refuses_other_streams_wrong_secrets_and_methods() {
    let upstream = Upstream::start().await;
    let sources = format!(
        "[[sources]]\n{}\ndestinations = [\"hits\"]\n[[sources]]\n{}\ndestinations = [\"mp\"]",
        GA4.source, GA4_MP.source
    );
    let destinations = format!(
        "{}{}",
        http_destination_at(
            "hits",
            &upstream,
            "/g/collect",
            "batch = { max_wait = \"20ms\" }"
        ),
        http_destination_at(
            "mp",
            &upstream,
            GA4_MP.forward_to,
            &format!("batch = {{ max_wait = \"20ms\" }}\n{}", GA4_MP.destination)
        ),
    );
    let pg = start_privgate(&config_with(&sources, &destinations)).await;
    let addr = pg.ingest_addr();
    let text = [("content-type", "text/plain")];

    // gtag.js: the measurement id is the write key.
    let answer = send(
        "GET",
        addr,
        "/g/collect?v=2&tid=G-OTHER&en=x&cid=1",
        &[],
        "",
    )
    .await;
    assert_error(&answer, 401, "invalid_write_key");
    let answer = send("GET", addr, "/g/collect?v=2&en=x&cid=1", &[], "").await;
    assert_error(&answer, 401, "missing_write_key");
    // Not even with a known key elsewhere: the hits name the stream.
    let basic = ("authorization", "Basic Ry1IQVJORVNTMDE6"); // G-HARNESS01:
    let answer = send("POST", addr, "/g/collect?v=2", &[basic], "en=x&tid=G-OTHER").await;
    assert_error(&answer, 401, "invalid_write_key");
    let answer = send("PUT", addr, "/g/collect?tid=G-HARNESS01&en=x", &[], "").await;
    assert_error(&answer, 405, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "GET, POST, OPTIONS");
    let answer = send(
        "POST",
        addr,
        "/g/collect?tid=G-HARNESS01",
        &[("content-type", "image/png")],
        "en=x",
    )
    .await;
    assert_error(&answer, 415, "unsupported_media_type");
    // A hit naming another stream is skipped; the rest go through.
    let body = "en=a&_p=9&_s=1\r\nen=b&_p=9&_s=2&tid=G-OTHER\r\nen=c&_p=9&_s=3";
    let answer = send(
        "POST",
        addr,
        "/g/collect?v=2&tid=G-HARNESS01&cid=1",
        &text,
        body,
    )
    .await;
    assert_eq!(answer.status, 204);
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let answer = send(
        "POST",
        addr,
        "/g/collect?v=2&tid=G-HARNESS01&cid=1",
        &form,
        "en=d&_p=9&_s=4",
    )
    .await;
    assert_eq!(answer.status, 204, "form-encoded hits are hits too");

    // Measurement Protocol: the measurement id, and one of the source's secrets.
    let mp = |query: &str| format!("/mp/collect?{query}");
    let body = r#"{"client_id":"1.2","events":[{"name":"e","params":{"timestamp_micros":1}}]}"#;
    let json = [("content-type", "application/json")];
    for (query, code) in [
        (
            "measurement_id=G-HARNESS01&api_secret=VENDOR_MP_API_SECRET",
            "invalid_write_key",
        ),
        ("measurement_id=G-HARNESS01", "missing_write_key"),
        (
            "measurement_id=G-OTHER&api_secret=HARNESS_MP_API_SECRET",
            "invalid_write_key",
        ),
        ("api_secret=HARNESS_MP_API_SECRET", "missing_write_key"),
    ] {
        let answer = send("POST", addr, &mp(query), &json, body).await;
        assert_error(&answer, 401, code);
    }
    let answer = send(
        "GET",
        addr,
        &mp("measurement_id=G-HARNESS01&api_secret=HARNESS_MP_API_SECRET"),
        &[],
        "",
    )
    .await;
    assert_error(&answer, 405, "method_not_allowed");
    let answer = send(
        "POST",
        addr,
        &mp("measurement_id=G-HARNESS01&api_secret=HARNESS_MP_API_SECRET"),
        &json,
        body,
    )
    .await;
    assert_eq!(answer.status, 204);

    // Exactly the accepted hits and the one accepted MP event arrive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let received = upstream.received();
        let hits: Vec<String> = received
            .iter()
            .filter(|r| r.path == "/g/collect")
            .flat_map(|r| (GA4.received)(r))
            .map(|e| e["en"].as_str().unwrap().to_owned())
            .collect();
        let mp = received
            .iter()
            .filter(|r| r.path.starts_with("/mp/collect"))
            .count();
        if hits.len() >= 3 && mp >= 1 || tokio::time::Instant::now() > deadline {
            let mut hits = hits;
            hits.sort();
            assert_eq!(hits, ["a", "c", "d"]);
            assert_eq!(mp, 1);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    pg.shutdown().await;
}
