//! Drop-in for real trackers: every request captured from the unchanged
//! tracker SDKs (`tests/fixtures/trackers/*.ndjson`) is replayed byte for byte
//! against the real server, to a recording upstream, twice per tracker:
//! - with the shipped policy (`proxy.toml`'s keys, consent and global
//!   rules): minimized, so user and device ids are hashed with the shipped
//!   key, no email address or phone number of the test data is left
//!   anywhere, URLs are scrubbed;
//! - with no rules: every event arrives exactly as the SDK sent it, apart
//!   from the fields privgate adds (decoding and re-encoding change
//!   nothing no rule asked for).
//!
//! The alias and identify calls of the server-side SDKs, captured for this
//! repository (`tests/fixtures/sdk/`, see its README), are also replayed
//! to a destination that requires consent, granted by `default = "allow"`
//! and by a TC string: every event must arrive.
//!
//! Both check that every answer is one the SDK treats as success (its own
//! rule, from `tests/fixtures/trackers/WIRE-FORMATS.md`), CORS included; that relayed
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
use std::borrow::Cow;
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
        "{}/tests/fixtures/trackers/{name}.ndjson",
        env!("CARGO_MANIFEST_DIR")
    );
    captures_at(&path)
}

/// The captures of one file (the format of `tests/fixtures/trackers`).
fn captures_at(path: &str) -> Vec<Capture> {
    std::fs::read_to_string(path)
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

/// Where a tracker's requests come from.
enum Captures {
    /// `tests/fixtures/trackers/<name>.ndjson`.
    File(&'static str),
    /// `tests/fixtures/sdk/<name>.ndjson`: captured for this repository
    /// (`tests/fixtures/README.md` says with which SDK and how).
    Own(&'static str),
    /// Built by the test (named for the output).
    Built(&'static str, fn() -> Vec<Capture>),
}

impl Captures {
    fn name(&self) -> &'static str {
        match self {
            Captures::File(name) | Captures::Own(name) | Captures::Built(name, _) => name,
        }
    }

    fn load(&self) -> Vec<Capture> {
        match self {
            Captures::File(name) => captures(name),
            Captures::Own(name) => captures_at(&format!(
                "{}/tests/fixtures/sdk/{name}.ndjson",
                env!("CARGO_MANIFEST_DIR")
            )),
            Captures::Built(_, build) => build(),
        }
    }
}

/// The names of `all`, for the output.
fn names(all: &[Captures]) -> String {
    all.iter()
        .map(Captures::name)
        .collect::<Vec<_>>()
        .join(" + ")
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
    captures: &'static [Captures],
    /// The `[[sources]]` table (without the upstream, added by the test).
    source: &'static str,
    /// Where its destination sends events (path and query on the upstream).
    forward_to: &'static str,
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
    /// Where the client's address goes in its events (JSON pointer; empty
    /// when the protocol has no place for it).
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
    let destination = http_destination_at(
        "vendor",
        &upstream,
        tracker.forward_to,
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
    for from in tracker.captures {
        let name = from.name();
        for c in from.load() {
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
            .filter(|r| r.path.starts_with(tracker.forward_to))
            .flat_map(tracker.received)
            .collect();
        if events.len() >= sent.len() || tokio::time::Instant::now() > deadline {
            let relays = received
                .iter()
                .filter(|r| !r.path.starts_with(tracker.forward_to))
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
            names(tracker.captures),
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
        addressed > 0 || tracker.ip.is_empty(),
        "no event carries the truncated client address"
    );
    let requests: usize = tracker.captures.iter().map(|c| c.load().len()).sum();
    let batches = upstream
        .received()
        .iter()
        .filter(|r| r.path.starts_with(tracker.forward_to))
        .count();
    println!(
        "{}: replayed {requests} requests ({} events, {relayed} relayed fetches); upstream got {} events in {batches} batches, {hashed} user ids hashed, none of the test data's emails or phones",
        names(tracker.captures),
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

const RUDDERSTACK: Tracker = Tracker {
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

const AMPLITUDE: Tracker = Tracker {
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

const POSTHOG: Tracker = Tracker {
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
        Captures::File("snowplow-browser"),
        Captures::File("snowplow-browser-get"),
        Captures::File("snowplow-node"),
        Captures::File("snowplow-node-get"),
    ],
    source: r#"name = "snowplow"
protocol = "snowplow"
write_keys = ["harness-web", "harness-srv"]"#,
    forward_to: "/v1/batch",
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

// Google Analytics 4. No GA4 client was captured, so its requests are
// built here as gtag.js and a Measurement Protocol client send them
// (src/ingest/ga4.rs cites the documentation), with the test data every
// capture carries. gtag.js hits have no dedup id: `_p` (the page load's
// random id) and `_s` (the hit's number within that page load) together
// name one, and no rule touches either.

const GA4_PAGE: &str = "http://localhost:18091/ga4-browser.html?base=http%3A%2F%2F127.0.0.1%3A18090&utm_source=harness&utm_medium=test&utm_campaign=wire-capture&mode=default";
const GA4_LANDING: &str = "http://localhost:18091/landing.html?from=search";
const GA4_NEXT: &str =
    "http://localhost:18091/next.html?utm_source=harness&base=http%3A%2F%2F127.0.0.1%3A18090";
const GA4_CLIENT: &str = "1234567890.1732449600";
const GA4_TC_STRING: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
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

/// How a consent-gated replay grants the destination's purpose.
#[derive(Clone, Copy, Debug)]
enum Grant {
    /// No signal in the events; `[consent] default = "allow"`.
    DefaultAllow,
    /// `default = "deny"`, and every request carries a TC string that
    /// consents to the purpose (`?gdpr_consent=`, which privgate reads for
    /// every protocol).
    TcString,
}

/// Replays `tracker`'s captures to a destination that requires consent
/// (`require_consent = ["analytics"]`), granted as `grant` says: every
/// answer is the SDK's success and every event arrives, exactly once.
async fn replay_gated(tracker: &Tracker, grant: Grant) {
    let upstream = Upstream::start().await;
    let source = format!(
        "[[sources]]\n{}\ncors_origins = [\"http://localhost:18091\"]\nupstream = \"{}\"",
        tracker.source,
        upstream.url("")
    );
    let destination = http_destination_at(
        "vendor",
        &upstream,
        tracker.forward_to,
        &format!(
            "batch = {{ max_wait = \"20ms\" }}\nrequire_consent = [\"analytics\"]\n{}",
            tracker.destination
        ),
    );
    let consent = match grant {
        Grant::DefaultAllow => "[consent]\ndefault = \"allow\"\n",
        Grant::TcString => "[consent]\ndefault = \"deny\"\ntcf_purposes = { analytics = [1] }\n",
    };
    let pg = start_privgate(&config_with(&source, &format!("{destination}\n{consent}"))).await;
    let mut sent = Vec::new();
    for from in tracker.captures {
        for c in from.load() {
            let headers: Vec<(&str, &str)> = c
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let target = match grant {
                Grant::DefaultAllow => c.target.clone(),
                Grant::TcString => {
                    let glue = if c.target.contains('?') { '&' } else { '?' };
                    format!("{}{glue}gdpr_consent={GA4_TC_STRING}", c.target)
                }
            };
            let answer = send(
                &c.method,
                pg.ingest_addr(),
                &target,
                &headers,
                c.body.clone(),
            )
            .await;
            let what = format!("{}: {} {target}", from.name(), c.method);
            if let Err(why) = (tracker.success)(&c, &answer) {
                panic!("{what}: {why}; got {} {:?}", answer.status, answer.body);
            }
            if c.method != "OPTIONS" && !(tracker.relays)(&c) {
                sent.extend((tracker.events)(&c));
            }
        }
    }
    let mut want: Vec<String> = sent.iter().map(tracker.id).collect();
    want.sort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        let mut got: Vec<String> = upstream
            .received()
            .iter()
            .filter(|r| r.path.starts_with(tracker.forward_to))
            .flat_map(tracker.received)
            .map(|e| (tracker.id)(&e))
            .collect();
        got.sort();
        if got.len() >= want.len() || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        got,
        want,
        "{} with {grant:?}: every event arrives",
        names(tracker.captures)
    );
    println!(
        "{} with {grant:?}: all {} events reached a consent-gated destination",
        names(tracker.captures),
        want.len()
    );
    pg.shutdown().await;
}

/// posthog-node's `alias()` and `identify()`, captured for this repository.
const POSTHOG_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("posthog-node-alias")],
    ..POSTHOG
};

const SEGMENT_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("segment-node-alias")],
    ..SEGMENT
};

const RUDDERSTACK_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("rudderstack-node-alias")],
    ..RUDDERSTACK
};

const AMPLITUDE_NODE_IDENTIFY: Tracker = Tracker {
    captures: &[Captures::Own("amplitude-node-identify")],
    ..AMPLITUDE
};

/// A field an SDK repeats with the same value (posthog-node's `alias()`
/// sends `distinct_id` at the top level and in `properties`) is not
/// ambiguous: every alias and identify event reaches a destination that
/// requires consent, with `default = "allow"` and with consent granted.
#[tokio::test]
async fn alias_and_identify_events_reach_consent_gated_destinations() {
    for tracker in [
        &POSTHOG_NODE_ALIAS,
        &SEGMENT_NODE_ALIAS,
        &RUDDERSTACK_NODE_ALIAS,
        &AMPLITUDE_NODE_IDENTIFY,
    ] {
        for grant in [Grant::DefaultAllow, Grant::TcString] {
            replay_gated(tracker, grant).await;
        }
    }
}

/// The new captures replay like the shared ones: unchanged without rules.
#[tokio::test]
async fn alias_and_identify_captures_arrive_unchanged_without_rules() {
    for tracker in [
        &POSTHOG_NODE_ALIAS,
        &SEGMENT_NODE_ALIAS,
        &RUDDERSTACK_NODE_ALIAS,
        &AMPLITUDE_NODE_IDENTIFY,
    ] {
        replay(tracker, Rules::None).await;
    }
}

/// @rudderstack/rudder-sdk-node's default (`gzip: true`) sends its gzip
/// body as `application/x-www-form-urlencoded`; it does not retry a 4xx, so
/// a 415 for that label lost every event it sent.
#[tokio::test]
async fn rudderstack_node_default_gzip_uploads_are_accepted() {
    const GZIP: Tracker = Tracker {
        captures: &[Captures::Own("rudderstack-node-alias-gzip")],
        ..RUDDERSTACK
    };
    replay_gated(&GZIP, Grant::DefaultAllow).await;
}
