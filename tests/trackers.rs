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
//! destination's protocol, decodable by that protocol's rules. Events are
//! compared as what they say: Snowplow's encoded contexts and
//! self-describing events decoded on both sides (and the PII check looks
//! inside them).

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
    /// Whether a request (not a preflight) is relayed to the source's
    /// upstream rather than carrying events.
    relays: fn(&Capture) -> bool,
    /// The events a request carries, as compared (for protocols that
    /// encode parts of an event, decoded).
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
                "OPTIONS" => {}
                _ if (tracker.relays)(&c) => relayed += 1,
                _ => sent.extend((tracker.events)(&c)),
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
            let relays = received
                .iter()
                .filter(|r| !r.path.starts_with("/v1/batch"))
                .count();
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

/// Config fetches are relayed; everything else carries events.
fn config_fetch(c: &Capture) -> bool {
    c.method == "GET"
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
    // The remote config, assets and feature flags.
    relays: |c| c.method == "GET" || c.target.starts_with("/flags"),
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

/// A Snowplow event as it says things: `co`/`ue_pr` parsed from their JSON
/// text, `cx`/`ue_px` from base64url without padding (strictly: that is
/// what the trackers send, so what privgate must send on). Every value
/// must be a string, as the tracker protocol requires.
fn snowplow_decoded(event: &Value) -> Value {
    let decoded = event
        .as_object()
        .expect("an event is an object")
        .iter()
        .map(|(key, value)| {
            let text = value
                .as_str()
                .unwrap_or_else(|| panic!("`{key}` is not a string"));
            let value = match key.as_str() {
                "co" | "ue_pr" => serde_json::from_str(text).expect("JSON text"),
                "cx" | "ue_px" => {
                    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(text)
                        .expect("base64url without padding");
                    serde_json::from_slice(&json).expect("base64url of JSON")
                }
                _ => value.clone(),
            };
            (key.clone(), value)
        })
        .collect();
    Value::Object(decoded)
}

/// A GET pixel's query, or a POST's `payload_data` elements, decoded.
fn snowplow_events(c: &Capture) -> Vec<Value> {
    let events = match c.target.split_once('?') {
        Some((_, query)) if c.method == "GET" => {
            let params = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                .collect();
            vec![Value::Object(params)]
        }
        _ => c.json()["data"].as_array().expect("`data`").clone(),
    };
    events.iter().map(snowplow_decoded).collect()
}

const SNOWPLOW: Tracker = Tracker {
    captures: &[
        "snowplow-browser",
        "snowplow-browser-get",
        "snowplow-node",
        "snowplow-node-get",
    ],
    source: r#"name = "snowplow"
protocol = "snowplow"
write_keys = ["harness-web", "harness-srv"]"#,
    destination: "",
    // Browser and node trackers: any 2xx is delivered, the body is never
    // read (a GET gets a pixel).
    success: |_, answer| {
        (200..300)
            .contains(&answer.status)
            .then_some(())
            .ok_or_else(|| "not 2xx".into())
    },
    // Snowplow fetches nothing: a GET is the pixel, with an event.
    relays: |_| false,
    events: snowplow_events,
    received: |r| {
        let v: Value = serde_json::from_slice(&r.body).expect("a JSON payload");
        assert_eq!(
            v["schema"],
            "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"
        );
        let data = v["data"].as_array().expect("{\"data\":[...]}");
        data.iter().map(snowplow_decoded).collect()
    },
    id: |e| e["eid"].as_str().unwrap().to_owned(),
    user_id: &["/uid"],
    // The browser tracker's user agent, from its header, and the client's
    // address.
    added: &["/ua", "/ip"],
    ip: "/ip",
};

#[tokio::test]
async fn snowplow_requests_replay_and_arrive_unchanged_without_rules() {
    let delivered = replay(&SNOWPLOW, Rules::None).await;
    // The browser's events carry its User-Agent header as `ua`.
    let browser: Vec<&Value> = delivered.values().filter(|e| e["p"] == "web").collect();
    assert!(!browser.is_empty());
    for event in browser {
        let ua = event["ua"].as_str().unwrap();
        assert!(ua.starts_with("Mozilla/5.0 (X11; Linux x86_64)"), "{ua}");
    }
}

#[tokio::test]
async fn snowplow_requests_replay_and_arrive_minimized() {
    let delivered = replay(&SNOWPLOW, Rules::Shipped).await;
    let hashed = |value: &Value| value.as_str().is_some_and(|v| v.starts_with("demo:"));
    for event in delivered.values() {
        let eid = &event["eid"];
        if let Some(duid) = event.get("duid") {
            assert!(hashed(duid), "{eid}: duid {duid}");
        }
        if let Some(url) = event.get("url").and_then(Value::as_str) {
            assert!(!url.contains('?') || url.contains("?utm_"), "{eid}: {url}");
        }
        // The browser's user agent, generalized.
        if event["p"] == "web" {
            assert_eq!(event["ua"], "Chrome 156 (Linux)", "{eid}");
        }
        // Contexts still are contexts, with what consent will read; the
        // session's user id (the domain user id again) is hashed too.
        let contexts = event.get("co").or(event.get("cx"));
        for context in contexts
            .and_then(|c| c["data"].as_array())
            .into_iter()
            .flatten()
        {
            assert!(context["schema"].as_str().unwrap().starts_with("iglu:"));
            if let Some(user) = context["data"].get("userId") {
                assert!(hashed(user), "{eid}: client_session userId {user}");
            }
        }
    }
    let gdpr = delivered
        .values()
        .filter_map(|e| e.get("co").or(e.get("cx")))
        .flat_map(|c| c["data"].as_array().unwrap())
        .filter(|c| c["schema"] == "iglu:com.snowplowanalytics.snowplow/gdpr/jsonschema/1-0-0")
        .count();
    assert!(gdpr > 0, "the gdpr contexts are passed through");
    // Emails inside self-describing events are pseudonyms.
    let emails: Vec<&Value> = delivered
        .values()
        .filter_map(|e| e.get("ue_pr").or(e.get("ue_px")))
        .filter_map(|ue| ue["data"]["data"].get("email"))
        .collect();
    assert!(
        !emails.is_empty() && emails.iter().all(|e| hashed(e)),
        "{emails:?}"
    );
    // The node tracker's IP keeps its network only.
    let node = delivered.values().find(|e| e["p"] == "srv").unwrap();
    assert_eq!(node["ip"], "203.0.113.0");
    assert!(hashed(&node["nuid"]));
}

/// privgate with Snowplow sources `web` (app id `harness-web`) and `other`
/// (`other-app`), forwarding to `upstream` in the snowplow format.
async fn snowplow_privgate(upstream: &Upstream) -> privgate::app::Running {
    let sources = r#"[[sources]]
name = "web"
protocol = "snowplow"
write_keys = ["harness-web"]
[[sources]]
name = "other"
protocol = "snowplow"
write_keys = ["other-app"]"#;
    let destination = http_destination("vendor", upstream, r#"batch = { max_wait = "20ms" }"#);
    start_privgate(&config_with(sources, &destination)).await
}

/// `capture` sent as captured, plus `extra` headers.
async fn resend(pg: &privgate::app::Running, c: &Capture, extra: &[(&str, &str)]) -> Answer {
    let headers: Vec<(&str, &str)> = c
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(extra.iter().copied())
        .collect();
    send(
        &c.method,
        pg.ingest_addr(),
        &c.target,
        &headers,
        c.body.clone(),
    )
    .await
}

#[tokio::test]
async fn snowplow_sp_anonymous_requests_lose_user_ids_and_the_ip() {
    let upstream = Upstream::start().await;
    let pg = snowplow_privgate(&upstream).await;
    // The node tracker's GET and POST, with every id and the IP set, sent
    // by an app id of this source and with `SP-Anonymous: *` added.
    let mut sent = 0;
    for name in ["snowplow-node-get", "snowplow-node"] {
        for mut c in captures(name) {
            c.target = c.target.replace("aid=harness-srv", "aid=harness-web");
            let body = String::from_utf8(c.body).unwrap();
            c.body = body
                .replace("\"harness-srv\"", "\"harness-web\"")
                .into_bytes();
            sent += snowplow_events(&c).len();
            let answer = resend(&pg, &c, &[("SP-Anonymous", "*")]).await;
            assert_eq!(answer.status, 200, "{name}: {:?}", answer.body);
            if c.method == "GET" {
                assert_eq!(answer.headers["content-type"], "image/gif");
                assert_eq!(answer.body.len(), 42, "a 1x1 GIF");
            }
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events: Vec<Value> = upstream
            .received()
            .iter()
            .flat_map(|r| (SNOWPLOW.received)(r))
            .collect();
        if events.len() >= sent || tokio::time::Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(events.len(), sent);
    for event in &events {
        for field in ["uid", "nuid", "tnuid", "ip"] {
            assert!(event.get(field).is_none(), "{field} in {event}");
        }
        assert_eq!(event["duid"], "duid-harness", "not an SP-Anonymous field");
    }
    pg.shutdown().await;
}

#[tokio::test]
async fn snowplow_events_need_app_ids_of_one_source() {
    let upstream = Upstream::start().await;
    let pg = snowplow_privgate(&upstream).await;
    // `harness-srv` is no source's app id: the pixel and the POST are refused.
    for name in ["snowplow-node-get", "snowplow-node"] {
        let c = &captures(name)[0];
        assert_error(&resend(&pg, c, &[]).await, 401, "invalid_write_key");
    }
    let post = |data: Value| {
        let body = serde_json::json!({
            "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": data,
        });
        let addr = pg.ingest_addr();
        async move {
            let path = "/com.snowplowanalytics.snowplow/tp2";
            let json = ("content-type", "application/json; charset=UTF-8");
            send("POST", addr, path, &[json], body.to_string()).await
        }
    };
    let web = serde_json::json!({"e": "pv", "aid": "harness-web", "eid": "a"});
    let other = serde_json::json!({"e": "pv", "aid": "other-app", "eid": "b"});
    let keyless = serde_json::json!({"e": "pv", "eid": "c"});
    let mixed = post(serde_json::json!([web, other])).await;
    assert_error(&mixed, 400, "invalid_payload");
    let missing = post(serde_json::json!([web, keyless])).await;
    assert_error(&missing, 401, "missing_write_key");
    // A source's own events go through, whichever source it is.
    assert_eq!(post(serde_json::json!([other])).await.status, 200);
    assert_eq!(post(serde_json::json!([web])).await.status, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ids = loop {
        let mut ids: Vec<String> = upstream
            .received()
            .iter()
            .flat_map(|r| (SNOWPLOW.received)(r))
            .map(|e| (SNOWPLOW.id)(&e))
            .collect();
        if ids.len() >= 2 || tokio::time::Instant::now() > deadline {
            ids.sort();
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(ids, ["a", "b"], "only the accepted requests' events");
    pg.shutdown().await;
}
