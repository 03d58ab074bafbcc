//! Amplitude's browser SDK, replayed with and without rules.

use super::*;

pub(super) const AMPLITUDE: Tracker = Tracker {
    captures: &[
        Captures::File("amplitude-browser"),
        Captures::File("amplitude-browser-gzip"),
        Captures::File("amplitude-browser-batch"),
    ],
    source: r#"name = "amplitude"
protocol = "amplitude"
write_keys = ["HARNESS_AMPLITUDE_API_KEY"]"#,
    forward_to: "/v1/batch",
    destination: r#"api_key = "VENDOR_PROJECT_KEY""#,
    // The SDK reads `code` from a JSON body, never the HTTP status.
    success: |c, answer| match c.method.as_str() {
        "POST" => {
            let body = answer.json();
            let events = c.json()["events"].as_array().unwrap().len();
            if body["code"] != 200 {
                return Err("no \"code\":200 in the body".into());
            }
            if body["events_ingested"] != events {
                return Err(format!("events_ingested is not {events}"));
            }
            Ok(())
        }
        _ => status_below_400(c, answer),
    },
    relays: config_fetch,
    events: |c| c.json()["events"].as_array().unwrap().clone(),
    received: |r| {
        let v: Value = serde_json::from_slice(&r.body).expect("a JSON upload");
        assert_eq!(v["api_key"], "VENDOR_PROJECT_KEY", "the destination's key");
        v["events"].as_array().expect("{\"events\":[...]}").clone()
    },
    id: |e| e["insert_id"].as_str().unwrap().to_owned(),
    user_id: &["/user_id"],
    added: &["/ip"],
    ip: "/ip",
};

#[tokio::test]
async fn amplitude_browser_requests_replay_and_arrive_unchanged_without_rules() {
    replay(&AMPLITUDE, Rules::None).await;
}

#[tokio::test]
async fn amplitude_browser_requests_replay_and_arrive_minimized() {
    let delivered = replay(&AMPLITUDE, Rules::Shipped).await;
    let page = delivered
        .values()
        .find(|e| e["event_type"] == "[Amplitude] Page Viewed")
        .unwrap();
    // Quoted-key semantic paths reach Amplitude's page fields.
    let location = page["event_properties"]["[Amplitude] Page Location"]
        .as_str()
        .unwrap();
    assert!(location.contains("utm_source=harness"), "{location}");
    assert!(!location.contains("mode="), "{location}");
    let device = page["device_id"].as_str().unwrap();
    assert!(device.starts_with("demo:"), "{device}");
    let identify = delivered
        .values()
        .find(|e| {
            e["event_type"] == "$identify" && e["user_properties"]["$set"].get("email").is_some()
        })
        .unwrap();
    let email = identify["user_properties"]["$set"]["email"]
        .as_str()
        .unwrap();
    assert!(email.starts_with("demo:"), "{email}");
}
