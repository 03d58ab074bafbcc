//! Applying a [`Policy`] in one pass over an event's JSON bytes.
//!
//! # Design
//! serde_json's parser (validating, depth-limited to 128) drives a visitor
//! that writes the output as it reads the input; no tree is built. All the
//! policy's selectors are compiled into one automaton ([`super::matcher`])
//! whose states say which rules are in force and whether the allow list
//! keeps a value; each value carries its state, so deciding what applies
//! to it costs one transition from its parent's. At every value:
//!
//! - a rule whose selector accepts here is *in force* here and below (an
//!   action on an object applies to every string under it);
//! - a `drop` in force removes the value; an `encrypt_field` in force
//!   replaces it by a JWE of its JSON text, rendered with only the rules
//!   that come before it (later ones see ciphertext, which they leave);
//! - on a string, the value actions in force run in rule order; `hash`
//!   seals the value (a pseudonym is no longer the user's data);
//! - the allow list keeps a value when one of its selectors accepts here or
//!   above; a value no allow selector can reach is skipped unread, and an
//!   object or array left with nothing allowed inside is removed;
//! - a subtree no selector can reach and no rule is in force over is copied
//!   byte for byte (numbers keep their spelling, strings their escapes).
//!
//! Unchanged strings without escapes are copied from the input; nothing is
//! allocated for them. Output is compact JSON. The walker never logs and
//! never sees HTTP.

use super::matcher::StateId;
use super::pii::Detector;
use super::selector::Step;
use super::{Fired, Policy, PolicyError, Report};
use crate::crypto::Keyring;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize as _;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Runs `policy` over one JSON object.
pub(super) fn apply(
    policy: &Policy,
    event: &[u8],
    keys: &Keyring,
    trace: Option<&mut Vec<Fired>>,
) -> Result<(Vec<u8>, Report), PolicyError> {
    if event.trim_ascii_start().first() != Some(&b'{') {
        return Err(PolicyError::NotAnObject);
    }
    let mut walk = Walk {
        policy,
        keys,
        out: Vec::with_capacity(event.len() + 64),
        limit: policy.rules.len(),
        report: Report::new(policy.rules.len()),
        trace: trace.map(|fired| Trace {
            fired,
            path: Vec::new(),
        }),
    };
    // The root object itself is never dropped or replaced; a value action
    // selected at the root (`**`) is in force over the whole event.
    let start = policy.matcher.start;
    let kept = policy.allow.is_none() || policy.matcher.state(start).allowed;
    // One UTF-8 check for the whole event; the `str` reader then trusts it
    // instead of checking every string again.
    let text = std::str::from_utf8(event).map_err(|_| PolicyError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    Node {
        walk: &mut walk,
        state: start,
        root: true,
        kept,
    }
    .deserialize(&mut de)
    .map_err(PolicyError::Json)?;
    de.end().map_err(PolicyError::Json)?;
    Ok((walk.out, walk.report))
}

struct Walk<'a> {
    policy: &'a Policy,
    keys: &'a Keyring,
    out: Vec<u8>,
    /// Only rules with an index below this apply (inside `encrypt_field`).
    limit: usize,
    report: Report,
    trace: Option<Trace<'a>>,
}

/// What `explain --trace` records, and the path walked to say where.
struct Trace<'a> {
    fired: &'a mut Vec<Fired>,
    path: Vec<String>,
}

/// What to do with the value under a key or at an array index.
enum Plan {
    /// Nothing of it can be kept (allow list): read past it.
    Skip,
    /// Nothing applies to it or below: copy its bytes.
    Copy,
    /// A `drop` rule (index) removes it.
    Drop(usize),
    /// An `encrypt_field` rule (index) replaces it.
    Encrypt(usize),
    /// Walk into it; `kept`: the allow list keeps all of it.
    Walk { kept: bool },
}

impl Walk<'_> {
    /// Steps from `from` to its child at `step`: the child's state, and
    /// what to do there.
    #[inline]
    fn enter(&self, from: StateId, step: Step<'_>, kept: bool) -> (StateId, Plan) {
        let id = self.policy.matcher.next(from, step);
        let here = self.policy.matcher.state(id);
        let kept = kept || here.allowed;
        let plan = if !kept && !here.allow_live {
            Plan::Skip
        } else if let Some(rule) = here.first_drop.filter(|&rule| rule < self.limit) {
            Plan::Drop(rule)
        } else if let Some(rule) = here.first_encrypt.filter(|&rule| rule < self.limit) {
            // A ciphertext is kept whole or not at all.
            if kept {
                Plan::Encrypt(rule)
            } else {
                Plan::Skip
            }
        } else if kept && !here.rules_live && here.quiet {
            Plan::Copy
        } else {
            Plan::Walk { kept }
        };
        (id, plan)
    }

    /// Records that `rule` changed the value in `state`.
    fn fired(&mut self, rule: usize, state: StateId) {
        self.report.applied[rule] += 1;
        if let Some(trace) = &mut self.trace {
            let here = self.policy.matcher.state(state);
            let selector = here
                .via
                .iter()
                .find(|(r, _)| *r == rule)
                .map_or(0, |&(_, selector)| selector);
            let mut path = String::new();
            for step in &trace.path {
                if !step.starts_with('[') && !path.is_empty() {
                    path.push('.');
                }
                path.push_str(step);
            }
            trace.fired.push(Fired {
                rule,
                selector: self.policy.selectors[selector].1.to_string(),
                action: self.policy.rules[rule].action.name(),
                path,
            });
        }
    }

    /// The value actions in force in `state`, in rule order, on one string.
    fn on_str(&mut self, state: StateId, text: &str) -> Option<String> {
        let policy = self.policy;
        let mut current: Option<String> = None;
        for rule in InForce::new(&policy.matcher.state(state).accepts, self.limit) {
            let action = &policy.rules[rule].action;
            let redacted = &mut self.report.redacted;
            let input = current.as_deref().unwrap_or(text);
            let changed = action.on_str(input, self.keys, &mut |d: Detector| {
                redacted[d as usize] += 1;
            });
            if let Some(new) = changed {
                current = Some(new);
                self.fired(rule, state);
            }
            if action.seals() {
                break;
            }
        }
        current
    }

    fn on_number(&mut self, state: StateId, text: &str) -> Option<String> {
        let policy = self.policy;
        for rule in InForce::new(&policy.matcher.state(state).accepts, self.limit) {
            if let Some(new) = policy.rules[rule].action.on_number(text, self.keys) {
                self.fired(rule, state);
                // Only `hash` changes numbers, and it seals them.
                return Some(new);
            }
        }
        None
    }

    #[inline]
    fn push_path(&mut self, step: Cow<'_, str>) {
        if let Some(trace) = &mut self.trace {
            trace.path.push(step.into_owned());
        }
    }

    #[inline]
    fn pop_path(&mut self) {
        if let Some(trace) = &mut self.trace {
            trace.path.pop();
        }
    }
}

/// Rule indices set in a bit set, ascending, below a limit.
struct InForce<'a> {
    words: &'a [u64],
    word: usize,
    bits: u64,
    limit: usize,
}

impl<'a> InForce<'a> {
    fn new(words: &'a [u64], limit: usize) -> InForce<'a> {
        InForce {
            words,
            word: 0,
            bits: words[0],
            limit,
        }
    }
}

impl Iterator for InForce<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.word += 1;
            self.bits = *self.words.get(self.word)?;
        }
        let rule = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        (rule < self.limit).then_some(rule)
    }
}

/// Writes `s` as a JSON string; `verbatim` when it came from the input
/// without escapes, so it needs none.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str, verbatim: bool) {
    // Most strings an action writes need no escapes either.
    if verbatim || !super::bytes::needs_json_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// One value of the event, walked with the rules in force at its state.
/// Produces whether anything was written (`false`: the parent removes the
/// key or element it wrote for it).
struct Node<'w, 'a> {
    walk: &'w mut Walk<'a>,
    /// The matcher's state here: the rules in force, what may match below.
    state: StateId,
    /// The event itself (never removed).
    root: bool,
    /// The allow list keeps everything here (always, without an allow list).
    kept: bool,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl Node<'_, '_> {
    /// Runs `plan` for the next value, which `next` reads with the seed it
    /// is given (`None`: there was none, at the end of an array).
    fn child<E>(
        &mut self,
        plan: Plan,
        state: StateId,
        next: impl FnOnce(Child<'_, '_>) -> Result<Option<bool>, E>,
    ) -> Result<Option<bool>, E> {
        match plan {
            Plan::Skip => next(Child::Skip),
            Plan::Copy => next(Child::Copy(&mut self.walk.out)),
            Plan::Drop(rule) => {
                let read = next(Child::Skip)?;
                if read.is_some() {
                    self.walk.fired(rule, state);
                }
                Ok(read)
            }
            Plan::Encrypt(rule) => {
                let walk = &mut *self.walk;
                let outer = std::mem::take(&mut walk.out);
                let limit = std::mem::replace(&mut walk.limit, rule);
                let read = next(Child::Node(Node {
                    walk: &mut *walk,
                    state,
                    root: false,
                    kept: true,
                }));
                walk.limit = limit;
                let plaintext = std::mem::replace(&mut walk.out, outer);
                if read?.is_none() {
                    return Ok(None);
                }
                match walk.keys.seal(&plaintext) {
                    Ok(jwe) => {
                        write_str(&mut walk.out, &jwe, true);
                        walk.fired(rule, state);
                        Ok(Some(true))
                    }
                    // Never the plaintext: the value is left out and counted.
                    Err(_) => {
                        walk.report.encrypt_errors += 1;
                        Ok(Some(false))
                    }
                }
            }
            Plan::Walk { kept } => next(Child::Node(Node {
                walk: &mut *self.walk,
                state,
                root: false,
                kept,
            })),
        }
    }

    /// A leaf the allow list does not keep is left out.
    fn leaf(&mut self, write: impl FnOnce(&mut Walk<'_>)) -> bool {
        if !self.kept {
            return false;
        }
        write(self.walk);
        true
    }

    fn string(&mut self, s: &str, verbatim: bool) -> bool {
        let state = self.state;
        self.leaf(|walk| match walk.on_str(state, s) {
            Some(new) => write_str(&mut walk.out, &new, false),
            None => write_str(&mut walk.out, s, verbatim),
        })
    }

    fn number(&mut self, text: &str) -> bool {
        let state = self.state;
        self.leaf(|walk| match walk.on_number(state, text) {
            Some(new) => write_str(&mut walk.out, &new, false),
            None => walk.out.extend_from_slice(text.as_bytes()),
        })
    }

    /// Closes a container opened at `open` (just past its bracket). One
    /// that the allow list does not keep and that kept nothing goes.
    fn close(&mut self, open: usize, bracket: u8) -> bool {
        let out = &mut self.walk.out;
        if !self.kept && out.len() == open && !self.root {
            out.truncate(open - 1);
            return false;
        }
        out.push(bracket);
        true
    }
}

/// How the next value is read: skipped, copied, or walked.
enum Child<'w, 'a> {
    Skip,
    Copy(&'w mut Vec<u8>),
    Node(Node<'w, 'a>),
}

impl<'de> DeserializeSeed<'de> for Child<'_, '_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        match self {
            Child::Skip => IgnoredAny::deserialize(d).map(|_| false),
            Child::Copy(out) => {
                let raw = <&RawValue as serde::Deserialize>::deserialize(d)?;
                out.extend_from_slice(raw.get().as_bytes());
                Ok(true)
            }
            Child::Node(node) => node.deserialize(d),
        }
    }
}

/// An object key, borrowed when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (Cow<'de, str>, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (Cow<'de, str>, bool);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok((Cow::Borrowed(v), true))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((Cow::Owned(v.to_owned()), false))
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<bool, A::Error> {
        self.walk.out.push(b'{');
        let open = self.walk.out.len();
        while let Some((key, verbatim)) = map.next_key_seed(Key)? {
            let mark = self.walk.out.len();
            if mark > open {
                self.walk.out.push(b',');
            }
            write_str(&mut self.walk.out, &key, verbatim);
            self.walk.out.push(b':');
            let (state, plan) = self.walk.enter(self.state, Step::Key(&key), self.kept);
            self.walk.push_path(key);
            let wrote = self.child(plan, state, |seed| map.next_value_seed(seed).map(Some))?;
            self.walk.pop_path();
            if wrote != Some(true) {
                self.walk.out.truncate(mark);
            }
        }
        Ok(self.close(open, b'}'))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<bool, A::Error> {
        self.walk.out.push(b'[');
        let open = self.walk.out.len();
        for index in 0.. {
            let mark = self.walk.out.len();
            if mark > open {
                self.walk.out.push(b',');
            }
            let (state, plan) = self.walk.enter(self.state, Step::Index(index), self.kept);
            if self.walk.trace.is_some() {
                self.walk.push_path(Cow::Owned(format!("[{index}]")));
            }
            let wrote = self.child(plan, state, |seed| seq.next_element_seed(seed))?;
            self.walk.pop_path();
            if wrote != Some(true) {
                self.walk.out.truncate(mark);
            }
            if wrote.is_none() {
                break;
            }
        }
        Ok(self.close(open, b']'))
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<bool, E> {
        Ok(self.string(v, true))
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<bool, E> {
        Ok(self.string(v, false))
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<bool, E> {
        Ok(self.number(itoa::Buffer::new().format(v)))
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<bool, E> {
        Ok(self.number(itoa::Buffer::new().format(v)))
    }

    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<bool, E> {
        let text = serde_json::to_string(&v).map_err(E::custom)?;
        Ok(self.number(&text))
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<bool, E> {
        Ok(self.leaf(|walk| {
            walk.out
                .extend_from_slice(if v { b"true" } else { b"false" })
        }))
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<bool, E> {
        Ok(self.leaf(|walk| walk.out.extend_from_slice(b"null")))
    }
}
