use super::*;
use crate::json::TopLevel;
use crate::json::{Marks, Span};

/// Signals as the pipeline reads them: marked by ingest's scan.
fn read(c: &Consent, event: &[u8], gpc: bool) -> Signals {
    let marks = TopLevel::parse_event(event, crate::json::Limits::default())
        .map_or_else(|_| Marks::default(), |t| t.marks);
    c.signals(event, &marks, gpc)
}

fn engine(default: ConsentDefault) -> Consent {
    let categories = [
        ("C0002", "analytics"),
        ("Analytics", "analytics"),
        ("Advertising", "advertising"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let registry = OptOutRegistry::from_ids(["opted-user"], Arc::default());
    Consent::new(
        default,
        &["advertising".into(), "sale".into()],
        &categories,
        ["analytics", "advertising", "sale"],
        Some(Arc::new(registry)),
    )
}

fn need(purposes: &[&str], mode: Match) -> Requirement {
    Requirement {
        purposes: purposes.iter().map(|p| p.to_string()).collect(),
        mode,
        ..Requirement::default()
    }
}

const SEGMENT: &str = r#"{"userId":"u","context":{"consent":{"categoryPreferences":{"Analytics":true,"Advertising":false}}}}"#;
const RUDDER: &str = r#"{"anonymousId":"a","context":{"consentManagement":{"allowedConsentIds":["analytics","functional"],"deniedConsentIds":["advertising"],"provider":"custom"}}}"#;

/// The IAB's example TC string: consent for purposes 1, 2 and 3 and
/// vendors 2, 6 and 8 (see `tcf.rs`, iab_specification_example).
const TC_1_2_3: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
/// iabtcf-java's bit-field string: purposes 3 to 9, vendors 23, 37, ...
const TC_3_TO_9: &str =
    "COrEAV4OrXx94ACABBENAHCIAD-AAAAAAACAAxAAAAgAIAwgAgAAAAEAgQAAAAAEAYQAQAAAACAAAABAAA";

fn interpreting(default: ConsentDefault) -> Consent {
    let tcf = [("analytics", vec![1, 2]), ("advertising", vec![1, 4])]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mode = [
        (gcm::Kind::AnalyticsStorage, "analytics".to_owned()),
        (gcm::Kind::AdStorage, "advertising".to_owned()),
    ];
    engine(default).interpreting(&tcf, &mode)
}

/// An event whose only members are `fields` (strings), marked as a
/// flat protocol (GA4) would mark them.
fn marked(fields: &[(&str, &str)]) -> (Vec<u8>, Marks) {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let body = serde_json::to_vec(&object).unwrap();
    let mut marks = Marks::default();
    for (key, value) in fields {
        let quoted = serde_json::to_string(value).unwrap();
        let at = body
            .windows(quoted.len())
            .position(|w| w == quoted.as_bytes())
            .unwrap();
        let span = Span::of(&body, &body[at..at + quoted.len()]);
        match *key {
            "gdpr_consent" => marks.tcf = span,
            "gcs" => marks.gcs = span,
            "gcd" => marks.gcd = span,
            _ => {}
        }
    }
    (body, marks)
}

#[test]
fn tc_strings_grant_purposes_whose_tcf_purposes_all_have_consent() {
    let c = interpreting(ConsentDefault::Deny);
    let analytics = c.need(&need(&["analytics"], Match::All));
    let advertising = c.need(&need(&["advertising"], Match::All));
    let (body, marks) = marked(&[("gdpr_consent", TC_1_2_3)]);
    let s = c.signals(&body, &marks, false);
    assert!(s.present);
    assert_eq!(c.decide(&s, &analytics), Ok(()), "1 and 2 consented");
    assert_eq!(c.decide(&s, &advertising), Err(Denial::Denied), "4 is not");
    // From the request's query; with the event's own, both count and
    // the stricter wins.
    let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_3_TO_9)));
    assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "1 is not");
    let s = c.signals_with(&body, &marks, false, Some(Ok(TC_3_TO_9)));
    assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "stricter");
    let s = c.signals_with(&body, &marks, false, Some(Ok(TC_1_2_3)));
    assert_eq!(c.decide(&s, &analytics), Ok(()), "the same string");
    // Given twice differently in the query: unreadable.
    let twice = tcf::TcfError::Repeated;
    let s = c.signals_with(b"{}", &Marks::default(), false, Some(Err(&twice)));
    assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied));
    // Unreadable: a signal that grants nothing, whatever the default.
    let c = interpreting(ConsentDefault::Allow);
    let analytics = c.need(&need(&["analytics"], Match::All));
    for bad in ["", "not a tc string", "COvFyGBOvFyGBAbAAAEN"] {
        let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(bad)));
        assert!(s.present);
        assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied), "{bad:?}");
    }
    // At the configured path; twice differently there is unreadable.
    let c = interpreting(ConsentDefault::Deny).with_tcf_path(vec!["context".into(), "tc".into()]);
    let analytics = c.need(&need(&["analytics"], Match::All));
    let at_path = |event: &str| {
        let s = c.signals(event.as_bytes(), &Marks::default(), false);
        c.decide(&s, &analytics)
    };
    assert_eq!(
        at_path(&format!(r#"{{"context":{{"x":1,"tc":"{TC_1_2_3}"}}}}"#)),
        Ok(())
    );
    assert_eq!(
        at_path(&format!(
            r#"{{"context":{{"tc":"{TC_1_2_3}","tc":"{TC_1_2_3}"}}}}"#
        )),
        Ok(()),
        "the same string twice says one thing"
    );
    assert_eq!(
        at_path(&format!(
            r#"{{"context":{{"tc":"{TC_1_2_3}","tc":"{TC_3_TO_9}"}}}}"#
        )),
        Err(Denial::Denied)
    );
    assert_eq!(at_path(r#"{"context":{"tc":7}}"#), Err(Denial::Denied));
    assert_eq!(
        at_path(r#"{"context":{"other":"x"}}"#),
        Err(Denial::NoConsent)
    );
    // Without tcf_purposes, TC strings are not read.
    let plain = engine(ConsentDefault::Deny);
    let s = plain.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_1_2_3)));
    assert!(!s.present && s.tcf.is_empty());
}

#[test]
fn a_destinations_vendor_needs_consent_in_the_tc_string() {
    let c = interpreting(ConsentDefault::Deny);
    let vendor = |id| {
        c.need(&Requirement {
            tcf_vendor: Some(id),
            ..need(&["analytics"], Match::All)
        })
    };
    let s = c.signals_with(b"{}", &Marks::default(), false, Some(Ok(TC_1_2_3)));
    assert_eq!(c.decide(&s, &vendor(6)), Ok(()));
    assert_eq!(c.decide(&s, &vendor(7)), Err(Denial::Denied));
    // No TC string: the vendor is not asked about.
    let (body, marks) = marked(&[("gcs", "G111")]);
    let s = c.signals(&body, &marks, false);
    assert_eq!(c.decide(&s, &vendor(7)), Ok(()));
}

#[test]
fn consent_mode_grants_and_denies_its_purposes() {
    let c = interpreting(ConsentDefault::Deny);
    let analytics = c.need(&need(&["analytics"], Match::All));
    let advertising = c.need(&need(&["advertising"], Match::All));
    let decide = |fields: &[(&str, &str)]| {
        let (body, marks) = marked(fields);
        let s = c.signals(&body, &marks, false);
        (c.decide(&s, &analytics), c.decide(&s, &advertising))
    };
    // gcs: G1 + ad_storage + analytics_storage.
    assert_eq!(decide(&[("gcs", "G101")]), (Ok(()), Err(Denial::Denied)));
    assert_eq!(decide(&[("gcs", "G110")]), (Err(Denial::Denied), Ok(())));
    // gcd: `v` granted by an update, `q` denied, `l` not set (no signal
    // for it, so the default decides).
    assert_eq!(
        decide(&[("gcd", "11q1v1l1l5")]),
        (Ok(()), Err(Denial::Denied))
    );
    assert_eq!(
        decide(&[("gcd", "11l1l1l1l5")]),
        (Err(Denial::NoConsent), Err(Denial::NoConsent))
    );
    // The Measurement Protocol's consent object.
    let mp = |c: &Consent, advertising: &Need, consent: &str| {
        let body = format!(r#"{{"client_id":"c","consent":{consent}}}"#);
        let at = body.find("\"consent\":").unwrap() + 10;
        let marks = Marks {
            mp_consent: Span::of(body.as_bytes(), &body.as_bytes()[at..body.len() - 1]),
            ..Marks::default()
        };
        let s = c.signals(body.as_bytes(), &marks, false);
        c.decide(&s, advertising)
    };
    let m = interpreting(ConsentDefault::Deny).interpreting(
        &BTreeMap::new(),
        &[(gcm::Kind::AdUserData, "advertising".to_owned())],
    );
    let ads = m.need(&need(&["advertising"], Match::All));
    assert_eq!(mp(&m, &ads, r#"{"ad_user_data":"GRANTED"}"#), Ok(()));
    assert_eq!(
        mp(&m, &ads, r#"{"ad_user_data":"DENIED"}"#),
        Err(Denial::Denied)
    );
    assert_eq!(
        mp(&m, &ads, r#"{"ad_personalization":"GRANTED"}"#),
        Err(Denial::NoConsent)
    );
    assert_eq!(mp(&m, &ads, "7"), Err(Denial::Denied), "unreadable");
    // Denied anywhere wins; unreadable denies.
    assert_eq!(
        decide(&[("gcs", "G111"), ("gcd", "11q1q1l1l5")]),
        (Err(Denial::Denied), Err(Denial::Denied))
    );
    assert_eq!(
        decide(&[("gcs", "G1xx")]),
        (Err(Denial::Denied), Err(Denial::Denied))
    );
}

#[test]
fn snowplow_gdpr_contexts_and_consent_events() {
    use crate::protocol::snowplow::SnowplowLayout;
    let c = engine(ConsentDefault::Deny);
    let analytics = c.need(&need(&["analytics"], Match::All));
    let advertising = c.need(&need(&["advertising"], Match::All));
    let context = |schema: &str, data: &str| {
        format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/{schema}/jsonschema/1-0-0","data":{data}}}"#
        )
    };
    let event = |contexts: &[String], ue: Option<String>| {
        let co = format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{}]}}"#,
            contexts.join(",")
        );
        let ue = ue.map_or(String::new(), |ue| {
            format!(r#","ue_pr":{{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{ue}}}"#)
        });
        format!(r#"{{"e":"ue","aid":"a","co":{co}{ue}}}"#)
    };
    let decide = |text: String| {
        let marks = TopLevel::parse_event_as::<SnowplowLayout>(
            text.as_bytes(),
            crate::json::Limits::default(),
        )
        .unwrap()
        .marks;
        let s = c.signals(text.as_bytes(), &marks, false);
        (c.decide(&s, &analytics), c.decide(&s, &advertising))
    };
    let gdpr = |basis: &str, id: &str| {
        context(
            "gdpr",
            &format!(r#"{{"basisForProcessing":"{basis}","documentId":"{id}"}}"#),
        )
    };
    let document = |id: &str| {
        context(
            "consent_document",
            &format!(r#"{{"id":"{id}","version":"1"}}"#),
        )
    };
    // gdpr: consent for a document mapped to analytics (C0002).
    assert_eq!(
        decide(event(&[gdpr("consent", "C0002")], None)),
        (Ok(()), Err(Denial::Denied))
    );
    // Another basis grants nothing, and is a signal.
    assert_eq!(
        decide(event(&[gdpr("legitimate_interests", "C0002")], None)),
        (Err(Denial::Denied), Err(Denial::Denied))
    );
    // consent_granted grants its documents; consent_withdrawn denies them.
    let granted = context("consent_granted", r#"{"expiry":"2030-01-01"}"#);
    assert_eq!(
        decide(event(
            &[document("Analytics"), document("Advertising")],
            Some(granted)
        )),
        (Ok(()), Ok(()))
    );
    let withdrawn = context("consent_withdrawn", r#"{"all":false}"#);
    assert_eq!(
        decide(event(
            &[gdpr("consent", "C0002"), document("C0002")],
            Some(withdrawn)
        )),
        (Err(Denial::Denied), Err(Denial::Denied)),
        "withdrawing wins over granting"
    );
    let all = context("consent_withdrawn", r#"{"all":true}"#);
    assert_eq!(
        decide(event(&[gdpr("consent", "C0004")], Some(all))),
        (Err(Denial::Denied), Err(Denial::Denied))
    );
    // Contexts without consent say nothing: the default decides.
    let page = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":"p"}}"#;
    assert_eq!(
        decide(event(&[page.to_owned()], None)),
        (Err(Denial::NoConsent), Err(Denial::NoConsent))
    );
}

#[test]
fn captured_segment_and_rudderstack_signals() {
    let c = engine(ConsentDefault::Deny);
    for event in [SEGMENT, RUDDER] {
        let s = read(&c, event.as_bytes(), false);
        assert!(s.present);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(())
        );
        assert_eq!(
            c.decide(&s, &c.need(&need(&["advertising"], Match::All))),
            Err(Denial::Denied)
        );
        assert_eq!(
            c.decide(
                &s,
                &c.need(&need(&["analytics", "advertising"], Match::All))
            ),
            Err(Denial::Denied)
        );
        assert_eq!(
            c.decide(
                &s,
                &c.need(&need(&["analytics", "advertising"], Match::Any))
            ),
            Ok(())
        );
    }
}

#[test]
fn category_names_match_exactly() {
    let c = engine(ConsentDefault::Deny);
    // "ANALYTICS" is neither mapped nor the purpose's exact name.
    let s = read(
        &c,
        br#"{"context":{"consent":{"categoryPreferences":{"ANALYTICS":true}}}}"#,
        false,
    );
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Err(Denial::Denied)
    );
    // An unmapped id that is exactly the purpose's name grants it; a CMP id maps.
    for prefs in [r#"{"analytics":true}"#, r#"{"C0002":true}"#] {
        let event = format!(r#"{{"context":{{"consent":{{"categoryPreferences":{prefs}}}}}}}"#);
        let s = read(&c, event.as_bytes(), false);
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(()),
            "{prefs}"
        );
    }
    // Only a literal true grants.
    let s = read(
        &c,
        br#"{"context":{"consent":{"categoryPreferences":{"analytics":"yes"}}}}"#,
        false,
    );
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Err(Denial::Denied)
    );
}

#[test]
fn no_signal_follows_the_default() {
    let deny = engine(ConsentDefault::Deny);
    let allow = engine(ConsentDefault::Allow);
    for event in [
        &br#"{"event":"x"}"#[..],
        br#"{"context":{"consent":{}}}"#,
        b"not json",
    ] {
        let s = read(&deny, event, false);
        assert!(!s.present);
        assert_eq!(
            deny.decide(&s, &deny.need(&need(&["analytics"], Match::All))),
            Err(Denial::NoConsent)
        );
        assert_eq!(
            allow.decide(
                &read(&allow, event, false),
                &allow.need(&need(&["analytics"], Match::All))
            ),
            Ok(())
        );
    }
    // A destination that requires nothing takes everything.
    assert_eq!(
        deny.decide(
            &read(&deny, b"{}", false),
            &deny.need(&need(&[], Match::All))
        ),
        Ok(())
    );
}

#[test]
fn gpc_overrides_in_event_consent_and_the_default() {
    let c = engine(ConsentDefault::Allow);
    let granted =
        r#"{"context":{"consent":{"categoryPreferences":{"Advertising":true,"Analytics":true}}}}"#;
    let s = read(&c, granted.as_bytes(), true);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["advertising"], Match::All))),
        Err(Denial::Gpc)
    );
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Ok(())
    );
    let s = read(&c, b"{}", true);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["sale"], Match::All))),
        Err(Denial::Gpc)
    );
}

#[test]
fn the_registry_overrides_everything() {
    let c = engine(ConsentDefault::Allow);
    let event = r#"{"userId":"opted-user","context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#;
    let s = read(&c, event.as_bytes(), false);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Err(Denial::OptedOut)
    );
    let s = read(&c, br#"{"anonymousId":"opted-user"}"#, false);
    assert!(s.opted_out);
    let s = read(&c, br#"{"userId":42}"#, false);
    assert!(!s.opted_out);
    // A malformed consent object hides nothing.
    for event in [
        r#"{"userId":"opted-user","context":{"consent":"yes"}}"#,
        r#"{"userId":"opted-user","context":"x"}"#,
        r#"{"userId":"opted-user","context":{"consentManagement":{"allowedConsentIds":"analytics"}}}"#,
    ] {
        let s = read(&c, event.as_bytes(), false);
        assert!(s.opted_out, "{event}");
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::OptedOut)
        );
    }
}

#[test]
fn a_purpose_both_allowed_and_denied_is_denied() {
    let c = engine(ConsentDefault::Deny);
    let event = r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"deniedConsentIds":["analytics"]}}}"#;
    let s = read(&c, event.as_bytes(), false);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Err(Denial::Denied)
    );
}

#[test]
fn an_event_that_says_two_things_goes_only_where_no_consent_is_needed() {
    // Without a registry: only consent-gated destinations are affected.
    for event in [
        r#"{"context":{"consent":{"categoryPreferences":{"Analytics":false}}},"context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#,
        r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true}},"consent":{}}}"#,
        r#"{"userId":"someone","userId":"other"}"#,
    ] {
        let c = Consent::new(
            ConsentDefault::Allow,
            &[],
            &BTreeMap::new(),
            ["analytics"],
            None,
        );
        let s = read(&c, event.as_bytes(), false);
        assert!(s.ambiguous, "{event}");
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::Any))),
            Err(Denial::Denied),
            "{event}"
        );
        assert_eq!(c.decide(&s, &c.need(&need(&[], Match::All))), Ok(()));
    }
}

#[test]
fn two_different_ids_cannot_be_cleared_by_the_registry() {
    let c = engine(ConsentDefault::Allow);
    for event in [
        r#"{"userId":"someone","userId":"opted-user"}"#,
        r#"{"userId":"opted-user","userId":"someone"}"#,
        r#"{"anonymousId":"a","anonymousId":"b"}"#,
    ] {
        let s = read(&c, event.as_bytes(), false);
        assert!(s.opted_out, "{event}");
        assert_eq!(
            c.decide(&s, &c.need(&need(&[], Match::All))),
            Err(Denial::OptedOut)
        );
    }
    // The same id twice is one id.
    let s = read(
        &c,
        br#"{"userId":"someone","user\u0049d":"someone"}"#,
        false,
    );
    assert!(!s.opted_out && !s.ambiguous);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Ok(())
    );
}

#[test]
fn the_same_consent_given_twice_says_one_thing() {
    let c = engine(ConsentDefault::Deny);
    for event in [
        r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true},"categoryPreferences":{"Analytics":true}}}}"#,
        r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"allowedConsentIds":["analytics"]}}}"#,
        r#"{"context":{"consent":{"categoryPreferences":{"Analytics":true}}},"context":{"consent":{"categoryPreferences":{"Analytics":true}}}}"#,
    ] {
        let s = read(&c, event.as_bytes(), false);
        assert!(!s.ambiguous, "{event}");
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Ok(()),
            "{event}"
        );
    }
}

#[test]
fn preferences_given_twice_are_ambiguous() {
    let c = engine(ConsentDefault::Allow);
    let event = r#"{"context":{"consent":{"categoryPreferences":{"Analytics":false},"categoryPreferences":{"Analytics":true}}}}"#;
    let s = read(&c, event.as_bytes(), false);
    assert!(s.ambiguous);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::Any))),
        Err(Denial::Denied)
    );
    let event = r#"{"context":{"consentManagement":{"allowedConsentIds":["analytics"],"allowedConsentIds":[]}}}"#;
    assert!(read(&c, event.as_bytes(), false).ambiguous);
}

#[test]
fn ids_are_compared_by_value_and_unknown_purposes_are_never_granted() {
    let c = engine(ConsentDefault::Allow);
    // An escaped id is the same id.
    let event = r#"{"context":{"consent":{"categoryPreferences":{"Analyt\u0069cs":true}}}}"#;
    let s = read(&c, event.as_bytes(), false);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
        Ok(())
    );
    // A purpose the engine was not built with, even granted by its own name.
    let event = r#"{"context":{"consent":{"categoryPreferences":{"marketing":true}}}}"#;
    let s = read(&c, event.as_bytes(), false);
    assert!(s.present);
    assert_eq!(
        c.decide(&s, &c.need(&need(&["marketing"], Match::All))),
        Err(Denial::Denied)
    );
}

#[test]
fn a_consent_object_of_the_wrong_shape_is_no_signal() {
    let c = engine(ConsentDefault::Deny);
    for event in [
        r#"{"context":{"consent":{"categoryPreferences":["Analytics"]}}}"#,
        r#"{"context":{"consent":"Analytics"}}"#,
        r#"{"context":{"consentManagement":{"allowedConsentIds":"analytics"}}}"#,
        r#"{"context":{"consentManagement":{"allowedConsentIds":[1]}}}"#,
    ] {
        let s = read(&c, event.as_bytes(), false);
        assert!(!s.present, "{event}");
        assert_eq!(
            c.decide(&s, &c.need(&need(&["analytics"], Match::All))),
            Err(Denial::NoConsent),
            "{event}"
        );
    }
}
