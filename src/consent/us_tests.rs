//! The consent engine's reading of GPP and US Privacy strings, with
//! strings the IAB's encoder made (`tests/fixtures/gpp/strings.json`).

use super::super::{gcm, ConsentDefault, Denial, Match, Requirement, Signals, UsOptOuts};
use super::*;
use crate::json::{Marks, Span};
use std::collections::BTreeMap;

fn fixture(name: &str) -> String {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/fixtures/gpp/strings.json")).unwrap();
    file["strings"][name]["gpp"]
        .as_str()
        .unwrap_or_else(|| panic!("no string {name}"))
        .to_owned()
}

/// An engine for `analytics` (TCF purposes 1, 2), `advertising` and
/// `sale`, with the opt-outs mapped as `proxy.toml` maps them.
fn engine(default: ConsentDefault) -> Consent {
    let opt_outs = UsOptOuts {
        sale: vec!["advertising".into(), "sale".into()],
        sharing: vec!["advertising".into()],
        targeted_advertising: vec!["advertising".into()],
        sensitive_data: vec!["advertising".into()],
        known_child: vec!["advertising".into()],
    };
    let tcf: BTreeMap<String, Vec<u8>> = [("analytics".to_owned(), vec![1, 2])].into();
    let mode: [(gcm::Kind, String); 0] = [];
    Consent::new(
        default,
        &["advertising".into(), "sale".into()],
        &BTreeMap::new(),
        ["analytics", "advertising", "sale"],
        None,
    )
    .interpreting(&tcf, &mode)
    .with_us(&opt_outs, vec!["gpp".into()], vec!["usp".into()])
}

fn need(c: &Consent, purpose: &str) -> super::super::Need {
    c.need(&Requirement {
        purposes: vec![purpose.to_owned()],
        mode: Match::All,
        ..Requirement::default()
    })
}

/// The signals of an empty event sent with `query`.
fn with_query(c: &Consent, query: &str) -> Signals {
    let request = request_us(Some(query));
    c.signals_for(b"{}", &Marks::default(), false, None, Some(&request))
}

fn gpp_query(name: &str) -> String {
    format!("gpp={}", fixture(name))
}

#[test]
fn usnat_opt_outs_deny_their_purposes_and_grant_otherwise() {
    let c = engine(ConsentDefault::Deny);
    let (ads, sale, analytics) = (
        need(&c, "advertising"),
        need(&c, "sale"),
        need(&c, "analytics"),
    );
    let s = with_query(&c, &gpp_query("usnat_no_opt_out"));
    assert!(s.speaks());
    assert_eq!(c.decide(&s, &ads), Ok(()));
    assert_eq!(c.decide(&s, &sale), Ok(()));
    // Analytics is no US opt-out's: the string says nothing of it, so the
    // default decides (deny here; allow below).
    assert_eq!(c.decide(&s, &analytics), Err(Denial::NoConsent));
    let allowing = engine(ConsentDefault::Allow);
    for name in ["usnat_no_opt_out", "usnat_sale_opted_out"] {
        let s = with_query(&allowing, &gpp_query(name));
        assert_eq!(
            allowing.decide(&s, &need(&allowing, "analytics")),
            Ok(()),
            "{name}"
        );
    }
    let s = with_query(&allowing, "us_privacy=1YYN");
    assert_eq!(allowing.decide(&s, &need(&allowing, "analytics")), Ok(()));
    assert_eq!(
        allowing.decide(&s, &need(&allowing, "sale")),
        Err(Denial::Denied)
    );
    for (name, sale_too) in [
        ("usnat_sale_opted_out", true),
        ("usnat_sale_notice_not_provided", true),
        ("usnat_sharing_opted_out", false),
        ("usnat_targeted_advertising_opted_out", false),
        ("usnat_sensitive_no_consent", false),
        ("usnat_known_child_no_consent", false),
        ("usca_sale_opted_out", true),
        ("usnat_v1_sale_opted_out", true),
    ] {
        let s = with_query(&c, &gpp_query(name));
        assert_eq!(c.decide(&s, &ads), Err(Denial::Denied), "{name}");
        let want = if sale_too {
            Err(Denial::Denied)
        } else {
            Ok(())
        };
        assert_eq!(c.decide(&s, &sale), want, "{name}");
    }
    // One section opted out, another not: the strictest wins.
    let s = with_query(&c, &gpp_query("usnat_no_opt_out_and_usca_sale_opted_out"));
    assert_eq!(c.decide(&s, &ads), Err(Denial::Denied));
    // The GPC subsection counts as Sec-GPC: 1.
    let s = with_query(&c, &gpp_query("usnat_gpc"));
    assert!(s.gpc);
    assert_eq!(c.decide(&s, &ads), Err(Denial::Gpc));
}

#[test]
fn unreadable_gpp_denies_what_it_could_govern() {
    let c = engine(ConsentDefault::Allow);
    let (ads, analytics) = (need(&c, "advertising"), need(&c, "analytics"));
    let tcf_header = fixture("tcfeuv2_purposes_1_2");
    let cut_tcf = format!("{}~CPXx", tcf_header.split('~').next().unwrap());
    for (query, tcf_too) in [
        ("gpp=".to_owned(), false),
        ("gpp=DBABLA~garbage!".to_owned(), false),
        (
            format!("gpp={}", fixture("usnat_sale_opted_out").replace('~', "~~")),
            false,
        ),
        (format!("gpp={cut_tcf}"), true),
        // gpp_sid naming a section the string lacks, or not a list.
        (
            format!("{}&gpp_sid=8", gpp_query("usnat_no_opt_out")),
            false,
        ),
        (
            format!("{}&gpp_sid=x", gpp_query("usnat_no_opt_out")),
            false,
        ),
        (format!("{}&gpp_sid=2", gpp_query("usnat_no_opt_out")), true),
        // Twice, differently.
        (
            format!(
                "{}&{}",
                gpp_query("usnat_no_opt_out"),
                gpp_query("usca_no_opt_out")
            ),
            false,
        ),
        // gpp_sid without a string.
        ("gpp_sid=7".to_owned(), false),
    ] {
        let s = with_query(&c, &query);
        assert!(s.speaks(), "{query}");
        assert_eq!(c.decide(&s, &ads), Err(Denial::Denied), "{query}");
        let want = if tcf_too { Err(Denial::Denied) } else { Ok(()) };
        // Without a signal for analytics, the default (allow) decides it
        // only when nothing else was said; here the string said something,
        // so analytics is granted only by a readable TCF section.
        if tcf_too {
            assert_eq!(c.decide(&s, &analytics), want, "{query}");
            assert!(s.tcf.iter().any(Result::is_err), "{query}");
        }
    }
    // gpp_sid=-1 alone says nothing: the default decides.
    let s = with_query(&c, "gpp_sid=-1");
    assert!(!s.speaks());
    assert_eq!(c.decide(&s, &ads), Ok(()));
}

#[test]
fn the_tcf_section_counts_as_a_tc_string() {
    let c = engine(ConsentDefault::Deny);
    let analytics = need(&c, "analytics");
    let s = with_query(&c, &gpp_query("tcfeuv2_purposes_1_2"));
    assert_eq!(s.tcf.len(), 1);
    assert_eq!(c.decide(&s, &analytics), Ok(()));
    let s = with_query(&c, &gpp_query("tcfeuv2_no_consent"));
    assert_eq!(c.decide(&s, &analytics), Err(Denial::Denied));
    // The vendor's consent and the publisher's restrictions apply.
    let vendor = |id| {
        c.need(&Requirement {
            purposes: vec!["analytics".into()],
            tcf_vendor: Some(id),
            ..Requirement::default()
        })
    };
    let s = with_query(&c, &gpp_query("tcfeuv2_purposes_1_2"));
    assert_eq!(c.decide(&s, &vendor(755)), Ok(()));
    assert_eq!(c.decide(&s, &vendor(1000)), Err(Denial::Denied));
    let s = with_query(&c, &gpp_query("tcfeuv2_restriction_755_p1"));
    assert_eq!(c.decide(&s, &vendor(755)), Err(Denial::Denied));
}

#[test]
fn us_privacy_strings() {
    let c = engine(ConsentDefault::Deny);
    let (ads, sale) = (need(&c, "advertising"), need(&c, "sale"));
    let s = with_query(&c, "us_privacy=1YNN");
    assert_eq!(c.decide(&s, &sale), Ok(()));
    assert_eq!(c.decide(&s, &ads), Ok(()));
    // Opted out, or no notice of the right to opt out given (`N`, then
    // whatever the opt-out says), or unreadable: nothing may be sold.
    for bad in ["1YYN", "1NNN", "1N-N", "1Y", "", "2YNN", "1ynn"] {
        let s = with_query(&c, &format!("us_privacy={bad}"));
        assert!(s.speaks(), "{bad}");
        assert_eq!(c.decide(&s, &sale), Err(Denial::Denied), "{bad}");
    }
    // Not applicable says nothing: the default decides.
    let s = with_query(&c, "us_privacy=1---");
    assert!(!s.speaks());
    // Notice not applicable, not opted out: granted.
    let s = with_query(&c, "us_privacy=1-NN");
    assert_eq!(c.decide(&s, &sale), Ok(()));
    // Inside a GPP string, the same.
    let s = with_query(&c, &gpp_query("uspv1_opted_out"));
    assert_eq!(c.decide(&s, &sale), Err(Denial::Denied));
    let s = with_query(&c, &gpp_query("uspv1_not_opted_out"));
    assert_eq!(c.decide(&s, &sale), Ok(()));
}

#[test]
fn event_paths_and_marks() {
    let c = engine(ConsentDefault::Deny);
    let ads = need(&c, "advertising");
    let opted = fixture("usnat_sale_opted_out");
    let clear = fixture("usnat_no_opt_out");
    let read = |body: &str, marks: &Marks| c.signals_for(body.as_bytes(), marks, false, None, None);
    let body = format!(r#"{{"gpp":"{clear}"}}"#);
    assert_eq!(c.decide(&read(&body, &Marks::default()), &ads), Ok(()));
    let body = format!(r#"{{"gpp":"{opted}"}}"#);
    assert_eq!(
        c.decide(&read(&body, &Marks::default()), &ads),
        Err(Denial::Denied)
    );
    // Not a string at the path: unreadable.
    assert_eq!(
        c.decide(&read(r#"{"gpp":1}"#, &Marks::default()), &ads),
        Err(Denial::Denied)
    );
    assert_eq!(
        c.decide(&read(r#"{"usp":"1YYN"}"#, &Marks::default()), &ads),
        Err(Denial::Denied)
    );
    // Marked by ingest (GA4's gpp and gpp_sid).
    let body = format!(r#"{{"x":"{opted}","y":"7"}}"#);
    let span = |text: &str| {
        let quoted = format!("\"{text}\"");
        let at = body.find(&quoted).unwrap();
        Span::of(body.as_bytes(), &body.as_bytes()[at..at + quoted.len()])
    };
    let marks = Marks {
        gpp: span(&opted),
        gpp_sid: span("7"),
        ..Marks::default()
    };
    assert_eq!(c.decide(&read(&body, &marks), &ads), Err(Denial::Denied));
}

#[test]
fn nothing_is_read_unless_configured() {
    let c = Consent::new(
        ConsentDefault::Allow,
        &[],
        &BTreeMap::new(),
        ["advertising"],
        None,
    );
    let ads = need(&c, "advertising");
    let s = with_query(
        &c,
        &format!("{}&us_privacy=1YYN", gpp_query("usnat_sale_opted_out")),
    );
    assert!(!s.speaks());
    assert_eq!(c.decide(&s, &ads), Ok(()));
}

#[test]
fn request_parameters() {
    let r = request_us(Some("gpp=a&gpp_sid=7&us_privacy=1YNN&gpp=a"));
    assert_eq!(r.gpp, Some(Ok("a".into())));
    assert_eq!(r.gpp_sid, Some(Ok("7".into())));
    assert_eq!(r.us_privacy, Some(Ok("1YNN".into())));
    let r = request_us(Some("us_privacy=1YNN&us_privacy=1YYN"));
    assert_eq!(r.us_privacy, Some(Err(GppError::Repeated)));
    let r = request_us(None);
    assert!(r.gpp.is_none() && r.gpp_sid.is_none() && r.us_privacy.is_none());
}
