//! The Segment API's trackers: Segment (analytics.js, analytics-node) and
//! RudderStack's browser SDK, replayed with and without rules.

use super::*;

fn segment_batch(r: &Received) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&r.body).expect("a JSON batch");
    v["batch"].as_array().expect("{\"batch\":[...]}").clone()
}

/// Segment-API events of a request: a batch's elements, or the event.
fn segment_events(c: &Capture) -> Vec<Value> {
    let body = c.json();
    match body.get("batch") {
        Some(batch) => batch.as_array().unwrap().clone(),
        None => vec![body],
    }
}

pub(super) const SEGMENT: Tracker = Tracker {
    captures: &[
        Captures::File("segment-browser"),
        Captures::File("segment-browser-batching"),
        Captures::File("segment-node"),
    ],
    source: r#"name = "web"
protocol = "segment"
write_keys = ["HARNESS_SEGMENT_WRITE_KEY", "HARNESS_SEGMENT_NODE_WRITE_KEY"]"#,
    forward_to: "/v1/batch",
    destination: "",
    // analytics.js: status < 400, body ignored; privgate answers as Segment.
    success: |c, answer| {
        status_below_400(c, answer)?;
        if c.method == "POST" && answer.json() != serde_json::json!({"success": true}) {
            return Err("not {\"success\":true}".into());
        }
        Ok(())
    },
    relays: config_fetch,
    events: segment_events,
    received: segment_batch,
    id: |e| e["messageId"].as_str().unwrap().to_owned(),
    user_id: &["/userId"],
    added: &["/receivedAt", "/context/ip"],
    ip: "/context/ip",
};

#[tokio::test]
async fn segment_requests_replay_and_arrive_minimized() {
    replay(&SEGMENT, Rules::Shipped).await;
}

#[tokio::test]
async fn segment_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&SEGMENT, Rules::None).await;
}

pub(super) const RUDDERSTACK: Tracker = Tracker {
    captures: &[
        Captures::File("rudderstack-browser"),
        Captures::File("rudderstack-browser-beacon"),
    ],
    source: r#"name = "rudder"
protocol = "rudderstack"
write_keys = ["HARNESS_RUDDER_WRITE_KEY"]"#,
    // Status 200-399, body ignored (RudderStack answers `OK`).
    success: status_below_400,
    // The Segment API's events and batches.
    ..SEGMENT
};

#[tokio::test]
async fn rudderstack_browser_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&RUDDERSTACK, Rules::None).await;
}

#[tokio::test]
async fn rudderstack_browser_requests_replay_and_arrive_minimized() {
    let delivered = replay(&RUDDERSTACK, Rules::Shipped).await;
    // The Segment-API batch keeps RudderStack's own fields.
    let event = delivered.values().find(|e| e["type"] == "track").unwrap();
    assert_eq!(event["channel"], "web");
    assert!(event["context"]["consentManagement"].is_object());
}
