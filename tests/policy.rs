//! Privacy rules through the real server on real captured traffic: the
//! analytics-node batch (with `context.ip`, page URLs, emails and phones in
//! traits and properties) reaches the backend with ids and emails hashed by
//! the keyed HMAC, the IP truncated, URLs scrubbed and no PII left in any
//! string; an allow list minimizes one destination; and the rules are
//! counted in /metrics.

mod common;

use base64::Engine;
use common::*;
use std::time::Duration;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn node_batch() -> (Vec<u8>, String) {
    let path = format!(
        "{}/tests/fixtures/trackers/segment-node.ndjson",
        env!("CARGO_MANIFEST_DIR")
    );
    let line = std::fs::read_to_string(path).unwrap();
    let record: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let body = base64::engine::general_purpose::STANDARD
        .decode(record["bodyBase64"].as_str().unwrap())
        .unwrap();
    let auth = record["headers"]["authorization"]
        .as_str()
        .unwrap()
        .to_owned();
    (body, auth)
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn captured_events_reach_backends_minimized() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h1.key"), KEY).unwrap();
    let full = Upstream::start().await;
    let minimal = Upstream::start().await;
    let config = format!(
        r#"{dests}
[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]

[[rules]]
name = "truncate-ip"
select = "@ip"
action = "truncate_ip"

[[rules]]
name = "pseudonymize"
select = ["@user_id", "@anonymous_id", "@email"]
action = "hash"

[[rules]]
name = "scrub-urls"
select = ["@url", "@referrer"]
action = "scrub_url"
keep_params = ["utm_*"]

[[rules]]
name = "redact"
select = "**"
action = "redact_pii"
"#,
        dests = segment_config(&format!(
            "{}{}allow = [\"type\", \"event\", \"messageId\", \"userId\", \"properties.revenue\", \"properties.currency\"]\n",
            http_destination("full", &full, r#"batch = { max_wait = "10ms" }"#),
            http_destination("minimal", &minimal, r#"batch = { max_wait = "10ms" }"#),
        ))
        .replace("write_keys = [\"test-key\"]", "write_keys = [\"HARNESS_SEGMENT_NODE_WRITE_KEY\"]"),
        d = dir.path().display()
    );
    let pg = start_privgate(&config).await;
    let (body, auth) = node_batch();
    let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let count = original["batch"].as_array().unwrap().len();
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/v1/batch",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    assert_eq!(answer.status, 200);
    full.wait_for_delivered(count, Duration::from_secs(5)).await;
    minimal
        .wait_for_delivered(count, Duration::from_secs(5))
        .await;

    let key = privgate::crypto::HmacKey::from_text("h1", KEY).unwrap();
    let received: Vec<serde_json::Value> =
        full.received().iter().flat_map(|r| r.events()).collect();
    for (event, sent) in received.iter().zip(original["batch"].as_array().unwrap()) {
        assert_eq!(event["messageId"], sent["messageId"], "dedup keys survive");
        for id in ["userId", "anonymousId"] {
            if let Some(value) = sent[id].as_str() {
                assert_eq!(event[id], key.hash(value.as_bytes()), "{id}");
            }
        }
        if sent["context"]["ip"].is_string() {
            assert_eq!(event["context"]["ip"], "203.0.113.0");
        }
        if let Some(url) = event["context"]["page"]["url"].as_str() {
            assert!(!url.contains('#') && !url.contains('@'), "{url}");
        }
        if let Some(email) = sent["properties"]["email"].as_str() {
            let normalized = email.trim().to_lowercase();
            assert_eq!(
                event["properties"]["email"],
                key.hash(normalized.as_bytes())
            );
        }
        let mut texts = Vec::new();
        strings(event, &mut texts);
        for text in texts {
            for pii in [
                "@example.com",
                "7946 0958",
                "555-0100",
                "203.0.113.7",
                "jane",
                "buyer",
            ] {
                assert!(!text.contains(pii), "{pii} survived in {text:?}");
            }
        }
    }
    // Minimization: the allow-listed destination gets only what it names.
    for event in minimal.received().iter().flat_map(|r| r.events()) {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["type", "event", "messageId", "userId", "properties"]
                    .contains(&k.as_str())),
            "{keys:?}"
        );
        if let Some(props) = event["properties"].as_object() {
            assert!(
                props.keys().all(|k| k == "revenue" || k == "currency"),
                "{props:?}"
            );
        }
    }
    let admin = pg.admin_addr();
    let with_ip = original["batch"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["context"]["ip"].is_string())
        .count();
    assert!(with_ip > 0, "the fixture carries client IPs");
    let applied = metric(admin, "privgate_rule_applied_total{rule=\"truncate-ip\"}").await;
    assert_eq!(applied, Some(with_ip as f64));
    assert!(
        metric(admin, "privgate_rule_applied_total{rule=\"pseudonymize\"}")
            .await
            .unwrap()
            >= count as f64
    );
    assert!(
        metric(admin, "privgate_pii_redacted_total{detector=\"phone\"}")
            .await
            .unwrap()
            >= 1.0
    );
    pg.shutdown().await;
}

/// Issue #18 on the real server with the shipped rules: names under name
/// keys, values whose key or nearby words say what they are, and
/// look-alikes that context refutes, in JSON, query strings, form bodies
/// and free text; what the upstream receives, and the detectors counted.
#[tokio::test]
async fn context_decides_what_passes_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let config = segment_config(&format!(
        "{}\n{}",
        http_destination("backend", &upstream, r#"batch = { max_wait = "10ms" }"#),
        shipped_rules(dir.path())
    ));
    let pg = start_privgate(&config).await;
    let event = r#"{"type":"identify","messageId":"m-ctx","userId":"u-1",
        "traits":{"firstName":"Jane","lastName":"Doe","birthday":"1990-04-01","plan":"pro"},
        "context":{"traits":{"name":"Jane Doe","company_name":"Acme"},"page":{"title":"Sign Up"},
          "library":{"name":"analytics.js","version":"2.14.0.3"}},
        "properties":{
          "customer_name":"Jane Doe","customer":{"name":"Jane Doe","tier":"gold"},
          "body":"first_name=Jane&phone=612345678&ssn=123.45.6789&part_no=212-555-0187",
          "note":"call me on 612 345 678, my SSN is 123 45 6789",
          "json":"{\"lastName\":\"Doe\",\"product_name\":\"Yoga Mat\"}",
          "ua":"Mozilla/5.0 (X11) Chrome/120.0.0.0 Safari/537.36",
          "build":"build 10.0.1.2","order":"order number 4582800475",
          "iban":"de89 3704 0044 0532 0130 00","card":"4111+1111+1111+1111",
          "mail":"jürgen@bücher.de","path":"/ip/203.0.113.7/"}}"#;
    let answer = post(pg.ingest_addr(), "/v1/identify", event.replace('\n', "")).await;
    assert_eq!(answer.status, 200);
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    let received = upstream.received();
    let body = String::from_utf8_lossy(&received[0].body).into_owned();
    let e = &received[0].events()[0];
    // Dropped by meaning: the Identify spec's personal traits.
    for gone in ["firstName", "lastName", "birthday"] {
        assert!(e["traits"].get(gone).is_none(), "{gone}: {body}");
    }
    assert!(e["context"]["traits"].get("name").is_none(), "{body}");
    assert_eq!(e["traits"]["plan"], "pro");
    // A person's `name`, not a library's or a company's.
    assert_eq!(e["properties"]["customer"]["name"], "[name]", "{body}");
    assert_eq!(e["properties"]["customer"]["tier"], "gold");
    assert_eq!(e["context"]["traits"]["company_name"], "Acme");
    assert_eq!(e["context"]["library"]["name"], "analytics.js");
    assert_eq!(e["context"]["library"]["version"], "2.14.0.3");
    let p = &e["properties"];
    assert_eq!(p["customer_name"], "[name]");
    assert_eq!(
        p["body"],
        "first_name=[name]&phone=[phone]&ssn=[ssn]&part_no=212-555-0187"
    );
    assert_eq!(p["note"], "call me on [phone], my SSN is [ssn]");
    assert_eq!(
        p["json"],
        r#"{"lastName":"[name]","product_name":"Yoga Mat"}"#
    );
    assert_eq!(p["ua"], "Mozilla/5.0 (X11) Chrome/120.0.0.0 Safari/537.36");
    assert_eq!(p["build"], "build 10.0.1.2");
    assert_eq!(p["order"], "order number 4582800475");
    assert_eq!(p["iban"], "[iban]");
    assert_eq!(p["card"], "[credit_card]");
    assert_eq!(p["mail"], "[email]");
    assert_eq!(p["path"], "/ip/[ip]/");
    // Ingest stamps the arrival time, to the millisecond: ".612Z" one run
    // in a thousand. It is the clock, not the event: mask it.
    let stamp = e["receivedAt"].as_str().expect("receivedAt is stamped");
    let body = body.replace(stamp, "<receivedAt>");
    for pii in [
        "Jane",
        "Doe",
        "612",
        "6789",
        "0532",
        "1111",
        "bücher",
        "203.0.113.7",
        "1990",
    ] {
        assert!(!body.contains(pii), "{pii} reached the upstream: {body}");
    }
    let redacted = |d: &str| format!("privgate_pii_redacted_total{{detector=\"{d}\"}}");
    let admin = pg.admin_addr();
    // Every detector is counted, by its name.
    for (detector, count) in [
        ("name", 4.0),
        ("phone", 2.0),
        ("ssn", 2.0),
        ("email", 1.0),
        ("credit_card", 1.0),
        ("iban", 1.0),
        ("ip", 1.0),
    ] {
        assert_eq!(
            metric(admin, &redacted(detector)).await,
            Some(count),
            "{detector}"
        );
    }
    pg.shutdown().await;
}

/// The shipped proxy.toml's `[[rules]]`, with a key of the test's own.
fn shipped_rules(key_dir: &std::path::Path) -> String {
    std::fs::write(key_dir.join("h1.key"), KEY).unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml")).unwrap();
    format!(
        "[keys]\nhmac = [{{ id = \"h1\", secret = \"file:{}/h1.key\" }}]\n{}",
        key_dir.display(),
        &shipped[shipped.find("[[rules]]").expect("proxy.toml has rules")..]
    )
}

#[tokio::test]
async fn numbers_that_are_pii_do_not_pass_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let config = segment_config(&format!(
        "{}\n{}",
        http_destination("backend", &upstream, r#"batch = { max_wait = "10ms" }"#),
        shipped_rules(dir.path())
    ));
    let pg = start_privgate(&config).await;
    let event = r#"{"type":"track","event":"Checkout","messageId":"m-num","properties":{
        "card":4111111111111111,"ssn":123456789,"phone":4155550100,
        "contact":{"mobile":[447946095800]},
        "sent_at":1732400000000,"time":1732400000,"price":42.5,"qty":3,
        "order_id":4155550100,"ref":4111111111111112}}"#;
    let answer = post(pg.ingest_addr(), "/v1/track", event.replace('\n', "")).await;
    assert_eq!(answer.status, 200);
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    let received = upstream.received();
    let body = String::from_utf8_lossy(&received[0].body).into_owned();
    let got = &received[0].events()[0]["properties"];
    assert_eq!(got["card"], "[credit_card]", "{body}");
    assert_eq!(got["ssn"], "[ssn]", "{body}");
    assert_eq!(got["phone"], "[phone]", "{body}");
    assert_eq!(got["contact"]["mobile"][0], "[phone]", "{body}");
    for pii in ["4111111111111111", "123456789", "447946095800"] {
        assert!(!body.contains(pii), "{pii} reached the upstream: {body}");
    }
    // Ordinary numbers are left as they were: timestamps, prices, counts,
    // an id that only looks like a phone number, a Luhn-invalid number.
    assert_eq!(got["sent_at"], 1732400000000u64);
    assert_eq!(got["time"], 1732400000u64);
    assert_eq!(got["price"], 42.5);
    assert_eq!(got["qty"], 3);
    assert_eq!(got["order_id"], 4155550100u64);
    assert_eq!(got["ref"], 4111111111111112u64);
    let redacted = |d: &str| format!("privgate_pii_redacted_total{{detector=\"{d}\"}}");
    let admin = pg.admin_addr();
    assert_eq!(metric(admin, &redacted("credit_card")).await, Some(1.0));
    assert_eq!(metric(admin, &redacted("ssn")).await, Some(1.0));
    assert_eq!(metric(admin, &redacted("phone")).await, Some(2.0));
    pg.shutdown().await;
}
