//! Field selectors: which values of an event a rule applies to.
//!
//! Grammar: segments separated by `.`; a segment is a key (`context`), `*`
//! (any one key or array element), `**` (any depth, including none), or a
//! key followed by any number of `[*]` or `[N]` (array elements). A key
//! with characters of the grammar in it (`.`, `*`, `[`, `]`, `"`, `\`, a
//! leading `@`, spaces) is written in double quotes, with `\"` and `\\`
//! for a quote and a backslash: `event_properties."[Amplitude] Page URL"`.
//! A quoted key followed by `*` is a prefix: `"ep."*` is any key that
//! starts with `ep.` (GA4 hits keep their event parameters in flat keys
//! such as `ep.page_location`).
//! A selector may instead name a semantic field (`@user_id`, `@ip`, `@url`,
//! ...), which expands to the protocol's own paths (see
//! [`Protocol::semantic_paths`]).
//! Printing a selector gives text that parses back to the same selector.

use crate::protocol::{Protocol, SEMANTIC_NAMES};
use std::fmt;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// This key of an object.
    Key(String),
    /// Any key of an object, or any element of an array.
    Any,
    /// Any key that starts with this (never empty: that is [`Segment::Any`]).
    Prefix(String),
    /// Any depth, zero levels included.
    Deep,
    /// This element of an array.
    Index(usize),
}

/// A compiled selector (one path pattern).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    segments: Vec<Segment>,
    /// Bit `i` set when `segments[i]` is `**`.
    deep: u64,
}

/// Longest selector, in segments (states are one bit per position).
pub const MAX_SEGMENTS: usize = 62;

/// Why a selector does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    /// Empty, or an empty segment (`a..b`).
    #[error("`{0}` has an empty segment")]
    Empty(String),
    /// `[x]` that is neither `[*]` nor `[N]`.
    #[error("`{0}`: write array elements as `name[*]` or `name[0]`")]
    BadIndex(String),
    /// A quoted key without its closing quote, or text right after one.
    #[error(
        "`{0}`: a quoted key ends with `\"` and is followed by `*` (a prefix), `.`, `[` or the end"
    )]
    BadQuote(String),
    /// More segments than [`MAX_SEGMENTS`].
    #[error("`{0}` is deeper than {MAX_SEGMENTS} segments")]
    TooLong(String),
    /// An unknown `@field`.
    #[error("`{0}` is not a semantic field; known: {known}", known = SEMANTIC_NAMES.join(", "))]
    UnknownSemantic(String),
}

impl Selector {
    /// Parses one selector for Segment events; see [`Selector::parse_in`].
    pub fn parse(text: &str) -> Result<Vec<Selector>, SelectorError> {
        Selector::parse_in(text, Protocol::Segment)
    }

    /// Parses one selector for events of `protocol`: a semantic field
    /// expands to that protocol's paths (several, or none).
    pub fn parse_in(text: &str, protocol: Protocol) -> Result<Vec<Selector>, SelectorError> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            let paths = protocol
                .semantic_paths(name)
                .ok_or_else(|| SelectorError::UnknownSemantic(text.to_owned()))?;
            return paths.iter().map(|p| Selector::parse_path(p)).collect();
        }
        Ok(vec![Selector::parse_path(text)?])
    }

    fn parse_path(text: &str) -> Result<Selector, SelectorError> {
        let bad_index = || SelectorError::BadIndex(text.to_owned());
        let bad_quote = || SelectorError::BadQuote(text.to_owned());
        let mut segments = Vec::new();
        let mut rest = text;
        loop {
            // One segment: a quoted key, or plain text up to `.` or `[`.
            let (name, quoted, after) = match rest.strip_prefix('"') {
                Some(quoted) => {
                    let (key, after) = unquote(quoted).ok_or_else(bad_quote)?;
                    let (kind, after) = match after.strip_prefix('*') {
                        Some(after) => (Quoted::Prefix, after),
                        None => (Quoted::Key, after),
                    };
                    if !(after.is_empty() || after.starts_with(['.', '['])) {
                        return Err(bad_quote());
                    }
                    (key, Some(kind), after)
                }
                None => {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    (rest[..end].to_owned(), None, &rest[end..])
                }
            };
            rest = after;
            let mut indices = Vec::new();
            while let Some(open) = rest.strip_prefix('[') {
                let (inner, after) = open.split_once(']').ok_or_else(bad_index)?;
                indices.push(match inner {
                    "*" => Segment::Any,
                    n => Segment::Index(
                        n.parse()
                            .ok()
                            .filter(|&n| n < u32::MAX as usize)
                            .ok_or_else(bad_index)?,
                    ),
                });
                rest = after;
            }
            match name.as_str() {
                "" if quoted == Some(Quoted::Prefix) => segments.push(Segment::Any),
                _ if quoted == Some(Quoted::Prefix) => segments.push(Segment::Prefix(name)),
                _ if quoted == Some(Quoted::Key) => segments.push(Segment::Key(name)),
                "" if indices.is_empty() => return Err(SelectorError::Empty(text.to_owned())),
                "" => {}
                "*" => segments.push(Segment::Any),
                "**" => segments.push(Segment::Deep),
                _ if name.contains([']', '"']) => return Err(bad_quote()),
                _ => segments.push(Segment::Key(name)),
            }
            segments.extend(indices);
            match rest.strip_prefix('.') {
                Some(next) => rest = next,
                None if rest.is_empty() => break,
                None => return Err(bad_index()),
            }
        }
        if segments.len() > MAX_SEGMENTS {
            return Err(SelectorError::TooLong(text.to_owned()));
        }
        let deep = segments
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == Segment::Deep)
            .fold(0, |bits, (i, _)| bits | 1 << i);
        Ok(Selector { segments, deep })
    }

    /// The automaton state before any step: the set of positions in
    /// `segments` reached so far (bit `i` = the first `i` segments matched).
    pub fn start(&self) -> State {
        self.close(1)
    }

    /// The state after descending one step (an object key or array index).
    /// Zero means this selector can match nothing below.
    pub fn step(&self, state: State, step: Step<'_>) -> State {
        let mut next = 0;
        let mut bits = state & !(1 << self.segments.len());
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let advance = match (&self.segments[i], step) {
                (Segment::Deep, _) => {
                    next |= 1 << i; // `**` consumes any step and stays
                    false
                }
                (Segment::Any, _) => true,
                (Segment::Key(k), Step::Key(s)) => k == s,
                (Segment::Prefix(p), Step::Key(s)) => s.starts_with(p.as_str()),
                (Segment::Index(n), Step::Index(i)) => *n == i,
                _ => false,
            };
            if advance {
                next |= 1 << (i + 1);
            }
        }
        self.close(next)
    }

    /// The keys this selector names literally.
    pub fn literal_keys(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            _ => None,
        })
    }

    /// The key prefixes this selector names (`"ep."*`).
    pub fn literal_prefixes(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Prefix(p) => Some(p.as_str()),
            _ => None,
        })
    }

    /// The array indices this selector names literally.
    pub fn literal_indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Index(n) => Some(*n),
            _ => None,
        })
    }

    /// The bit of the accepting position.
    pub fn accepting(&self) -> State {
        1 << self.segments.len()
    }

    /// Whether the selector matches the value reached in `state`.
    pub fn accepts(&self, state: State) -> bool {
        state & (1 << self.segments.len()) != 0
    }

    /// Adds the positions reachable by letting `**` match zero steps.
    fn close(&self, mut state: State) -> State {
        loop {
            let added = (state & self.deep) << 1;
            if added & !state == 0 {
                return state;
            }
            state |= added;
        }
    }
}

/// Positions of a selector reached along a path (see [`Selector::step`]).
pub type State = u64;

/// One step down a JSON document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// An object member.
    Key(&'a str),
    /// An array element.
    Index(usize),
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            match s {
                Segment::Index(n) => write!(f, "[{n}]")?,
                _ if i > 0 => f.write_str(".")?,
                _ => {}
            }
            match s {
                Segment::Key(k) if needs_quotes(k) => write_quoted(f, k)?,
                Segment::Key(k) => f.write_str(k)?,
                Segment::Prefix(p) => {
                    write_quoted(f, p)?;
                    f.write_str("*")?;
                }
                Segment::Any => f.write_str("*")?,
                Segment::Deep => f.write_str("**")?,
                Segment::Index(_) => {}
            }
        }
        Ok(())
    }
}

/// What a quoted segment is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoted {
    /// `"key"`: this key.
    Key,
    /// `"key"*`: any key that starts with it.
    Prefix,
}

/// The key after an opening quote, unescaped, and the text after its
/// closing quote; `None` without a closing quote.
fn unquote(text: &str) -> Option<(String, &str)> {
    let mut key = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((key, &text[i + 1..])),
            '\\' => key.push(chars.next()?.1),
            c => key.push(c),
        }
    }
    None
}

/// Whether a key must be quoted to parse back as itself.
fn needs_quotes(key: &str) -> bool {
    key.is_empty()
        || key == "*"
        || key == "**"
        || key.starts_with('@')
        || key
            .chars()
            .any(|c| matches!(c, '.' | '*' | '[' | ']' | '"' | '\\') || c.is_whitespace())
}

fn write_quoted(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in key.chars() {
        if matches!(c, '"' | '\\') {
            f.write_str("\\")?;
        }
        write!(f, "{c}")?;
    }
    f.write_str("\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn sel(text: &str) -> Vec<Selector> {
        Selector::parse(text).unwrap()
    }

    /// Every value `text` matches in `value`, in document order; a
    /// container matched counts once (its children are not listed again).
    fn hits(text: &str, value: &Value) -> Vec<Value> {
        fn walk(s: &Selector, state: State, v: &Value, out: &mut Vec<Value>) {
            if s.accepts(state) {
                out.push(v.clone());
                return;
            }
            match v {
                Value::Object(o) => o
                    .iter()
                    .for_each(|(k, c)| walk(s, s.step(state, Step::Key(k)), c, out)),
                Value::Array(a) => a
                    .iter()
                    .enumerate()
                    .for_each(|(i, c)| walk(s, s.step(state, Step::Index(i)), c, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for s in sel(text) {
            // The root itself is never selected: start one step down.
            if let Value::Object(o) = value {
                for (k, c) in o {
                    walk(&s, s.step(s.start(), Step::Key(k)), c, &mut out);
                }
            }
        }
        out
    }

    fn sample() -> Value {
        json!({
            "userId": "u1",
            "properties": {"email": "a@x.io", "items": [{"sku": "s1", "email": "b@x.io"}, {"sku": "s2"}]},
            "context": {"page": {"url": "https://x/?q=1"}, "traits": {"email": "c@x.io"}}
        })
    }

    #[test]
    fn parses_and_prints() {
        for text in ["a.b.c", "a.*.c", "**.email", "items[0]", "**"] {
            assert_eq!(sel(text)[0].to_string(), text);
        }
        // `[*]` is `*`: any element.
        assert_eq!(sel("items[*].sku")[0].to_string(), "items.*.sku");
        assert_eq!(
            Selector::parse("a..b"),
            Err(SelectorError::Empty("a..b".into()))
        );
        assert!(matches!(
            Selector::parse("a[x]"),
            Err(SelectorError::BadIndex(_))
        ));
        assert!(matches!(
            Selector::parse("@passport"),
            Err(SelectorError::UnknownSemantic(_))
        ));
        assert!(matches!(
            Selector::parse(&vec!["a"; 63].join(".")),
            Err(SelectorError::TooLong(_))
        ));
        assert_eq!(sel("@email").len(), 3);
    }

    #[test]
    fn matches_paths_wildcards_arrays_and_depth() {
        let v = sample();
        assert_eq!(hits("userId", &v), [json!("u1")]);
        assert_eq!(
            hits("properties.items[*].sku", &v),
            [json!("s1"), json!("s2")]
        );
        assert_eq!(hits("properties.items[1].sku", &v), [json!("s2")]);
        assert_eq!(
            hits("properties.items.*.sku", &v),
            [json!("s1"), json!("s2")]
        );
        let mut deep = hits("**.email", &v);
        deep.sort_by_key(|v| v.to_string());
        assert_eq!(deep, [json!("a@x.io"), json!("b@x.io"), json!("c@x.io")]);
        assert_eq!(hits("@url", &v), [json!("https://x/?q=1")]);
        // `**` alone selects each top-level value (and so everything below).
        assert_eq!(hits("**", &v).len(), 3);
        assert_eq!(hits("context.**", &v), [v["context"].clone()]);
        assert_eq!(
            hits("a.**.b", &json!({"a": {"b": 1, "x": {"y": {"b": 2}}}})),
            [json!(1), json!(2)]
        );
        assert!(hits("nope.x", &v).is_empty());
        assert!(hits("userId.x", &v).is_empty());
    }

    #[test]
    fn quoted_prefixes_match_flat_keys() {
        let v = json!({"ep.email": "a@x.io", "epn.value": 3, "ep": {"x": 1}, "en": "e", "up.a": {"b": 2}});
        assert_eq!(sel(r#""ep."*"#)[0].to_string(), r#""ep."*"#);
        assert_eq!(hits(r#""ep."*"#, &v), [json!("a@x.io")]);
        assert_eq!(hits(r#""ep"*"#, &v).len(), 3, "ep, ep.email, epn.value");
        assert_eq!(hits(r#""up."*.b"#, &v), [json!(2)]);
        assert_eq!(hits(r#""ep."*[0]"#, &json!({"ep.l": [1, 2]})), [json!(1)]);
        // An empty prefix is any key.
        assert_eq!(sel(r#"""*"#), sel("*"));
        // A prefix is not an index: `*` after a quote only.
        assert_eq!(sel(r#""a*""#)[0].to_string(), r#""a*""#);
        for bad in [r#""ep."*x"#, r#""ep."**"#, r#""ep."x*"#] {
            assert!(
                matches!(Selector::parse(bad), Err(SelectorError::BadQuote(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn dead_states_prune() {
        let s = &sel("context.page.url")[0];
        let other = s.step(s.start(), Step::Key("properties"));
        assert_eq!(other, 0, "nothing below can match");
        let deep = &sel("**.email")[0];
        assert_ne!(deep.step(deep.start(), Step::Key("anything")), 0);
    }
}
