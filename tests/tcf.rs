//! IAB TCF TC strings and repeated consent signals through the real
//! server, with strings the IAB Tech Lab's own encoder made
//! (`tests/fixtures/tcf/strings.json`): publisher restrictions keep a
//! `tcf_vendor` destination from the purposes they restrict; a string
//! whose segments do not all decode grants nothing; the same signal given
//! twice with different values is unreadable, and unreadable denies; an
//! event's own TC string and its request's both apply. Each case asserts
//! what the recording upstream received.

mod common;

use common::*;
use std::time::Duration;

/// A TC string of `tests/fixtures/tcf/strings.json`.
fn tc(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tcf/strings.json"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["strings"][name]["tc"]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name}"))
        .to_owned()
}

fn event(id: &str) -> String {
    format!(r#"{{"type":"track","event":"e","messageId":"{id}","userId":"u"}}"#)
}

/// Sends a Segment event `id` with `query` and `headers`; 200 expected.
async fn send_event(pg: &privgate::app::Running, id: &str, query: &str, headers: &[(&str, &str)]) {
    let mut all = vec![AUTH, ("content-type", "application/json")];
    all.extend_from_slice(headers);
    let path = format!("/v1/t{query}");
    let answer = send("POST", pg.ingest_addr(), &path, &all, event(id)).await;
    assert_eq!(answer.status, 200, "{id}");
}

/// The ids `upstream` got once the `expected` ones arrived (and a moment
/// more for any that should not have).
async fn delivered(upstream: &Upstream, expected: &[&str]) -> Vec<String> {
    upstream
        .wait_for_delivered(expected.len(), Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut ids = upstream.delivered_ids();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn publisher_restrictions_keep_the_vendor_from_the_purposes_they_restrict() {
    let google = Upstream::start().await;
    let vendor1004 = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let config = format!(
        r#"{}
[consent]
default = "deny"
tcf_purposes = {{ analytics = [1, 2] }}
"#,
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\ntcf_vendor = 755\n{}require_consent = [\"analytics\"]\ntcf_vendor = 1004\n",
            http_destination("google", &google, batch),
            http_destination("v1004", &vendor1004, batch),
        )),
    );
    let pg = start_privgate(&config).await;
    for (id, name) in [
        // Purposes 1-4 and 7-10 for vendors 755 and 1000-1010 (ranges), no
        // restriction.
        ("unrestricted", "range_vendors"),
        // "Not allowed" (type 0) for 755 on purpose 1.
        ("not-allowed", "restriction_not_allowed_755_p1"),
        // "Require legitimate interest" (type 2) for 755 on purpose 2.
        ("require-li", "restriction_require_li_755_p2"),
        // Type 0 for 1000-1010 on purpose 1 (a range), type 2 for 755 and
        // 1003-1005 on purpose 7 (which analytics does not need).
        ("ranges", "restriction_ranges"),
    ] {
        send_event(&pg, id, &format!("?gdpr_consent={}", tc(name)), &[]).await;
    }
    assert_eq!(
        delivered(&google, &["unrestricted", "ranges"]).await,
        sorted(&["unrestricted", "ranges"])
    );
    assert_eq!(
        delivered(&vendor1004, &["unrestricted"]).await,
        ["unrestricted"],
        "1004 is in the restricted range"
    );
    pg.shutdown().await;
}

#[tokio::test]
async fn a_string_whose_segments_do_not_all_decode_grants_nothing() {
    let upstream = Upstream::start().await;
    let config = format!(
        r#"{}
[consent]
default = "allow"
tcf_purposes = {{ analytics = [1] }}
"#,
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\n",
            http_destination("out", &upstream, r#"batch = { max_wait = "10ms" }"#)
        )),
    );
    let pg = start_privgate(&config).await;
    let garbage = [
        "core_then_garbage",
        "core_then_unknown_text",
        "core_then_empty_segment",
        "core_then_empty_middle_segment",
        "core_then_unknown_segment",
        "core_then_cut_publisher_tc",
        "core_then_second_core_without_consent",
        "disclosed_vendors_first",
        "disclosed_vendors_twice",
    ];
    for name in garbage {
        // Percent-encoded, as a URL carries it.
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("gdpr_consent", &tc(name))
            .finish();
        send_event(&pg, name, &format!("?{query}"), &[]).await;
    }
    // Valid strings with every kind of segment grant as their core says.
    for name in [
        "with_disclosed_vendors",
        "with_publisher_tc",
        "all_segments",
        "with_allowed_vendors",
    ] {
        send_event(&pg, name, &format!("?gdpr_consent={}", tc(name)), &[]).await;
    }
    let valid = [
        "with_disclosed_vendors",
        "with_publisher_tc",
        "all_segments",
        "with_allowed_vendors",
    ];
    assert_eq!(delivered(&upstream, &valid).await, sorted(&valid));
    wait_for_metric(
        pg.admin_addr(),
        "privgate_events_dropped_total{destination=\"out\",reason=\"denied\"}",
        garbage.len() as f64,
    )
    .await;
    pg.shutdown().await;
}

#[tokio::test]
async fn a_signal_given_twice_differently_is_unreadable_and_both_strings_apply() {
    let segment = Upstream::start().await;
    let gtag = Upstream::start().await;
    let batch = r#"batch = { max_wait = "10ms" }"#;
    let sources = r#"[[sources]]
name = "web"
protocol = "segment"
write_keys = ["test-key"]
destinations = ["segment"]
[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-TEST01"]
destinations = ["gtag"]"#;
    let destinations = format!(
        "{}require_consent = [\"analytics\"]\n{}require_consent = [\"analytics\"]\n",
        http_destination("segment", &segment, batch),
        http_destination_at("gtag", &gtag, "/g/collect", batch),
    );
    let config = config_with(
        sources,
        &format!(
            r#"{destinations}
[consent]
default = "allow"
gpc_denies = ["analytics"]
tcf_purposes = {{ analytics = [1] }}
tcf_path = "context.gdpr_consent"
"#
        ),
    );
    let pg = start_privgate(&config).await;
    let (full, none) = (tc("bitfield_vendors"), tc("no_consent"));
    // Segment: the query parameter twice, differently (the first used to
    // win), and the same twice.
    send_event(
        &pg,
        "query-twice",
        &format!("?gdpr_consent={full}&gdpr_consent={none}"),
        &[],
    )
    .await;
    send_event(
        &pg,
        "query-same",
        &format!("?gdpr_consent={full}&gdpr_consent={full}"),
        &[],
    )
    .await;
    // Sec-GPC twice, differently: unreadable, so GPC denies.
    send_event(&pg, "gpc-twice", "", &[("sec-gpc", "0"), ("sec-gpc", "1")]).await;
    send_event(&pg, "gpc-0", "", &[("sec-gpc", "0")]).await;
    // The event's own string grants, the request's denies: the stricter
    // wins (the event's used to replace the request's).
    let own = format!(
        r#"{{"type":"track","event":"e","messageId":"own-and-request","userId":"u","context":{{"gdpr_consent":"{full}"}}}}"#
    );
    let path = format!("/v1/t?gdpr_consent={none}");
    let headers = [AUTH, ("content-type", "application/json")];
    assert_eq!(
        send("POST", pg.ingest_addr(), &path, &headers, own)
            .await
            .status,
        200
    );
    let both = format!(
        r#"{{"type":"track","event":"e","messageId":"own-and-request-agree","userId":"u","context":{{"gdpr_consent":"{full}"}}}}"#
    );
    let path = format!("/v1/t?gdpr_consent={full}");
    assert_eq!(
        send("POST", pg.ingest_addr(), &path, &headers, both)
            .await
            .status,
        200
    );
    assert_eq!(
        delivered(&segment, &["query-same", "gpc-0", "own-and-request-agree"]).await,
        sorted(&["query-same", "gpc-0", "own-and-request-agree"])
    );

    // gtag.js: a consent parameter in the URL and, differently, in a hit
    // line; the same in both; and twice in one line.
    let lines = [
        format!("en=e&ep.id=line-differs&gdpr_consent={none}"),
        format!("en=e&ep.id=line-same&gdpr_consent={full}"),
        "en=e&ep.id=gcs-twice&gcs=G111&gcs=G100".to_owned(),
    ]
    .join("\r\n");
    let path = format!("/g/collect?v=2&tid=G-TEST01&gdpr_consent={full}");
    let answer = send("POST", pg.ingest_addr(), &path, &[], lines).await;
    assert_eq!(answer.status, 204);
    gtag.wait_for_delivered_hits(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let hits: Vec<String> = gtag
        .received()
        .iter()
        .flat_map(|r| {
            std::str::from_utf8(&r.body)
                .unwrap()
                .split("\r\n")
                .filter_map(|hit| {
                    form_urlencoded::parse(hit.as_bytes())
                        .find(|(k, _)| k == "ep.id")
                        .map(|(_, v)| v.into_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(hits, ["line-same"]);
    pg.shutdown().await;
}

trait Hits {
    async fn wait_for_delivered_hits(&self, n: usize);
}

impl Hits for Upstream {
    /// Waits until `n` requests arrived (gtag hits carry no messageId).
    async fn wait_for_delivered_hits(&self, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while self.received().len() < n {
            assert!(std::time::Instant::now() < deadline, "no hits within 5s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
