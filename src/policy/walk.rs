//! Applying a [`Policy`] in one pass over an event's JSON bytes.
//!
//! # Design
//! A validating reader ([`crate::json::reader`]) hands out each value's raw text,
//! and no tree is built. The output is the input with edits: the walker
//! keeps an offset up to which the input is accounted for, and copies the
//! input before an edit in one piece when it makes it (a changed value is
//! written in place of the old one; a removed member is skipped with the
//! separator before it, or after it when it was the first kept). So an
//! event that no rule changes costs one copy. It recurses into at most 128
//! levels (values it only reads may nest deeper). All the policy's
//! selectors are compiled into one automaton ([`super::matcher`]) whose
//! states say which rules are in force and whether the allow list keeps a
//! value; each value carries its state, so deciding what applies to it
//! costs one transition from its parent's. At every value:
//!
//! - a rule whose selector accepts here is *in force* here and below (an
//!   action on an object applies to every string under it);
//! - a `drop` in force removes the value; an `encrypt_field` in force
//!   replaces it by a JWE of its JSON text, rendered with only the rules
//!   that come before it (later ones see ciphertext, which they leave);
//! - on a string or a number, the value actions in force run in rule
//!   order, told the key the value sits under (an array's elements sit
//!   under the array's key) and the key of the object around it:
//!   `"phone": 4155550100` is a phone number, `"id": 4155550100` is not,
//!   and `"name"` is a person's in `traits`, not in `product`. `hash` seals the value (a pseudonym is no
//!   longer the user's data); a number an action changes becomes a string,
//!   which later rules see;
//! - the allow list keeps a value when one of its selectors accepts here or
//!   above; a value no allow selector can reach is skipped unread, and an
//!   object or array left with nothing allowed inside is removed;
//! - a subtree no selector can reach and no rule is in force over is only
//!   read (validated), and stays as written.
//!
//! Unchanged input is copied as written (escapes, number spelling and
//! whitespace kept; ingest has already put each event on one line); a
//! string is decoded only when a rule is in force over it and allocates only
//! if it has escapes. The walker never logs and never sees HTTP.

use super::matcher::StateId;
use super::pii::{Found, Under};
use super::rules::Action;
use super::selector::Step;
use super::{Detection, Fired, Policy, PolicyError, Report};
use crate::crypto::Keyring;
use crate::json::reader::{RawStr, Reader, Stop};

/// Deepest nesting the walker enters (serde_json's default limit).
const MAX_DEPTH: usize = 128;

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
    // One UTF-8 check for the whole event; strings are then sliced from
    // it at ASCII quotes, which are always character boundaries.
    let text = crate::json::text(event).map_err(|_| PolicyError::NotUtf8)?;
    match trace {
        // Two copies of the walker: without a trace, keeping the path
        // (two checks at every member) compiles away.
        None => walk::<false>(policy, text, keys, None),
        Some(fired) => walk::<true>(policy, text, keys, Some(fired)),
    }
}

fn walk<const TRACE: bool>(
    policy: &Policy,
    text: &str,
    keys: &Keyring,
    trace: Option<&mut Vec<Fired>>,
) -> Result<(Vec<u8>, Report), PolicyError> {
    let event = text.as_bytes();
    let mut reader = Reader::new(text);
    let root_start = event.len() - event.trim_ascii_start().len();
    let mut walk = Walk::<TRACE> {
        policy,
        keys,
        input: event,
        copied: root_start,
        out: Vec::with_capacity(event.len() + 64),
        limit: policy.rules.len(),
        report: Report::new(policy.rules.len()),
        // Room for most values an action writes, so they are not grown in steps.
        scratch: [String::with_capacity(256), String::with_capacity(256)],
        trace: trace.map(|fired| Trace {
            fired,
            path: Vec::new(),
            pii: Vec::new(),
        }),
    };
    // The root object itself is never dropped or replaced; a value action
    // selected at the root (`**`) is in force over the whole event.
    let start = policy.matcher.start;
    let kept = policy.allow.is_none() || policy.matcher.state(start).allowed;
    let read = walk.value(&mut reader, start, kept, true, 0, Under::default());
    walk.flush(reader.pos());
    read.and_then(|_| reader.end())
        .map_err(|Stop| PolicyError::Json(reader.failure()))?;
    Ok((walk.out, walk.report))
}

struct Walk<'a, const TRACE: bool> {
    policy: &'a Policy,
    keys: &'a Keyring,
    /// The event.
    input: &'a [u8],
    /// The input before this offset is in `out` or was left out on
    /// purpose; what follows is copied when something after it changes.
    copied: usize,
    out: Vec<u8>,
    /// Only rules with an index below this apply (inside `encrypt_field`).
    limit: usize,
    report: Report,
    /// Where value actions write new values, in turn (one's output is the
    /// next one's input): reused, so changing a value allocates nothing.
    scratch: [String; 2],
    trace: Option<Trace<'a>>,
}

/// What `explain --trace` records, the path walked to say where, and
/// the matches the action running now has replaced.
struct Trace<'a> {
    fired: &'a mut Vec<Fired>,
    path: Vec<String>,
    pii: Vec<Found>,
}

/// What to do with the value under a key or at an array index.
enum Plan {
    /// Nothing of it can be kept (allow list): read past it.
    Skip,
    /// Nothing applies to it or below: read past it, leaving it as written.
    Copy,
    /// A `drop` rule (index) removes it.
    Drop(usize),
    /// An `encrypt_field` rule (index) replaces it.
    Encrypt(usize),
    /// Walk into it; `kept`: the allow list keeps all of it.
    Walk { kept: bool },
}

impl<'a, const TRACE: bool> Walk<'a, TRACE> {
    /// Steps from `from` to its child at `step`: the child's state, and
    /// what to do there. (Inlined: returned through memory, the pair was
    /// read back before it was all written, which stalled.)
    #[inline(always)]
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
        let policy = self.policy;
        if let Some(trace) = self.trace() {
            let here = policy.matcher.state(state);
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
            let pii = trace
                .pii
                .drain(..)
                .map(|f| Detection {
                    detector: f.detector.name(),
                    decided_by: f.why.describe(),
                })
                .collect();
            trace.fired.push(Fired {
                rule,
                selector: policy.selectors[selector].1.to_string(),
                action: policy.rules[rule].action.name(),
                path,
                pii,
            });
        }
    }

    /// The value actions in force in `state`, in rule order, on one string
    /// `under` its key; which scratch buffer holds the new value, if any
    /// changed it.
    fn on_str(&mut self, state: StateId, text: &str, under: Under<'_>) -> Option<usize> {
        let policy = self.policy;
        let mut current: Option<usize> = None;
        // The action that made the current value, if one did.
        let mut made_by: Option<&Action> = None;
        for rule in InForce::new(&policy.matcher.state(state).accepts, self.limit) {
            let action = &policy.rules[rule].action;
            if let (Some(by), Action::RedactPii(scanner)) = (made_by, action) {
                if by.output_is_clean_for(scanner) {
                    continue;
                }
            }
            let redacted = &mut self.report.redacted;
            let mut seen = if TRACE {
                self.trace.as_mut().map(|t| &mut t.pii)
            } else {
                None
            };
            // Read from the buffer holding the current value, write to the other.
            let target = current.map_or(0, |k| 1 - k);
            let [first, second] = &mut self.scratch;
            let (input, output) = match (current, target) {
                (None, _) => (text, first),
                (Some(_), 0) => (second.as_str(), first),
                (Some(_), _) => (first.as_str(), second),
            };
            output.clear();
            let changed = action.on_str_into(
                input,
                under,
                self.keys,
                &mut |f: Found| {
                    redacted[f.detector as usize] += 1;
                    if let Some(seen) = seen.as_deref_mut() {
                        seen.push(f);
                    }
                },
                output,
            );
            if changed {
                current = Some(target);
                made_by = Some(action);
                self.fired(rule, state);
            } else if let Some(trace) = self.trace() {
                trace.pii.clear();
            }
            if action.seals() {
                break;
            }
        }
        current
    }

    /// The value actions in force in `state`, in rule order, on one number
    /// `under` its key: the string it becomes, if any changed it. Once one has
    /// (a `redact_pii` token), the rules after it see that string.
    fn on_number(&mut self, state: StateId, text: &str, under: Under<'_>) -> Option<String> {
        let policy = self.policy;
        let mut current: Option<String> = None;
        for rule in InForce::new(&policy.matcher.state(state).accepts, self.limit) {
            let action = &policy.rules[rule].action;
            let redacted = &mut self.report.redacted;
            let mut seen = if TRACE {
                self.trace.as_mut().map(|t| &mut t.pii)
            } else {
                None
            };
            let mut count = |f: Found| {
                redacted[f.detector as usize] += 1;
                if let Some(seen) = seen.as_deref_mut() {
                    seen.push(f);
                }
            };
            let new = match &current {
                None => action.on_number(text, under, self.keys, &mut count),
                Some(now) => action.on_str(now, under, self.keys, &mut count),
            };
            if let Some(new) = new {
                current = Some(new);
                self.fired(rule, state);
            } else if let Some(trace) = self.trace() {
                trace.pii.clear();
            }
            if current.is_some() && action.seals() {
                break;
            }
        }
        current
    }

    /// The trace being kept, if any: never without `TRACE`, so that the
    /// checks for it compile away.
    #[inline(always)]
    fn trace(&mut self) -> Option<&mut Trace<'a>> {
        if TRACE {
            self.trace.as_mut()
        } else {
            None
        }
    }

    #[inline]
    fn push_path(&mut self, step: impl FnOnce() -> String) {
        if let Some(trace) = self.trace() {
            trace.path.push(step());
        }
    }

    #[inline]
    fn pop_path(&mut self) {
        if let Some(trace) = self.trace() {
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
    if verbatim || !crate::json::bytes::needs_json_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

impl<'a, const TRACE: bool> Walk<'a, TRACE> {
    /// Copies the input up to `to` that is not yet in the output.
    #[inline]
    fn flush(&mut self, to: usize) {
        if to > self.copied {
            self.out.extend_from_slice(&self.input[self.copied..to]);
            self.copied = to;
        }
    }

    /// Writes `new` (as a JSON string) in place of the input's `start..end`.
    fn replace(&mut self, start: usize, end: usize, new: &str, verbatim: bool) {
        self.flush(start);
        write_str(&mut self.out, new, verbatim);
        self.copied = end;
    }

    /// Walks the next value, in `state`; whether it is kept (`false`: the
    /// caller removes its key or element). Unchanged values write nothing:
    /// the input they span is copied later, in one piece with its
    /// neighbours. `kept`: the allow list keeps everything here; `root`:
    /// the event itself, never removed.
    fn value(
        &mut self,
        r: &mut Reader<'_>,
        state: StateId,
        kept: bool,
        root: bool,
        depth: usize,
        under: Under<'_>,
    ) -> Result<bool, Stop> {
        match r.peek()? {
            b'{' => self.container(r, b'}', (state, kept, root), depth, under),
            b'[' => self.container(r, b']', (state, kept, root), depth, under),
            b'"' => {
                let start = r.pos();
                r.string()?;
                if kept {
                    self.string(state, r.last(), start..r.pos(), under);
                }
                Ok(kept)
            }
            b'-' | b'0'..=b'9' => {
                let start = r.pos();
                let number = r.number()?;
                if kept {
                    if let Some(new) = self.on_number(state, number, under) {
                        self.replace(start, r.pos(), &new, false);
                    }
                }
                Ok(kept)
            }
            _ => {
                r.literal()?;
                Ok(kept)
            }
        }
    }

    /// A string leaf at input offsets `at`, `under` its key: left as
    /// written unless a value action changes it.
    fn string(
        &mut self,
        state: StateId,
        s: RawStr<'_>,
        at: std::ops::Range<usize>,
        under: Under<'_>,
    ) {
        let here = self.policy.matcher.state(state);
        // The common case under `**`: only detectors in force, nothing in
        // the string that any detector needs (asked of the raw text: an
        // escaped digit or `@` is spelled with digits), and a key that
        // cannot make it a person's name.
        let clean = here.redact_only
            && !super::pii::may_hold_pii(s.quoted())
            && !under.key.is_some_and(super::pii::might_name_a_person);
        if !here.quiet && !clean {
            if let Some(k) = self.on_str(state, &s.decode(), under) {
                // Taken out and put back: no allocation.
                let new = std::mem::take(&mut self.scratch[k]);
                self.replace(at.start, at.end, &new, false);
                self.scratch[k] = new;
            }
        }
    }

    /// An object or array (`close` is its closing bracket), member by
    /// member; whether it is kept. An array's elements are under its
    /// key; an object's members under their own, in an object under
    /// its key.
    fn container(
        &mut self,
        r: &mut Reader<'_>,
        close: u8,
        (state, kept, root): (StateId, bool, bool),
        depth: usize,
        under: Under<'_>,
    ) -> Result<bool, Stop> {
        if depth >= MAX_DEPTH {
            return Err(r.error("nested deeper than 128 levels"));
        }
        let mut more = r.open(close)?;
        let mut index = 0;
        // Where the last member kept so far ends, if any.
        let mut last_kept: Option<usize> = None;
        // A removed member that was first: the separator after it goes too.
        let mut drop_separator = false;
        while more {
            r.peek()?;
            let start = r.pos();
            let undo = (self.out.len(), self.copied);
            let wrote = if close == b'}' {
                r.key()?;
                let name = r.last().decode();
                let path = || name.to_string();
                let member = Under {
                    key: Some(&name),
                    parent: under.key,
                };
                self.member(r, (state, Step::Key(&name)), (kept, member), depth, path)?
            } else {
                let path = || format!("[{index}]");
                let wrote =
                    self.member(r, (state, Step::Index(index)), (kept, under), depth, path)?;
                index += 1;
                wrote
            };
            let end = r.pos();
            if wrote {
                last_kept = Some(end);
            } else {
                // Anything written inside goes; then the member, with the
                // separator before it (or after it, if none was kept before).
                self.out.truncate(undo.0);
                self.copied = undo.1;
                match last_kept {
                    Some(kept_end) => self.flush(kept_end),
                    None => {
                        self.flush(start);
                        drop_separator = true;
                    }
                }
                self.copied = end;
            }
            more = r.more(close)?;
            if more && std::mem::take(&mut drop_separator) {
                self.copied = r.pos();
            }
        }
        // One the allow list does not keep and that kept nothing goes.
        Ok(kept || root || last_kept.is_some())
    }

    /// The value at `step` from `from`, `under` its key; whether it is
    /// kept. `path` names the step for a trace.
    fn member(
        &mut self,
        r: &mut Reader<'_>,
        (from, step): (StateId, Step<'_>),
        (kept, under): (bool, Under<'_>),
        depth: usize,
        path: impl FnOnce() -> String,
    ) -> Result<bool, Stop> {
        let (state, plan) = self.enter(from, step, kept);
        self.push_path(path);
        let wrote = self.child(r, plan, state, depth, under)?;
        self.pop_path();
        Ok(wrote)
    }

    /// Runs `plan` for the next value, in `state`, `under` its key;
    /// whether it is kept.
    #[inline(always)]
    fn child(
        &mut self,
        r: &mut Reader<'_>,
        plan: Plan,
        state: StateId,
        depth: usize,
        under: Under<'_>,
    ) -> Result<bool, Stop> {
        match plan {
            Plan::Skip => r.skip().map(|()| false),
            Plan::Copy => r.skip().map(|()| true),
            Plan::Drop(rule) => {
                r.skip()?;
                self.fired(rule, state);
                Ok(false)
            }
            Plan::Encrypt(rule) => {
                // The value as the rules before this one leave it, rendered
                // apart, then sealed in its place.
                r.peek()?;
                let start = r.pos();
                let outer = std::mem::take(&mut self.out);
                let copied = std::mem::replace(&mut self.copied, start);
                let limit = std::mem::replace(&mut self.limit, rule);
                let read = self.value(r, state, true, false, depth + 1, under);
                self.flush(r.pos());
                self.limit = limit;
                self.copied = copied;
                let plaintext = std::mem::replace(&mut self.out, outer);
                read?;
                match self.keys.seal(&plaintext) {
                    Ok(jwe) => {
                        self.replace(start, r.pos(), &jwe, true);
                        self.fired(rule, state);
                        Ok(true)
                    }
                    // Never the plaintext: the value is left out and counted.
                    Err(_) => {
                        self.report.encrypt_errors += 1;
                        Ok(false)
                    }
                }
            }
            Plan::Walk { kept } => self.value(r, state, kept, false, depth + 1, under),
        }
    }
}
