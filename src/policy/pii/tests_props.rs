//! Properties over generated values: every valid value of every type is
//! redacted wherever it sits (free text, a query, a form body, JSON, JSON
//! inside a string) and however it is written (as is, percent-encoded,
//! form-encoded, JSON-escaped); every generated look-alike next to the
//! context that refutes it is left exactly as it was.

use super::numbers::luhn;
use super::*;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use phonenumber::metadata::DATABASE;
use proptest::prelude::*;

fn redact(text: &str) -> String {
    Scanner::default().redact(text, |_| {}).into_owned()
}

/// What `encodeURIComponent` leaves as it is.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// How a value is written.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    Plain,
    Percent,
    Form,
    Json,
}

fn encode(value: &str, e: Encoding) -> String {
    match e {
        Encoding::Plain => value.to_owned(),
        Encoding::Percent => utf8_percent_encode(value, COMPONENT).to_string(),
        Encoding::Form => form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        Encoding::Json => {
            let mut out = String::new();
            for c in value.chars() {
                if c.is_ascii() && !matches!(c, '@' | '+') {
                    out.push(c);
                } else {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04x}"));
                    }
                }
            }
            out
        }
    }
}

/// Where a value sits: the line, given the value as written and its key.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// `… {value} …` (plain and JSON-escaped only).
    Text,
    /// `https://…?{key}={value}&…`
    Query,
    /// `a=1&{key}={value}`
    Form,
    /// `{"{key}":"{value}"}`
    Json,
    /// A JSON text inside a JSON string: `{\"{key}\":\"{value}\"}`.
    EscapedJson,
    /// A label in text or YAML: `{key}: {value}` on a line of its own.
    Label,
    /// A Ruby hash in a Rails log line: `{"{key}"=>"{value}"}`.
    Arrow,
}

fn place(p: Place, key: &str, written: &str) -> String {
    match p {
        Place::Text => format!("Please note: {written} — thanks!"),
        Place::Query => format!("https://shop.example.com/p?x=1&{key}={written}&utm_source=mail"),
        Place::Form => format!("step=2&{key}={written}&accept=1"),
        Place::Json => format!("{{\"event\":\"x\",\"{key}\":\"{written}\",\"n\":1}}"),
        Place::EscapedJson => format!("{{\\\"{key}\\\":\\\"{written}\\\"}}"),
        Place::Label => format!("Contact form\n{key}: {written}\nMessage: hi"),
        Place::Arrow => format!("Parameters: {{\"{key}\"=>\"{written}\", \"plan\"=>\"pro\"}}"),
    }
}

/// Places and encodings that go together (text is not percent-encoded;
/// a query is not JSON-escaped).
fn written() -> impl Strategy<Value = (Place, Encoding)> {
    use Encoding as E;
    use Place as P;
    prop::sample::select(vec![
        (P::Text, E::Plain),
        (P::Query, E::Plain),
        (P::Query, E::Percent),
        (P::Form, E::Form),
        (P::Form, E::Percent),
        (P::Json, E::Plain),
        (P::Json, E::Json),
        (P::EscapedJson, E::Plain),
        (P::EscapedJson, E::Json),
        (P::Label, E::Plain),
        (P::Arrow, E::Plain),
    ])
}

fn email() -> impl Strategy<Value = String> {
    let local = prop_oneof![
        "[a-z][a-z0-9._+-]{0,10}[a-z0-9]".prop_filter("no double dots", |l| !l.contains("..")),
        prop::sample::select(vec!["jürgen", "maría.josé", "用户", "наталья", "o'brien"])
            .prop_map(str::to_owned),
    ];
    let domain = prop_oneof![
        ("[a-z][a-z0-9-]{0,8}[a-z0-9]", "(com|org|net|de|io|co\\.uk)")
            .prop_map(|(d, t)| format!("{d}.{t}")),
        prop::sample::select(vec![
            "bücher.de",
            "例子.中国",
            "xn--bcher-kva.de",
            "пример.рф",
        ])
        .prop_map(str::to_owned),
    ];
    (local, domain).prop_map(|(l, d)| format!("{l}@{d}"))
}

/// A valid number of one of the default regions (its example numbers,
/// the last two digits changed), written internationally or nationally.
fn phone() -> impl Strategy<Value = String> {
    let examples: Vec<(u16, String, Option<String>)> = DEFAULT_REGIONS
        .iter()
        .filter_map(|r| DATABASE.by_id(*r))
        .flat_map(|m| {
            let d = m.descriptors();
            [d.mobile(), d.fixed_line()]
                .into_iter()
                .flatten()
                .filter_map(|x| x.example().map(str::to_owned))
                .map(|e| (m.country_code(), e, m.national_prefix().map(str::to_owned)))
                .collect::<Vec<_>>()
        })
        .collect();
    (prop::sample::select(examples), 0u8..100, 0usize..6).prop_map(|((cc, nsn, np), tail, form)| {
        let mut nsn = nsn;
        nsn.truncate(nsn.len() - 2);
        nsn.push_str(&format!("{tail:02}"));
        let (head, rest) = nsn.split_at(nsn.len().min(3));
        match form {
            0 => format!("+{cc} {nsn}"),
            1 => format!("+{cc}{nsn}"),
            2 => format!("+{cc} {head} {rest}"),
            3 => format!("00{cc} {nsn}"),
            4 => format!("+{cc}-{head}-{rest}"),
            // National, with the trunk prefix, in two groups.
            _ => match np {
                Some(np) => format!("{np}{head} {rest}"),
                None => format!("+{cc} {nsn}"),
            },
        }
    })
}

fn card() -> impl Strategy<Value = String> {
    let prefix = prop::sample::select(vec![
        ("4", 16),
        ("51", 16),
        ("2221", 16),
        ("37", 15),
        ("6011", 16),
    ]);
    (
        prefix,
        prop::collection::vec(0u8..10, 15),
        prop::sample::select(vec![" ", "-", ""]),
    )
        .prop_map(|((p, len), digits, sep)| {
            let mut d: Vec<u8> = p.bytes().map(|b| b - b'0').collect();
            d.extend(&digits[..len - 1 - d.len()]);
            let check = (0..10).find(|c| {
                let mut x = d.clone();
                x.push(*c);
                luhn(&x)
            });
            d.push(check.unwrap());
            let s: String = d.iter().map(|x| char::from(b'0' + x)).collect();
            let groups: Vec<&str> = if len == 15 {
                vec![&s[..4], &s[4..10], &s[10..]]
            } else {
                (0..len / 4).map(|k| &s[4 * k..4 * k + 4]).collect()
            };
            groups.join(sep)
        })
}

/// An IBAN of a country with an all-digit BBAN, check digits computed,
/// written electronically, in groups, lower case or with dashes.
fn iban() -> impl Strategy<Value = String> {
    let country = prop::sample::select(vec![
        ("DE", 18),
        ("ES", 20),
        ("PL", 24),
        ("BE", 12),
        ("AT", 16),
    ]);
    (country, prop::collection::vec(0u8..10, 24), 0usize..4).prop_map(
        |((cc, len), digits, form)| {
            let bban: String = digits[..len].iter().map(|d| char::from(b'0' + d)).collect();
            let rearranged: String = format!("{bban}{cc}00")
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        c.to_string()
                    } else {
                        (c as u32 - 'A' as u32 + 10).to_string()
                    }
                })
                .collect();
            let rem = rearranged
                .bytes()
                .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
            let iban = format!("{cc}{:02}{bban}", 98 - rem);
            let grouped = |sep: &str| {
                iban.as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(sep)
            };
            match form {
                0 => iban.clone(),
                1 => grouped(" "),
                2 => grouped(" ").to_lowercase(),
                _ => grouped("-"),
            }
        },
    )
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
            .prop_filter("not loopback", |o| o.0 != 127)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (0x2001u16..0x2a10, any::<[u16; 3]>(), 2u16..).prop_map(|(a, m, z)| {
            std::net::Ipv6Addr::new(a, m[0], m[1], m[2], 0, 0, 1, z).to_string()
        }),
    ]
}

/// A valid SSN, dashed.
fn ssn() -> impl Strategy<Value = String> {
    (1u16..900, 1u8..100, 1u16..10000)
        .prop_filter("not 666", |(a, _, _)| *a != 666)
        .prop_map(|(a, g, s)| format!("{a:03}-{g:02}-{s:04}"))
}

fn name() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[A-Z][a-z]{2,9}",
        prop::sample::select(vec![
            "José",
            "Müller-Lüdenscheidt",
            "O'Brien",
            "Sōta",
            "刘军",
            "Наталья"
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(word, 1..4).prop_map(|w| w.join(" "))
}

fn name_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "first_name",
        "lastName",
        "FullName",
        "surname",
        "given-name",
        "customer[name]",
        "billing[last_name]",
        "cardholder",
        "account_holder",
    ])
}

/// A value of each type, with a key it may sit under.
fn pii() -> impl Strategy<Value = (String, &'static str)> {
    prop_oneof![
        email().prop_map(|v| (v, "email")),
        phone().prop_map(|v| (v, "phone")),
        card().prop_map(|v| (v, "card_number")),
        iban().prop_map(|v| (v, "iban")),
        ip().prop_map(|v| (v, "ip")),
        ssn().prop_map(|v| (v, "ssn")),
        (name(), name_key()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// A valid value survives in no place and no encoding: neither as
    /// written nor decoded.
    #[test]
    fn generated_pii_survives_in_no_encoding(
        (value, key) in pii(),
        (where_, encoding) in written(),
    ) {
        // A name is a name under its key only, never in free text.
        let where_ = match (key, where_) {
            (k, Place::Text) if !matches!(k, "email" | "phone" | "card_number" | "iban" | "ip" | "ssn") => Place::Query,
            // A label is a word or words: no brackets.
            (k, Place::Label) if k.contains('[') => Place::Query,
            (_, p) => p,
        };
        let written = encode(&value, encoding);
        let line = place(where_, key, &written);
        let out = redact(&line);
        // A generated name can be a piece of the words around it ("Nam"
        // of the key "lastName", "Con" of "Contact form"): it survives if
        // it is there more often than in the line without it.
        let around = place(where_, key, "");
        let survives = |v: &str| out.matches(v).count() > around.matches(v).count();
        prop_assert!(!survives(&written), "{line:?} -> {out:?}");
        prop_assert!(!survives(&value), "{line:?} -> {out:?}");
    }
}

/// A dotted quad, a phone-shaped number, a long digit run.
fn quad() -> impl Strategy<Value = String> {
    (1u8..=254, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn phone_shaped() -> impl Strategy<Value = String> {
    phone().prop_map(|p| {
        // National-looking: the digits regrouped, no `+`.
        let d: String = p.chars().filter(char::is_ascii_digit).collect();
        let d = &d[..d.len().min(11)];
        let (a, b) = d.split_at(3);
        format!("{a}-{b}")
    })
}

fn look_alike() -> impl Strategy<Value = String> {
    prop_oneof![
        quad().prop_map(|q| format!("version={q}")),
        quad().prop_map(|q| format!("build {q} released")),
        quad().prop_map(|q| format!("Mozilla/5.0 (X11) Chrome/{q} Safari/537.36")),
        quad().prop_map(|q| format!("see Section {q} of the terms")),
        quad().prop_map(|q| format!("OID: {q}")),
        (quad(), "[A-Z][a-z]{3,8}")
            .prop_map(|(q, app)| format!("\"{app}/{q} (iPhone; iOS 17.2)\"")),
        phone_shaped().prop_map(|p| format!("part_no={p}")),
        phone_shaped().prop_map(|p| format!("model no. {p}")),
        phone_shaped().prop_map(|p| format!("serial number: {p}")),
        phone_shaped().prop_map(|p| format!("{{\"order_id\":\"{p}\"}}")),
        "[0-9]{9,12}".prop_map(|n| format!("order number {n}")),
        "[0-9]{10,12}".prop_map(|n| format!("tracking {n}")),
        (
            "[a-z][a-z-]{2,10}",
            2u8..5,
            prop::sample::select(vec!["png", "jpg", "svg", "webp"])
        )
            .prop_map(|(n, k, e)| format!("/img/{n}@{k}x.{e}")),
        ("[a-z][a-z0-9.-]{1,12}", 1u8..20, 0u8..20, 0u8..30)
            .prop_map(|(p, a, b, c)| format!("{p}@{a}.{b}.{c}")),
        (200u16..600, 1000u32..99999)
            .prop_map(|(s, n)| format!("\"GET / HTTP/1.1\" {s} {n} \"-\"")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Next to the context that refutes it, a look-alike is not changed.
    #[test]
    fn generated_look_alikes_in_refuting_context_are_kept(text in look_alike()) {
        prop_assert_eq!(redact(&text), text);
    }
}

/// Text with no digit and no `@`: words, name keys, colons, `=`, quotes,
/// escapes of non-ASCII bytes, hex-letter groups.
fn digit_free() -> impl Strategy<Value = String> {
    let part = prop::sample::select(vec![
        "a",
        "dead",
        "beef",
        "Fe",
        "name",
        "Nombre",
        "HOLDER",
        "surname",
        "login",
        "utm_source",
        "title",
        ":",
        "::",
        "=",
        "&",
        "?",
        "\"",
        "{",
        "}",
        "[",
        "]",
        ",",
        " ",
        "+",
        "(",
        ")",
        "-",
        "%",
        "%EF%BF",
        "%EF",
        "\\",
        "\\\"",
        "\\uABCD",
        "é",
        "ü",
        "surname=",
        "\"lastName\":\"",
        "Jane",
        "First name: ",
        "=>",
        " => ",
        "'",
        "'surname'",
        "up.",
    ]);
    prop::collection::vec(part, 0..16).prop_map(|p| p.concat())
}

proptest! {
    /// `matches` skips text with no digit and no `@` unless a name key's
    /// stem or two colons are in it: the full scan finds nothing in what
    /// it skips, under any key.
    #[test]
    fn skipped_digit_free_text_holds_no_match(
        text in digit_free(),
        key in prop::sample::select(vec![None, Some("name"), Some("title"), Some("firstName")]),
    ) {
        let sc = Scanner::default();
        let t = text.as_bytes();
        prop_assume!(!t.iter().any(|&b| b.is_ascii_digit() || b == b'@'));
        if !sc.names_or_letter_ipv6(t) {
            let field = Field::new(key, Some("traits"));
            prop_assert_eq!(sc.find_in(t, &field), Vec::new());
        }
    }
}
