//! Error messages never quote a value from the request (issue #15, point
//! 12): a marker in a malformed body of every protocol is not in the answer.

use super::*;

/// An email and a long string: what a malformed body holds where reading
/// stops. serde_json's own messages quote such a value
/// (`invalid type: string "alice@example.com", expected ...`).
const MARKERS: [&str; 2] = [
    "alice@example.com",
    "Marker-4f1c-LONG-VALUE-THAT-MUST-NEVER-BE-ECHOED-0123456789abcdefghijklmnopqrstuvwxyz",
];

/// One source of every protocol, each with its own key.
fn every_protocol_config() -> String {
    config_with(
        r#"[[sources]]
name = "seg"
protocol = "segment"
write_keys = ["k-seg"]
[[sources]]
name = "rs"
protocol = "rudderstack"
write_keys = ["k-rs"]
[[sources]]
name = "amp"
protocol = "amplitude"
write_keys = ["k-amp"]
[[sources]]
name = "ph"
protocol = "posthog"
write_keys = ["k-ph"]
[[sources]]
name = "sp"
protocol = "snowplow"
write_keys = ["sp-app"]
[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-1"]
[[sources]]
name = "mp"
protocol = "ga4_mp"
write_keys = ["G-2"]
api_secrets = ["file:tests/data/ga4-mp-api-secret"]
[[sources]]
name = "json"
protocol = "json"
write_keys = ["k-json"]"#,
        "[[destinations]]\nname = \"out\"\nkind = \"stdout\"\n",
    )
    // Few fields, so that a pixel query with too many stays a short URL.
    .replace("[server]\n", "[server]\nmax_event_fields = 50\n")
}

/// Request headers, owned.
type Headers = Vec<(&'static str, String)>;

/// A request of the marker table: what it is, method, path, headers, body.
type Marked = (String, &'static str, String, Headers, Vec<u8>);

/// Malformed bodies for every protocol endpoint, each with `m` (a
/// marker) where reading stops.
fn marked_bodies(m: &str) -> Vec<Marked> {
    let json = || vec![("content-type", "application/json".to_owned())];
    let text = || vec![("content-type", "text/plain".to_owned())];
    let form = || {
        vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )]
    };
    let basic = |key: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
        vec![
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Basic {token}")),
        ]
    };
    let sp = "/com.snowplowanalytics.snowplow/tp2";
    let sp_schema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4";
    let mp = "/mp/collect?measurement_id=G-2&api_secret=HARNESS_MP_API_SECRET";
    let beacon = "/beacon/v1/batch?writeKey=k-rs";
    let collect = "/collect?writeKey=k-json";
    let string = format!(r#""{m}""#);
    let mut cases: Vec<(&str, &str, Headers, String)> = vec![
        (
            "segment: a string for the event",
            "/v1/t",
            basic("k-seg"),
            string.clone(),
        ),
        (
            "segment: a string for the batch body",
            "/v1/batch",
            basic("k-seg"),
            string.clone(),
        ),
        (
            "segment: a string for the batch",
            "/v1/batch",
            basic("k-seg"),
            format!(r#"{{"batch":"{m}"}}"#),
        ),
        (
            "segment: a bad escape",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}\q"}}"#),
        ),
        (
            "segment: a lone surrogate",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}\ud800"}}"#),
        ),
        (
            "segment: cut short",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}"#),
        ),
        (
            "segment: the marker as a key",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","{m}":}}"#),
        ),
        (
            "rudderstack beacon: a string for the body",
            beacon,
            text(),
            string.clone(),
        ),
        (
            "rudderstack beacon: a string for the batch",
            beacon,
            text(),
            format!(r#"{{"batch":"{m}"}}"#),
        ),
        (
            "amplitude: a string for the body",
            "/2/httpapi",
            json(),
            string.clone(),
        ),
        (
            "amplitude: a string for the events",
            "/2/httpapi",
            json(),
            format!(r#"{{"api_key":"k-amp","events":"{m}"}}"#),
        ),
        (
            "posthog: a string for the body",
            "/batch/",
            json(),
            string.clone(),
        ),
        (
            "posthog: a string for the batch",
            "/batch/",
            json(),
            format!(r#"{{"api_key":"k-ph","batch":"{m}"}}"#),
        ),
        (
            "posthog: an array cut short",
            "/batch/",
            json(),
            format!(r#"[{{"event":"e","properties":{{"token":"k-ph","x":"{m}"#),
        ),
        (
            "posthog: a form that is not base64",
            "/e/",
            form(),
            format!("data={m}%21%21"),
        ),
        (
            "posthog: a form that is not lz64",
            "/e/?compression=lz64",
            form(),
            format!("data={m}%21%21"),
        ),
        (
            "snowplow: a string for the body",
            sp,
            json(),
            string.clone(),
        ),
        (
            "snowplow: a string for the data",
            sp,
            json(),
            format!(r#"{{"schema":"{sp_schema}","data":"{m}"}}"#),
        ),
        ("ga4 mp: a string for the body", mp, json(), string.clone()),
        (
            "ga4 mp: a string for the events",
            mp,
            json(),
            format!(r#"{{"client_id":"c","events":"{m}"}}"#),
        ),
        (
            "ga4 mp: cut short",
            mp,
            json(),
            format!(r#"{{"client_id":"{m}"#),
        ),
        (
            "collect: a string for the body",
            collect,
            json(),
            string.clone(),
        ),
        (
            "collect: an array cut short",
            collect,
            json(),
            format!(r#"[{{"type":"track","context":"{m}"}}"#),
        ),
        (
            "collect: malformed NDJSON",
            collect,
            json(),
            format!("{{\"a\":1}}\n{{\"b\":\"{m}\"]"),
        ),
    ];
    // Not UTF-8 right after the marker.
    let mut out: Vec<Marked> = cases
        .drain(..)
        .map(|(what, path, headers, body)| {
            (
                what.to_owned(),
                "POST",
                path.to_owned(),
                headers,
                body.into_bytes(),
            )
        })
        .collect();
    let mut bad_utf8 = format!(r#"{{"type":"track","userId":"{m}"#).into_bytes();
    bad_utf8.extend_from_slice(b"\xff\xfe\"}");
    out.push((
        "segment: not UTF-8".into(),
        "POST",
        "/v1/t".into(),
        basic("k-seg"),
        bad_utf8,
    ));
    // The marker in a pixel query with too many fields.
    let many: String = (0..60).map(|i| format!("&f{i}={m}")).collect();
    out.push((
        "snowplow pixel: too many fields".into(),
        "GET",
        format!("/i?aid=sp-app&e=pv{many}"),
        Vec::new(),
        Vec::new(),
    ));
    out
}

#[tokio::test]
async fn error_messages_never_quote_a_value_from_the_request() {
    let pg = start_privgate(&every_protocol_config()).await;
    let mut failures = Vec::new();
    for marker in MARKERS {
        for (what, method, path, headers, body) in marked_bodies(marker) {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = send(method, pg.ingest_addr(), &path, &headers, body).await;
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            if !(400..500).contains(&answer.status) {
                failures.push(format!("{what}: status {} ({text})", answer.status));
                continue;
            }
            let code = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Some(wrong) = error_mismatch(&answer, answer.status, &code) {
                failures.push(format!("{what}: {wrong}"));
            }
            // Not the marker, nor a recognisable piece of it.
            let pieces = [marker, &marker[..12], "alice", "example.com"];
            if let Some(piece) = pieces.iter().find(|p| text.contains(**p)) {
                failures.push(format!("{what}: the answer quotes {piece:?}: {text}"));
            }
        }
    }
    pg.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
