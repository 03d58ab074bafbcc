//! Drop-in for real trackers: every request captured from the unchanged
//! tracker SDKs (`../shared/fixtures/*.ndjson`) is replayed byte for byte
//! against the real server, to a recording upstream, twice per tracker:
//! - with the shipped policy (`proxy.toml`'s keys, consent and global
//!   rules): minimized, so user and device ids are hashed with the shipped
//!   key, no email address or phone number of the test data is left
//!   anywhere, URLs are scrubbed;
//! - with no rules: every event arrives exactly as the SDK sent it, apart
//!   from the fields privgate adds (decoding and re-encoding change
//!   nothing no rule asked for).
//!
//! Both check that every answer is one the SDK treats as success (its own
//! rule, from `../shared/wire-formats.md`), CORS included; that relayed
//! requests (config fetches) reached the source's upstream; and that every
//! event sent reached the upstream exactly once (by its dedup id), in the
//! destination's protocol, decodable by that protocol's rules.

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// One captured request.
struct Capture {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Capture {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON: gunzipped when it is gzip (said or not), the
    /// `data` of a form base64-decoded.
    fn json(&self) -> Value {
        let mut body = if self.body.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&self.body[..]), &mut out)
                .unwrap();
            out
        } else {
            self.body.clone()
        };
        if let Some(data) = form_urlencoded::parse(&body)
            .find(|(k, _)| k == "data")
            .map(|(_, v)| v.into_owned())
        {
            body = base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap();
        }
        serde_json::from_slice(&body).unwrap()
    }
}

fn captures(name: &str) -> Vec<Capture> {
    let path = format!(
        "{}/../shared/fixtures/{name}.ndjson",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .map(|line| {
            let r: Value = serde_json::from_str(line).unwrap();
            let raw = r["rawHeaders"].as_array().unwrap();
            let headers = raw
                .chunks(2)
                .map(|kv| (kv[0].as_str().unwrap(), kv[1].as_str().unwrap()))
                // The transport's own headers are the client's, not the capture's.
                .filter(|(k, _)| {
                    !["host", "content-length", "connection"]
                        .contains(&k.to_ascii_lowercase().as_str())
                })
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let query = r["query"].as_str().unwrap_or_default();
            let path = r["path"].as_str().unwrap();
            Capture {
                method: r["method"].as_str().unwrap().to_owned(),
                target: if query.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{query}")
                },
                headers,
                body: base64::engine::general_purpose::STANDARD
                    .decode(r["bodyBase64"].as_str().unwrap())
                    .unwrap(),
            }
        })
        .collect()
}

/// The shipped `[keys]`, `[consent]` and `[[rules]]`, as TOML.
fn shipped_policy() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    let shipped: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let mut policy = toml::Table::new();
    for key in ["keys", "consent", "rules"] {
        policy.insert(key.into(), shipped[key].clone());
    }
    toml::to_string(&policy).unwrap()
}

/// What the test data put in events that must not reach a backend.
const PII: [&str; 8] = [
    "jane.doe@example.com",
    "buyer@example.com",
    "late@example.com",
    "555-0100",
    "7946 0958",
    "555 0111",
    "\"user-123\"",
    "base=http",
];

/// A tracker's replay: how its SDK reads answers, and where its events
/// keep their dedup ids.
struct Tracker {
    captures: &'static [&'static str],
    /// The `[[sources]]` table (without the upstream, added by the test).
    source: &'static str,
    /// Extra keys of the http destination.
    destination: &'static str,
    /// Whether the SDK treats `answer` to `capture` as delivered; why not.
    success: fn(&Capture, &Answer) -> Result<(), String>,
    /// The events a request carries (empty: not an event request).
    events: fn(&Capture) -> Vec<Value>,
    /// The events of one request the upstream received.
    received: fn(&Received) -> Vec<Value>,
    /// An event's dedup id.
    id: fn(&Value) -> String,
    /// Where the user id may be (to check it was hashed).
    user_id: &'static [&'static str],
    /// Fields privgate adds to an event that lacks them (JSON pointers):
    /// ids and stamps, and the client's address (or Amplitude's `$remote`
    /// placeholder, which privgate fills).
    added: &'static [&'static str],
    /// Where the client's address goes in its events (JSON pointer).
    ip: &'static str,
}

/// The rules a replay runs with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// `proxy.toml`'s keys, consent and global rules.
    Shipped,
    /// None at all.
    None,
}

/// Replays every capture of `tracker` with `rules`; returns what the
/// upstream received per event id.
async fn replay(tracker: &Tracker, rules: Rules) -> BTreeMap<String, Value> {
    let upstream = Upstream::start().await;
    let source = format!(
        "[[sources]]\n{}\ncors_origins = [\"http://localhost:18091\"]\nupstream = \"{}\"",
        tracker.source,
        upstream.url("")
    );
    let destination = http_destination(
        "vendor",
        &upstream,
        &format!("batch = {{ max_wait = \"20ms\" }}\n{}", tracker.destination),
    );
    let policy = match rules {
        Rules::Shipped => shipped_policy(),
        Rules::None => String::new(),
    };
    let config = config_with(&source, &format!("{destination}\n{policy}"));
    let pg = start_privgate(&config).await;
    let mut sent = Vec::new();
    let mut relayed = 0;
    for name in tracker.captures {
        for c in captures(name) {
            let headers: Vec<(&str, &str)> = c
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let answer = send(
                &c.method,
                pg.ingest_addr(),
                &c.target,
                &headers,
                c.body.clone(),
            )
            .await;
            let what = format!("{name}: {} {}", c.method, c.target);
            if let Err(why) = (tracker.success)(&c, &answer) {
                panic!("{what}: {why}; got {} {:?}", answer.status, answer.body);
            }
            if let Some(origin) = c.header("origin") {
                assert_eq!(
                    answer
                        .headers
                        .get("access-control-allow-origin")
                        .map(|v| v.to_str().unwrap()),
                    Some(origin),
                    "{what}: CORS"
                );
                assert_eq!(
                    answer.headers["access-control-allow-credentials"], "true",
                    "{what}"
                );
            }
            match c.method.as_str() {
                "GET" => relayed += 1,
                "POST" => sent.extend((tracker.events)(&c)),
                _ => {}
            }
        }
    }
    assert!(!sent.is_empty(), "the captures hold events");
    let ids: Vec<String> = sent.iter().map(tracker.id).collect();

    // Everything arrives; relayed requests went to the same upstream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let received = loop {
        let received = upstream.received();
        let events: Vec<Value> = received
            .iter()
            .filter(|r| r.path.starts_with("/v1/batch"))
            .flat_map(tracker.received)
            .collect();
        if events.len() >= sent.len() || tokio::time::Instant::now() > deadline {
            let relays = received.iter().filter(|r| r.method == "GET").count();
            assert_eq!(relays, relayed, "every config fetch was relayed");
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut by_id = BTreeMap::new();
    for event in received {
        let id = (tracker.id)(&event);
        assert!(
            by_id.insert(id.clone(), event).is_none(),
            "{id} delivered twice"
        );
    }
    let mut expected = ids.clone();
    expected.sort();
    expected.dedup();
    assert_eq!(by_id.keys().cloned().collect::<Vec<_>>(), expected);

    if rules == Rules::None {
        for original in &sent {
            let id = (tracker.id)(original);
            let mut got = by_id[&id].clone();
            let mut original = original.clone();
            for &pointer in tracker.added {
                match original.pointer(pointer) {
                    None => remove(&mut got, pointer),
                    Some(v) if v == "$remote" => {
                        remove(&mut got, pointer);
                        remove(&mut original, pointer);
                    }
                    Some(_) => {}
                }
            }
            assert_eq!(got, original, "{id} arrived changed");
        }
        println!(
            "{}: without rules, {} events arrived exactly as sent",
            tracker.captures.join(" + "),
            sent.len()
        );
        pg.shutdown().await;
        return by_id;
    }

    // Minimized.
    let text = serde_json::to_string(&by_id).unwrap();
    for pii in PII {
        assert!(!text.contains(pii), "{pii} reached the backend");
    }
    let hashed = by_id
        .values()
        .filter_map(|e| tracker.user_id.iter().find_map(|p| e.pointer(p)))
        .inspect(|id| {
            let id = id.as_str().unwrap();
            assert!(id.starts_with("demo:"), "user id not hashed: {id}");
        })
        .count();
    assert!(hashed > 0, "some event names a user");
    // Browsers send no address: privgate passes the client's on, truncated
    // (the test client is 127.0.0.1).
    let addressed = by_id
        .values()
        .filter(|e| e.pointer(tracker.ip) == Some(&Value::from("127.0.0.0")))
        .count();
    assert!(
        addressed > 0,
        "no event carries the truncated client address"
    );
    let requests: usize = tracker.captures.iter().map(|n| captures(n).len()).sum();
    let batches = upstream
        .received()
        .iter()
        .filter(|r| r.path.starts_with("/v1/batch"))
        .count();
    println!(
        "{}: replayed {requests} requests ({} events, {relayed} relayed fetches); upstream got {} events in {batches} batches, {hashed} user ids hashed, none of the test data's emails or phones",
        tracker.captures.join(" + "),
        sent.len(),
        by_id.len(),
    );
    pg.shutdown().await;
    by_id
}

/// Removes the member at `pointer` (and the object holding it, if that
/// leaves it empty).
fn remove(event: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    if let Some(Value::Object(o)) = event.pointer_mut(parent) {
        o.remove(key);
        if o.is_empty() && !parent.is_empty() {
            remove(event, parent);
        }
    }
}

/// 2xx (or 3xx).
fn status_below_400(_: &Capture, answer: &Answer) -> Result<(), String> {
    (answer.status < 400)
        .then_some(())
        .ok_or_else(|| "not 2xx/3xx".into())
}

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

const SEGMENT: Tracker = Tracker {
    captures: &[
        "segment-browser",
        "segment-browser-batching",
        "segment-node",
    ],
    source: r#"name = "web"
protocol = "segment"
write_keys = ["HARNESS_SEGMENT_WRITE_KEY", "HARNESS_SEGMENT_NODE_WRITE_KEY"]"#,
    destination: "",
    // analytics.js: status < 400, body ignored; privgate answers as Segment.
    success: |c, answer| {
        status_below_400(c, answer)?;
        if c.method == "POST" && answer.json() != serde_json::json!({"success": true}) {
            return Err("not {\"success\":true}".into());
        }
        Ok(())
    },
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

const RUDDERSTACK: Tracker = Tracker {
    captures: &["rudderstack-browser", "rudderstack-browser-beacon"],
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

const AMPLITUDE: Tracker = Tracker {
    captures: &[
        "amplitude-browser",
        "amplitude-browser-gzip",
        "amplitude-browser-batch",
    ],
    source: r#"name = "amplitude"
protocol = "amplitude"
write_keys = ["HARNESS_AMPLITUDE_API_KEY"]"#,
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

const POSTHOG: Tracker = Tracker {
    captures: &[
        "posthog-browser",
        "posthog-browser-nocompression",
        "posthog-browser-consent-rejected",
        "posthog-node",
        "posthog-node-capture-v1",
    ],
    source: r#"name = "posthog"
protocol = "posthog"
write_keys = ["phc_HARNESS_PROJECT_TOKEN", "phc_HARNESS_NODE_TOKEN"]"#,
    destination: r#"api_key = "VENDOR_PROJECT_KEY""#,
    // posthog-js: exactly 200 counts (204 is retried); relayed fetches as
    // the vendor answers them.
    success: |c, answer| match (c.method.as_str(), c.target.starts_with("/flags")) {
        ("POST", false) if answer.status != 200 => Err("not exactly 200".into()),
        ("POST", false) if answer.json() != serde_json::json!({"status": 1}) => {
            Err("not {\"status\":1}".into())
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
