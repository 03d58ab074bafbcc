//! Field selectors: which values of an event a rule applies to.
//!
//! Grammar: segments separated by `.`; a segment is a key (`context`), `*`
//! (any one key or array element), `**` (any depth, including none), or a
//! key followed by `[*]` or `[N]` (array elements). A selector may instead
//! name a semantic field (`@user_id`, `@ip`, `@url`, ...), which expands to
//! the protocol's own paths (see [`semantic`]). Keys containing `.`, `*`,
//! `[` or `@` cannot be selected (no tracker uses them).

use serde_json::Value;
use std::fmt;

/// One step of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// This key of an object.
    Key(String),
    /// Any key of an object, or any element of an array.
    Any,
    /// Any depth, zero levels included.
    Deep,
    /// This element of an array.
    Index(usize),
}

/// A compiled selector (one path pattern).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    segments: Vec<Segment>,
}

/// Why a selector does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    /// Empty, or an empty segment (`a..b`).
    #[error("`{0}` has an empty segment")]
    Empty(String),
    /// `[x]` that is neither `[*]` nor `[N]`.
    #[error("`{0}`: write array elements as `name[*]` or `name[0]`")]
    BadIndex(String),
    /// An unknown `@field`.
    #[error("`{0}` is not a semantic field; known: {known}", known = semantic::NAMES.join(", "))]
    UnknownSemantic(String),
}

impl Selector {
    /// Parses one selector; semantic fields expand to several.
    pub fn parse(text: &str) -> Result<Vec<Selector>, SelectorError> {
        let text = text.trim();
        if let Some(name) = text.strip_prefix('@') {
            let paths = semantic::segment_paths(name)
                .ok_or_else(|| SelectorError::UnknownSemantic(text.to_owned()))?;
            return paths.iter().map(|p| Selector::parse_path(p)).collect();
        }
        Ok(vec![Selector::parse_path(text)?])
    }

    fn parse_path(text: &str) -> Result<Selector, SelectorError> {
        if text.is_empty() {
            return Err(SelectorError::Empty(text.to_owned()));
        }
        let mut segments = Vec::new();
        for part in text.split('.') {
            let (name, index) = match part.find('[') {
                Some(open) => {
                    let inner = part[open..]
                        .strip_prefix('[')
                        .and_then(|r| r.strip_suffix(']'))
                        .ok_or_else(|| SelectorError::BadIndex(text.to_owned()))?;
                    let index = match inner {
                        "*" => Segment::Any,
                        n => Segment::Index(
                            n.parse()
                                .map_err(|_| SelectorError::BadIndex(text.to_owned()))?,
                        ),
                    };
                    (&part[..open], Some(index))
                }
                None => (part, None),
            };
            match name {
                "" if index.is_none() => return Err(SelectorError::Empty(text.to_owned())),
                "" => {}
                "*" => segments.push(Segment::Any),
                "**" => segments.push(Segment::Deep),
                key => segments.push(Segment::Key(key.to_owned())),
            }
            segments.extend(index);
        }
        Ok(Selector { segments })
    }

    /// Calls `f` with every value the selector matches (each once).
    pub fn for_each_mut(&self, value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        visit(value, &self.segments, f);
    }

    /// Removes every matched value (keys from objects, elements from arrays).
    pub fn remove(&self, value: &mut Value) -> usize {
        remove(value, &self.segments)
    }

    /// Whether this selector matches `path` exactly.
    pub fn matches(&self, path: &[PathStep]) -> bool {
        matches(&self.segments, path)
    }
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
                Segment::Key(k) => f.write_str(k)?,
                Segment::Any => f.write_str("*")?,
                Segment::Deep => f.write_str("**")?,
                Segment::Index(_) => {}
            }
        }
        Ok(())
    }
}

/// A step of a concrete path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

fn visit(value: &mut Value, segs: &[Segment], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(value);
        return;
    };
    match first {
        Segment::Key(k) => {
            if let Some(child) = value.as_object_mut().and_then(|o| o.get_mut(k)) {
                visit(child, rest, f);
            }
        }
        Segment::Index(n) => {
            if let Some(child) = value.as_array_mut().and_then(|a| a.get_mut(*n)) {
                visit(child, rest, f);
            }
        }
        Segment::Any => for_children(value, &mut |child| visit(child, rest, f)),
        Segment::Deep => {
            // `**.x`: x here, and x anywhere below; `**` alone: every leaf.
            if rest.is_empty() {
                visit_leaves(value, f);
                return;
            }
            if segment_matches_here(value, &rest[0]) {
                visit(value, rest, f);
            }
            for_children(value, &mut |child| visit(child, segs, f));
        }
    }
}

fn segment_matches_here(value: &Value, seg: &Segment) -> bool {
    match seg {
        Segment::Key(k) => value.as_object().is_some_and(|o| o.contains_key(k)),
        Segment::Index(n) => value.as_array().is_some_and(|a| *n < a.len()),
        Segment::Any => value.is_object() || value.is_array(),
        Segment::Deep => true,
    }
}

fn for_children(value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(o) => o.values_mut().for_each(f),
        Value::Array(a) => a.iter_mut().for_each(f),
        _ => {}
    }
}

fn visit_leaves(value: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    match value {
        Value::Object(o) => o.values_mut().for_each(|v| visit_leaves(v, f)),
        Value::Array(a) => a.iter_mut().for_each(|v| visit_leaves(v, f)),
        leaf => f(leaf),
    }
}

fn remove(value: &mut Value, segs: &[Segment]) -> usize {
    match segs {
        [] => 0,
        [Segment::Key(k)] => value
            .as_object_mut()
            .and_then(|o| o.remove(k))
            .map_or(0, |_| 1),
        [Segment::Index(n)] => match value.as_array_mut() {
            Some(a) if *n < a.len() => {
                a.remove(*n);
                1
            }
            _ => 0,
        },
        [Segment::Any] => match value {
            Value::Object(o) => std::mem::take(o).len(),
            Value::Array(a) => std::mem::take(a).len(),
            _ => 0,
        },
        [Segment::Deep] => {
            let n = usize::from(!value.is_null());
            *value = Value::Null;
            n
        }
        [Segment::Deep, rest @ ..] => {
            let mut n = remove(value, rest);
            for_children(value, &mut |child| n += remove(child, segs));
            n
        }
        [first, rest @ ..] => {
            let mut n = 0;
            match first {
                Segment::Key(k) => {
                    if let Some(child) = value.as_object_mut().and_then(|o| o.get_mut(k)) {
                        n += remove(child, rest);
                    }
                }
                Segment::Index(i) => {
                    if let Some(child) = value.as_array_mut().and_then(|a| a.get_mut(*i)) {
                        n += remove(child, rest);
                    }
                }
                Segment::Any => for_children(value, &mut |child| n += remove(child, rest)),
                Segment::Deep => unreachable!("handled above"),
            }
            n
        }
    }
}

fn matches(segs: &[Segment], path: &[PathStep]) -> bool {
    match (segs.split_first(), path.split_first()) {
        (None, None) => true,
        (Some((Segment::Deep, rest)), _) => {
            matches(rest, path) || (!path.is_empty() && matches(segs, &path[1..]))
        }
        (None, Some(_)) | (Some(_), None) => false,
        (Some((seg, rest)), Some((step, tail))) => {
            let ok = match (seg, step) {
                (Segment::Key(k), PathStep::Key(s)) => k == s,
                (Segment::Index(n), PathStep::Index(i)) => n == i,
                (Segment::Any, _) => true,
                _ => false,
            };
            ok && matches(rest, tail)
        }
    }
}

/// Semantic fields and where each protocol keeps them.
pub mod semantic {
    /// Every semantic field name (without `@`).
    pub const NAMES: [&str; 11] = [
        "user_id",
        "anonymous_id",
        "ip",
        "user_agent",
        "url",
        "referrer",
        "email",
        "phone",
        "traits",
        "properties",
        "consent",
    ];

    /// Paths of a semantic field in the Segment protocol (also used by the
    /// generic JSON source).
    pub fn segment_paths(name: &str) -> Option<&'static [&'static str]> {
        Some(match name {
            "user_id" => &["userId", "previousId"],
            "anonymous_id" => &["anonymousId"],
            "ip" => &["context.ip"],
            "user_agent" => &["context.userAgent"],
            "url" => &["context.page.url", "properties.url"],
            "referrer" => &["context.page.referrer", "properties.referrer"],
            "email" => &["traits.email", "context.traits.email", "properties.email"],
            "phone" => &["traits.phone", "context.traits.phone", "properties.phone"],
            "traits" => &["traits", "context.traits"],
            "properties" => &["properties"],
            "consent" => &["context.consent", "context.consentManagement"],
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(text: &str) -> Vec<Selector> {
        Selector::parse(text).unwrap()
    }

    fn hits(text: &str, value: &Value) -> Vec<Value> {
        let mut value = value.clone();
        let mut out = Vec::new();
        for s in sel(text) {
            s.for_each_mut(&mut value, &mut |v| out.push(v.clone()));
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
        assert_eq!(hits("**", &v).len(), 7, "every leaf once");
        assert!(hits("nope.x", &v).is_empty());
    }

    #[test]
    fn removes_what_it_selects() {
        let mut v = sample();
        assert_eq!(sel("**.email")[0].remove(&mut v), 3);
        assert_eq!(sel("properties.items[0]")[0].remove(&mut v), 1);
        assert_eq!(v["properties"]["items"], json!([{"sku": "s2"}]));
        assert!(v["context"]["traits"].as_object().unwrap().is_empty());
    }

    #[test]
    fn matches_concrete_paths() {
        let s = &sel("properties.*.sku")[0];
        let p = ["properties", "items", "sku"].map(|k| PathStep::Key(k.to_owned()));
        assert!(s.matches(&p));
        assert!(sel("**.sku")[0].matches(&p));
        assert!(!sel("properties.sku")[0].matches(&p));
    }
}
