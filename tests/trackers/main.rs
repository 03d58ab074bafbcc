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
//!
//! This file holds the replay machinery; each tracker's captures, rules of
//! success and own checks are in its module (`segment` also holds
//! RudderStack, `gated` the consent-gated replays of the server-side SDKs).

mod amplitude;
#[path = "../common/mod.rs"]
mod common;
mod ga4;
mod gated;
mod posthog;
mod segment;
mod snowplow;

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
