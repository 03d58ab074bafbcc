//! Compiled rules and the actions they run on an event's JSON tree.
//!
//! A rule is a selector list and an action; rules run in order, global ones
//! first, then the destination's own; a destination's `allow` list runs last
//! and removes everything it does not name (minimization by default). Rules
//! are compiled when the config loads; nothing here can fail at run time
//! except on values of an unexpected type, which are left as they are (or,
//! for `drop` and `allow`, removed).

use super::pii::{Detector, Scanner};
use super::selector::{PathStep, Selector};
use crate::crypto::Keyring;
use serde_json::Value;
use std::net::IpAddr;

/// How `hash` prepares a value before hashing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Email if it looks like one, phone if it looks like one, else as is.
    #[default]
    Auto,
    /// Trim and lowercase.
    Email,
    /// Digits with a leading `+` kept (E.164 when the client sent it).
    Phone,
    /// As is.
    None,
}

/// What a rule does.
#[derive(Clone, Debug)]
pub enum Action {
    /// Remove the value.
    Drop,
    /// Replace by `<key id>:<base64url(HMAC-SHA256)>`.
    Hash(Normalize),
    /// Replace PII in strings by typed tokens.
    RedactPii(Scanner),
    /// Zero the host part of IP addresses.
    TruncateIp {
        /// IPv4 prefix kept.
        v4: u8,
        /// IPv6 prefix kept.
        v6: u8,
    },
    /// Clean URLs: query allowlist, no userinfo or fragment, PII in the path redacted.
    ScrubUrl {
        /// Query parameters kept (globs with `*`).
        keep: Vec<String>,
        /// Detectors run on the path and the kept values.
        scanner: Scanner,
    },
}

impl Action {
    /// The config name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Hash(_) => "hash",
            Action::RedactPii(_) => "redact_pii",
            Action::TruncateIp { .. } => "truncate_ip",
            Action::ScrubUrl { .. } => "scrub_url",
        }
    }
}

/// One compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its name, or its position (`rules[0]`): a metric label and the id
    /// `explain` reports.
    pub id: String,
    /// The selectors as written.
    pub select: Vec<String>,
    /// The compiled selectors.
    pub selectors: Vec<Selector>,
    /// What it does.
    pub action: Action,
}

/// What applying rules did, for metrics and `explain`.
pub trait Observer {
    /// `rule` changed `count` values.
    fn applied(&mut self, rule: &Rule, count: usize);
    /// A detector replaced one match.
    fn redacted(&mut self, detector: Detector);
}

/// Applies `rules` in order, then `allow` if given.
pub fn apply(
    rules: &[Rule],
    allow: Option<&[Selector]>,
    event: &mut Value,
    keys: &Keyring,
    observer: &mut dyn Observer,
) {
    for rule in rules {
        let mut count = 0;
        for selector in &rule.selectors {
            count += run(&rule.action, selector, event, keys, observer);
        }
        if count > 0 {
            observer.applied(rule, count);
        }
    }
    if let Some(allow) = allow {
        let mut path = Vec::new();
        retain(event, allow, &mut path);
    }
}

fn run(
    action: &Action,
    selector: &Selector,
    event: &mut Value,
    keys: &Keyring,
    observer: &mut dyn Observer,
) -> usize {
    if let Action::Drop = action {
        return selector.remove(event);
    }
    let mut count = 0;
    selector.for_each_mut(event, &mut |value| {
        if transform(action, value, keys, observer) {
            count += 1;
        }
    });
    count
}

/// Applies a value action to `value` and every string below it. Returns
/// whether anything changed.
fn transform(
    action: &Action,
    value: &mut Value,
    keys: &Keyring,
    observer: &mut dyn Observer,
) -> bool {
    match value {
        Value::Object(o) => o
            .values_mut()
            .fold(false, |c, v| transform(action, v, keys, observer) | c),
        Value::Array(a) => a
            .iter_mut()
            .fold(false, |c, v| transform(action, v, keys, observer) | c),
        Value::Null | Value::Bool(_) => false,
        Value::Number(n) => match action {
            Action::Hash(_) => {
                let key = keys
                    .active_hmac()
                    .expect("validated: hash rules need a key");
                *value = Value::String(key.hash(n.to_string().as_bytes()));
                true
            }
            _ => false,
        },
        Value::String(s) => match string_action(action, s, keys, observer) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        },
    }
}

fn string_action(
    action: &Action,
    s: &str,
    keys: &Keyring,
    observer: &mut dyn Observer,
) -> Option<String> {
    match action {
        Action::Drop => None,
        Action::Hash(normalize) => {
            let key = keys
                .active_hmac()
                .expect("validated: hash rules need a key");
            Some(key.hash(normalized(*normalize, s).as_bytes()))
        }
        Action::RedactPii(scanner) => match scanner.redact(s, |d| observer.redacted(d)) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(new) => Some(new),
        },
        Action::TruncateIp { v4, v6 } => truncate_ip(s, *v4, *v6),
        Action::ScrubUrl { keep, scanner } => scrub_url(s, keep, scanner, observer),
    }
}

/// The text `hash` hashes.
pub fn normalized(mode: Normalize, s: &str) -> String {
    let looks_like_phone = |s: &str| {
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        (7..=15).contains(&digits)
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b" +-.()".contains(&b))
    };
    match mode {
        Normalize::Email => s.trim().to_lowercase(),
        Normalize::Phone => {
            let plus = s.trim_start().starts_with('+');
            let digits: String = s.chars().filter(char::is_ascii_digit).collect();
            if plus {
                format!("+{digits}")
            } else {
                digits
            }
        }
        Normalize::Auto if s.contains('@') => normalized(Normalize::Email, s),
        Normalize::Auto if looks_like_phone(s) => normalized(Normalize::Phone, s),
        Normalize::Auto | Normalize::None => s.to_owned(),
    }
}

/// `203.0.113.7` → `203.0.113.0` (/24), `2001:db8:1:2::5` → `2001:db8:1::` (/48).
pub fn truncate_ip(s: &str, v4: u8, v6: u8) -> Option<String> {
    let ip: IpAddr = s.trim().parse().ok()?;
    let truncated = match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = if v4 == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(v4.min(32)))
            };
            IpAddr::from(std::net::Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = if v6 == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(v6.min(128)))
            };
            IpAddr::from(std::net::Ipv6Addr::from(bits & mask))
        }
    };
    let text = truncated.to_string();
    (text != s).then_some(text)
}

/// Whether `name` matches a glob with `*` wildcards.
pub fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| {
                    let rest = &name[head.len() + i..];
                    name.is_char_boundary(head.len() + i) && glob(tail, rest)
                })
        }
    }
}

/// Removes userinfo and fragment, keeps only allowlisted query parameters
/// (PII in their values redacted), and redacts PII in the decoded path.
/// Strings that are not absolute URLs are scanned as text.
pub fn scrub_url(
    s: &str,
    keep: &[String],
    scanner: &Scanner,
    observer: &mut dyn Observer,
) -> Option<String> {
    let Ok(mut url) = url::Url::parse(s) else {
        return match scanner.redact(s, |d| observer.redacted(d)) {
            std::borrow::Cow::Owned(new) => Some(new),
            std::borrow::Cow::Borrowed(_) => None,
        };
    };
    if url.cannot_be_a_base() {
        return match scanner.redact(s, |d| observer.redacted(d)) {
            std::borrow::Cow::Owned(new) => Some(new),
            std::borrow::Cow::Borrowed(_) => None,
        };
    }
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    // The path: decode each segment, redact, re-encode.
    let segments: Option<Vec<String>> = url.path_segments().map(|segs| {
        segs.map(|seg| {
            let decoded = percent_decode(seg);
            match scanner.redact(&decoded, |d| observer.redacted(d)) {
                std::borrow::Cow::Owned(new) => new,
                std::borrow::Cow::Borrowed(_) => decoded.clone(),
            }
        })
        .collect()
    });
    if let Some(segments) = segments {
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear();
            path.extend(segments.iter());
        }
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| keep.iter().any(|p| glob(p, k)))
        .map(|(k, v)| {
            let v = scanner.redact(&v, |d| observer.redacted(d)).into_owned();
            (k.into_owned(), v)
        })
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let out: String = url.into();
    (out != s).then_some(out)
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Keeps only what `allow` names (and the objects and arrays leading to it).
/// Returns whether anything is left of `value`.
fn retain(value: &mut Value, allow: &[Selector], path: &mut Vec<PathStep>) -> bool {
    if !path.is_empty() && allow.iter().any(|s| s.matches(path)) {
        return true;
    }
    match value {
        Value::Object(o) => {
            o.retain(|key, child| {
                path.push(PathStep::Key(key.clone()));
                let keep = retain(child, allow, path);
                path.pop();
                keep
            });
            !o.is_empty() || path.is_empty()
        }
        Value::Array(a) => {
            let mut index = 0;
            a.retain_mut(|item| {
                path.push(PathStep::Index(index));
                let keep = retain(item, allow, path);
                path.pop();
                index += 1;
                keep
            });
            !a.is_empty()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{HmacKey, Keyring};
    use serde_json::json;

    #[derive(Default)]
    struct Seen {
        applied: Vec<(String, usize)>,
        redacted: Vec<Detector>,
    }

    impl Observer for Seen {
        fn applied(&mut self, rule: &Rule, count: usize) {
            self.applied.push((rule.id.clone(), count));
        }
        fn redacted(&mut self, detector: Detector) {
            self.redacted.push(detector);
        }
    }

    fn keys() -> Keyring {
        let h = HmacKey::from_text("h1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8").unwrap();
        Keyring::new(vec![h], Some(0), Vec::new(), None)
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

    fn event() -> Value {
        json!({
            "type": "track",
            "userId": "user-123",
            "anonymousId": "693b70a7-0fe1-459d-befa-f4de10524765",
            "properties": {"email": " Buyer@Example.com", "note": "call +44 20 7946 0958", "revenue": 42.5},
            "context": {
                "ip": "203.0.113.7",
                "page": {"url": "https://u:p@shop.example.com/users/jane%40example.com/cart?utm_source=x&email=jane%40example.com&gclid=abc#top"},
                "traits": {"email": "jane.doe@example.com"}
            }
        })
    }

    #[test]
    fn hash_is_keyed_normalized_and_stable() {
        let keys = keys();
        let mut v = event();
        let mut seen = Seen::default();
        let rules = [rule(
            "ids",
            &["@user_id", "@email"],
            Action::Hash(Normalize::Auto),
        )];
        apply(&rules, None, &mut v, &keys, &mut seen);
        let h = keys.active_hmac().unwrap();
        assert_eq!(v["userId"], h.hash(b"user-123"));
        // Email normalization: trimmed and lowercased before hashing.
        assert_eq!(v["properties"]["email"], h.hash(b"buyer@example.com"));
        assert_eq!(
            v["context"]["traits"]["email"],
            h.hash(b"jane.doe@example.com")
        );
        assert_eq!(seen.applied, [("ids".to_owned(), 3)]);
        assert_eq!(
            normalized(Normalize::Phone, "+44 20 7946-0958"),
            "+442079460958"
        );
        assert_eq!(normalized(Normalize::Auto, "(555) 010-0100"), "5550100100");
        assert_eq!(normalized(Normalize::Auto, "Order-7"), "Order-7");
    }

    #[test]
    fn redact_truncate_drop_and_scrub() {
        let keys = keys();
        let mut v = event();
        let mut seen = Seen::default();
        let rules = [
            rule("ip", &["@ip"], Action::TruncateIp { v4: 24, v6: 48 }),
            rule(
                "urls",
                &["@url"],
                Action::ScrubUrl {
                    keep: vec!["utm_*".into(), "gclid".into()],
                    scanner: Scanner::default(),
                },
            ),
            rule("pii", &["**"], Action::RedactPii(Scanner::default())),
            rule("anon", &["anonymousId"], Action::Drop),
        ];
        apply(&rules, None, &mut v, &keys, &mut seen);
        assert_eq!(v["context"]["ip"], "203.0.113.0");
        assert_eq!(
            v["context"]["page"]["url"],
            "https://shop.example.com/users/[email]/cart?utm_source=x&gclid=abc"
        );
        assert_eq!(v["properties"]["note"], "call [phone]");
        assert_eq!(v["properties"]["email"], " [email]");
        assert_eq!(v["properties"]["revenue"], 42.5);
        assert!(v.get("anonymousId").is_none());
        assert!(
            seen.redacted.contains(&Detector::Email) && seen.redacted.contains(&Detector::Phone)
        );
    }

    #[test]
    fn allow_keeps_only_what_it_names() {
        let allow: Vec<Selector> = ["type", "properties.revenue", "context.page.*"]
            .iter()
            .flat_map(|s| Selector::parse(s).unwrap())
            .collect();
        let mut v = event();
        apply(&[], Some(&allow), &mut v, &keys(), &mut Seen::default());
        assert_eq!(
            v,
            json!({"type": "track", "properties": {"revenue": 42.5}, "context": {"page": {"url": event()["context"]["page"]["url"]}}})
        );
        let mut empty = event();
        apply(&[], Some(&[]), &mut empty, &keys(), &mut Seen::default());
        assert_eq!(empty, json!({}));
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
    fn globs() {
        assert!(glob("utm_*", "utm_source"));
        assert!(glob("*", "anything"));
        assert!(glob("a*c", "abc") && glob("a*c", "ac") && !glob("a*c", "ab"));
        assert!(!glob("gclid", "gclid2"));
    }
}
