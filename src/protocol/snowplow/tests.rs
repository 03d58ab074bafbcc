//! Test vectors and proptests of the Snowplow codec.

use super::*;
use crate::json::tests::json_value;
use proptest::prelude::*;
use serde_json::{json, Value};

const NO_FACTS: Facts<'static> = Facts {
    user_agent: None,
    anonymous: false,
};

fn post(data: Value) -> Bytes {
    Bytes::from(json!({"schema": PAYLOAD_DATA, "data": data}).to_string())
}

/// Any app id is accepted.
fn any(_: &str) -> Result<(), IngestError> {
    Ok(())
}

/// Decodes, noting the app ids checked, in order.
fn decode_keyed(
    route: Route,
    payload: &Bytes,
    facts: &Facts<'_>,
    limits: Limits,
) -> (Result<Decoded, IngestError>, Vec<String>) {
    let mut keys = Vec::new();
    let decoded = decode(route, payload, facts, limits, |k: &str| {
        keys.push(k.to_owned());
        Ok(())
    });
    (decoded, keys)
}

fn decode_post(data: Value, facts: &Facts<'_>) -> Decoded {
    decode(Route::Post, &post(data), facts, Limits::default(), any).unwrap()
}

fn events(decoded: &Decoded) -> Vec<Value> {
    let parse = |(e, _): &(Bytes, Marks)| serde_json::from_slice(e).unwrap();
    decoded.events.iter().map(parse).collect()
}

/// What `encode` writes for an event, parsed.
fn encoded(event: &Bytes) -> Value {
    serde_json::from_slice(&encode(event)).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn encoded_parameters_become_objects_the_rest_stays_text() {
    let co = json!({"schema": "c", "data": [{"schema": "s", "data": {"email": "a@b.co"}}]});
    let ue = json!({"schema": "u", "data": {"schema": "x", "data": {"n": 1.5}}});
    let element = json!({
        "e": "ue", "aid": "app", "eid": "id-1", "uid": "u1", "duid": "d1",
        "co": co.to_string(), "ue_px": b64(&ue), "dtm": "17",
    });
    let (d, keys) = decode_keyed(
        Route::Post,
        &post(json!([element])),
        &NO_FACTS,
        Limits::default(),
    );
    let d = d.unwrap();
    assert_eq!((d.events.len(), d.invalid), (1, 0));
    assert_eq!(keys, ["app"]);
    let event = &events(&d)[0];
    assert_eq!(event["co"], co);
    assert_eq!(event["ue_px"], ue);
    assert_eq!(event["dtm"], "17");
    let (body, marks) = &d.events[0];
    assert_eq!(marks.user_id.unwrap().get(body), br#""u1""#);
    assert_eq!(marks.anonymous_id.unwrap().get(body), br#""d1""#);
    // And back: the same element, byte for byte in its encoded values.
    assert_eq!(encoded(body), element);
}

#[test]
fn a_get_pixel_carries_one_event_in_its_query() {
    let cx = json!({"schema": "c", "data": []});
    let query = format!(
        "e=pv&aid=web&url=https%3A%2F%2Fa.example%2F%3Fq%3D1&page=A+title&cx={}",
        b64(&cx)
    );
    let payload = super::super::query_payload(Some(&query), 1 << 20).unwrap();
    let d = decode(Route::Pixel, &payload, &NO_FACTS, Limits::default(), any).unwrap();
    let event = &events(&d)[0];
    assert_eq!(event["url"], "https://a.example/?q=1");
    assert_eq!(event["page"], "A title");
    assert_eq!(event["cx"], cx);
    assert!(matches!(
        super::super::query_payload(Some(&query), 10),
        Err(IngestError::TooLarge(10))
    ));
}

#[test]
fn the_user_agent_header_fills_a_missing_ua() {
    let facts = Facts {
        user_agent: Some("Mozilla/5.0 \"x\"".into()),
        anonymous: false,
    };
    let d = decode_post(
        json!([{"e": "pv", "aid": "a"}, {"e": "pv", "aid": "a", "ua": "own"}]),
        &facts,
    );
    let events = events(&d);
    assert_eq!(events[0]["ua"], "Mozilla/5.0 \"x\"");
    assert_eq!(events[1]["ua"], "own");
}

#[test]
fn the_user_agent_is_copied_only_for_a_known_app_id_and_within_the_budget() {
    // The reported request: 10,000 tiny elements and a 60 KiB
    // User-Agent, 600 MB once copied into every element.
    let body = post(Value::from(vec![json!({"e": "pv", "aid": "x"}); 10_000]));
    let ua = "M".repeat(60 << 10);
    let facts = Facts {
        user_agent: Some(ua.as_str().into()),
        anonymous: false,
    };
    // A stranger's app id: refused at the first element, nothing built.
    let mut checked = 0;
    let refused = decode(Route::Post, &body, &facts, Limits::default(), |_: &str| {
        checked += 1;
        Err(IngestError::BadWriteKey)
    });
    assert!(matches!(refused, Err(IngestError::BadWriteKey)));
    assert_eq!(checked, 1);
    // A known one: the copies stop at the budget.
    let too_much = decode(Route::Post, &body, &facts, Limits::default(), any);
    assert!(matches!(too_much, Err(IngestError::TooLarge(n)) if n == 4 << 20));
    // Within it, every event holds its copy, and the budget counts them.
    let body = post(Value::from(vec![json!({"e": "pv", "aid": "x"}); 60]));
    let d = decode(Route::Post, &body, &facts, Limits::default(), any).unwrap();
    assert_eq!(d.events.len(), 60);
    assert!(d.bytes() > 60 * ua.len());
    assert!(events(&d).iter().all(|e| e["ua"] == ua.as_str()));
}

#[test]
fn sp_anonymous_drops_user_identifiers_and_the_ip() {
    let element = json!({"e": "pv", "aid": "a", "uid": "u", "nuid": "n", "tnuid": "t",
        "ip": "203.0.113.7", "duid": "d", "sid": "s"});
    let anonymous = Facts {
        user_agent: None,
        anonymous: true,
    };
    let d = decode_post(json!([element.clone()]), &anonymous);
    assert_eq!(
        events(&d)[0],
        json!({"e": "pv", "aid": "a", "duid": "d", "sid": "s"})
    );
    assert_eq!(d.events[0].1.user_id, None);
    // Without the header, nothing is dropped.
    assert_eq!(
        events(&decode_post(json!([element.clone()]), &NO_FACTS))[0],
        element
    );
    let mut headers = HeaderMap::new();
    assert!(!Facts::of(&headers).anonymous);
    headers.insert("SP-Anonymous", HeaderValue::from_static("*"));
    assert!(Facts::of(&headers).anonymous);
}

#[test]
fn what_does_not_decode_is_refused_and_counted() {
    let d = decode_post(
        json!([
            {"e": "pv", "aid": "a", "co": "{not json"},
            {"e": "pv", "aid": "a", "co": "[1]"},
            {"e": "pv", "aid": "a", "ue_pr": "\"text\""},
            {"e": "pv", "aid": "a", "cx": "!!!"},
            {"e": "pv", "aid": "a", "cx": URL_SAFE_NO_PAD.encode("{\"a\":")},
            {"e": "pv", "aid": "a", "ue_px": URL_SAFE_NO_PAD.encode(b"\xff{}")},
            {"e": "pv", "aid": "a", "co": "{} {}"},
            {"aid": "a"},
            {"e": 1, "aid": "a"},
            "text",
            {"e": "pv", "aid": "a", "co": "{\"fine\":true}"},
        ]),
        &NO_FACTS,
    );
    assert_eq!((d.events.len(), d.invalid), (1, 10));
    assert_eq!(events(&d)[0]["co"], json!({"fine": true}));
}

#[test]
fn base64_is_read_padded_or_not_in_either_alphabet_and_written_unpadded_url_safe() {
    // `?>?` encodes to `Pz4/` (standard) and `Pz4_` (URL-safe).
    let context = json!({"k": "?>?"});
    let text = context.to_string();
    for written in [
        base64::engine::general_purpose::STANDARD.encode(&text),
        base64::engine::general_purpose::URL_SAFE.encode(&text),
        URL_SAFE_NO_PAD.encode(&text),
    ] {
        let d = decode_post(json!([{"e": "pv", "aid": "a", "cx": written}]), &NO_FACTS);
        assert_eq!(events(&d)[0]["cx"], context, "{written}");
        let out = encoded(&d.events[0].0);
        assert_eq!(out["cx"], URL_SAFE_NO_PAD.encode(&text), "{written}");
    }
}

#[test]
fn every_event_must_name_an_app_id() {
    let keyless = post(json!([{"e": "pv", "aid": "a"}, {"e": "pv"}]));
    let refused = decode(Route::Post, &keyless, &NO_FACTS, Limits::default(), any);
    assert!(matches!(refused, Err(IngestError::MissingWriteKey)));
    // Each app id is checked once, also those of events refused otherwise.
    let (d, keys) = decode_keyed(
        Route::Post,
        &post(
            json!([{"e": "pv", "aid": "b"}, {"e": "pv", "aid": "a"}, {"aid": "c", "co": "x"}, {"e": "pv", "aid": "a"}]),
        ),
        &NO_FACTS,
        Limits::default(),
    );
    let d = d.unwrap();
    assert_eq!(keys, ["b", "a", "c"]);
    assert_eq!((d.events.len(), d.invalid), (3, 1));
    let empty = Bytes::new();
    let refused = decode(Route::Pixel, &empty, &NO_FACTS, Limits::default(), any);
    assert!(matches!(refused, Err(IngestError::MissingWriteKey)));
}

#[test]
fn envelopes_other_than_payload_data_are_refused() {
    for body in [
        json!({"data": []}),
        json!({"schema": "iglu:com.acme/payload_data/jsonschema/1-0-4", "data": []}),
        json!({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/2-0-0", "data": []}),
        json!({"schema": PAYLOAD_DATA, "data": {}}),
        json!([]),
    ] {
        let body = Bytes::from(body.to_string());
        let result = decode(Route::Post, &body, &NO_FACTS, Limits::default(), any);
        assert!(result.is_err(), "{body:?}");
    }
    let not_utf8 = Bytes::from_static(b"{\"schema\":\"\xff\"}");
    assert!(decode(Route::Post, &not_utf8, &NO_FACTS, Limits::default(), any).is_err());
}

#[test]
fn limits_hold_for_decoded_contexts_and_queries() {
    let limits = Limits {
        max_depth: 4,
        max_fields: 6,
        max_batch: 2,
        ..Limits::default()
    };
    let run = |data: Value| decode(Route::Post, &post(data), &NO_FACTS, limits, any);
    // {co: {data: [{x: 1}]}}: depth 4, 5 fields.
    let fits = json!({"e": "pv", "aid": "a", "co": json!({"data": [{"x": 1}]}).to_string()});
    let deep = json!({"e": "pv", "aid": "a", "co": json!({"data": [{"x": [1]}]}).to_string()});
    let wide =
        json!({"e": "pv", "aid": "a", "cx": b64(&json!({"data": {"x": 1, "y": 2, "z": 3}}))});
    let d = run(json!([fits, deep])).unwrap();
    assert_eq!((d.events.len(), d.invalid), (1, 1));
    assert_eq!(run(json!([wide])).unwrap().invalid, 1);
    let many: Value = (0..7).map(|i| (format!("k{i}"), json!("v"))).collect();
    // An element over the field limit is refused (its app id unread).
    assert_eq!(run(json!([many])).unwrap().invalid, 1);
    assert!(matches!(
        run(json!([{}, {}, {}])),
        Err(IngestError::TooManyEvents(2))
    ));
    let query = Bytes::from_static(b"e=pv&aid=a&a=1&b=2&c=3&d=4&f=5");
    assert!(matches!(
        decode(Route::Pixel, &query, &NO_FACTS, limits, any),
        Err(IngestError::TooComplex(_))
    ));
}

#[test]
fn encode_writes_every_value_as_a_string() {
    let event = Bytes::from_static(
        br#"{"e":"pv","co":{"a":1},"ue_px":{"b":"\u00e9"},"cx":"demo:hashed","n":4.5,"t":true,"gone":null,"o":{"x":[]}}"#,
    );
    assert_eq!(
        encoded(&event),
        // The JSON text as it is, escapes included.
        json!({"e": "pv", "co": "{\"a\":1}", "ue_px": URL_SAFE_NO_PAD.encode(r#"{"b":"\u00e9"}"#),
            "cx": "demo:hashed", "n": "4.5", "t": "true", "o": "{\"x\":[]}"})
    );
    // What is no object (never an event) goes out as it came.
    let odd = Bytes::from_static(b"[1]");
    assert_eq!(encode(&odd), odd);
}

#[test]
fn the_pixel_is_a_transparent_1x1_gif() {
    let response = accepted(Route::Pixel);
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/gif");
    assert!(PIXEL_GIF.starts_with(b"GIF89a") && PIXEL_GIF.ends_with(b";"));
    // Logical screen 1 x 1 (little-endian), then a graphic control
    // extension whose flags mark a transparent colour.
    assert_eq!(PIXEL_GIF[6..10], [1, 0, 1, 0]);
    assert_eq!(PIXEL_GIF[19..22], [0x21, 0xf9, 0x04]);
    assert_eq!(PIXEL_GIF[22] & 1, 1);
    let post = accepted(Route::Post);
    assert_eq!(post.headers()[header::CONTENT_TYPE], "text/plain");
}

#[test]
fn routes() {
    assert_eq!(route("/i"), Some(Route::Pixel));
    assert_eq!(route(TP2), Some(Route::Post));
    assert_eq!(route("/i/"), None);
    assert_eq!(route("/com.snowplowanalytics.snowplow/tp1"), None);
}

/// Parameters with any name but the encoded ones, and any value.
fn plain_params() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = "[a-z_]{1,6}".prop_filter("not encoded", |n| form(n) == Form::Text);
    prop::collection::vec((name, "[ -~\\n\u{e9}\u{1F600}\"\\\\]{0,16}"), 0..8)
}

/// A JSON object (contexts or a self-describing event).
fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-zA-Z]{1,6}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// An element as a tracker writes it: `e` and `aid`, plain parameters,
/// and each encoded parameter or not, with an object as its JSON text
/// or its base64url.
fn element() -> impl Strategy<Value = Vec<(String, String)>> {
    let encoded = [
        ("co", false),
        ("ue_pr", false),
        ("cx", true),
        ("ue_px", true),
    ]
    .map(|(name, base64)| {
        prop::option::of(json_object()).prop_map(move |object| {
            object.map(|o| {
                let text = o.to_string();
                let value = if base64 {
                    URL_SAFE_NO_PAD.encode(text)
                } else {
                    text
                };
                (name.to_owned(), value)
            })
        })
    });
    (plain_params(), encoded).prop_map(|(mut params, encoded)| {
        params.retain(|(name, _)| !["e", "aid", "ua"].contains(&name.as_str()));
        params.insert(0, ("e".into(), "ue".into()));
        params.insert(1, ("aid".into(), "app".into()));
        params.extend(encoded.into_iter().flatten());
        params
    })
}

fn object_of(params: &[(String, String)]) -> Value {
    let mut object = serde_json::Map::new();
    for (name, value) in params {
        object
            .entry(name.clone())
            .or_insert_with(|| value.clone().into());
    }
    Value::Object(object)
}

proptest! {
    /// With no rule in between, decoding and encoding give back every
    /// element exactly as the tracker wrote it (encoded parameters in
    /// the same text), from a POST body or a GET query.
    #[test]
    fn decode_then_encode_gives_back_what_was_sent(
        elements in prop::collection::vec(element(), 1..4),
    ) {
        let elements: Vec<Vec<(String, String)>> = elements
            .into_iter()
            .map(|mut params| {
                // One value per name (a query may repeat one; JSON not).
                let mut seen = BTreeSet::new();
                params.retain(|(name, _)| seen.insert(name.clone()));
                params
            })
            .collect();
        let sent: Vec<Value> = elements.iter().map(|p| object_of(p)).collect();
        let d = decode_post(Value::from(sent.clone()), &NO_FACTS);
        prop_assert_eq!(d.invalid, 0);
        let back: Vec<Value> = d.events.iter().map(|(e, _)| encoded(e)).collect();
        prop_assert_eq!(&back, &sent);

        for (params, sent) in elements.iter().zip(&sent) {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            let payload = super::super::query_payload(Some(&query), usize::MAX).unwrap();
            let d = decode(Route::Pixel, &payload, &NO_FACTS, Limits::default(), any).unwrap();
            prop_assert_eq!(d.events.len(), 1);
            prop_assert_eq!(&encoded(&d.events[0].0), sent);
        }
    }
}
