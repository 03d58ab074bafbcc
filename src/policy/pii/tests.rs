//! The scanner's unit tests and properties: each detector in context,
//! look-alikes left alone, numbers, the anchored scan against a bytewise
//! reference. Context itself is tested in `tests_context.rs`.

use super::context::Field;
use super::email::email_anchor;
use super::iban::iban_at;
use super::ip::{ip_hit, ipv6_at};
use super::numbers::luhn;
use super::text::{boundary_before, is_timestamp_or_uuid, is_word, too_short_for_pii};
use super::*;
use proptest::prelude::*;
use std::net::Ipv6Addr;

fn redact(text: &str) -> String {
    Scanner::default().redact(text, |_| {}).into_owned()
}

/// The scan as it was before anchors were found eight bytes at a time:
/// every byte visited, letter-led candidates tried at their first
/// letter. One change: a hex letter whose IBAN fails is also tried as
/// IPv6 (`FE80::1`), which the old scan missed.
fn reference_scan(sc: &Scanner, t: &[u8]) -> Vec<Found> {
    let field = Field::none();
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let b = t[i];
        let v6 = |i| {
            ipv6_at(t, i).map(|f| {
                let (f, is_pii) = ip_hit(t, f);
                sc.judged(t, f, is_pii, context::Strength::Strong, &field)
            })
        };
        let found = match b {
            b'@' | b'%' | b'\\' if sc.on(Detector::Email) => email_anchor(t, i).map(|f| (f, true)),
            b'A'..=b'Z' | b'a'..=b'z' if sc.on(Detector::Iban) && boundary_before(t, i) => {
                iban_at(t, i)
                    .map(|(f, valid)| sc.judged(t, f, valid, context::Strength::Strong, &field))
                    .or_else(|| {
                        (b.is_ascii_hexdigit() && sc.on(Detector::Ip))
                            .then(|| v6(i))
                            .flatten()
                    })
            }
            // Not the hex digits of a percent escape.
            b'0'..=b'9' | b'+' | b'('
                if boundary_before(t, i)
                    && !(i >= 1
                        && t[i - 1] == b'%'
                        && t.get(i + 1).is_some_and(u8::is_ascii_hexdigit)) =>
            {
                sc.number_at(t, i, &field)
            }
            b'a'..=b'f' | b'A'..=b'F' | b':'
                if sc.on(Detector::Ip) && boundary_before(t, i) && v6(i).is_some() =>
            {
                v6(i)
            }
            b':' if sc.on(Detector::Name) => {
                name::after_colon(t, i, &field).map(|(f, why)| (f.because(why), true))
            }
            b'=' if sc.on(Detector::Name) => {
                name::after_equals(t, i, &field).map(|(f, why)| (f.because(why), true))
            }
            _ => None,
        };
        match found {
            Some((f, is_pii)) => {
                if is_pii {
                    out.push(f);
                }
                i = f.end.max(i + 1);
            }
            None => {
                i += 1;
                if is_word(b) {
                    while i < t.len() && is_word(t[i]) {
                        i += 1;
                    }
                }
            }
        }
    }
    out
}

#[test]
fn finds_each_kind_in_context() {
    let cases = [
        // email
        ("mail jane.doe@example.com now", "mail [email] now"),
        ("Jane.Doe+news@Mail.Example.CO.UK", "[email]"),
        ("mailto:buyer@example.com", "mailto:[email]"),
        ("?email=jane%40example.com&x=1", "?email=[email]&x=1"),
        ("?email=jane%2540example.com", "?email=[email]"),
        (
            "{\\\"e\\\":\\\"jane\\u0040example.com\\\"}",
            "{\\\"e\\\":\\\"[email]\\\"}",
        ),
        // phone
        ("call +1-555-0100 today", "call [phone] today"),
        ("+44 20 7946 0958", "[phone]"),
        ("tel: (555) 010-0100", "tel: [phone]"),
        ("020 7946 0958", "[phone]"),
        ("555-010-0100", "[phone]"),
        ("phone=%2B44+20+7946+0958", "phone=[phone]"),
        // cards, with and without separators
        ("card 4111 1111 1111 1111 ok", "card [credit_card] ok"),
        // Followed by more digits: an expiry date, a number.
        ("4111 1111 1111 1111 12/28", "[credit_card] 12/28"),
        ("card 4000 0000 0000 0002 1000", "card [credit_card] 1000"),
        ("4111-1111-1111-1111", "[credit_card]"),
        ("5500005555555559", "[credit_card]"),
        ("378282246310005", "[credit_card]"),
        // iban
        ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN [iban]."),
        ("GB82WEST12345698765432", "[iban]"),
        // ip
        ("from 203.0.113.7:443", "from [ip]:443"),
        ("v6 2001:db8::1 and 1::2.", "v6 [ip] and [ip]."),
        (
            "net 203.0.113.0 and 2001:db8:1:: stay",
            "net 203.0.113.0 and 2001:db8:1:: stay",
        ),
        ("fe80::1ff:fe23:4567:890a", "[ip]"),
        ("host FE80::1FF:FE23:4567:890A up", "host [ip] up"),
        // an email read back over an earlier match takes it whole
        ("4111111111111111.x@example.com", "[email]"),
        // ssn
        ("ssn 123-45-6789", "ssn [ssn]"),
    ];
    for (input, want) in cases {
        assert_eq!(redact(input), want, "{input}");
    }
}

#[test]
fn leaves_look_alikes_alone() {
    let untouched = [
        "0fe1459d-fefa-44de-9052-4765f994ce7c",           // UUID
        "ajs-next-1795469208096-0fe1459d-fefa-44de-9052", // messageId with epoch ms
        "1795469208096",                                  // epoch ms, Luhn or not
        "1795469220",                                     // epoch s
        "1795469220.867",                                 // epoch with fraction
        "ord-1",
        "order 100234987",           // order number
        "4111 1111 1111 1112",       // Luhn-invalid
        "1234567812345678",          // Luhn-valid but no card network
        "version 1.84.3 and 3.34.1", // versions
        "npm:next-1.84.3",
        "std::vector and Foo::Bar", // scopes, not addresses
        ":: and ::®0",              // the unspecified address identifies no one
        "logo@2x.png",
        "@segment/analytics-next",
        "@scope/package",
        "price 42.50 EUR, 1 000 000 units, 1,299.99",
        "#ff00aa and #FFF",
        "2026-11-23T21:26:48.096Z", // timestamps
        "at 2026-11-23 21:26 please, or 2026-11-24",
        "12:30:45",          // time, not IPv6
        "aa:bb:cc:dd:ee:ff", // MAC, not IPv6
        "1.2.3.4.5",         // not an IPv4
        "999.1.1.1",
        "DE89 3704 0044 0532 0130 01", // IBAN with a bad checksum
        "000-12-3456",                 // invalid SSN area
        "http://localhost:18091/segment-browser.html?base=http%3A%2F%2F127",
        "plain text with no numbers",
        "",
    ];
    for text in untouched {
        assert_eq!(Scanner::default().find(text), [], "{text:?}");
    }
}

#[test]
fn numbers_are_read_like_text() {
    let sc = Scanner::default();
    let cases = [
        // Cards stand on their own, whatever the key.
        ("4111111111111111", None, Some(Detector::CreditCard)),
        (
            "5500005555555559",
            Some("amount"),
            Some(Detector::CreditCard),
        ),
        ("4111111111111112", None, None), // Luhn-invalid
        ("1234567812345678", None, None), // no card network
        // A bare digit run needs a key that names it.
        ("4155550100", Some("phone"), Some(Detector::Phone)),
        ("4155550100", Some("phoneNumber"), Some(Detector::Phone)),
        ("447946095800", Some("$mobile"), Some(Detector::Phone)),
        ("4155550100", None, None),
        ("4155550100", Some("order_id"), None),
        ("123456789", Some("ssn"), Some(Detector::Ssn)),
        (
            "12345678",
            Some("social_security_number"),
            Some(Detector::Ssn),
        ), // 012-34-5678
        ("987654321", Some("ssn"), None), // area 9xx
        ("123450000", Some("ssn"), None), // serial 0000
        ("123456789", Some("id"), None),
        // Timestamps, prices, counts: never.
        ("1732400000000", None, None),
        ("1732400000000", Some("sent_at"), None),
        ("1732400000", Some("time"), None),
        ("42", Some("phone"), None),
        ("415555.0100", Some("phone"), None),
        ("-4155550100", Some("phone"), None),
        ("4.111111111111111e15", None, None),
    ];
    for (text, key, want) in cases {
        let under = Under { key, parent: None };
        assert_eq!(
            sc.number(text, under).map(|f| f.detector),
            want,
            "{text} under {key:?}"
        );
    }
    assert_eq!(
        Scanner::new(&[Detector::Email]).number("4111111111111111", Under::default()),
        None
    );
    assert_eq!(
        Scanner::new(&[Detector::Ssn]).number("4155550100", Under::key("phone")),
        None
    );
}

#[test]
fn bare_digit_strings_need_their_key_too() {
    let sc = Scanner::default();
    let under = |text: &str, key: Option<&str>| {
        let mut out = String::new();
        let under = Under { key, parent: None };
        sc.redact_under(text, under, |_| {}, &mut out)
            .then_some(out)
    };
    assert_eq!(
        under("4155550100", Some("phone")).as_deref(),
        Some("[phone]")
    );
    assert_eq!(under(" 123456789 ", Some("ssn")).as_deref(), Some("[ssn]"));
    assert_eq!(under("4155550100", Some("id")), None);
    assert_eq!(under("1732400000000", Some("ts")), None);
    // What text finds on its own is found under any key.
    assert_eq!(
        under("call 415-555-0100", None).as_deref(),
        Some("call [phone]")
    );
    use context::{key_cue_of, KeyCue};
    assert_eq!(key_cue_of("Home-Phone"), KeyCue::Topic(Topic::Phone));
    assert_eq!(key_cue_of("tel"), KeyCue::Topic(Topic::Phone));
    assert_eq!(key_cue_of("hotel"), KeyCue::None);
    assert_eq!(key_cue_of("customer_ssn"), KeyCue::Topic(Topic::Ssn));
    assert_eq!(key_cue_of("phone_verified"), KeyCue::None);
    assert_eq!(key_cue_of(&"phone".repeat(20)), KeyCue::None, "too long");
}

#[test]
fn only_enabled_detectors_run() {
    let emails = Scanner::new(&[Detector::Email]);
    assert_eq!(
        emails.redact("a@b.example +1-555-0100", |_| {}),
        "[email] +1-555-0100"
    );
    let mut seen = Vec::new();
    Scanner::default().redact("a@b.example +1-555-0100", |f| seen.push(f.detector));
    assert_eq!(seen, [Detector::Email, Detector::Phone]);
}

#[test]
fn nothing_found_means_nothing_allocated() {
    let text = "Harness page: segment-browser 2026-11-23";
    assert!(matches!(
        Scanner::default().redact(text, |_| {}),
        Cow::Borrowed(_)
    ));
}

#[test]
fn names_round_trip() {
    for d in Detector::ALL {
        assert_eq!(Detector::from_name(d.name()), Some(d));
    }
    assert_eq!(Detector::from_name("passport"), None);
}

fn email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9._+-]{0,10}[a-z0-9]",
        "[a-z][a-z0-9-]{0,8}[a-z0-9]",
        "(com|org|net|de|io)",
    )
        .prop_filter("no double dots", |(l, _, _)| !l.contains(".."))
        .prop_map(|(l, d, t)| format!("{l}@{d}.{t}"))
}

fn card() -> impl Strategy<Value = String> {
    // A Visa-prefixed 16-digit number with a correct check digit.
    prop::collection::vec(0u8..10, 14).prop_map(|mut body| {
        body.insert(0, 4);
        let check = (0..10).find(|c| {
            let mut d = body.clone();
            d.push(*c);
            luhn(&d)
        });
        body.push(check.unwrap());
        body.chunks(4)
            .map(|g| g.iter().map(|d| char::from(b'0' + d)).collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[test]
fn timestamps_and_uuids_are_recognized_whole() {
    for yes in [
        "2026-11-23",
        "2026-11-23T21:26:48.096Z",
        "2026-11-23T21:26:48Z",
        "2026-11-23 21:26",
        "2026-11-23T21:26:48.123456789+05:30",
        "2026-11-23T21:26:48-0800",
        "2026-11-23T21:26:48+01",
        "1999-12-31T23:59:60Z",
        "693b70a7-0fe1-459d-befa-f4de10524765",
        "693B70A7-0FE1-459D-BEFA-F4DE10524765",
    ] {
        assert!(is_timestamp_or_uuid(yes.as_bytes()), "{yes}");
    }
    for no in [
        "",
        "2026-11-23T",
        "2026-11-23T21:26:48.Z",
        "2026-11-23T21:26:48.0960000000Z",
        "2026-11-23T21:26:48Z ",
        "2026-11-23 call +44 20 7946 0958",
        "2026-11-23T21:26:48Z+",
        "2026/11/23",
        "0000-00-00",
        "0201-12-12",
        "2026-13-01",
        "2026-12-32",
        "2026-12-00",
        "2026-11-23T24:00Z",
        "693b70a7-0fe1-459d-befa-f4de1052476g",
        "693b70a7-0fe1-459d-befa_f4de10524765",
    ] {
        assert!(!is_timestamp_or_uuid(no.as_bytes()), "{no}");
    }
    // The scan alone read a phone number in each of these.
    for time in ["2026-11-23 21:26", "1000-01-01T00:00:00.00000"] {
        assert_eq!(redact(time), time);
    }
}

/// Keys that say nothing about their value.
fn plain_key() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        "[a-z_$]{1,12}"
            .prop_filter("a key that names no PII", |k| !matches!(
                context::key_cue_of(k),
                context::KeyCue::Topic(Topic::Phone | Topic::Ssn | Topic::Card)
            ))
            .prop_map(Some),
    ]
}

/// Numbers events are full of: epoch seconds and milliseconds (any
/// year to 2096), microseconds (to 2039: from 2040, `22…` is a
/// Mastercard prefix, and one such timestamp in ten passes Luhn),
/// small integers, prices and other floats.
fn ordinary_number() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_000_000_000u64..4_000_000_000).prop_map(|n| n.to_string()),
        (1_000_000_000_000u64..4_000_000_000_000).prop_map(|n| n.to_string()),
        (1_000_000_000_000_000u64..2_200_000_000_000_000).prop_map(|n| n.to_string()),
        any::<i32>().prop_map(|n| n.to_string()),
        (0u32..1_000_000).prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::Number::from_f64(f).unwrap().to_string()),
        (0u32..100_000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b:02}")),
    ]
}

proptest! {
    #[test]
    fn ordinary_numbers_are_not_pii(number in ordinary_number(), key in plain_key()) {
        let sc = Scanner::default();
        let under = Under {
            key: key.as_deref(),
            parent: None,
        };
        prop_assert_eq!(sc.number(&number, under), None);
        // Nor the same digits as a string.
        let mut out = String::new();
        prop_assert!(!sc.redact_under(&number, under, |_| {}, &mut out), "{}", out);
    }
}

proptest! {
    /// Every generated timestamp and UUID is recognized; in the form
    /// JavaScript's `toISOString` writes, the scan agrees there is
    /// nothing to find (other forms are where it found false phones);
    /// PII next to one is still found.
    #[test]
    fn timestamps_and_uuids_hold_no_pii(
        date in (1000u32..3000, 1u32..=12, 1u32..=31),
        time in prop::option::of((0u32..24, 0u32..60, prop::option::of(0u32..=60), "(\\.[0-9]{1,9})?")),
        space in any::<bool>(),
        zone in "(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?",
        uuid in "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        (h, m, sec, ms) in (0u32..24, 0u32..60, 0u32..60, 0u32..1000),
        email in email(),
        card in card(),
    ) {
        let mut ts = format!("{:04}-{:02}-{:02}", date.0, date.1, date.2);
        if let Some((h, m, sec, fraction)) = time {
            let sep = if space { ' ' } else { 'T' };
            ts.push_str(&format!("{sep}{h:02}:{m:02}"));
            if let Some(sec) = sec {
                ts.push_str(&format!(":{sec:02}{fraction}"));
            }
            ts.push_str(&zone);
        }
        let iso = format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{sec:02}.{ms:03}Z", date.0, date.1, date.2);
        for text in [&ts, &uuid, &iso] {
            prop_assert!(is_timestamp_or_uuid(text.as_bytes()), "{}", text);
            for pii in [&email, &card] {
                for near in [format!("{text} at {pii}"), format!("{pii}, {text}")] {
                    prop_assert!(!redact(&near).contains(pii.as_str()), "{}", near);
                }
            }
        }
        for text in [&uuid, &iso] {
            let mut found = Vec::new();
            Scanner::default().scan(text.as_bytes(), &Field::none(), &mut |f| found.push(f));
            prop_assert!(found.is_empty(), "{} {:?}", text, found);
        }
    }

    /// A card followed by a space and more digits (an expiry, an
    /// amount) is still found.
    #[test]
    fn a_card_before_more_digits_is_found(card in card(), more in "[0-9]{1,6}(/[0-9]{2})?") {
        // (Or the longer run is itself a valid 19-digit card.)
        let text = format!("{card} {more}");
        let out = redact(&text);
        let rest = out.strip_prefix("[credit_card]").map(str::trim_start);
        prop_assert!(rest.is_some_and(|rest| more.ends_with(rest)), "{}", out);
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in ".*") {
        let _ = Scanner::default().redact(&text, |_| {});
    }

    #[test]
    fn never_panics_on_arbitrary_encoded_text(text in "[%0-9a-fA-F+@.:u\\\\ -]{0,40}") {
        let _ = Scanner::default().redact(&text, |_| {});
    }

    #[test]
    fn generated_pii_never_survives(
        prefix in "[a-z ]{0,12}",
        suffix in "[a-z ]{0,12}",
        email in email(),
        card in card(),
        // Not `0.` (this network), not `127.` (loopback), not 224 and up
        // (multicast, reserved, broadcast and netmasks): they identify
        // no one.
        octets in (1u8..=223, 0u8..=255, 0u8..=255).prop_filter("not loopback", |o| o.0 != 127),
        host in 1u8..=255,
        // Runs of zero groups, so std writes the compressed (`::`)
        // forms; a last group above 1, as a host-zeroed address is a
        // network (what `truncate_ip` leaves) and `::1` is loopback.
        groups in prop::array::uniform7(prop_oneof![Just(0u16), Just(1u16), any::<u16>()]),
        last in 2u16..,
    ) {
        let ip = format!("{}.{}.{}.{host}", octets.0, octets.1, octets.2);
        let mut all = [last; 8];
        all[..7].copy_from_slice(&groups);
        let v6 = Ipv6Addr::from(all).to_string();
        let text = format!("{prefix} {email} {suffix} {card} ({ip}) {v6}, {prefix}");
        let out = redact(&text);
        prop_assert!(!out.contains(&email), "{out}");
        prop_assert!(!out.contains(&card), "{out}");
        prop_assert!(!out.contains(&ip), "{out}");
        prop_assert!(out.contains("[ip], "), "{out}");
        let encoded = text.replace('@', "%40");
        prop_assert!(!redact(&encoded).contains(&email.replace('@', "%40")));
    }
}
#[test]
fn shortest_pii_is_not_skipped() {
    let sc = Scanner::default();
    for (text, detector) in [
        ("1.2.3.4", Detector::Ip),
        ("::2", Detector::Ip),
        ("a@b.co", Detector::Email),
    ] {
        assert!(!too_short_for_pii(text.as_bytes()), "{text}");
        let found = sc.find(text);
        assert_eq!(found.len(), 1, "{text}");
        assert_eq!(found[0].detector, detector, "{text}");
    }
    for text in ["8", "156", "ord-1", "v1.2.3", "+1 (2)"] {
        assert!(too_short_for_pii(text.as_bytes()), "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// What `find` skips as too short, the scan finds nothing in (the
    /// unit test `shortest_pii_is_not_skipped` pins the boundary).
    #[test]
    fn short_values_skipped_hold_nothing(
        text in prop::collection::vec(prop::sample::select(vec![
            "0", "1", "4", "9", "12", "255", "DE", "89", "fe", "a", "Z", "_", ":", ".", "-",
            "/", " ", "+", "(", ")", "@", "%", "\\", "\u{e9}",
        ]), 0..7).prop_map(|parts| parts.concat()),
        only in prop::option::of(prop::sample::select(Detector::ALL.to_vec())),
    ) {
        let sc = only.map_or_else(Scanner::default, |d| Scanner::new(&[d]));
        if too_short_for_pii(text.as_bytes()) {
            let mut found = Vec::new();
            sc.scan(text.as_bytes(), &Field::none(), &mut |f| found.push(f));
            prop_assert!(found.is_empty(), "{:?} {:?}", text, found);
        }
    }

    /// The anchored scan finds what visiting every byte finds, on text
    /// dense in near misses, with every detector and with each alone.
    #[test]
    fn anchored_scan_agrees_with_the_bytewise_scan(
        text in prop::collection::vec(prop::sample::select(vec![
            "0", "1", "4", "9", "12", "255", "4111", "0958", "DE", "GB", "89", "fe", "80",
            "FE", "a", "x", "Z", "_", ":", "::", ".", "-", "/", " ", "+", "(", ")", "@",
            "%40", "%25", "\\u0040", "\\", "ex.com", "mail", "\u{e9}", "fe80::1", "FE80::",
            "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111", "+44 20 7946 0958",
            "10.1.2.3", "a@b.co",
        ]), 0..16).prop_map(|parts| parts.concat()),
        only in prop::option::of(prop::sample::select(Detector::ALL.to_vec())),
    ) {
        let sc = only.map_or_else(Scanner::default, |d| Scanner::new(&[d]));
        let mut found = Vec::new();
        let seen = sc.scan(text.as_bytes(), &Field::none(), &mut |f| found.push(f));
        prop_assert_eq!(found, reference_scan(&sc, text.as_bytes()), "{:?}", text);
        // What it says it saw is what the text holds, inside matches too.
        let holds = |c: char| text.contains(c);
        prop_assert_eq!(seen, super::scan::Seen { percent: holds('%'), backslash: holds('\\') });
    }
}

/// The bulk-copying `percent_decode` gives what decoding byte by byte
/// gives (the way it was first written), offsets included.
#[test]
fn percent_decode_matches_the_bytewise_reading() {
    fn bytewise(t: &[u8]) -> (Vec<u8>, Vec<usize>) {
        let (mut out, mut map) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < t.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if t[i] == b'%' && i + 2 < t.len() {
                if let (Some(h), Some(l)) = (hex(t[i + 1]), hex(t[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    map.push(i);
                    i += 3;
                    continue;
                }
            }
            let plus = t[i] == b'+'
                && !(t.get(i + 1).is_some_and(u8::is_ascii_digit)
                    && (i == 0 || !is_word(t[i - 1])));
            out.push(if plus { b' ' } else { t[i] });
            map.push(i);
            i += 1;
        }
        map.push(t.len());
        (out, map)
    }
    proptest!(|(t in prop::collection::vec(
        prop::sample::select(b"%+2aF0 z%g".to_vec()), 0..40))| {
        prop_assert_eq!(super::text::percent_decode(&t), bytewise(&t));
    });
    for t in ["%", "%4", "%41", "a%2", "+1", "x+1", "%2B+", "%%41"] {
        assert_eq!(
            super::text::percent_decode(t.as_bytes()),
            bytewise(t.as_bytes()),
            "{t}"
        );
    }
}

/// The hashed stem filter answers what comparing every window does.
#[test]
fn name_stem_matches_comparing_every_window() {
    fn windows(k: &[u8]) -> bool {
        const STEMS: [&[u8; 3]; 23] = [
            b"nam",
            b"nom",
            b"old",
            b"inh",
            b"itu",
            b"pel",
            b"ogn",
            b"bre",
            b"azw",
            b"imi",
            b"aam",
            b"urn",
            b"avn",
            b"jme",
            b"jm\xc3",
            b"zim",
            b"nev",
            b"n\xc3\xa9",
            b"\xd0\xbc\xd1",
            b"\xd0\xbb\xd0",
            b"\xe5\x90\x8d",
            b"\xe5\xa7\x93",
            b"\xeb\xa6\x84",
        ];
        k.windows(3).any(|w| {
            let w = [
                w[0].to_ascii_lowercase(),
                w[1].to_ascii_lowercase(),
                w[2].to_ascii_lowercase(),
            ];
            STEMS.iter().any(|s| **s == w)
        })
    }
    proptest!(|(k in prop::collection::vec(prop::sample::select(
        b"namoldihtupegrbzwvjkAMNOLDIHTUPEGRBZWVJK_.[]\x0e\xce\x4e\xc3\xa9\xe5\x90\x8d".to_vec()), 0..20))| {
        prop_assert_eq!(name_stem(&k), windows(&k));
    });
    for k in [
        "firstName",
        "SURNAME",
        "nombre",
        "cardHolder",
        "userAgent",
        "",
        "na",
        "förnamn",
        "etternavn",
        "příjmení",
        "név",
        "имя",
        "фамилия",
        "氏名",
        "이름",
    ] {
        assert_eq!(name_stem(k.as_bytes()), windows(k.as_bytes()), "{k}");
    }
}

/// A token never lands inside a percent escape: a match that starts in an
/// escape's hex digits (`%BD::1`, `%BD%40…`) starts after them, and one
/// that ends in them takes the escape whole (fuzzing found `%EF%BF%[ip]`).
#[test]
fn tokens_leave_percent_escapes_whole() {
    let s = Scanner::default();
    for text in [
        "p%EF%BF%BD%EF%BF%BD::1",
        "x%EF%BF%BD%40example.com",
        "%20jane@example.com",
        "a%BD::1%20b",
        "call%20%2B44%2020%207946%200958",
    ] {
        let out = s.redact(text, |_| {});
        let b = out.as_bytes();
        for (i, _) in out.match_indices('%') {
            let escape = b.get(i + 1..i + 3);
            assert!(
                escape.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
                "{text} became {out}"
            );
        }
    }
    assert_eq!(s.redact("%20jane@example.com", |_| {}), "%20[email]");
}
