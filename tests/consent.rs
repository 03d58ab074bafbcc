//! Consent through the real server: per-destination decisions from Segment
//! and RudderStack consent objects, `Sec-GPC`, the opt-out registry (and its
//! reload), and the default for events without any signal. What a backend
//! did not consent to never reaches it, and every drop is counted.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn event(id: &str, user: &str, context: &str) -> String {
    format!(
        r#"{{"type":"track","event":"Viewed","messageId":"{id}","userId":"{user}","context":{context}}}"#
    )
}

const BOTH: &str = r#"{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":true}}}"#;
const ANALYTICS_ONLY: &str =
    r#"{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":false}}}"#;
const RUDDER_BOTH: &str = r#"{"consentManagement":{"allowedConsentIds":["analytics","advertising"],"deniedConsentIds":[],"provider":"custom"}}"#;

#[tokio::test]
async fn each_destination_gets_only_what_it_has_consent_for() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("optouts.txt");
    std::fs::write(&registry, "# ids that consent to nothing\nopted-user\n").unwrap();
    let analytics = Upstream::start().await;
    let ads = Upstream::start().await;
    let config = format!(
        r#"{}
[consent]
default = "deny"
gpc_denies = ["advertising", "sale"]
categories = {{ Analytics = "analytics", Advertising = "advertising" }}
opt_out_registry = "file:{}"
opt_out_reload_interval = "50ms"
"#,
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\n{}require_consent = [\"advertising\"]\n",
            http_destination("analytics", &analytics, r#"batch = { max_wait = "10ms" }"#),
            http_destination("ads", &ads, r#"batch = { max_wait = "10ms" }"#),
        )),
        registry.display()
    );
    let pg = start_privgate(&config).await;
    let addr = pg.ingest_addr();
    let json = ("content-type", "application/json");
    let sends = [
        (event("both", "u1", BOTH), false),
        (event("analytics-only", "u2", ANALYTICS_ONLY), false),
        (event("gpc", "u3", BOTH), true),
        (event("no-signal", "u4", r#"{"page":{"path":"/"}}"#), false),
        (event("rudder", "u5", RUDDER_BOTH), false),
        (event("opted", "opted-user", BOTH), false),
    ];
    for (body, gpc) in &sends {
        let mut headers = vec![AUTH, json];
        if *gpc {
            headers.push(("sec-gpc", "1"));
        }
        // Every request is accepted: consent decides delivery, not acceptance.
        assert_eq!(
            send("POST", addr, "/v1/t", &headers, body.clone())
                .await
                .status,
            200
        );
    }
    let got = |u: &Upstream| u.delivered_ids().into_iter().collect::<BTreeSet<_>>();
    analytics
        .wait_for_delivered(4, Duration::from_secs(5))
        .await;
    ads.wait_for_delivered(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        got(&analytics),
        set(&["both", "analytics-only", "gpc", "rudder"])
    );
    assert_eq!(got(&ads), set(&["both", "rudder"]));

    let admin = pg.admin_addr();
    let dropped = |d: &str, r: &str| {
        format!("privgate_events_dropped_total{{destination=\"{d}\",reason=\"{r}\"}}")
    };
    for (series, value) in [
        (dropped("analytics", "no_consent"), 1.0),
        (dropped("analytics", "opted_out"), 1.0),
        (dropped("ads", "denied"), 1.0),
        (dropped("ads", "gpc"), 1.0),
        (dropped("ads", "no_consent"), 1.0),
        (dropped("ads", "opted_out"), 1.0),
        ("privgate_consent_decisions_total{decision=\"forward\",destination=\"analytics\",reason=\"granted\"}".into(), 4.0),
        ("privgate_consent_decisions_total{decision=\"drop\",destination=\"ads\",reason=\"gpc\"}".into(), 1.0),
    ] {
        assert_eq!(metric(admin, &series).await, Some(value), "{series}");
    }

    // The registry is re-read when it changes: a newly listed user is out.
    std::fs::write(&registry, "opted-user\nlate-user\n").unwrap();
    let later = std::time::SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(&registry)
        .unwrap()
        .set_modified(later)
        .unwrap();
    // It is looked at every 50 ms, but a busy machine may take longer to
    // get there: until then the user's events still go through. Probe
    // until one is dropped as opted out (counted before the answer).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut probe = 0;
    let late = loop {
        let id = format!("late-{probe}");
        post(addr, "/v1/t", event(&id, "late-user", BOTH)).await;
        if metric(admin, &dropped("analytics", "opted_out")).await == Some(2.0) {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the changed registry was not read again within 10 s"
        );
        probe += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!got(&analytics).contains(&late));
    pg.shutdown().await;
}

#[tokio::test]
async fn default_allow_forwards_events_without_signals_but_gpc_still_denies() {
    let upstream = Upstream::start().await;
    let config = format!(
        "{}\n[consent]\ndefault = \"allow\"\ngpc_denies = [\"advertising\"]\n",
        segment_config(&format!(
            "{}require_consent = [\"advertising\"]\n",
            http_destination("ads", &upstream, r#"batch = { max_wait = "10ms" }"#)
        ))
    );
    let pg = start_privgate(&config).await;
    post(pg.ingest_addr(), "/v1/t", track("plain")).await;
    let headers = [AUTH, ("sec-gpc", "1")];
    send(
        "POST",
        pg.ingest_addr(),
        "/v1/t",
        &headers,
        track("with-gpc"),
    )
    .await;
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    wait_for_metric(
        pg.admin_addr(),
        "privgate_events_dropped_total{destination=\"ads\",reason=\"gpc\"}",
        1.0,
    )
    .await;
    assert_eq!(upstream.delivered_ids(), ["plain"]);
    pg.shutdown().await;
}

/// The IAB's example TC string: consent for TCF purposes 1, 2 and 3 and
/// vendors 2, 6 and 8.
const TC_1_2_3: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";

#[tokio::test]
async fn tc_strings_in_the_query_decide_per_purpose_and_vendor() {
    let analytics = Upstream::start().await;
    let ads = Upstream::start().await;
    let vendor = Upstream::start().await;
    let config = format!(
        r#"{}
[consent]
default = "allow"
tcf_purposes = {{ analytics = [1, 2], advertising = [1, 4] }}
"#,
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\n{}require_consent = [\"advertising\"]\n{}require_consent = [\"analytics\"]\ntcf_vendor = 7\n",
            http_destination("analytics", &analytics, r#"batch = { max_wait = "10ms" }"#),
            http_destination("ads", &ads, r#"batch = { max_wait = "10ms" }"#),
            http_destination("vendor7", &vendor, r#"batch = { max_wait = "10ms" }"#),
        )),
    );
    let pg = start_privgate(&config).await;
    let addr = pg.ingest_addr();
    let json = ("content-type", "application/json");
    for (id, query) in [
        ("tcf", format!("?gdpr_consent={TC_1_2_3}")),
        ("unreadable", "?gdpr_consent=garbage".to_owned()),
        ("none", String::new()),
    ] {
        let path = format!("/v1/t{query}");
        let answer = send("POST", addr, &path, &[AUTH, json], event(id, "u", "{}")).await;
        assert_eq!(answer.status, 200, "{id}");
    }
    // Without a string, default = "allow" lets everything through; a
    // readable one grants analytics (1 and 2) but not advertising (4), and
    // not vendor 7; an unreadable one grants nothing.
    let got = |upstream: &Upstream, n| {
        let upstream = upstream.clone();
        async move {
            let mut ids = upstream.wait_for_delivered(n, Duration::from_secs(5)).await;
            ids.sort();
            ids
        }
    };
    assert_eq!(got(&analytics, 2).await, ["none", "tcf"]);
    assert_eq!(got(&ads, 1).await, ["none"]);
    assert_eq!(got(&vendor, 1).await, ["none"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(analytics.delivered_ids().len(), 2, "nothing more arrives");
    assert_eq!(ads.delivered_ids().len(), 1);
    assert_eq!(vendor.delivered_ids().len(), 1);
    pg.shutdown().await;
}
