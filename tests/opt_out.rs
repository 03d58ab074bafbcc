//! The opt-out registry through the real server, for every protocol's id
//! fields: an id listed raw or as a pseudonym (under any HMAC key, active
//! or retired) keeps out the events that carry it raw, as a number, or as
//! a pseudonym; and an opted-out person's events reach no destination
//! (`require_consent = []` included) unless it says `honor_opt_out =
//! false`. Each case asserts what the recording upstream received.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "HxwdGhsYGRYXFBUSExAREA4PDA0KCwgJBgcEBQIDAAE";

/// `id` as `hash` writes it with key `kid` (`K1` for h1, `K2` for h2).
fn pseudonym(kid: &str, id: &str) -> String {
    let key = if kid == "h1" { K1 } else { K2 };
    privgate::crypto::HmacKey::from_text(kid, key)
        .unwrap()
        .hash(id.as_bytes())
}

fn basic(key: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    format!("Basic {encoded}")
}

/// How one protocol's events are sent and read back.
struct Protocol {
    name: &'static str,
    /// The `[[sources]]` keys after `name` (its destination is added).
    source: &'static str,
    /// Extra keys of its destination.
    destination: &'static str,
    /// Where its destination posts.
    path: &'static str,
    /// The ids of the events one upstream request carries.
    ids: fn(&Received) -> Vec<String>,
}

fn json_ids(r: &Received, array: &str, id: &str) -> Vec<String> {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    body[array]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[id].as_str().unwrap().to_owned())
        .collect()
}

const PROTOCOLS: [Protocol; 6] = [
    Protocol {
        name: "segment",
        source: r#"protocol = "segment"
write_keys = ["seg-key"]"#,
        destination: "",
        path: "/segment",
        ids: |r| json_ids(r, "batch", "messageId"),
    },
    Protocol {
        name: "posthog",
        source: r#"protocol = "posthog"
write_keys = ["phc_test"]"#,
        destination: r#"api_key = "VENDOR""#,
        path: "/posthog",
        ids: |r| json_ids(r, "batch", "uuid"),
    },
    Protocol {
        name: "snowplow",
        source: r#"protocol = "snowplow"
write_keys = ["sp-app"]"#,
        destination: "",
        path: "/snowplow",
        ids: |r| json_ids(r, "data", "eid"),
    },
    Protocol {
        name: "amplitude",
        source: r#"protocol = "amplitude"
write_keys = ["amp-key"]"#,
        destination: r#"api_key = "VENDOR""#,
        path: "/amplitude",
        ids: |r| json_ids(r, "events", "insert_id"),
    },
    Protocol {
        name: "gtag",
        source: r#"protocol = "ga4"
write_keys = ["G-TEST01"]"#,
        destination: "",
        path: "/gtag",
        ids: |r| {
            std::str::from_utf8(&r.body)
                .unwrap()
                .split("\r\n")
                .filter_map(|hit| {
                    form_urlencoded::parse(hit.as_bytes())
                        .find(|(k, _)| k == "ep.id")
                        .map(|(_, v)| v.into_owned())
                })
                .collect()
        },
    },
    Protocol {
        name: "mp",
        source: r#"protocol = "ga4_mp"
write_keys = ["G-MP01"]
api_secrets = ["file:tests/data/ga4-mp-api-secret"]"#,
        destination: r#"api_secret = "file:tests/data/ga4-vendor-api-secret""#,
        path: "/mp?measurement_id=G-MP01",
        ids: |r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            vec![body["events"][0]["params"]["id"]
                .as_str()
                .unwrap()
                .to_owned()]
        },
    },
];

/// A config with one source and one destination (`require_consent = []`)
/// per protocol, all to `upstream` on their own paths, the two HMAC keys
/// (h1 retired, h2 active) and `registry`.
fn config(dir: &std::path::Path, upstream: &Upstream, registry: &str) -> String {
    for (name, key) in [("h1", K1), ("h2", K2)] {
        std::fs::write(dir.join(name), key).unwrap();
    }
    std::fs::write(dir.join("optouts.txt"), registry).unwrap();
    let mut sources = String::new();
    let mut destinations = String::new();
    for p in &PROTOCOLS {
        sources += &format!(
            "[[sources]]\nname = \"{0}\"\n{1}\ndestinations = [\"{0}\"]\n",
            p.name, p.source
        );
        destinations += &http_destination_at(
            p.name,
            upstream,
            p.path,
            &format!("batch = {{ max_wait = \"10ms\" }}\n{}", p.destination),
        );
    }
    config_with(
        &sources,
        &format!(
            r#"{destinations}
[keys]
hmac = [{{ id = "h1", secret = "file:{0}/h1", active = false }}, {{ id = "h2", secret = "file:{0}/h2", active = true }}]
[consent]
default = "allow"
opt_out_registry = "file:{0}/optouts.txt"
"#,
            dir.display()
        ),
    )
}

/// The ids each protocol's destination received.
fn received(upstream: &Upstream) -> Vec<(&'static str, String)> {
    upstream
        .received()
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .flat_map(|r| {
            let p = PROTOCOLS
                .iter()
                .find(|p| r.path.starts_with(p.path.split('?').next().unwrap()))
                .expect("a destination's path");
            (p.ids)(r).into_iter().map(move |id| (p.name, id))
        })
        .collect()
}

#[tokio::test]
async fn listed_ids_match_as_numbers_and_pseudonyms_in_every_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    // Raw ids, and pseudonyms under the retired key h1 and the active h2.
    let registry = [
        "12345".to_owned(),
        "seg-anon-7".into(),
        "seg-raw".into(),
        pseudonym("h1", "ph-user"),
        "ph-device".into(),
        "sp-user".into(),
        "sp-domain-user".into(),
        pseudonym("h2", "amp-user"),
        "amp-device".into(),
        "ga-user".into(),
        "1234.5678".into(),
        pseudonym("h1", "mp-user"),
        "mp-client".into(),
        "seg-old-id".into(),
        "ph-old-anon".into(),
        "ph-aliased".into(),
    ]
    .join("\n");
    let pg = start_privgate(&config(dir.path(), &upstream, &registry)).await;
    let addr = pg.ingest_addr();
    let json = ("content-type", "application/json");
    let segment_auth = basic("seg-key");
    let segment = json!({"batch": [
        {"type": "track", "event": "e", "messageId": "seg-number", "userId": 12345},
        {"type": "track", "event": "e", "messageId": "seg-string", "userId": "12345"},
        {"type": "track", "event": "e", "messageId": "seg-anonymous", "anonymousId": "seg-anon-7"},
        {"type": "track", "event": "e", "messageId": "seg-hashed", "userId": pseudonym("h2", "seg-raw")},
        {"type": "track", "event": "e", "messageId": "seg-ok", "userId": "someone", "anonymousId": 12346},
        // An alias links an opted-out id to a new one: the same person.
        {"type": "alias", "messageId": "seg-alias", "userId": "new-id", "previousId": "seg-old-id"},
    ]});
    let posthog = json!({"api_key": "phc_test", "batch": [
        {"event": "e", "uuid": "ph-top", "distinct_id": "ph-user", "properties": {}},
        {"event": "e", "uuid": "ph-properties", "properties": {"distinct_id": "ph-user"}},
        {"event": "e", "uuid": "ph-device", "distinct_id": "x", "properties": {"$device_id": "ph-device"}},
        {"event": "e", "uuid": "ph-ok", "distinct_id": "ph-other", "properties": {}},
        {"event": "$identify", "uuid": "ph-identify", "distinct_id": "ph-new",
         "properties": {"$anon_distinct_id": "ph-old-anon"}},
        {"event": "$create_alias", "uuid": "ph-alias", "distinct_id": "ph-new",
         "properties": {"distinct_id": "ph-new", "alias": "ph-aliased"}},
    ]});
    let snowplow = json!({
        "schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
        "data": [
            {"e": "pv", "eid": "sp-hashed", "aid": "sp-app", "uid": pseudonym("h1", "sp-user")},
            {"e": "pv", "eid": "sp-uid", "aid": "sp-app", "uid": "sp-user"},
            {"e": "pv", "eid": "sp-duid", "aid": "sp-app", "duid": "sp-domain-user"},
            {"e": "pv", "eid": "sp-ok", "aid": "sp-app", "uid": "sp-other"},
        ]
    });
    let amplitude = json!({"api_key": "amp-key", "events": [
        {"event_type": "e", "insert_id": "amp-user", "user_id": "amp-user"},
        {"event_type": "e", "insert_id": "amp-device", "device_id": "amp-device"},
        {"event_type": "e", "insert_id": "amp-ok", "user_id": "amp-other", "device_id": "d"},
    ]});
    let gtag = "en=e&ep.id=ga-uid&uid=ga-user\r\nen=e&ep.id=ga-cid&cid=1234.5678\r\nen=e&ep.id=ga-ok&cid=9999.1";
    let secret = std::fs::read_to_string("tests/data/ga4-mp-api-secret").unwrap();
    let mp_path = format!(
        "/mp/collect?measurement_id=G-MP01&api_secret={}",
        secret.trim()
    );
    let mp = |client: &str, user: Option<&str>, id: &str| {
        let mut body =
            json!({"client_id": client, "events": [{"name": "e", "params": {"id": id}}]});
        if let Some(user) = user {
            body["user_id"] = user.into();
        }
        body.to_string()
    };
    let requests = [
        (
            "/v1/batch".to_owned(),
            segment.to_string(),
            Some(segment_auth.as_str()),
        ),
        ("/batch/".into(), posthog.to_string(), None),
        (
            "/com.snowplowanalytics.snowplow/tp2".into(),
            snowplow.to_string(),
            None,
        ),
        ("/2/httpapi".into(), amplitude.to_string(), None),
        ("/g/collect?v=2&tid=G-TEST01".into(), gtag.to_owned(), None),
        (
            mp_path.clone(),
            mp("mp-c1", Some("mp-user"), "mp-user"),
            None,
        ),
        (mp_path.clone(), mp("mp-client", None, "mp-client"), None),
        (
            mp_path.clone(),
            mp("mp-c2", Some("mp-other"), "mp-ok"),
            None,
        ),
    ];
    for (path, body, auth) in &requests {
        let mut headers = vec![json];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        let answer = send("POST", addr, path, &headers, body.clone()).await;
        assert!(
            (200..300).contains(&answer.status),
            "{path}: {}",
            answer.status
        );
    }
    // Only the events of ids nobody opted out arrive; each request's
    // events were decided before it was answered.
    let want: BTreeSet<(&str, String)> = [
        ("segment", "seg-ok"),
        ("posthog", "ph-ok"),
        ("snowplow", "sp-ok"),
        ("amplitude", "amp-ok"),
        ("gtag", "ga-ok"),
        ("mp", "mp-ok"),
    ]
    .into_iter()
    .map(|(p, id)| (p, id.to_owned()))
    .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while received(&upstream).len() < want.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got: BTreeSet<(&str, String)> = received(&upstream).into_iter().collect();
    assert_eq!(got, want);
    for (destination, dropped) in [
        ("segment", 5.0),
        ("posthog", 5.0),
        ("snowplow", 3.0),
        ("amplitude", 2.0),
        ("gtag", 2.0),
        ("mp", 2.0),
    ] {
        let series = format!(
            "privgate_events_dropped_total{{destination=\"{destination}\",reason=\"opted_out\"}}"
        );
        assert_eq!(
            metric(pg.admin_addr(), &series).await,
            Some(dropped),
            "{series}"
        );
    }
    pg.shutdown().await;
}

#[tokio::test]
async fn an_opted_out_person_is_out_everywhere_but_where_honor_opt_out_is_false() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("optouts.txt");
    std::fs::write(&registry, "opted\n").unwrap();
    let plain = Upstream::start().await;
    let gated = Upstream::start().await;
    let fraud = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = format!(
        r#"{}
[consent]
default = "allow"
categories = {{ Analytics = "analytics" }}
opt_out_registry = "file:{}"
"#,
        segment_config(&format!(
            "{}{}require_consent = [\"analytics\"]\n{}honor_opt_out = false\n",
            http_destination("plain", &plain, batch),
            http_destination("gated", &gated, batch),
            http_destination("fraud", &fraud, batch),
        )),
        registry.display()
    );
    let pg = start_privgate(&config).await;
    let granted = r#"{"consent":{"categoryPreferences":{"Analytics":true}}}"#;
    for (id, user) in [("opted", "opted"), ("other", "someone")] {
        let event = format!(
            r#"{{"type":"track","event":"e","messageId":"{id}","userId":"{user}","context":{granted}}}"#
        );
        assert_eq!(post(pg.ingest_addr(), "/v1/t", event).await.status, 200);
    }
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(fraud.wait_for_delivered(2, Duration::from_secs(5)).await),
        ["opted", "other"]
    );
    plain.wait_for_delivered(1, Duration::from_secs(5)).await;
    gated.wait_for_delivered(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(plain.delivered_ids(), ["other"], "require_consent = [] too");
    assert_eq!(gated.delivered_ids(), ["other"]);
    let dropped = |d: &str| {
        format!("privgate_events_dropped_total{{destination=\"{d}\",reason=\"opted_out\"}}")
    };
    let admin = pg.admin_addr();
    assert_eq!(metric(admin, &dropped("plain")).await, Some(1.0));
    assert_eq!(metric(admin, &dropped("gated")).await, Some(1.0));
    assert_eq!(metric(admin, &dropped("fraud")).await, None);
    pg.shutdown().await;
}
