//! IAB GPP strings and US Privacy strings through the real server, with
//! strings the IAB's own encoder made (`tests/fixtures/gpp/strings.json`):
//! a US opt-out keeps the event from the destination needing the purposes
//! it governs and not from the others; an unreadable string (malformed, a
//! `gpp_sid` naming a section it lacks, too long) denies what it could
//! govern; GA4 hits carry `gpp`, `gpp_sid` and `us_privacy`; a GPP
//! string's TCF section is read as a TC string (vendor, restrictions);
//! and every protocol reads them from the request's query. Each case
//! asserts what the recording upstream received.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

/// A GPP string of `tests/fixtures/gpp/strings.json`.
fn gpp(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gpp/strings.json"
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["strings"][name]["gpp"]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name}"))
        .to_owned()
}

/// `key=value` percent-encoded, as a URL carries it.
fn param(key: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish()
}

fn basic(key: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    format!("Basic {encoded}")
}

/// The ids `upstream` got once `n` arrived (and a moment more for any
/// that should not have), per destination path.
async fn delivered(
    upstream: &Upstream,
    n: usize,
    ids: fn(&Received) -> Vec<String>,
) -> BTreeSet<(String, String)> {
    let all = |upstream: &Upstream| -> BTreeSet<(String, String)> {
        upstream
            .received()
            .iter()
            .filter(|r| (200..300).contains(&r.status))
            .flat_map(|r| {
                let path = r.path.split('?').next().unwrap().to_owned();
                ids(r).into_iter().map(move |id| (path.clone(), id))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while all(upstream).len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    all(upstream)
}

fn batch_ids(r: &Received) -> Vec<String> {
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    body["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap().to_owned())
        .collect()
}

fn hit_ids(r: &Received) -> Vec<String> {
    std::str::from_utf8(&r.body)
        .unwrap()
        .split("\r\n")
        .filter_map(|hit| {
            form_urlencoded::parse(hit.as_bytes())
                .find(|(k, _)| k == "ep.id")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(p, id)| (p.to_string(), id.to_string()))
        .collect()
}

/// The mapping proxy.toml ships.
const US_OPT_OUTS: &str = r#"[consent.us_opt_outs]
sale = ["advertising", "sale"]
sharing = ["advertising"]
targeted_advertising = ["advertising"]
sensitive_data = ["advertising"]
known_child = ["advertising"]
"#;

#[tokio::test]
async fn us_opt_outs_keep_events_from_advertising_and_not_from_analytics() {
    let upstream = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = format!(
        r#"{}
[consent]
default = "deny"
gpc_denies = ["sale"]
gpp_path = "context.gpp"
us_privacy_path = "context.us_privacy"
{US_OPT_OUTS}"#,
        segment_config(&format!(
            "{}require_consent = [\"advertising\"]\n{}require_consent = [\"analytics\"]\n",
            http_destination_at("ads", &upstream, "/ads", batch),
            http_destination_at("analytics", &upstream, "/analytics", batch),
        )),
    );
    let pg = start_privgate(&config).await;
    // The event itself grants both purposes; the US signals can only take
    // advertising away.
    let event = |id: &str, context: &str| {
        format!(
            r#"{{"type":"track","event":"e","messageId":"{id}","userId":"u","context":{{"consent":{{"categoryPreferences":{{"analytics":true,"advertising":true}}}}{context}}}}}"#
        )
    };
    let cases: Vec<(&str, String, String)> = vec![
        ("none", String::new(), String::new()),
        (
            "clear",
            param("gpp", &gpp("usnat_no_opt_out")),
            String::new(),
        ),
        (
            "clear-sid",
            format!("{}&gpp_sid=7", param("gpp", &gpp("usnat_no_opt_out"))),
            String::new(),
        ),
        (
            "sale",
            param("gpp", &gpp("usnat_sale_opted_out")),
            String::new(),
        ),
        (
            "sharing",
            param("gpp", &gpp("usnat_sharing_opted_out")),
            String::new(),
        ),
        (
            "targeted",
            param("gpp", &gpp("usnat_targeted_advertising_opted_out")),
            String::new(),
        ),
        (
            "no-notice",
            param("gpp", &gpp("usnat_sale_notice_not_provided")),
            String::new(),
        ),
        (
            "sensitive",
            param("gpp", &gpp("usnat_sensitive_no_consent")),
            String::new(),
        ),
        (
            "child",
            param("gpp", &gpp("usnat_known_child_no_consent")),
            String::new(),
        ),
        (
            "usca-sale",
            param("gpp", &gpp("usca_sale_opted_out")),
            String::new(),
        ),
        (
            "v1-sale",
            param("gpp", &gpp("usnat_v1_sale_opted_out")),
            String::new(),
        ),
        (
            "one-of-two",
            param("gpp", &gpp("usnat_no_opt_out_and_usca_sale_opted_out")),
            String::new(),
        ),
        ("malformed", param("gpp", "DBABLA~not*gpp"), String::new()),
        (
            "cut",
            param("gpp", &gpp("usnat_no_opt_out")[..10]),
            String::new(),
        ),
        (
            "sid-missing",
            format!("{}&gpp_sid=8", param("gpp", &gpp("usnat_no_opt_out"))),
            String::new(),
        ),
        (
            "twice",
            format!(
                "{}&{}",
                param("gpp", &gpp("usnat_no_opt_out")),
                param("gpp", &gpp("usca_no_opt_out"))
            ),
            String::new(),
        ),
        ("usp-1YNN", "us_privacy=1YNN".into(), String::new()),
        ("usp-1YYN", "us_privacy=1YYN".into(), String::new()),
        ("usp-1Y", "us_privacy=1Y".into(), String::new()),
        (
            "path-clear",
            String::new(),
            format!(r#","gpp":"{}""#, gpp("usnat_no_opt_out")),
        ),
        (
            "path-sale",
            String::new(),
            format!(r#","gpp":"{}""#, gpp("usnat_sale_opted_out")),
        ),
        ("path-usp", String::new(), r#","us_privacy":"1YYN""#.into()),
        // Longer than the decoder reads (65,536 characters): refused
        // before a bit of it is read, so it costs nothing, and unreadable.
        (
            "path-huge",
            String::new(),
            format!(
                r#","gpp":"{}~{}""#,
                gpp("usnat_no_opt_out"),
                "A".repeat(100_000)
            ),
        ),
        // The event's own string says no opt-out, the request's says one:
        // the strictest wins.
        (
            "path-and-query",
            param("gpp", &gpp("usnat_sale_opted_out")),
            format!(r#","gpp":"{}""#, gpp("usnat_no_opt_out")),
        ),
    ];
    let headers = [AUTH, ("content-type", "application/json")];
    for (id, query, context) in &cases {
        let path = if query.is_empty() {
            "/v1/t".to_owned()
        } else {
            format!("/v1/t?{query}")
        };
        let answer = send(
            "POST",
            pg.ingest_addr(),
            &path,
            &headers,
            event(id, context),
        )
        .await;
        assert_eq!(answer.status, 200, "{id}");
    }
    let ads = ["none", "clear", "clear-sid", "usp-1YNN", "path-clear"];
    let mut want: Vec<(&str, &str)> = cases.iter().map(|(id, _, _)| ("/analytics", *id)).collect();
    want.extend(ads.iter().map(|id| ("/ads", *id)));
    let got = delivered(&upstream, want.len(), batch_ids).await;
    assert_eq!(got, expect(&want));
    pg.shutdown().await;
}

#[tokio::test]
async fn ga4_hits_carry_gpp_and_us_privacy() {
    let upstream = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = config_with(
        r#"[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-TEST01"]"#,
        &format!(
            r#"{}require_consent = ["advertising"]
{}require_consent = ["analytics"]
[consent]
default = "deny"
gpc_denies = ["sale"]
consent_mode = {{ analytics_storage = "analytics", ad_storage = "advertising" }}
{US_OPT_OUTS}"#,
            http_destination_at("ads", &upstream, "/ads", batch),
            http_destination_at("analytics", &upstream, "/analytics", batch),
        ),
    );
    let pg = start_privgate(&config).await;
    // gcs=G111 grants both purposes; the hit's US signals may deny
    // advertising.
    let lines = [
        format!(
            "en=e&ep.id=clear&gcs=G111&{}&gpp_sid=7",
            param("gpp", &gpp("usnat_no_opt_out"))
        ),
        format!(
            "en=e&ep.id=sale&gcs=G111&{}&gpp_sid=7",
            param("gpp", &gpp("usnat_sale_opted_out"))
        ),
        format!(
            "en=e&ep.id=sid-missing&gcs=G111&{}&gpp_sid=8",
            param("gpp", &gpp("usnat_no_opt_out"))
        ),
        format!("en=e&ep.id=malformed&gcs=G111&{}", param("gpp", "garbage")),
        "en=e&ep.id=usp-yes&gcs=G111&us_privacy=1YYN".to_owned(),
        "en=e&ep.id=usp-no&gcs=G111&us_privacy=1YNN".to_owned(),
        "en=e&ep.id=usp-bad&gcs=G111&us_privacy=1Y".to_owned(),
        // Longer than the decoder reads, in the body (a URL cannot be).
        format!("en=e&ep.id=huge&gcs=G111&gpp={}", "A".repeat(100_000)),
    ];
    let answer = send(
        "POST",
        pg.ingest_addr(),
        "/g/collect?v=2&tid=G-TEST01&cid=1.2",
        &[],
        lines.join("\r\n"),
    )
    .await;
    assert_eq!(answer.status, 204);
    let ids = [
        "clear",
        "sale",
        "sid-missing",
        "malformed",
        "usp-yes",
        "usp-no",
        "usp-bad",
        "huge",
    ];
    let mut want: Vec<(&str, &str)> = ids.iter().map(|id| ("/analytics", *id)).collect();
    want.extend([("/ads", "clear"), ("/ads", "usp-no")]);
    let got = delivered(&upstream, want.len(), hit_ids).await;
    assert_eq!(got, expect(&want));
    pg.shutdown().await;
}

#[tokio::test]
async fn a_gpp_tcf_section_is_read_as_a_tc_string() {
    let upstream = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = format!(
        r#"{}
[consent]
default = "allow"
tcf_purposes = {{ analytics = [1, 2] }}
"#,
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\ntcf_vendor = 755\n",
            http_destination_at("google", &upstream, "/google", batch),
        )),
    );
    let pg = start_privgate(&config).await;
    let tcf = gpp("tcfeuv2_purposes_1_2");
    let cut = format!("{}~CPXx", tcf.split('~').next().unwrap());
    for (id, value) in [
        // Purposes 1 and 2, vendor 755.
        ("granted", tcf.clone()),
        ("with-usnat", gpp("tcfeuv2_and_usnat_and_uspv1")),
        ("no-consent", gpp("tcfeuv2_no_consent")),
        // Purpose 1 not allowed for 755 by the publisher.
        ("restricted", gpp("tcfeuv2_restriction_755_p1")),
        // Claims a TCF section it cannot give: unreadable, and the
        // default (allow) does not apply.
        ("cut", cut),
    ] {
        let path = format!("/v1/t?{}", param("gpp", &value));
        let body = format!(r#"{{"type":"track","event":"e","messageId":"{id}","userId":"u"}}"#);
        let answer = send(
            "POST",
            pg.ingest_addr(),
            &path,
            &[AUTH, ("content-type", "application/json")],
            body,
        )
        .await;
        assert_eq!(answer.status, 200, "{id}");
    }
    let want = [("/google", "granted"), ("/google", "with-usnat")];
    let got = delivered(&upstream, want.len(), batch_ids).await;
    assert_eq!(got, expect(&want));
    pg.shutdown().await;
}

/// How one protocol's single event is sent with a query, and read back.
struct Protocol {
    name: &'static str,
    source: &'static str,
    destination: &'static str,
    /// The ingest path and its own query, if any.
    path: &'static str,
    auth: Option<&'static str>,
    body: fn(&str) -> String,
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

const PROTOCOLS: [Protocol; 8] = [
    Protocol {
        name: "segment",
        source: "protocol = \"segment\"\nwrite_keys = [\"seg-key\"]",
        destination: "",
        path: "/v1/batch",
        auth: Some("seg-key"),
        body: |id| json!({"batch": [{"type": "track", "event": "e", "messageId": id, "userId": "u"}]}).to_string(),
        ids: batch_ids,
    },
    Protocol {
        name: "rudderstack",
        source: "protocol = \"rudderstack\"\nwrite_keys = [\"rs-key\"]",
        destination: "",
        path: "/v1/batch",
        auth: Some("rs-key"),
        body: |id| json!({"batch": [{"type": "track", "event": "e", "messageId": id, "userId": "u"}]}).to_string(),
        ids: batch_ids,
    },
    Protocol {
        name: "posthog",
        source: "protocol = \"posthog\"\nwrite_keys = [\"phc_test\"]",
        destination: "api_key = \"VENDOR\"",
        path: "/batch/",
        auth: None,
        body: |id| json!({"api_key": "phc_test", "batch": [{"event": "e", "uuid": id, "distinct_id": "u", "properties": {}}]}).to_string(),
        ids: |r| json_ids(r, "batch", "uuid"),
    },
    Protocol {
        name: "snowplow",
        source: "protocol = \"snowplow\"\nwrite_keys = [\"sp-app\"]",
        destination: "",
        path: "/com.snowplowanalytics.snowplow/tp2",
        auth: None,
        body: |id| json!({"schema": "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4",
            "data": [{"e": "pv", "eid": id, "aid": "sp-app"}]}).to_string(),
        ids: |r| json_ids(r, "data", "eid"),
    },
    Protocol {
        name: "amplitude",
        source: "protocol = \"amplitude\"\nwrite_keys = [\"amp-key\"]",
        destination: "api_key = \"VENDOR\"",
        path: "/2/httpapi",
        auth: None,
        body: |id| json!({"api_key": "amp-key", "events": [{"event_type": "e", "insert_id": id, "user_id": "u"}]}).to_string(),
        ids: |r| json_ids(r, "events", "insert_id"),
    },
    Protocol {
        name: "json",
        source: "protocol = \"json\"\nwrite_keys = [\"json-key\"]",
        destination: "format = \"ndjson\"",
        path: "/collect?writeKey=json-key",
        auth: None,
        body: |id| json!({"type": "e", "id": id}).to_string(),
        ids: |r| {
            std::str::from_utf8(&r.body)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned())
                .collect()
        },
    },
    Protocol {
        name: "gtag",
        source: "protocol = \"ga4\"\nwrite_keys = [\"G-TEST01\"]",
        destination: "",
        path: "/g/collect?v=2&tid=G-TEST01&cid=1.2",
        auth: None,
        body: |id| format!("en=e&ep.id={id}"),
        ids: hit_ids,
    },
    Protocol {
        name: "mp",
        source: "protocol = \"ga4_mp\"\nwrite_keys = [\"G-MP01\"]\napi_secrets = [\"file:tests/data/ga4-mp-api-secret\"]",
        destination: "api_secret = \"file:tests/data/ga4-vendor-api-secret\"",
        path: "/mp/collect?measurement_id=G-MP01&api_secret=SECRET",
        auth: None,
        body: |id| json!({"client_id": "c", "events": [{"name": "e", "params": {"id": id}}]}).to_string(),
        ids: |r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            vec![body["events"][0]["params"]["id"].as_str().unwrap().to_owned()]
        },
    },
];

/// For every protocol: `?gpp=`, `?gpp_sid=` and `?us_privacy=` decide for
/// the advertising destination (`free` needs no consent and gets every
/// event), and a GPP string as long as a URL may carry (60,000
/// characters, the request head made large enough) is unreadable and
/// denies. (One longer than the decoder reads cannot be in a URL at all:
/// `http` refuses URIs past 65,534 bytes; the event and body cases are in
/// the tests above.)
#[tokio::test]
async fn every_protocol_reads_them_from_the_query_and_a_long_one_denies() {
    let upstream = Upstream::start().await;
    let mut sources = String::new();
    let mut destinations = String::new();
    for p in &PROTOCOLS {
        sources += &format!(
            "[[sources]]\nname = \"{0}\"\n{1}\ndestinations = [\"ads-{0}\", \"free-{0}\"]\n",
            p.name, p.source
        );
        let extra = |consent: &str| {
            format!(
                "batch = {{ max_wait = \"10ms\" }}\n{}\n{consent}",
                p.destination
            )
        };
        let query = if p.name == "mp" {
            "?measurement_id=G-MP01"
        } else {
            ""
        };
        destinations += &http_destination_at(
            &format!("ads-{}", p.name),
            &upstream,
            &format!("/ads-{}{query}", p.name),
            &extra("require_consent = [\"advertising\"]"),
        );
        destinations += &http_destination_at(
            &format!("free-{}", p.name),
            &upstream,
            &format!("/free-{}{query}", p.name),
            &extra(""),
        );
    }
    let config = config_with(
        &sources,
        &format!("{destinations}\n[consent]\ndefault = \"allow\"\ngpc_denies = [\"advertising\", \"sale\"]\n{US_OPT_OUTS}"),
    )
    .replace("[server]\n", "[server]\nmax_header_bytes = \"256KiB\"\n");
    let pg = start_privgate(&config).await;
    let secret = std::fs::read_to_string("tests/data/ga4-mp-api-secret").unwrap();
    let long = format!("{}~{}", gpp("usnat_no_opt_out"), "A".repeat(60_000));
    let cases = [
        ("clear", param("gpp", &gpp("usnat_no_opt_out"))),
        (
            "sale",
            format!("{}&gpp_sid=7", param("gpp", &gpp("usnat_sale_opted_out"))),
        ),
        ("usp-yes", "us_privacy=1YYN".to_owned()),
        ("usp-no", "us_privacy=1YNN".to_owned()),
        ("malformed", "gpp=DBAB&us_privacy=1YNN".to_owned()),
        ("long", param("gpp", &long)),
    ];
    let mut want = Vec::new();
    for p in &PROTOCOLS {
        for (case, query) in &cases {
            let id = format!("{}-{case}", p.name);
            let base = p.path.replace("SECRET", secret.trim());
            let sep = if base.contains('?') { '&' } else { '?' };
            let path = format!("{base}{sep}{query}");
            let mut headers: Vec<(&str, String)> =
                vec![("content-type", "application/json".into())];
            if let Some(key) = p.auth {
                headers.push(("authorization", basic(key)));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = send("POST", pg.ingest_addr(), &path, &headers, (p.body)(&id)).await;
            assert!(
                (200..300).contains(&answer.status),
                "{id}: {}",
                answer.status
            );
            want.push((format!("/free-{}", p.name), id.clone()));
            if ["clear", "usp-no"].contains(case) {
                want.push((format!("/ads-{}", p.name), id));
            }
        }
    }
    let got = delivered(&upstream, want.len(), |r| {
        let name = r.path.split('?').next().unwrap().split('-').nth(1).unwrap();
        let p = PROTOCOLS
            .iter()
            .find(|p| p.name == name)
            .expect("a protocol");
        (p.ids)(r)
    })
    .await;
    let want: BTreeSet<(String, String)> = want.into_iter().collect();
    assert_eq!(got, want);
    pg.shutdown().await;
}

/// `consent.max_age` holds for a GPP string's TCF section as for a bare TC
/// string: last updated longer ago grants nothing.
#[tokio::test]
async fn a_gpp_tcf_section_older_than_max_age_grants_nothing() {
    // The IAB's encoder dates a section when it encodes it: read its
    // LastUpdated (the core's bits 42..78, deciseconds) to know its age.
    let string = gpp("tcfeuv2_purposes_1_2");
    let core = string.split('~').nth(1).unwrap().split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(core)
        .unwrap();
    let bit = |i: usize| u64::from(bytes[i / 8] >> (7 - i % 8) & 1);
    let updated = Duration::from_millis((42..78).fold(0, |n, i| n << 1 | bit(i)) * 100);
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .saturating_sub(updated)
        .as_secs();
    assert!(age >= 2, "the fixture is dated {age}s ago");
    for (max_age, want) in [(age + 30 * 86_400, true), (age / 2, false)] {
        let upstream = Upstream::start().await;
        let batch = r#"batch = { max_wait = "10ms" }"#;
        let config = format!(
            r#"{}
[consent]
default = "allow"
tcf_purposes = {{ analytics = [1, 2] }}
max_age = "{max_age}s"
"#,
            segment_config(&format!(
                "{}require_consent = [\"analytics\"]\ntcf_vendor = 755\n",
                http_destination_at("google", &upstream, "/google", batch),
            )),
        );
        let pg = start_privgate(&config).await;
        let path = format!("/v1/t?{}", param("gpp", &string));
        let body = r#"{"type":"track","event":"e","messageId":"m","userId":"u"}"#;
        let answer = send(
            "POST",
            pg.ingest_addr(),
            &path,
            &[AUTH, ("content-type", "application/json")],
            body.to_owned(),
        )
        .await;
        assert_eq!(answer.status, 200);
        let got = delivered(&upstream, usize::from(want), batch_ids).await;
        let expected = if want {
            expect(&[("/google", "m")])
        } else {
            expect(&[])
        };
        assert_eq!(got, expected, "max_age {max_age}s");
        pg.shutdown().await;
    }
}

/// Under an allowing default (a US opt-out regime), US strings decide only
/// the purposes `us_opt_outs` maps: an opted-out person's events still
/// reach analytics, and not advertising.
#[tokio::test]
async fn us_strings_leave_other_purposes_to_the_default() {
    let upstream = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = format!(
        r#"{}
[consent]
default = "allow"
gpc_denies = ["sale"]
{US_OPT_OUTS}"#,
        segment_config(&format!(
            "{}require_consent = [\"advertising\"]\n{}require_consent = [\"analytics\"]\n",
            http_destination_at("ads", &upstream, "/ads", batch),
            http_destination_at("analytics", &upstream, "/analytics", batch),
        )),
    );
    let pg = start_privgate(&config).await;
    for (id, query) in [
        ("usp-out", param("us_privacy", "1YYN")),
        ("usp-in", param("us_privacy", "1YNN")),
        ("gpp-out", param("gpp", &gpp("usnat_sale_opted_out"))),
        ("gpp-bad", param("gpp", "DBABLA~nope")),
    ] {
        let body = format!(r#"{{"type":"track","event":"e","messageId":"{id}","userId":"u"}}"#);
        let answer = send(
            "POST",
            pg.ingest_addr(),
            &format!("/v1/t?{query}"),
            &[AUTH, ("content-type", "application/json")],
            body,
        )
        .await;
        assert_eq!(answer.status, 200, "{id}");
    }
    let want = [
        ("/analytics", "usp-out"),
        ("/analytics", "usp-in"),
        ("/analytics", "gpp-out"),
        ("/analytics", "gpp-bad"),
        ("/ads", "usp-in"),
    ];
    let got = delivered(&upstream, want.len(), batch_ids).await;
    assert_eq!(got, expect(&want));
    pg.shutdown().await;
}
