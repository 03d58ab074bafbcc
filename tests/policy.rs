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
        "{}/../shared/fixtures/segment-node.ndjson",
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
