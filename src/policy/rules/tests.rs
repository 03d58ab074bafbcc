use super::*;
use crate::crypto::{HmacKey, Keyring};
use crate::policy::pii::Detector;

fn keys() -> Keyring {
    let h = HmacKey::from_text("h1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
    Keyring::new(vec![h], Some(0), Vec::new(), None)
}

#[test]
fn normalization_before_hashing() {
    use phonenumber::country::Id;
    let n = |mode, region, s| normalized(mode, region, s);
    assert_eq!(
        n(Normalize::Email, None, " Buyer@Example.COM "),
        "buyer@example.com"
    );
    assert_eq!(
        n(Normalize::Auto, None, "Buyer@Example.com"),
        "buyer@example.com"
    );
    // E.164 from international formats, with or without a region.
    for text in [
        "+44 20 7946 0958",
        "+44 (0)20 7946-0958",
        "0044 20 7946 0958",
    ] {
        assert_eq!(n(Normalize::Phone, None, text), "+442079460958", "{text}");
    }
    // National formats need the region they are written in.
    assert_eq!(
        n(Normalize::Phone, Some(Id::GB), "020 7946 0958"),
        "+442079460958"
    );
    assert_eq!(
        n(Normalize::Auto, Some(Id::US), "(201) 555-0123"),
        "+12015550123"
    );
    assert_eq!(n(Normalize::Auto, None, "(555) 010-0100"), "5550100100");
    // Not a valid number: digits only, the `00` read as the `+` it means.
    assert_eq!(n(Normalize::Phone, None, "0044 12"), "+4412");
    assert_eq!(n(Normalize::Phone, None, "+44 12"), "+4412");
    // Not phones, not emails: as they are.
    assert_eq!(n(Normalize::Auto, Some(Id::US), "Order-7"), "Order-7");
    assert_eq!(n(Normalize::None, None, " X@Y.z "), " X@Y.z ");
}

#[test]
fn actions_on_one_value() {
    let keys = keys();
    let mut seen = Vec::new();
    let mut on = |action: &Action, s: &str| {
        action.on_str(s, Under::default(), &keys, &mut |f| seen.push(f.detector))
    };
    let hash = Action::Hash {
        normalize: Normalize::Auto,
        region: None,
    };
    let h = keys.active_hmac().unwrap();
    assert_eq!(on(&hash, "user-123"), Some(h.hash(b"user-123")));
    assert_eq!(
        hash.on_number("42", Under::default(), &keys, &mut |_| {}),
        Some(h.hash(b"42"))
    );
    assert!(hash.seals());
    let redact = Action::RedactPii(Scanner::default());
    assert_eq!(
        on(&redact, "call +44 20 7946 0958").as_deref(),
        Some("call [phone]")
    );
    assert_eq!(on(&redact, "order 1234"), None, "unchanged is None");
    // A card number is a card number, sent as a number or as text; a
    // bare digit run is a phone number or an SSN only under such a key.
    let mut found = Vec::new();
    let mut number = |text: &str, key: Option<&str>| {
        let under = Under { key, parent: None };
        redact.on_number(text, under, &keys, &mut |f| found.push(f.detector))
    };
    assert_eq!(
        number("4111111111111111", None).as_deref(),
        Some("[credit_card]")
    );
    assert_eq!(
        number("4155550100", Some("phone")).as_deref(),
        Some("[phone]")
    );
    assert_eq!(number("123456789", Some("ssn")).as_deref(), Some("[ssn]"));
    assert_eq!(number("4155550100", Some("order_id")), None);
    assert_eq!(number("1732400000000", None), None, "epoch ms");
    assert_eq!(number("4111111111111111.5", None), None);
    assert_eq!(
        found,
        [Detector::CreditCard, Detector::Phone, Detector::Ssn]
    );
    assert_eq!(
        redact
            .on_str(
                "123456789",
                Under::key("socialSecurityNumber"),
                &keys,
                &mut |_| {}
            )
            .as_deref(),
        Some("[ssn]")
    );
    assert_eq!(
        redact.on_str("123456789", Under::key("id"), &keys, &mut |_| {}),
        None
    );
    let ua = Action::GeneralizeUa(Default::default());
    assert_eq!(
        on(&ua, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36").as_deref(),
        Some("Chrome 120 (Windows)")
    );
    assert_eq!(seen, [Detector::Phone]);
}

#[test]
fn ip_truncation_prefixes() {
    assert_eq!(
        truncate_ip("203.0.113.7", 24, 48).as_deref(),
        Some("203.0.113.0")
    );
    assert_eq!(
        truncate_ip("203.0.113.7", 16, 48).as_deref(),
        Some("203.0.0.0")
    );
    assert_eq!(
        truncate_ip("2001:db8:1:2::5", 24, 48).as_deref(),
        Some("2001:db8:1::")
    );
    assert_eq!(
        truncate_ip("203.0.113.0", 24, 48),
        None,
        "already truncated"
    );
    assert_eq!(truncate_ip("not an ip", 24, 48), None);
}

#[test]
fn url_scrubbing() {
    let scrub = |s: &str| {
        scrub_url(
            s,
            &[Glob::new("utm_*"), Glob::new("gclid")],
            &Scanner::default(),
            Under::key("url"),
            &mut |_| {},
        )
    };
    let cases = [
        (
            "https://u:p@shop.example.com/users/jane%40example.com/cart?utm_source=x&email=jane%40example.com&gclid=abc#top",
            Some("https://shop.example.com/users/[email]/cart?utm_source=x&gclid=abc"),
        ),
        ("https://shop.example.com/search?q=shoes&utm_medium=cpc", Some("https://shop.example.com/search?utm_medium=cpc")),
        // Kept parameters are scanned too.
        ("https://x.io/?utm_term=call+%2B44+20+7946+0958", Some("https://x.io/?utm_term=call+%5Bphone%5D")),
        ("https://shop.example.com/p/42?utm_source=news", None),
        // Paths and query strings (Segment's context.page.path and .search).
        ("/account/jane@example.com?email=a@b.co&utm_source=x", Some("/account/[email]?utm_source=x")),
        ("?base=http%3A%2F%2Fx&utm_source=harness", Some("?utm_source=harness")),
        ("?q=shoes", Some("")),
        ("/checkout", None),
        // Not a URL: scanned as text.
        ("see jane@example.com", Some("see [email]")),
        ("mailto:jane@example.com", Some("mailto:[email]")),
    ];
    for (input, want) in cases {
        assert_eq!(scrub(input).as_deref(), want, "{input}");
    }
}

#[test]
fn globs() {
    let compiled = |p: &str, n: &str| {
        let g = Glob::new(p);
        assert_eq!(g.matches(n), glob(p, n), "{p} {n}");
        g.matches(n)
    };
    assert_eq!(Glob::new("utm_*"), Glob::Prefix("utm_".into()));
    assert_eq!(Glob::new("gclid"), Glob::Exact("gclid".into()));
    assert!(compiled("utm_*", "utm_") && compiled("utm_*", "utm_source"));
    assert!(!compiled("utm_*", "utm") && !compiled("utm_*", "xutm_a"));
    assert!(compiled("gclid", "gclid") && !compiled("gclid", "gclid2"));
    assert!(compiled("*_id", "click_id") && compiled("*", "") && compiled("", ""));
    assert!(glob("utm_*", "utm_source"));
    assert!(glob("*", "anything"));
    assert!(glob("a*c", "abc") && glob("a*c", "ac") && !glob("a*c", "ab"));
    assert!(!glob("gclid", "gclid2"));
    assert!(glob("*_id", "click_id") && !glob("*_id", "click_idx"));
    assert!(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxbyy"));
    assert!(glob("", "") && !glob("", "x") && glob("**", ""));
}

proptest::proptest! {
    /// The hand-written IPv4 output is what `Display` writes.
    #[test]
    fn truncated_ipv4_is_written_like_display(octets in proptest::prelude::any::<[u8; 4]>(), prefix in 0u8..=32) {
        let ip = std::net::Ipv4Addr::from(octets);
        let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
        let want = std::net::Ipv4Addr::from(u32::from(ip) & mask).to_string();
        let got = truncate_ip(&ip.to_string(), prefix, 48);
        proptest::prop_assert_eq!(got.unwrap_or_else(|| ip.to_string()), want);
    }

    /// A compiled pattern answers as the general matcher does.
    #[test]
    fn compiled_globs_agree(p in "[ab*]{0,5}", n in "[ab]{0,6}") {
        proptest::prop_assert_eq!(Glob::new(&p).matches(&n), glob(&p, &n));
    }

    /// Byte splitting agrees with `split_once`.
    #[test]
    fn byte_splitting_agrees_with_str(s in "[a&=é]{0,12}") {
        proptest::prop_assert_eq!(split_once_byte(&s, b'='), s.split_once('='));
    }

    /// The query filter keeps exactly the allowlisted pairs, as
    /// `str::split` would find them, in order and as written.
    #[test]
    fn the_query_filter_keeps_the_allowlisted_pairs(q in "[ak&=%+16]{0,16}") {
        let keep = vec![Glob::new("a*")];
        let mut out = String::new();
        filter_query(&mut out, &q, &keep, &Scanner::default(), None, &mut |_| {});
        let want: Vec<&str> = q
            .split('&')
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
                !pair.is_empty() && glob("a*", &form_decode(name))
            })
            .collect();
        proptest::prop_assert_eq!(out, want.join("&"));
    }
}

/// The scanners a `redact_pii` rule may have, for the outputs the walker
/// does not scan again: all detectors, each alone, and all but each.
fn every_scanner() -> Vec<Scanner> {
    let mut sets = vec![Detector::ALL.to_vec()];
    for d in Detector::ALL {
        sets.push(vec![d]);
        sets.push(Detector::ALL.into_iter().filter(|&o| o != d).collect());
    }
    sets.iter().map(|set| Scanner::new(set)).collect()
}

/// Keys that support or refute detectors, name keys among them.
const CONTEXT_KEYS: [Option<&str>; 16] = [
    None,
    Some("ip"),
    Some("userAgent"),
    Some("name"),
    Some("first_name"),
    Some("lastName"),
    Some("full_name"),
    Some("cardholder"),
    Some("phone"),
    Some("tel"),
    Some("mobile"),
    Some("ssn"),
    Some("iban"),
    Some("card_number"),
    Some("email"),
    Some("version"),
];

/// `text` is left as it is by every scanner that `action` says it is clean
/// for, under every context key.
fn left_alone(action: &Action, text: &str, scanners: &[Scanner]) -> Result<(), String> {
    for scanner in scanners.iter().filter(|s| action.output_is_clean_for(s)) {
        for key in CONTEXT_KEYS {
            for parent in [None, Some("traits")] {
                let mut out = String::new();
                if scanner.redact_under(text, Under { key, parent }, |_| {}, &mut out) {
                    return Err(format!(
                        "{text:?} under {key:?}/{parent:?} by {:?} became {out:?}",
                        scanner.detectors()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// What `generalize_ua` writes, for every browser and OS name woothee can
/// answer and majors of every length kept, is left alone by every scanner:
/// the walker skips a `redact_pii` after it
/// ([`Action::output_is_clean_for`]). Real and hostile user agents too.
#[test]
fn clean_outputs_are_left_alone_by_every_scanner() {
    let scanners = every_scanner();
    let action = Action::GeneralizeUa(Default::default());
    assert!(scanners.iter().all(|s| action.output_is_clean_for(s)));
    let mut names: Vec<&str> = crate::policy::ua::dataset_names().collect();
    names.extend(["Other", "Windows", "macOS", "iOS"]);
    names.sort_unstable();
    names.dedup();
    // Every name as the browser, with each major, and as the OS (inside
    // parentheses, apart from the major).
    for name in &names {
        for major in [None, Some("0"), Some("42"), Some("156"), Some("9999")] {
            for (browser, os) in [(*name, "Xbox 360"), ("Chrome", *name)] {
                let text = crate::policy::ua::written(browser, major, os);
                left_alone(&action, &text, &scanners).unwrap();
            }
        }
    }
    for ua in [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/4155550132.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/123456789",
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; jane.doe@example.com +44 20 7946 0958)",
        "jane.doe@example.com/203.0.113.7",
        "curl/4111111111111111",
    ] {
        let text = crate::policy::ua::generalize(ua);
        assert!(!text.bytes().any(|b| b == b'@'), "{text}");
        left_alone(&action, &text, &scanners).unwrap();
    }
}

proptest::proptest! {
    /// What `truncate_ip` writes to /24 and /64 at most (a network) is left
    /// alone by every scanner with the IP detector, which the walker then
    /// does not run ([`Action::output_is_clean_for`]); not so for longer
    /// prefixes, or a scanner without it.
    #[test]
    fn truncated_addresses_are_left_alone_by_every_scanner(
        v4 in proptest::prelude::any::<u32>(),
        v6 in proptest::prelude::any::<u128>(),
        p4 in 0u8..=32,
        p6 in 0u8..=128,
    ) {
        let scanners = every_scanner();
        let action = Action::TruncateIp { v4: p4, v6: p6 };
        let ip_on = |s: &Scanner| s.on(Detector::Ip);
        proptest::prop_assert_eq!(
            scanners.iter().map(|s| action.output_is_clean_for(s)).collect::<Vec<_>>(),
            scanners.iter().map(|s| p4 <= 24 && p6 <= 64 && ip_on(s)).collect::<Vec<_>>()
        );
        for text in [
            std::net::Ipv4Addr::from(v4).to_string(),
            std::net::Ipv6Addr::from(v6).to_string(),
        ] {
            if let Some(truncated) = truncate_ip(&text, p4, p6) {
                proptest::prop_assert!(left_alone(&action, &truncated, &scanners).is_ok(),
                    "{:?}", left_alone(&action, &truncated, &scanners));
            }
        }
    }
}

proptest::proptest! {
    /// What `scrub_url` makes of a URL, when it changes it, a `redact_pii`
    /// with the same scanner under the same key leaves as it is: the
    /// walker does not run one after it ([`Action::output_is_clean_for`]).
    /// URLs built of parts that hold PII, in the encodings a query uses.
    #[test]
    fn a_scrubbed_url_is_left_alone_by_its_scanner(
        base in proptest::sample::select(vec![
            "https://shop.example.com", "http://localhost:18091", "/", "",
            "https://u:p@x.io", "mailto:jane@example.com", "jane.doe", "https://203.0.113.7:8080",
            "https://x.io/customer={", "https://x.io/%7B%22traits%22:%7B", "Jane Doe",
            "https://x.io/%257B", "https://x.io/\\u007b",
        ]),
        path in proptest::collection::vec(proptest::sample::select(vec![
            "call", "phone", "ssn", "ip", "v", "users", "jane%40example.com", "4155550132",
            "+4915123456789", "203.0.113.7", "123-45-6789", "Jane", "first_name", "p=1",
            "DE89370400440532013000", "4111111111111111", "1.2.3.4", "a;b=c", "x:y",
        ]), 0..4),
        pairs in proptest::collection::vec((
            proptest::sample::select(vec![
                "utm_source", "utm_term", "utm_name", "utm_tel", "utm_first_name", "utm_ssn",
                "utm_x.4155550132", "utm_%6Eame", "utm_a+b", "q", "gclid", "utm_", "name",
                "traits", "utm_jane@example.com",
            ]),
            proptest::sample::select(vec![
                "", "harness", "jane%40example.com", "jane@example.com", "Jane+Doe", "Jane",
                "%2B44+20+7946+0958", "+44+20+7946+0958", "4155550132", "4111+1111+1111+1111",
                "123456789", "123.45.6789", "203.0.113.7", "ab%3Dcd", "x%26tel%3D4155550132",
                "v1.2.3.4", "2026-11-23T21:26:48Z", "693b70a7-0fe1-459d-befa-f4de10524765",
                "call%20me%20on%20612%20345%20678", "fe80::1", "a=b", "%25", "%E2%82%AC",
                "{", "%7B", "Jane+Doe%7D", "[", "}",
            ]),
        ), 0..5),
        fragment in proptest::option::of(proptest::sample::select(vec!["top", "tel=4155550132"])),
        key in proptest::sample::select(vec![
            None, Some("url"), Some("referrer"), Some("phone"), Some("ssn"), Some("name"),
            Some("first_name"), Some("ip"), Some("version"),
        ]),
        parent in proptest::sample::select(vec![None, Some("page"), Some("traits")]),
        detectors in proptest::sample::subsequence(Detector::ALL.to_vec(), 1..=7),
    ) {
        let mut url = base.to_owned();
        for segment in &path {
            url.push('/');
            url.push_str(segment);
        }
        for (k, (name, value)) in pairs.iter().enumerate() {
            url.push(if k == 0 { '?' } else { '&' });
            url.push_str(name);
            if !value.is_empty() {
                url.push('=');
                url.push_str(value);
            }
        }
        if let Some(fragment) = fragment {
            url.push('#');
            url.push_str(fragment);
        }
        let scanner = Scanner::new(&detectors);
        let keep = [Glob::new("utm_*"), Glob::new("gclid"), Glob::new("name"), Glob::new("traits")];
        let under = Under { key, parent };
        if let Some(out) = scrub_url(&url, &keep, &scanner, under, &mut |_| {}) {
            let mut again = String::new();
            proptest::prop_assert!(
                !scanner.redact_under(&out, under, |_| {}, &mut again),
                "{url:?} scrubbed to {out:?}, and redact_pii then made {again:?}"
            );
        }
    }
}

/// A reviewer's counterexamples to scanning a URL's parts apart: a `{`
/// before the query gives a bare `name` its parent object across `?` and
/// `&`; and a query dropped whole leaves a base that is a name.
#[test]
fn a_scrubbed_url_is_left_alone_even_when_parts_are_not_apart() {
    let keep = [Glob::new("utm_*"), Glob::new("name"), Glob::new("traits")];
    let scanner = Scanner::default();
    for (url, key) in [
        ("https://x.io/customer={?name=Jane#x", "url"),
        ("https://x.io/traits={?name=Jane+Doe#x", "url"),
        ("?traits={&name=Jane+Doe#x", "search"),
        ("?traits=%7B&name=Jane+Doe#x", "search"),
        ("https://x.io/%7B%22traits%22:%7B?name=Jane#x", "url"),
        ("https://x.io/?traits={&utm_q=1&name=Jane#x", "url"),
        ("Jane Doe?utm_jane@example.com=1#x", "first_name"),
    ] {
        let under = Under {
            key: Some(key),
            parent: Some("page"),
        };
        let out = scrub_url(url, &keep, &scanner, under, &mut |_| {}).expect("changed");
        let mut again = String::new();
        assert!(
            !scanner.redact_under(&out, under, |_| {}, &mut again),
            "{url} scrubbed to {out}, then {again}"
        );
        assert!(!out.contains("Jane"), "{url} scrubbed to {out}");
    }
}
