//! The notice's rendering and its answer, without a server.

use super::html::{esc, render};
use super::words::{duration, list};
use super::*;
use http::{HeaderMap, HeaderValue, Method};

fn notice() -> Notice {
    Notice {
        schema: SCHEMA,
        config_version: "ab".repeat(32),
        operator: Operator::default(),
        sources: Vec::new(),
        destinations: vec![Destination {
            display_name: "<script>alert(1)</script>".into(),
            description: Some("Tom & \"Jerry\"".into()),
            delivered_to: "external_service".into(),
            purposes: vec!["analytics".into()],
            purposes_match: "all".into(),
            tcf_vendor: None,
            honours_opt_out: true,
            fields: vec![FieldRule {
                scope: "global".into(),
                fields: vec![Field::new("@email"), Field::new("context.x")],
                treatment: Treatment::Hashed,
            }],
            allow_list: None,
            encrypted: false,
            retention: Retention {
                delivery: "durable".into(),
                max_age_seconds: Some(7 * 86_400),
                file_kept_seconds: None,
            },
        }],
        opt_out: OptOut {
            gpc_denies: Vec::new(),
            registry: false,
            on_request: false,
        },
        records: Vec::new(),
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn every_text_is_escaped() {
    assert_eq!(
        esc("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
    let html = render(&notice());
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("Tom &amp; &quot;Jerry&quot;"));
    assert!(html.contains("<strong>Email address and the field context.x</strong> are replaced"));
    assert!(html.contains("for at most 7 days"));
}

#[test]
fn words_for_lists_durations_and_fields() {
    assert_eq!(list(&[]), "nothing");
    assert_eq!(list(&["a".into()]), "a");
    assert_eq!(list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    assert_eq!(duration(86_400), "1 day");
    assert_eq!(duration(5_400), "90 minutes");
    assert_eq!(duration(395 * 86_400), "395 days");
    assert_eq!(field_label("@ip"), "IP address");
    assert_eq!(field_label("@nope"), "the field @nope");
    assert_eq!(field_label("**"), "every field");
}

#[test]
fn negotiation_prefers_what_the_client_ranks_higher() {
    let page = Page::new(&notice());
    let kind = |query: Option<&str>, h: HeaderMap| {
        page.answer(&Method::GET, query, &h).headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let json = "application/json";
    let html = "text/html; charset=utf-8";
    assert_eq!(kind(None, headers(&[])), html);
    assert_eq!(kind(None, headers(&[("accept", "application/json")])), json);
    assert_eq!(kind(None, headers(&[("accept", "*/*")])), html);
    assert_eq!(
        kind(
            None,
            headers(&[("accept", "text/html;q=0.5, application/json")])
        ),
        json
    );
    assert_eq!(
        kind(
            None,
            headers(&[("accept", "application/json;q=0.4, text/html")])
        ),
        html
    );
    assert_eq!(kind(Some("a=1&format=json"), headers(&[])), json);
    assert_eq!(
        kind(
            Some("format=html"),
            headers(&[("accept", "application/json")])
        ),
        html
    );
}

#[test]
fn if_none_match_lists_weak_tags_and_star() {
    let page = Page::new(&notice());
    let etag = format!("\"{}-html\"", "ab".repeat(32));
    let status = |value: &str| {
        let mut h = HeaderMap::new();
        h.insert("if-none-match", HeaderValue::try_from(value).unwrap());
        page.answer(&Method::GET, None, &h).status().as_u16()
    };
    assert_eq!(status(&etag), 304);
    assert_eq!(status(&format!("\"x\", W/{etag}")), 304);
    assert_eq!(status("*"), 304);
    assert_eq!(status("\"x\""), 200);
    assert_eq!(status(&etag.replace("html", "json")), 200);
}
