//! `privgate explain --trace` says why each drop happened: the consent
//! signal (registry, GPC, an in-event object, a TC, GPP or US Privacy
//! string, a jurisdiction entry) and the rule, never a value.

mod common;

use common::*;
use serde_json::Value;

fn options() -> privgate::explain::Options {
    privgate::explain::Options::default()
}

/// A TC string of `tests/fixtures/tcf/strings.json` (the IAB's encoder).
fn tc(name: &str) -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tcf/strings.json"
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["strings"][name]["tc"].as_str().unwrap().to_owned()
}

#[test]
fn trace_names_the_signal_and_the_rule_that_decided_each_drop() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("opted-out.txt");
    std::fs::write(&registry, "blocked-person\n").unwrap();
    let config = format!(
        r#"[server]
listen = "127.0.0.1:0"
trusted_proxies = ["10.0.0.0/8"]
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "a"
kind = "stdout"
require_consent = ["analytics"]
[[destinations]]
name = "ads"
kind = "stdout"
require_consent = ["advertising"]
tcf_vendor = 755
[consent]
default = "deny"
gpc_denies = ["analytics"]
tcf_purposes = {{ advertising = [1] }}
tcf_path = "context.gdpr_consent"
opt_out_registry = "{}"
[consent.jurisdiction]
country_header = "CF-IPCountry"
defaults = {{ EEA = "deny", "US-CA" = "allow" }}
"#,
        registry.display()
    );
    let event = |id: &str, extra: &str| {
        format!(r#"{{"type":"track","event":"e","userId":"{id}","context":{{{extra}}}}}"#)
    };
    let why = |options: privgate::explain::Options, line: String, destination: &str| {
        let traced = privgate::explain::Options {
            trace: true,
            ..options
        };
        let (out, _, _) = explain_with(&config, traced, &line).unwrap();
        let line = out
            .iter()
            .find(|l| l["destination"] == destination)
            .unwrap_or_else(|| panic!("no line for {destination}"));
        assert_eq!(line["decision"], "drop", "{line}");
        line["why"].as_str().unwrap_or_default().to_owned()
    };
    let at = |place: &str| privgate::explain::Options {
        jurisdiction: Some(place.into()),
        ..options()
    };
    let granted = r#""consent":{"categoryPreferences":{"analytics":true,"advertising":true}}"#;
    let cases: Vec<(privgate::explain::Options, String, &str, &str)> =
        vec![
        (options(), event("u-1", ""), "a", "consent.jurisdiction.unknown"),
        (at("DE"), event("u-1", ""), "a", "consent.jurisdiction.defaults.EEA"),
        (at("JP"), event("u-1", ""), "a", "consent.default (no jurisdiction entry"),
        (
            privgate::explain::Options {
                gpc: true,
                ..options()
            },
            event("u-1", granted),
            "a",
            "Sec-GPC: 1 denies analytics (consent.gpc_denies)",
        ),
        (
            options(),
            event("u-1", r#""consent":{"categoryPreferences":{"analytics":false}}"#),
            "a",
            "context.consent (Segment) denies analytics",
        ),
        (
            options(),
            event("u-1", r#""consent":{"categoryPreferences":{"other":true}}"#),
            "a",
            "no signal the event carries grants analytics",
        ),
        (
            options(),
            event("blocked-person", granted),
            "a",
            "opt-out registry",
        ),
        (
            options(),
            event(
                "u-1",
                &format!(
                    r#"{granted},"gdpr_consent":"{}""#,
                    tc("restriction_not_allowed_755_p1")
                ),
            ),
            "ads",
            "publisher restriction for tcf_vendor 755 covers a TCF purpose that advertising needs",
        ),
        (
            options(),
            event(
                "u-1",
                &format!(r#"{granted},"gdpr_consent":"{}""#, tc("core_then_garbage")),
            ),
            "ads",
            "TC string unreadable",
        ),
        (
            options(),
            event(
                "u-1",
                &format!(r#"{granted},"gdpr_consent":"{}""#, tc("no_consent")),
            ),
            "ads",
            "no consent for the destination's tcf_vendor 755",
        ),
    ];
    for (options, line, destination, want) in cases {
        let got = why(options, line.clone(), destination);
        assert!(got.contains(want), "{line}: {got:?} should say {want:?}");
        // Never a value: not the id, not the string.
        assert!(
            !got.contains("u-1") && !got.contains("blocked-person") && !got.contains("CQ"),
            "{got}"
        );
    }
    // Without --trace there is no "why".
    let (out, _, _) = explain_with(&config, options(), &event("u-1", "")).unwrap();
    assert!(out.iter().all(|l| l.get("why").is_none()));
}

#[test]
fn trace_names_a_tc_string_older_than_max_age() {
    let config = r#"[server]
listen = "127.0.0.1:0"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "ads"
kind = "stdout"
require_consent = ["advertising"]
tcf_vendor = 755
[consent]
tcf_purposes = { advertising = [1] }
tcf_path = "context.gdpr_consent"
max_age = "1s"
"#;
    let line = format!(
        r#"{{"type":"track","event":"e","context":{{"gdpr_consent":"{}"}}}}"#,
        tc("bitfield_vendors")
    );
    let traced = privgate::explain::Options {
        trace: true,
        ..options()
    };
    let (out, _, _) = explain_with(config, traced, &line).unwrap();
    assert_eq!(out[0]["decision"], "drop");
    let why = out[0]["why"].as_str().unwrap();
    assert!(why.contains("consent.max_age (string age)"), "{why}");
}

#[test]
fn trace_names_gpp_and_us_privacy_strings() {
    let config = r#"[server]
listen = "127.0.0.1:0"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "ads"
kind = "stdout"
require_consent = ["advertising"]
[consent]
gpp_path = "context.gpp"
us_privacy_path = "context.us_privacy"
[consent.us_opt_outs]
sale = ["advertising"]
"#;
    let strings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gpp/strings.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let opted_out = strings["strings"]["usnat_all_1"]["gpp"].as_str().unwrap();
    let granted = r#""consent":{"categoryPreferences":{"advertising":true}}"#;
    let traced = privgate::explain::Options {
        trace: true,
        ..options()
    };
    let cases = [
        (
            format!(r#"{granted},"gpp":"{opted_out}""#),
            "GPP string (IAB GPP) denies advertising",
        ),
        (
            format!(r#"{granted},"gpp":"DBABLA~nope""#),
            "GPP string (IAB GPP) denies advertising",
        ),
        (
            format!(r#"{granted},"us_privacy":"1YYN""#),
            "US Privacy string (IAB CCPA) denies advertising",
        ),
    ];
    for (context, want) in cases {
        let line = format!(r#"{{"type":"track","event":"e","context":{{{context}}}}}"#);
        let (out, _, _) = explain_with(config, traced.clone(), &line).unwrap();
        assert_eq!(out[0]["decision"], "drop", "{line}");
        let why = out[0]["why"].as_str().unwrap();
        assert!(why.contains(want), "{line}: {why:?} should say {want:?}");
        assert!(!why.contains("DBABLA") && !why.contains("1YYN"), "{why}");
    }
    // The same event with the opted-in strings is delivered.
    let line = format!(
        r#"{{"type":"track","event":"e","context":{{{granted},"gpp":"{}","us_privacy":"1YNN"}}}}"#,
        strings["strings"]["usnat_all_0"]["gpp"].as_str().unwrap()
    );
    let (out, _, _) = explain_with(config, traced, &line).unwrap();
    assert_eq!(out[0]["decision"], "forward", "{:?}", out[0]);
}
