//! Jurisdiction defaults (`[consent.jurisdiction]`) and consent freshness
//! (`consent.max_age`) through the real server, asserting on what the
//! recording upstream received:
//! - with no consent signal, the CDN-stated jurisdiction decides: denied in
//!   the EEA, allowed in a named US state, `[consent] default` in a known
//!   place the table omits, and denied where it is unknown (no header,
//!   `XX`, a header given twice);
//! - the header is believed only from `server.trusted_proxies`: from any
//!   other peer the jurisdiction is unknown, whatever it claims;
//! - signals still decide where there is one: GPC denies in an
//!   allow-by-default state, granted consent passes in the EEA;
//! - a TC string (made by the IAB's encoder) last updated longer ago than
//!   `max_age` grants nothing; within it, it grants as before.

mod common;

use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn event(id: &str, consent: &str) -> String {
    format!(r#"{{"type":"track","event":"e","messageId":"{id}","userId":"u"{consent}}}"#)
}

const GRANTED: &str = r#","context":{"consent":{"categoryPreferences":{"analytics":true}}}"#;

async fn send_event(pg: &privgate::app::Running, id: &str, body: String, headers: &[(&str, &str)]) {
    let mut all = vec![AUTH, ("content-type", "application/json")];
    all.extend_from_slice(headers);
    let answer = send("POST", pg.ingest_addr(), "/v1/t", &all, body).await;
    assert_eq!(answer.status, 200, "{id}");
}

async fn delivered(upstream: &Upstream, expected: usize) -> Vec<String> {
    upstream
        .wait_for_delivered(expected, Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut ids = upstream.delivered_ids();
    ids.sort();
    ids
}

fn config(upstream: &Upstream, trusted: &str, consent: &str) -> String {
    let destination = http_destination(
        "analytics",
        upstream,
        "batch = { max_wait = \"10ms\" }\nrequire_consent = [\"analytics\"]\n",
    );
    let text = format!("{}\n{consent}", segment_config(&destination));
    text.replace(
        "shutdown_timeout = \"5s\"",
        &format!("shutdown_timeout = \"5s\"\ntrusted_proxies = [{trusted}]"),
    )
}

/// An event's id, its request's headers, its consent, and whether it arrives.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, bool);

const JURISDICTIONS: &str = r#"[consent]
default = "allow"
gpc_denies = ["analytics"]
[consent.jurisdiction]
country_header = "CloudFront-Viewer-Country"
region_header = "CloudFront-Viewer-Country-Region"
defaults = { EEA = "deny", GB = "deny", "US-CA" = "allow", US = "deny" }
"#;

#[tokio::test]
async fn without_a_signal_the_stated_jurisdiction_decides_and_unknown_denies() {
    let upstream = Upstream::start().await;
    let pg = start_privgate(&config(&upstream, "\"127.0.0.1\"", JURISDICTIONS)).await;
    let country = "cloudfront-viewer-country";
    let region = "cloudfront-viewer-country-region";
    let cases: &[Case] = &[
        ("de", &[(country, "DE")], "", false),
        ("no", &[(country, "NO")], "", false),
        ("gb", &[(country, "gb")], "", false),
        ("us-ca", &[(country, "US"), (region, "CA")], "", true),
        ("us-ca-joined", &[(country, "US-CA")], "", true),
        ("us-tx", &[(country, "US"), (region, "TX")], "", false),
        ("jp", &[(country, "JP")], "", true),
        ("none", &[], "", false),
        ("xx", &[(country, "XX")], "", false),
        ("twice", &[(country, "US-CA"), (country, "DE")], "", false),
        ("garbage", &[(country, "not a country")], "", false),
        // A signal decides where there is one.
        ("de-granted", &[(country, "DE")], GRANTED, true),
        (
            "us-ca-gpc",
            &[(country, "US-CA"), ("sec-gpc", "1")],
            "",
            false,
        ),
    ];
    for (id, headers, consent, _) in cases {
        send_event(&pg, id, event(id, consent), headers).await;
    }
    let mut want: Vec<String> = cases
        .iter()
        .filter(|c| c.3)
        .map(|c| c.0.to_owned())
        .collect();
    want.sort();
    assert_eq!(delivered(&upstream, want.len()).await, want);
    pg.shutdown().await;
}

#[tokio::test]
async fn the_header_is_believed_only_from_trusted_proxies() {
    let upstream = Upstream::start().await;
    // The test client connects from 127.0.0.1, which is not trusted here.
    let pg = start_privgate(&config(&upstream, "\"10.0.0.0/8\"", JURISDICTIONS)).await;
    send_event(
        &pg,
        "claims-us-ca",
        event("claims-us-ca", ""),
        &[("cloudfront-viewer-country", "US-CA")],
    )
    .await;
    send_event(
        &pg,
        "granted",
        event("granted", GRANTED),
        &[("cloudfront-viewer-country", "US-CA")],
    )
    .await;
    assert_eq!(delivered(&upstream, 1).await, ["granted"]);
    pg.shutdown().await;
}

#[test]
fn jurisdiction_config_errors_name_the_key_and_how_to_fix_it() {
    let base = segment_config("[[destinations]]\nname = \"out\"\nkind = \"stdout\"\n");
    let check = |extra: &str| {
        privgate::config::Config::from_str(&format!("{base}\n{extra}"), "t.toml".as_ref())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let err = check("[consent.jurisdiction]\ncountry_header = \"CF-IPCountry\"\n");
    assert!(
        err.contains("consent.jurisdiction.country_header") && err.contains("trusted_proxies"),
        "{err}"
    );
    let err = check(
        "[consent.jurisdiction]\ncountry_header = \"CF-IPCountry\"\ndefaults = { Europe = \"deny\" }\n",
    );
    assert!(
        err.contains("consent.jurisdiction.defaults.Europe") && err.contains("US-CA"),
        "{err}"
    );
    let err = check("[consent.jurisdiction]\ncountry_header = \"bad header\"\n");
    assert!(err.contains("not a header name"), "{err}");
    let err = check("[consent]\nmax_age = \"0s\"\n");
    assert!(err.contains("consent.max_age"), "{err}");
}

/// A TC string of `tests/fixtures/tcf/strings.json`, made by the IAB's
/// encoder, and when it was last updated.
fn tc(name: &str) -> (String, Duration) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tcf/strings.json"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let tc = file["strings"][name]["tc"].as_str().unwrap().to_owned();
    let decoded = privgate::consent::tcf::decode(&tc).unwrap();
    (tc, decoded.last_updated())
}

#[tokio::test]
async fn a_tc_string_older_than_max_age_grants_nothing() {
    // Purposes 1-3, vendors 2, 6, 8.
    let (tc, updated) = tc("bitfield_vendors");
    let age = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .saturating_sub(updated);
    assert!(
        age > Duration::from_secs(60),
        "the fixture is older than a minute"
    );
    for (max_age, fresh) in [
        // Just younger than the string: it is stale.
        (age.saturating_sub(Duration::from_secs(30)).as_secs(), false),
        // A day older than the string: it is fresh.
        (age.as_secs() + 86_400, true),
    ] {
        let upstream = Upstream::start().await;
        let consent = format!(
            "[consent]\ndefault = \"deny\"\ntcf_purposes = {{ analytics = [1, 2] }}\nmax_age = \"{max_age}s\"\n"
        );
        let pg = start_privgate(&config(&upstream, "\"10.0.0.0/8\"", &consent)).await;
        let body = event("tc", &format!(r#","context":{{"gdpr_consent":"{tc}"}}"#));
        let path = format!("/v1/t?gdpr_consent={tc}");
        let all = [AUTH, ("content-type", "application/json")];
        let answer = send("POST", pg.ingest_addr(), &path, &all, body).await;
        assert_eq!(answer.status, 200);
        // A control event without a TC string, consent granted in it.
        send_event(&pg, "ctl", event("ctl", GRANTED), &[]).await;
        let want: &[&str] = if fresh { &["ctl", "tc"] } else { &["ctl"] };
        assert_eq!(
            delivered(&upstream, want.len()).await,
            want,
            "max_age {max_age}s"
        );
        pg.shutdown().await;
    }
}
