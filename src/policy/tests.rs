use super::pii::Scanner;
use super::rules::{Action, Normalize, Rule};
use super::*;
use crate::crypto::{EncryptionKey, HmacKey, Keyring};
use serde_json::{json, Value};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn keys() -> Keyring {
    let h = HmacKey::from_text("h1", KEY).unwrap();
    let e = EncryptionKey::from_text("e1", KEY).unwrap();
    Keyring::new(vec![h], Some(0), vec![e], Some(0))
}

fn rule(id: &str, select: &[&str], action: Action) -> Rule {
    Rule {
        id: id.into(),
        select: select.iter().map(|s| s.to_string()).collect(),
        selectors: select
            .iter()
            .flat_map(|s| Selector::parse(s).unwrap())
            .collect(),
        action,
    }
}

fn allow(list: &[&str]) -> Option<Vec<Selector>> {
    Some(
        list.iter()
            .flat_map(|s| Selector::parse(s).unwrap())
            .collect(),
    )
}

fn pol(rules: Vec<Rule>, allow: Option<Vec<Selector>>) -> Policy {
    Policy::new(rules, allow).unwrap()
}

fn hash() -> Action {
    Action::Hash {
        normalize: Normalize::Auto,
        region: None,
    }
}

fn run(policy: &Policy, event: &Value) -> (Value, Report) {
    let (out, report) = policy
        .apply(event.to_string().as_bytes(), &keys(), None)
        .unwrap();
    (serde_json::from_slice(&out).unwrap(), report)
}

fn event() -> Value {
    json!({
        "type": "track",
        "userId": "user-123",
        "anonymousId": "693b70a7-0fe1-459d-befa-f4de10524765",
        "properties": {"email": " Buyer@Example.com", "note": "call +44 20 7946 0958", "revenue": 42.5, "items": [{"sku": "s1", "qty": 2}, {"sku": "s2", "qty": 1}]},
        "context": {
            "ip": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "page": {"url": "https://u:p@shop.example.com/users/jane%40example.com/cart?utm_source=x&email=jane%40example.com&gclid=abc#top"},
            "traits": {"email": "jane.doe@example.com", "phone": 4155550100u64}
        }
    })
}

#[test]
fn hash_is_keyed_normalized_and_seals() {
    let keys = keys();
    let h = keys.active_hmac().unwrap();
    let policy = pol(
        vec![
            rule(
                "ids",
                &["@user_id", "@email", "context.traits.phone"],
                hash(),
            ),
            rule("pii", &["**"], Action::RedactPii(Scanner::default())),
        ],
        None,
    );
    let (v, report) = run(&policy, &event());
    assert_eq!(v["userId"], h.hash(b"user-123"));
    // Email normalization: trimmed and lowercased before hashing.
    assert_eq!(v["properties"]["email"], h.hash(b"buyer@example.com"));
    assert_eq!(
        v["context"]["traits"]["email"],
        h.hash(b"jane.doe@example.com")
    );
    // Numbers hash by their JSON text, and become strings.
    assert_eq!(v["context"]["traits"]["phone"], h.hash(b"4155550100"));
    // Hashes are sealed: redact_pii ran after but left them alone.
    assert_eq!(
        report.applied,
        [4, 3],
        "4 hashes; note, URL and IP redacted"
    );
    assert_eq!(v["properties"]["note"], "call [phone]");
}

#[test]
fn each_action_in_context() {
    let policy = pol(
        vec![
            rule("ip", &["@ip"], Action::TruncateIp { v4: 24, v6: 48 }),
            rule(
                "urls",
                &["@url"],
                Action::ScrubUrl {
                    keep: vec![rules::Glob::new("utm_*"), rules::Glob::new("gclid")],
                    scanner: Scanner::default(),
                },
            ),
            rule(
                "ua",
                &["@user_agent"],
                Action::GeneralizeUa(Default::default()),
            ),
            rule("pii", &["**"], Action::RedactPii(Scanner::default())),
            rule(
                "anon",
                &["anonymousId", "properties.items[*].qty"],
                Action::Drop,
            ),
        ],
        None,
    );
    let (v, report) = run(&policy, &event());
    assert_eq!(v["context"]["ip"], "203.0.113.0");
    assert_eq!(
        v["context"]["page"]["url"],
        "https://shop.example.com/users/[email]/cart?utm_source=x&gclid=abc"
    );
    assert_eq!(v["context"]["userAgent"], "Chrome 120 (Linux)");
    assert_eq!(v["properties"]["note"], "call [phone]");
    assert_eq!(v["properties"]["email"], " [email]");
    assert_eq!(v["properties"]["revenue"], 42.5);
    assert_eq!(
        v["properties"]["items"],
        json!([{"sku": "s1"}, {"sku": "s2"}])
    );
    assert!(v.get("anonymousId").is_none());
    // A phone number sent as a JSON number is a phone number too.
    assert_eq!(v["context"]["traits"]["phone"], "[phone]");
    assert_eq!(report.applied, [1, 1, 1, 4, 3]);
    let count = |d: pii::Detector| report.redacted[d as usize];
    assert_eq!(
        (count(pii::Detector::Email), count(pii::Detector::Phone)),
        (3, 2)
    );
}

#[test]
fn allow_keeps_only_what_it_names() {
    let policy = pol(
        Vec::new(),
        allow(&[
            "type",
            "properties.revenue",
            "properties.items[*].sku",
            "context.page.*",
        ]),
    );
    let (v, _) = run(&policy, &event());
    assert_eq!(
        v,
        json!({"type": "track", "properties": {"revenue": 42.5, "items": [{"sku": "s1"}, {"sku": "s2"}]}, "context": {"page": {"url": event()["context"]["page"]["url"]}}})
    );
    // An empty allow list keeps nothing; emptied containers go.
    let (v, _) = run(&pol(Vec::new(), allow(&[])), &event());
    assert_eq!(v, json!({}));
    let (v, _) = run(&pol(Vec::new(), allow(&["properties.nothing"])), &event());
    assert_eq!(v, json!({}));
    // A kept container is kept whole, even when empty.
    let (v, _) = run(&pol(Vec::new(), allow(&["a"])), &json!({"a": {}, "b": []}));
    assert_eq!(v, json!({"a": {}}));
}

#[test]
fn removals_take_their_separators_whatever_the_whitespace() {
    let input = br#" { "a" : 1 , "b" : [ 1 , 2 , 3 ] , "c" : { "d" : 1 } , "e" : "x" } "#;
    let drop = |selectors: &[&str]| {
        let policy = pol(vec![rule("d", selectors, Action::Drop)], None);
        let (out, _) = policy.apply(input, &keys(), None).unwrap();
        let text = String::from_utf8(out).unwrap();
        (serde_json::from_str::<Value>(&text).unwrap(), text)
    };
    let (v, text) = drop(&["a", "b[0]", "c.d"]);
    assert_eq!(v, json!({"b": [2, 3], "c": {}, "e": "x"}), "{text}");
    // Unchanged input is copied as written, spaces and all.
    assert!(text.contains(r#""e" : "x""#), "{text}");
    let (v, _) = drop(&["b[1]", "b[2]", "e"]);
    assert_eq!(v, json!({"a": 1, "b": [1], "c": {"d": 1}}));
    let (v, _) = drop(&["a", "b", "c", "e"]);
    assert_eq!(v, json!({}));
    // An allow list: what it does not reach goes, and so do containers
    // left empty.
    let allow = vec![Selector::parse("c.d").unwrap().remove(0)];
    let policy = pol(Vec::new(), Some(allow));
    let (out, _) = policy.apply(input, &keys(), None).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v, json!({"c": {"d": 1}}));
}

#[test]
fn untouched_values_are_copied_byte_for_byte() {
    let input = br#"{"a":{"n":1.50,"big":12345678901234567890123,"s":"caf\u00e9 \"q\""},"b":[1e2, 2],"id":"x"}"#;
    let policy = pol(vec![rule("id", &["id"], Action::Drop)], None);
    let (out, _) = policy.apply(input, &keys(), None).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"a":{"n":1.50,"big":12345678901234567890123,"s":"caf\u00e9 \"q\""},"b":[1e2, 2]}"#
    );
    // Walked strings with escapes are re-escaped correctly.
    let scan = pol(
        vec![rule("pii", &["**"], Action::RedactPii(Scanner::default()))],
        None,
    );
    let (out, _) = scan
        .apply(br#"{"s":"line\nmail a\u0040b.co \"x\""}"#, &keys(), None)
        .unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["s"], "line\nmail [email] \"x\"");
    // Walked values a rule leaves unchanged keep their spelling too.
    let (out, _) = scan
        .apply(
            br#"{"n":[1.50,-0,1E+2,1e400],"s":"caf\u00e9\/x","k\u0065y":true}"#,
            &keys(),
            None,
        )
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"n":[1.50,-0,1E+2,1e400],"s":"caf\u00e9\/x","k\u0065y":true}"#
    );
    // Keys are matched by their value, not their spelling.
    let drop_id = pol(vec![rule("id", &["userId"], Action::Drop)], None);
    let (out, _) = drop_id
        .apply(br#"{"us\u0065rId":"u1","a":1}"#, &keys(), None)
        .unwrap();
    assert_eq!(out, br#"{"a":1}"#);
    // A lone surrogate escape is not copied on to a backend.
    assert!(matches!(
        scan.apply(br#"{"s":"\ud800"}"#, &keys(), None),
        Err(PolicyError::Json(_))
    ));
}

#[test]
fn encrypt_field_seals_the_rendered_value() {
    let keys = keys();
    let policy = pol(
        vec![
            rule("hash", &["context.traits.email"], hash()),
            rule("enc", &["context.traits"], Action::EncryptField),
            rule("pii", &["**"], Action::RedactPii(Scanner::default())),
        ],
        allow(&["context.traits", "userId"]),
    );
    let (v, report) = run(&policy, &event());
    let jwe = v["context"]["traits"].as_str().unwrap();
    let plain = crate::crypto::jwe_decrypt(keys.encryption_keys(), jwe).unwrap();
    let inner: Value = serde_json::from_slice(&plain).unwrap();
    // Rules before encrypt_field ran inside; rules after did not touch the ciphertext.
    let h = keys.active_hmac().unwrap();
    assert_eq!(
        inner,
        json!({"email": h.hash(b"jane.doe@example.com"), "phone": 4155550100u64})
    );
    assert_eq!(report.applied, [1, 1, 0]);
    assert_eq!(v["userId"], "user-123");
    // Not allowed: the ciphertext is not kept either.
    let hidden = pol(
        vec![rule("enc", &["context.traits"], Action::EncryptField)],
        allow(&["userId"]),
    );
    assert_eq!(run(&hidden, &event()).0, json!({"userId": "user-123"}));
}

#[test]
fn root_is_never_dropped_and_must_be_an_object() {
    let drop_all = pol(vec![rule("all", &["**"], Action::Drop)], None);
    assert_eq!(run(&drop_all, &event()).0, json!({}));
    assert!(matches!(
        drop_all.apply(b"[1]", &keys(), None),
        Err(PolicyError::NotAnObject)
    ));
    assert!(matches!(
        drop_all.apply(b"{\"a\":", &keys(), None),
        Err(PolicyError::Json(_))
    ));
    // Walking is depth-bounded (serde_json's limit of 128 levels); a
    // dropped subtree is skipped without recursion.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let walk_all = pol(
        vec![rule("pii", &["**"], Action::RedactPii(Scanner::default()))],
        None,
    );
    assert!(walk_all.apply(deep.as_bytes(), &keys(), None).is_err());
    assert_eq!(
        drop_all.apply(deep.as_bytes(), &keys(), None).unwrap().0,
        b"{}"
    );
}

#[test]
fn trace_names_rule_selector_action_and_path_never_values() {
    let policy = pol(
        vec![
            rule("ip", &["@ip"], Action::TruncateIp { v4: 24, v6: 48 }),
            rule("pii", &["**"], Action::RedactPii(Scanner::default())),
        ],
        None,
    );
    let mut fired = Vec::new();
    policy
        .apply(event().to_string().as_bytes(), &keys(), Some(&mut fired))
        .unwrap();
    let seen: Vec<(usize, &str, &str, &str)> = fired
        .iter()
        .map(|f| (f.rule, f.selector.as_str(), f.action, f.path.as_str()))
        .collect();
    assert!(seen.contains(&(0, "context.ip", "truncate_ip", "context.ip")));
    assert!(seen.contains(&(1, "**", "redact_pii", "properties.note")));
    assert!(seen.contains(&(1, "**", "redact_pii", "context.page.url")));
    let text = format!("{fired:?}");
    assert!(!text.contains("7946") && !text.contains("jane"), "{text}");
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e9f64..1e9).prop_map(|f| json!(f)),
            "\\PC{0,24}".prop_map(Value::String),
            "[a-z]{1,8}@[a-z]{2,8}\\.(com|io|co\\.uk)".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z*.@]{1,6}|\\PC{0,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-z]{1,6}", json(), 0..6)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn selector() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![Just("*".to_owned()), Just("**".to_owned()), "[a-z]{1,3}"],
            1..4,
        )
        .prop_map(|parts| parts.join("."))
    }

    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| leaves(v, out)),
            Value::Object(o) => o.iter().for_each(|(k, v)| {
                out.push(k.clone());
                leaves(v, out)
            }),
            other => out.push(other.to_string()),
        }
    }

    proptest! {
        #[test]
        fn output_is_json_and_no_rules_change_nothing(event in object(), sel in selector()) {
            let text = event.to_string();
            let (out, _) = pol(Vec::new(), None).apply(text.as_bytes(), &keys(), None).unwrap();
            prop_assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), event.clone());
            // A rule that selects nothing present changes nothing either.
            let miss = pol(vec![rule("m", &["zzzzzzz.q"], Action::Drop)], None);
            let (out, _) = miss.apply(text.as_bytes(), &keys(), None).unwrap();
            prop_assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), event.clone());
            // Whatever the selectors, the output is an object and allow never adds.
            for action in [Action::Drop, hash(), Action::RedactPii(Scanner::default()), Action::EncryptField] {
                let p = pol(vec![rule("r", &[sel.as_str()], action)], allow(&[sel.as_str()]));
                let (out, _) = p.apply(text.as_bytes(), &keys(), None).unwrap();
                let v: Value = serde_json::from_slice(&out).unwrap();
                prop_assert!(v.is_object());
                // Only tokens and sealed values are longer than what
                // they replace; dropping never adds.
                if matches!(p.rules()[0].action, Action::Drop) {
                    prop_assert!(out.len() <= text.len());
                }
            }
        }

        #[test]
        fn ordinary_numbers_pass_redaction_as_they_were(
            numbers in prop::collection::vec(
                prop_oneof![
                    (1_000_000_000_000u64..4_000_000_000_000).prop_map(|n| n.to_string()),
                    (1_000_000_000u64..4_000_000_000).prop_map(|n| n.to_string()),
                    any::<i32>().prop_map(|n| n.to_string()),
                    any::<f64>()
                        .prop_filter("finite", |f| f.is_finite())
                        .prop_map(|f| serde_json::Number::from_f64(f).unwrap().to_string()),
                ],
                1..8,
            ),
            names in prop::collection::vec(
                prop_oneof![
                    Just("ts"), Just("sent_at"), Just("$time"), Just("price"),
                    Just("qty"), Just("order_id"), Just("revenue"), Just("offset"),
                ],
                8,
            ),
        ) {
            // Under keys, in arrays, nested: a timestamp is never a
            // phone, a price never a card.
            let members: Vec<String> = numbers
                .iter()
                .zip(&names)
                .enumerate()
                .map(|(i, (n, k))| match i % 3 {
                    0 => format!("\"{k}{i}\":{n}"),
                    1 => format!("\"{k}{i}\":[{n},{n}]"),
                    _ => format!("\"{k}{i}\":{{\"v\":{n}}}"),
                })
                .collect();
            let text = format!("{{{}}}", members.join(","));
            let p = pol(vec![rule("pii", &["**"], Action::RedactPii(Scanner::default()))], None);
            let (out, report) = p.apply(text.as_bytes(), &keys(), None).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), text);
            prop_assert_eq!(report.applied, [0]);
        }

        #[test]
        fn no_email_survives_redaction_anywhere(event in object()) {
            let p = pol(vec![rule("pii", &["**"], Action::RedactPii(Scanner::default()))], None);
            let (out, _) = p.apply(event.to_string().as_bytes(), &keys(), None).unwrap();
            let v: Value = serde_json::from_slice(&out).unwrap();
            let mut strings = Vec::new();
            leaves(&v, &mut strings);
            let email = regex_lite_email();
            for s in strings.iter().filter(|s| !s.is_empty()) {
                // Keys are not values: the policy never rewrites them.
                if event.to_string().contains(&format!("\"{s}\":")) { continue; }
                prop_assert!(!email(s), "{s:?} survived");
            }
        }
    }

    /// The obvious semantics on a tree, rule by rule: where a selector
    /// of a rule matches a value (not the root), `drop` removes it and a
    /// value action changes every string and number below it, except
    /// values an earlier `hash` sealed; then the allow list keeps what
    /// it matches and the containers leading there. Selectors address
    /// the event as sent: a dropped value leaves a tombstone until the
    /// end, so `items[1]` stays the second element sent.
    fn reference(rules: &[Rule], allow: Option<&[Selector]>, event: &Value) -> Value {
        use super::super::pii::Under;
        use super::super::selector::{State, Step};
        /// Every leaf under `v` with the key it sits under (an array's
        /// elements under the array's) and the key of its object.
        fn leaves(v: &mut Value, under: Under<'_>, f: &mut dyn FnMut(&mut Value, Under<'_>)) {
            match v {
                Value::Object(o) => o.iter_mut().for_each(|(k, c)| {
                    let member = Under {
                        key: Some(k),
                        parent: under.key,
                    };
                    leaves(c, member, f)
                }),
                Value::Array(a) => a.iter_mut().for_each(|c| leaves(c, under, f)),
                leaf => f(leaf, under),
            }
        }
        fn apply(
            rule: &Rule,
            v: &mut Value,
            (states, key): (&[State], Under<'_>),
            sealed: &mut Vec<*const Value>,
            root: bool,
        ) {
            let hit = rule
                .selectors
                .iter()
                .zip(states)
                .any(|(s, &st)| s.accepts(st));
            if hit && !root {
                if matches!(rule.action, Action::Drop) {
                    *v = json!(TOMBSTONE);
                    return;
                }
                leaves(v, key, &mut |leaf, key| {
                    if sealed.contains(&(leaf as *const Value)) || *leaf == json!(TOMBSTONE) {
                        return;
                    }
                    let keys = keys();
                    let new = match leaf {
                        Value::String(s) => rule.action.on_str(s, key, &keys, &mut |_| {}),
                        Value::Number(n) => {
                            rule.action
                                .on_number(&n.to_string(), key, &keys, &mut |_| {})
                        }
                        _ => None,
                    };
                    if let Some(new) = new {
                        *leaf = Value::String(new);
                    }
                    if rule.action.seals() {
                        sealed.push(leaf as *const Value);
                    }
                });
                return;
            }
            let step = |st: &[State], k: Step<'_>| -> Vec<State> {
                rule.selectors
                    .iter()
                    .zip(st)
                    .map(|(s, &x)| s.step(x, k))
                    .collect()
            };
            match v {
                Value::Object(o) => {
                    for (k, child) in o.iter_mut() {
                        let at = step(states, Step::Key(k));
                        let member = Under {
                            key: Some(k),
                            parent: key.key,
                        };
                        apply(rule, child, (&at, member), sealed, false);
                    }
                }
                Value::Array(a) => {
                    for (i, child) in a.iter_mut().enumerate() {
                        let at = step(states, Step::Index(i));
                        apply(rule, child, (&at, key), sealed, false);
                    }
                }
                _ => {}
            }
        }
        fn retain(v: &mut Value, allow: &[Selector], states: &[State], root: bool) -> bool {
            // A dropped value is gone, whatever the allow list says.
            if *v == json!(TOMBSTONE) {
                return false;
            }
            if !root && allow.iter().zip(states).any(|(s, &st)| s.accepts(st)) {
                return true;
            }
            let step = |k: Step<'_>| -> Vec<State> {
                allow
                    .iter()
                    .zip(states)
                    .map(|(s, &x)| s.step(x, k))
                    .collect()
            };
            match v {
                Value::Object(o) => {
                    let keys: Vec<String> = o.keys().cloned().collect();
                    for k in keys {
                        if !retain(o.get_mut(&k).unwrap(), allow, &step(Step::Key(&k)), false) {
                            o.remove(&k);
                        }
                    }
                    root || !o.is_empty()
                }
                Value::Array(a) => {
                    let mut kept = Vec::new();
                    for (i, mut item) in std::mem::take(a).into_iter().enumerate() {
                        if retain(&mut item, allow, &step(Step::Index(i)), false) {
                            kept.push(item);
                        }
                    }
                    *a = kept;
                    !a.is_empty()
                }
                _ => false,
            }
        }
        fn bury(v: &mut Value) {
            match v {
                Value::Object(o) => {
                    o.retain(|_, c| *c != json!(TOMBSTONE));
                    o.values_mut().for_each(bury);
                }
                Value::Array(a) => {
                    a.retain(|c| *c != json!(TOMBSTONE));
                    a.iter_mut().for_each(bury);
                }
                _ => {}
            }
        }
        const TOMBSTONE: &str = "\u{0}dropped";
        let mut v = event.clone();
        // Nothing is removed before the end, so addresses of sealed
        // leaves stay valid.
        let mut sealed = Vec::new();
        for rule in rules {
            let start: Vec<State> = rule.selectors.iter().map(|s| s.start()).collect();
            // Root acceptance (`**`): value actions cover everything.
            if !matches!(rule.action, Action::Drop)
                && rule
                    .selectors
                    .iter()
                    .zip(&start)
                    .any(|(s, &st)| s.accepts(st))
            {
                let whole = Rule {
                    selectors: vec![Selector::parse("*").unwrap().remove(0)],
                    ..rule.clone()
                };
                let start: Vec<State> = whole.selectors.iter().map(|s| s.start()).collect();
                apply(
                    &whole,
                    &mut v,
                    (&start, Under::default()),
                    &mut sealed,
                    true,
                );
            } else {
                apply(rule, &mut v, (&start, Under::default()), &mut sealed, true);
            }
        }
        if let Some(allow) = allow {
            let start: Vec<State> = allow.iter().map(|s| s.start()).collect();
            retain(&mut v, allow, &start, true);
        }
        bury(&mut v);
        v
    }

    /// Keys, some of them GA4-like flat ones that prefixes select.
    fn key() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("a"),
            Just("b"),
            Just("ip"),
            Just("email"),
            Just("phone"),
            Just("ep.a"),
            Just("ep.email")
        ]
    }

    fn small_object() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<i32>().prop_map(|n| json!(n)),
            prop_oneof![
                Just(4111111111111111u64),
                Just(4155550100),
                Just(1732400000000)
            ]
            .prop_map(|n| json!(n)),
            prop_oneof![
                Just("x"),
                Just("203.0.113.7"),
                Just("mail a@b.io now"),
                Just("+44 20 7946 0958"),
                Just("")
            ]
            .prop_map(|s| Value::String(s.to_owned())),
        ];
        let value = leaf.prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        });
        prop::collection::btree_map(key(), value, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    }

    fn small_selector() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("*"),
                Just("**"),
                Just("a"),
                Just("b"),
                Just("ip"),
                Just("email"),
                Just("a[0]"),
                Just("b[*]"),
                Just(r#""ep."*"#),
                Just(r#""e"*"#)
            ],
            1..4,
        )
        .prop_map(|parts| parts.join("."))
    }

    fn small_rule() -> impl Strategy<Value = Rule> {
        let action = prop_oneof![
            Just(Action::Drop),
            Just(hash()),
            Just(Action::RedactPii(Scanner::default())),
            Just(Action::TruncateIp { v4: 24, v6: 48 }),
        ];
        (prop::collection::vec(small_selector(), 1..3), action).prop_map(|(sel, action)| {
            let sel: Vec<&str> = sel.iter().map(String::as_str).collect();
            rule("r", &sel, action)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn one_pass_agrees_with_the_tree_reference(
            event in small_object(),
            rules in prop::collection::vec(small_rule(), 1..4),
            allow_list in prop::option::of(prop::collection::vec(small_selector(), 0..3)),
        ) {
            let allow = allow_list.as_ref().map(|l| {
                l.iter().flat_map(|s| Selector::parse(s).unwrap()).collect::<Vec<_>>()
            });
            let want = reference(&rules, allow.as_deref(), &event);
            let (out, _) = pol(rules, allow).apply(event.to_string().as_bytes(), &keys(), None).unwrap();
            let got: Value = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(got, want, "event {}", event);
        }
    }

    proptest! {
        /// Hostile input never panics the walker: arbitrary bytes, and
        /// valid events cut or corrupted at a random byte, give an
        /// error or well-formed JSON, whatever the policy.
        #[test]
        fn arbitrary_and_corrupted_input_is_an_error_not_a_panic(
            noise in prop::collection::vec(any::<u8>(), 0..200),
            event in small_object(),
            cut in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            rules in prop::collection::vec(small_rule(), 0..3),
        ) {
            let p = pol(rules, allow(&["a", "b.**"]));
            let mut text = event.to_string().into_bytes();
            let at = cut.index(text.len());
            let mut corrupted = text.clone();
            corrupted[at] = byte;
            text.truncate(at);
            for input in [&noise, &text, &corrupted] {
                if let Ok((out, _)) = p.apply(input, &keys(), None) {
                    // Well-formed JSON text (a copied number may be
                    // beyond f64, which JSON allows: no `Value` here).
                    let parsed = serde_json::from_slice::<serde::de::IgnoredAny>(&out);
                    prop_assert!(parsed.is_ok(), "{:?}", String::from_utf8_lossy(&out));
                }
            }
        }
    }

    /// The generated emails' shape.
    fn regex_lite_email() -> impl Fn(&str) -> bool {
        |s: &str| {
            s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '@' || c == '.'))
                .any(|w| {
                    w.split_once('@').is_some_and(|(a, d)| {
                        !a.is_empty()
                            && a.bytes().all(|b| b.is_ascii_lowercase())
                            && d.contains('.')
                            && d.len() > 3
                    })
                })
        }
    }
}

/// A `redact_pii` after `truncate_ip` is skipped only where the truncated
/// address is a network (what it would leave alone anyway): truncated to
/// /28, the host part left is an address, and the scan still takes it.
#[test]
fn redaction_after_truncation_skips_only_networks() {
    let policy = |v4| {
        pol(
            vec![
                rule("ip", &["@ip"], Action::TruncateIp { v4, v6: 48 }),
                rule("pii", &["**"], Action::RedactPii(Scanner::default())),
            ],
            None,
        )
    };
    let event = json!({"context": {"ip": "203.0.113.23"}});
    let (out, _) = run(&policy(24), &event);
    assert_eq!(out["context"]["ip"], "203.0.113.0");
    let v6 = json!({"context": {"ip": "2001:db8:85a3::8a2e:370:7334"}});
    assert_eq!(run(&policy(24), &v6).0["context"]["ip"], "2001:db8:85a3::");
    let (out, report) = run(&policy(28), &event);
    assert_eq!(out["context"]["ip"], "[ip]");
    assert_eq!(report.redacted[super::pii::Detector::Ip as usize], 1);
}
