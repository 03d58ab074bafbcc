//! PostHog (posthog-js, posthog-node), replayed with and without rules.

use super::*;

pub(super) const POSTHOG: Tracker = Tracker {
    captures: &[
        Captures::File("posthog-browser"),
        Captures::File("posthog-browser-nocompression"),
        Captures::File("posthog-browser-consent-rejected"),
        Captures::File("posthog-node"),
        Captures::File("posthog-node-capture-v1"),
    ],
    source: r#"name = "posthog"
protocol = "posthog"
write_keys = ["phc_HARNESS_PROJECT_TOKEN", "phc_HARNESS_NODE_TOKEN"]"#,
    forward_to: "/v1/batch",
    destination: r#"api_key = "VENDOR_PROJECT_KEY""#,
    // The remote config and assets. Feature flags name the user: with no
    // consent signal (the default is deny) they are not relayed, and the
    // SDK is told there are none (tests/relay.rs has the rest).
    relays: |c| c.method == "GET",
    // posthog-js: exactly 200 counts (204 is retried); relayed fetches as
    // the vendor answers them.
    success: |c, answer| match (c.method.as_str(), c.target.starts_with("/flags")) {
        ("POST", false) if answer.status != 200 => Err("not exactly 200".into()),
        ("POST", false) if answer.json() != serde_json::json!({"status": 1}) => {
            Err("not {\"status\":1}".into())
        }
        ("POST", true)
            if answer.status != 200
                || answer.json()
                    != serde_json::json!({"flags": {}, "errorsWhileComputingFlags": false}) =>
        {
            Err("not \"no flags\"".into())
        }
        _ => status_below_400(c, answer),
    },
    events: |c| {
        if c.target.starts_with("/flags") {
            return Vec::new();
        }
        let body = c.json();
        match body.get("batch") {
            Some(batch) => batch.as_array().unwrap().clone(),
            None => vec![body],
        }
    },
    received: |r| {
        let v: Value = serde_json::from_slice(&r.body).expect("a JSON batch");
        assert_eq!(v["api_key"], "VENDOR_PROJECT_KEY", "the destination's key");
        v["batch"].as_array().expect("{\"batch\":[...]}").clone()
    },
    id: |e| e["uuid"].as_str().unwrap().to_owned(),
    user_id: &["/distinct_id", "/properties/distinct_id"],
    added: &["/properties/$ip"],
    ip: "/properties/$ip",
};

#[tokio::test]
async fn posthog_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&POSTHOG, Rules::None).await;
}

#[tokio::test]
async fn posthog_requests_replay_and_arrive_minimized() {
    let delivered = replay(&POSTHOG, Rules::Shipped).await;
    let pageview = delivered
        .values()
        .find(|e| e["event"] == "$pageview" && e["properties"]["$current_url"].is_string())
        .unwrap();
    let url = pageview["properties"]["$current_url"].as_str().unwrap();
    assert!(
        url.contains("utm_source=harness") && !url.contains("mode="),
        "{url}"
    );
    let device = pageview["properties"]["$device_id"].as_str().unwrap();
    assert!(device.starts_with("demo:"), "{device}");
}
