//! Snowplow's browser and node trackers: replayed with and without rules
//! (contexts and self-describing events decoded), `SP-Anonymous`, and app
//! ids that must name one source.

use super::*;

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
