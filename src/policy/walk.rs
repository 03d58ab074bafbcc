//! Applying a [`Policy`] in one pass over an event's JSON bytes.
//!
//! # Design
//! serde_json's parser (validating, depth-limited to 128) drives a visitor
//! that writes the output as it reads the input; no tree is built. All the
//! policy's selectors are compiled into one automaton ([`super::matcher`]);
//! the walker keeps its state per level, so deciding what applies to a
//! value costs one transition. From that state, at every value:
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
use super::rules::Action;
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
        states: vec![policy.matcher.start],
        active: vec![0; policy.words],
        limit: policy.rules.len(),
        report: Report::new(policy.rules.len()),
        trace: trace.map(|fired| Trace {
            fired,
            path: Vec::new(),
            via: vec![0; policy.rules.len()],
        }),
    };
    // The root object itself is never dropped or replaced, but a value
    // action selected at the root (`**`) is in force over the whole event.
    let root = policy.matcher.state(policy.matcher.start);
    for &(rule, selector) in &root.via {
        if !matches!(
            policy.rules[rule].action,
            Action::Drop | Action::EncryptField
        ) {
            walk.active[rule / 64] |= 1 << (rule % 64);
            if let Some(trace) = &mut walk.trace {
                trace.via[rule] = selector as u16;
            }
        }
    }
    let kept = policy.allow.is_none() || root.allowed;
    // One UTF-8 check for the whole event; the `str` reader then trusts it
    // instead of checking every string again.
    let text = std::str::from_utf8(event).map_err(|_| PolicyError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    Node {
        walk: &mut walk,
        level: 0,
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
    /// The matcher's state per level (level 0 = the root).
    states: Vec<StateId>,
    /// Rules in force, a bit set of `policy.words` words per level.
    active: Vec<u64>,
    /// Only rules with an index below this apply (inside `encrypt_field`).
    limit: usize,
    report: Report,
    trace: Option<Trace<'a>>,
}

/// What `explain --trace` records: the path walked and, per level and rule,
/// which selector put the rule in force.
struct Trace<'a> {
    fired: &'a mut Vec<Fired>,
    path: Vec<String>,
    via: Vec<u16>,
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
    /// Steps from `level` to its child at `step` and decides what to do there.
    fn enter(&mut self, level: usize, step: Step<'_>, kept: bool) -> Plan {
        let matcher = &self.policy.matcher;
        let w = self.policy.words;
        let child = level + 1;
        let id = matcher.next(self.states[level], step);
        self.states.truncate(child);
        self.states.push(id);
        let here = matcher.state(id);
        self.active.truncate(child * w);
        self.active.extend_from_within(level * w..child * w);
        for (bits, accepts) in self.active[child * w..].iter_mut().zip(&here.accepts) {
            *bits |= accepts;
        }
        if let Some(trace) = &mut self.trace {
            let r = self.policy.rules.len();
            trace.via.truncate(child * r);
            trace.via.extend_from_within(level * r..child * r);
            for &(rule, selector) in &here.via {
                trace.via[child * r + rule] = selector as u16;
            }
        }
        let kept_child = kept || here.allowed;
        if !kept_child && !here.allow_live {
            return Plan::Skip;
        }
        let in_force = &self.active[child * w..];
        if let Some(rule) = first_below(in_force, &self.policy.drops, self.limit) {
            return Plan::Drop(rule);
        }
        if let Some(rule) = first_below(in_force, &self.policy.encrypts, self.limit) {
            // A ciphertext is kept whole or not at all.
            return if kept_child {
                Plan::Encrypt(rule)
            } else {
                Plan::Skip
            };
        }
        if !here.rules_live && kept_child && in_force.iter().all(|&bits| bits == 0) {
            return Plan::Copy;
        }
        Plan::Walk { kept: kept_child }
    }

    /// Records that `rule` changed the value at `level`.
    fn fired(&mut self, rule: usize, level: usize) {
        self.report.applied[rule] += 1;
        if let Some(trace) = &mut self.trace {
            let selector = trace.via[level * self.policy.rules.len() + rule] as usize;
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

    /// The value actions in force at `level`, in rule order, on one string.
    fn on_str(&mut self, level: usize, text: &str) -> Option<String> {
        let mut current: Option<String> = None;
        let mut rules = InForce::new(self, level);
        while let Some(rule) = rules.next(self) {
            let policy = self.policy;
            let action = &policy.rules[rule].action;
            let redacted = &mut self.report.redacted;
            let input = current.as_deref().unwrap_or(text);
            let changed = action.on_str(input, self.keys, &mut |d: Detector| {
                redacted[d as usize] += 1;
            });
            if let Some(new) = changed {
                current = Some(new);
                self.fired(rule, level);
            }
            if action.seals() {
                break;
            }
        }
        current
    }

    fn on_number(&mut self, level: usize, text: &str) -> Option<String> {
        let mut rules = InForce::new(self, level);
        while let Some(rule) = rules.next(self) {
            if let Some(new) = self.policy.rules[rule].action.on_number(text, self.keys) {
                self.fired(rule, level);
                // Only `hash` changes numbers, and it seals them.
                return Some(new);
            }
        }
        None
    }

    fn push_path(&mut self, step: Cow<'_, str>) {
        if let Some(trace) = &mut self.trace {
            trace.path.push(step.into_owned());
        }
    }

    fn pop_path(&mut self) {
        if let Some(trace) = &mut self.trace {
            trace.path.pop();
        }
    }
}

/// The lowest rule index below `limit` set in both `a` and `b`.
fn first_below(a: &[u64], b: &[u64], limit: usize) -> Option<usize> {
    a.iter()
        .zip(b)
        .enumerate()
        .find_map(|(i, (x, y))| {
            let both = x & y;
            (both != 0).then(|| i * 64 + both.trailing_zeros() as usize)
        })
        .filter(|&rule| rule < limit)
}

/// The rules in force at a level, ascending, below the walk's limit;
/// read word by word so the walk stays free to record what fires.
struct InForce {
    level: usize,
    word: usize,
    bits: u64,
}

impl InForce {
    fn new(walk: &Walk<'_>, level: usize) -> InForce {
        InForce {
            level,
            word: 0,
            bits: walk.active[level * walk.policy.words],
        }
    }

    fn next(&mut self, walk: &Walk<'_>) -> Option<usize> {
        let w = walk.policy.words;
        while self.bits == 0 {
            self.word += 1;
            if self.word == w {
                return None;
            }
            self.bits = walk.active[self.level * w + self.word];
        }
        let rule = self.word * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        (rule < walk.limit).then_some(rule)
    }
}

/// Writes `s` as a JSON string; `verbatim` when it came from the input
/// without escapes, so it needs none.
fn write_str(out: &mut Vec<u8>, s: &str, verbatim: bool) {
    if verbatim {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// One value of the event at `level`, walked with the rules in force.
/// Produces whether anything was written (`false`: the parent removes the
/// key or element it wrote for it).
struct Node<'w, 'a> {
    walk: &'w mut Walk<'a>,
    level: usize,
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
        next: impl FnOnce(Child<'_, '_>) -> Result<Option<bool>, E>,
    ) -> Result<Option<bool>, E> {
        let level = self.level + 1;
        match plan {
            Plan::Skip => next(Child::Skip),
            Plan::Copy => next(Child::Copy(&mut self.walk.out)),
            Plan::Drop(rule) => {
                let read = next(Child::Skip)?;
                if read.is_some() {
                    self.walk.fired(rule, level);
                }
                Ok(read)
            }
            Plan::Encrypt(rule) => {
                let walk = &mut *self.walk;
                let outer = std::mem::take(&mut walk.out);
                let limit = std::mem::replace(&mut walk.limit, rule);
                let read = next(Child::Node(Node {
                    walk: &mut *walk,
                    level,
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
                        walk.fired(rule, level);
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
                level,
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
        let level = self.level;
        self.leaf(|walk| match walk.on_str(level, s) {
            Some(new) => write_str(&mut walk.out, &new, false),
            None => write_str(&mut walk.out, s, verbatim),
        })
    }

    fn number(&mut self, text: &str) -> bool {
        let level = self.level;
        self.leaf(|walk| match walk.on_number(level, text) {
            Some(new) => write_str(&mut walk.out, &new, false),
            None => walk.out.extend_from_slice(text.as_bytes()),
        })
    }

    /// Closes a container opened at `open` (just past its bracket). One
    /// that the allow list does not keep and that kept nothing goes.
    fn close(&mut self, open: usize, bracket: u8) -> bool {
        let out = &mut self.walk.out;
        if !self.kept && out.len() == open && self.level > 0 {
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
            let plan = self.walk.enter(self.level, Step::Key(&key), self.kept);
            self.walk.push_path(key);
            let wrote = self.child(plan, |seed| map.next_value_seed(seed).map(Some))?;
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
            let plan = self.walk.enter(self.level, Step::Index(index), self.kept);
            if self.walk.trace.is_some() {
                self.walk.push_path(Cow::Owned(format!("[{index}]")));
            }
            let wrote = self.child(plan, |seed| seq.next_element_seed(seed))?;
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
