//! Targets for policy: selectors, URL and query scrubbing, PII detection
//! and a whole policy (`selector`, `scrub_url`, `filter_query`, `pii`,
//! `policy`).

use super::{assert_utf8, assert_well_formed, strict};
use crate::config::Config;
use crate::policy::pii::{By, Detector, Scanner, Topic, Under};
use crate::policy::rules::{self, Action, Glob, Rule};
use crate::policy::selector::{Selector, Step};
use crate::policy::Policy;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// `Selector::parse`. What parses prints as text that parses back to the
/// same selector, steps without panicking, and compiles into a policy (or
/// is refused as too complex) that runs over an event it names.
pub fn selector(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(selectors) = Selector::parse(&text) else {
        return;
    };
    assert!(!selectors.is_empty());
    for s in &selectors {
        let shown = s.to_string();
        assert_eq!(Selector::parse(&shown), Ok(vec![s.clone()]), "{shown:?}");
        let mut state = s.start();
        for key in s.literal_keys().chain(["x"]) {
            state = s.step(state, Step::Key(key));
            state = s.step(state, Step::Index(0));
        }
        let _ = s.accepts(state);
    }
    // An event with the first selector's keys, nested, around an email.
    let mut event = Value::from("jane@example.com");
    for key in selectors[0]
        .literal_keys()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        event = Value::Object([(key.to_owned(), event)].into_iter().collect());
    }
    if !event.is_object() {
        event = serde_json::json!({ "x": event });
    }
    let rule = Rule {
        id: "fuzz".into(),
        select: vec![text.into_owned()],
        selectors: selectors.clone(),
        action: Action::RedactPii(Scanner::default()),
    };
    let Ok(policy) = Policy::new(vec![rule], Some(selectors)) else {
        return;
    };
    let keys = crate::crypto::Keyring::new(Vec::new(), None, Vec::new(), None);
    let (out, _) = policy
        .apply(event.to_string().as_bytes(), &keys, None)
        .expect("a policy runs over a valid event");
    assert!(strict(&out).is_some_and(|v| v.is_object()), "output");
}

/// `keep_params` patterns a target's first byte picks from (bit `i`
/// keeps `KEEP[i]`).
const KEEP: [&str; 6] = ["utm_*", "gclid", "*_id", "a*b*c", "*", ""];

/// The kept patterns and the text of a URL target's input.
fn url_input(data: &[u8]) -> Option<(Vec<Glob>, Cow<'_, str>)> {
    let (&pick, rest) = data.split_first()?;
    let keep = KEEP
        .iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, p)| Glob::new(p))
        .collect();
    Some((keep, String::from_utf8_lossy(rest)))
}

/// `rules::scrub_url`. Input: a byte picking kept parameters, then the
/// text. Scrubbing twice changes nothing more than once; a URL (by the
/// `url` crate) stays a URL (unless PII in its host was redacted),
/// without userinfo or fragment, whose query pairs are all kept ones with
/// nothing left to redact in their values; and a `redact_pii` after it,
/// with the same scanner under the same key, changes nothing.
pub fn scrub_url(data: &[u8]) {
    let Some((keep, text)) = url_input(data) else {
        return;
    };
    let scanner = Scanner::default();
    // The key the URL is under: neutral, supporting, naming a person.
    let keys = [None, Some("url"), Some("phone"), Some("ssn"), Some("name")];
    let under = Under {
        key: keys[text.len() % keys.len()],
        parent: Some("traits"),
    };
    let mut redacted = 0;
    let scrubbed = rules::scrub_url(&text, &keep, &scanner, under, &mut |_| redacted += 1);
    assert!(
        scrubbed.is_some() || redacted == 0,
        "redacted but unchanged"
    );
    // A `redact_pii` after it, which the walker skips, would change nothing.
    if let Some(out) = &scrubbed {
        let mut again = String::new();
        assert!(
            !scanner.redact_under(out, under, |_| {}, &mut again),
            "redact_pii would change {out:?} to {again:?}"
        );
    }
    let out = scrubbed.as_deref().unwrap_or(&text);
    let Ok(url) = url::Url::parse(&text) else {
        // Not a URL to the `url` crate: no fragment, and only kept
        // parameters, are left all the same.
        let query = out.split_once('?').map(|(_, q)| q);
        assert!(!out.contains('#'), "fragment kept in {out:?}");
        for pair in query.into_iter().flat_map(|q| q.split('&')) {
            let name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let name = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
            assert!(
                keep.iter().any(|g| g.matches(&name)),
                "kept {name:?} in {out:?}"
            );
        }
        return;
    };
    // PII redacted in the host leaves a token there, which no host holds:
    // then it is a URL no more (and holds no PII).
    if url::Url::parse(out).is_err() {
        assert!(
            Detector::ALL.iter().any(|d| out.contains(d.token())),
            "a scrubbed URL is a URL: {out:?}"
        );
        return;
    }
    // Idempotent in what it keeps (a second pass without detectors: PII
    // remnants are `pii`'s business, below and in that target), up to how
    // the `url` crate writes a URL (`s:/.//x` has a `/.` it drops when the
    // path is rewritten: the same URL), and up to empty query pairs (the
    // parser strips controls at the end, which may leave a last `&`).
    if let Some(again) = rules::scrub_url(out, &keep, &Scanner::new(&[]), under, &mut |_| {}) {
        let read = |text: &str| {
            url::Url::parse(text).ok().map(|u| {
                let pairs: Vec<(String, String)> = u.query_pairs().into_owned().collect();
                (u[..url::Position::AfterPath].to_owned(), pairs)
            })
        };
        let parsed = read(out);
        let same = parsed.is_some() && read(&again) == parsed;
        assert!(same, "a second pass changed {out:?} to {again:?}");
    }
    if url.cannot_be_a_base() {
        return;
    }
    let after = url::Url::parse(out).expect("a scrubbed URL is a URL");
    assert!(
        after.username().is_empty() && after.password().is_none(),
        "userinfo"
    );
    assert_eq!(after.fragment(), None, "fragment");
    for (name, value) in after.query_pairs() {
        assert!(keep.iter().any(|g| g.matches(&name)), "kept {name:?}");
        // Read as it was: with its name as its key.
        let mut again = String::new();
        assert!(
            !scanner.redact_under(&value, Under::key(&name), |_| {}, &mut again),
            "PII left in {name}={value:?}"
        );
    }
}

/// `rules::filter_query`. Input: a byte picking kept parameters, then the
/// query. Appends to what `out` holds and agrees with a reference built
/// on `str::split` and `form_urlencoded`: the kept pairs, in order, as
/// written, or with their value redacted (under the pair's name as its
/// key) and re-encoded.
pub fn filter_query(data: &[u8]) {
    let Some((keep, query)) = url_input(data) else {
        return;
    };
    let scanner = Scanner::default();
    let mut out = String::from("before");
    rules::filter_query(&mut out, &query, &keep, &scanner, None, &mut |_| {});
    let got = out.strip_prefix("before").expect("appends");
    let mut want = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = form_urlencoded::parse(pair.as_bytes())
            .next()
            .expect("one pair");
        if !keep.iter().any(|g| g.matches(&name)) {
            continue;
        }
        let mut clean = String::new();
        want.push(
            if scanner.redact_under(&value, Under::key(&name), |_| {}, &mut clean) {
                let raw_name = pair.split_once('=').map_or(pair, |(n, _)| n);
                let encoded: String = form_urlencoded::byte_serialize(clean.as_bytes()).collect();
                Cow::Owned(format!("{raw_name}={encoded}"))
            } else {
                Cow::Borrowed(pair)
            },
        );
    }
    assert_eq!(got, want.join("&"));
}

/// The detectors a `pii` input's first byte enables (bit `i` enables
/// `Detector::ALL[i]`; none set: all).
fn detectors(pick: u8) -> Vec<Detector> {
    let picked: Vec<Detector> = Detector::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| pick & (1 << i) != 0)
        .map(|(_, d)| d)
        .collect();
    if picked.is_empty() {
        Detector::ALL.to_vec()
    } else {
        picked
    }
}

/// `Scanner::find` and `Scanner::redact`, with the detectors the first
/// byte picks. Matches are in order, apart, on character boundaries, and
/// of enabled detectors; the cheap filter never hides one; redaction
/// reports each match it replaced, and its output holds no PII (see
/// [`assert_redacted`]).
pub fn pii(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let enabled = detectors(pick);
    let scanner = Scanner::new(&enabled);
    let text = String::from_utf8_lossy(rest);
    let found = scanner.find(&text);
    let mut at = 0;
    for f in &found {
        assert!(
            at <= f.start && f.start < f.end && f.end <= text.len(),
            "{found:?}"
        );
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!(enabled.contains(&f.detector), "{f:?}");
        at = f.end;
    }
    if !scanner.might_contain(text.as_bytes()) {
        assert!(found.is_empty(), "the filter hid {found:?}");
    }
    let mut fired = Vec::new();
    let redacted = scanner.redact(&text, |f| fired.push(f.detector));
    if let Cow::Owned(out) = &redacted {
        // The first pass replaces what `find` reports; later passes (a
        // match a neighbour hid) may add more.
        let expected: Vec<Detector> = found.iter().map(|f| f.detector).collect();
        assert!(fired.starts_with(&expected), "{fired:?} vs {expected:?}");
        assert_ne!(out, &text);
    } else {
        assert!(fired.is_empty());
    }
    assert_redacted(&scanner, &redacted);
}

/// `text`, redacted by `scanner`, holds no PII: redacting it again
/// changes nothing (redaction is a fixpoint).
fn assert_redacted(scanner: &Scanner, text: &str) {
    let again = scanner.redact(text, |_| {});
    assert!(
        matches!(again, Cow::Borrowed(_)),
        "PII left in {text:?}: {:?}",
        scanner.find(text)
    );
}

/// The context reader and the key-aware redaction
/// (`Scanner::find_under`, `Scanner::redact_under`). Input: a first byte
/// that picks the detectors (as for `pii`), then a JSON member's key, the
/// key of its object and the string, separated by `\n` (what is missing
/// is none; the key and parent as UTF-8, lossily). Matches are in order,
/// apart, on character boundaries; each one's reason is one `explain` may
/// print (a fixed vocabulary, never a byte of the input); and what
/// `redact_under` leaves holds no PII under the same key.
pub fn pii_context(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let scanner = Scanner::new(&detectors(pick));
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let key = parts.next().map(String::from_utf8_lossy);
    let parent = parts.next().map(String::from_utf8_lossy);
    let text = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let under = Under {
        key: key.as_deref(),
        parent: parent.as_deref(),
    };
    let found = scanner.find_under(&text, under);
    let mut at = 0;
    for f in &found {
        assert!(
            at <= f.start && f.start < f.end && f.end <= text.len(),
            "{found:?}"
        );
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        at = f.end;
    }
    let mut out = String::new();
    let mut reasons = Vec::new();
    let changed = scanner.redact_under(&text, under, |f| reasons.push(f.why), &mut out);
    assert_eq!(changed, !reasons.is_empty());
    let vocabulary: Vec<String> = By::ALL
        .iter()
        .flat_map(|&by| {
            let name = crate::policy::pii::Why { by, topic: None }.describe();
            std::iter::once(name.clone()).chain(
                Topic::ALL
                    .iter()
                    .map(move |t| format!("{name}:{}", t.name())),
            )
        })
        .collect();
    for why in &reasons {
        assert!(vocabulary.contains(&why.describe()), "{why:?}");
    }
    if changed {
        let mut again = String::new();
        assert!(
            !scanner.redact_under(&out, under, |_| {}, &mut again),
            "PII left in {out:?} under {under:?}: {again:?}"
        );
    }
}

/// The shipped `proxy.toml`, loaded once.
static SHIPPED: LazyLock<Config> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    Config::load(path.as_ref()).expect("the shipped config loads")
});

/// `Policy::apply` with the shipped config's rules. Invalid UTF-8 is
/// refused and an object `Value` reads is accepted; the output is a
/// well-formed JSON object that the policy accepts in turn; the traced
/// walker (a second copy, compiled with the path kept) does exactly what
/// the plain one does.
pub fn policy(data: &[u8]) {
    let config = &*SHIPPED;
    let policy = config.policy.get(crate::event::Protocol::Segment);
    let keys = &*config.keyring;
    let result = policy.apply(data, keys, None);
    let mut fired = Vec::new();
    let traced = policy.apply(data, keys, Some(&mut fired));
    // Encryption draws a fresh nonce each time; nothing else is random.
    if !policy
        .rules()
        .iter()
        .any(|r| matches!(r.action, Action::EncryptField))
    {
        match (&result, &traced) {
            (Ok(plain), Ok(traced)) => assert_eq!(plain, traced, "the traced walk differs"),
            (Err(_), Err(_)) => {}
            _ => panic!("one walk failed: {result:?} / {traced:?}"),
        }
    }
    let (out, _) = match result {
        Ok(done) => done,
        Err(e) => {
            let valid = strict(data).is_some_and(|v| v.is_object());
            assert!(!valid, "refused a valid event: {e}");
            return;
        }
    };
    assert_utf8(data);
    assert_utf8(&out);
    assert_well_formed(&out, "the output");
    assert_eq!(out.trim_ascii_start().first(), Some(&b'{'), "not an object");
    if let Err(e) = policy.apply(&out, keys, None) {
        panic!("the output is refused in turn: {e}");
    }
}
