//! Policy: what privgate changes in an event before a destination sees it.
//!
//! A [`Policy`] is an ordered list of compiled rules (a selector list and an
//! action, see [`rules`]) plus an optional allow list; [`Policy::apply`]
//! runs it over one event's JSON bytes in a single pass ([`walk`] explains
//! how, [`crate::json::reader`] reads the bytes) and reports what each rule did. The PII detectors are in [`pii`],
//! the selector language in [`selector`], user-agent coarsening in [`ua`].
//!
//! Policy never knows about HTTP, never fails open (rules are compiled and
//! checked when the config loads), and never logs or reports field values:
//! a [`Report`] holds counts, a [`Fired`] holds rule ids and paths.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod matcher;
pub mod pii;
pub mod rules;
pub mod selector;
pub mod ua;
mod walk;

use crate::crypto::Keyring;
use crate::protocol::Protocol;
use rules::{Action, Rule};
use selector::Selector;

/// Rules in order, then an allow list, compiled for one-pass application.
#[derive(Clone, Debug)]
pub struct Policy {
    rules: Vec<Rule>,
    /// Every selector of every rule with its rule's index.
    selectors: Vec<(usize, Selector)>,
    allow: Option<Vec<Selector>>,
    matcher: matcher::Matcher,
}

/// One scope's rules and allow list, compiled once per protocol: the same
/// rules (same ids, same order), with semantic fields expanded to each
/// protocol's paths (see [`crate::event::Protocol::semantic_paths`]).
#[derive(Clone, Debug)]
pub struct Policies {
    /// By [`Protocol::index`].
    by_protocol: Vec<Policy>,
}

impl Policies {
    /// From one policy per protocol, in [`Protocol::ALL`] order.
    pub fn new(by_protocol: Vec<Policy>) -> Policies {
        assert_eq!(by_protocol.len(), Protocol::ALL.len(), "one per protocol");
        Policies { by_protocol }
    }

    /// The same policy for every protocol (it names no semantic field).
    pub fn uniform(policy: Policy) -> Policies {
        Policies::new(vec![policy; Protocol::ALL.len()])
    }

    /// The policy for events of `protocol`.
    pub fn get(&self, protocol: Protocol) -> &Policy {
        &self.by_protocol[protocol.index()]
    }

    /// The rules, in order (the same for every protocol).
    pub fn rules(&self) -> &[Rule] {
        self.by_protocol[0].rules()
    }

    /// The allow list as written for Segment events (its length is what
    /// the `check` summary shows).
    pub fn allow(&self) -> Option<&[Selector]> {
        self.by_protocol[0].allow()
    }
}

/// What applying a policy to one event did (counts only, never values).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Values each rule changed, by rule index.
    pub applied: Vec<u32>,
    /// Matches replaced, by [`pii::Detector`] (as index).
    pub redacted: [u32; pii::Detector::ALL.len()],
    /// Values left out because they could not be encrypted.
    pub encrypt_errors: u32,
}

impl Report {
    fn new(rules: usize) -> Report {
        Report {
            applied: vec![0; rules],
            ..Report::default()
        }
    }
}

/// One change a rule made, for `explain --trace`. Never the value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fired {
    /// Index of the rule in the policy.
    pub rule: usize,
    /// The concrete selector that matched (semantic fields expanded).
    pub selector: String,
    /// The action's name.
    pub action: &'static str,
    /// Where in the event (`context.page.url`, `items[0].sku`).
    pub path: String,
    /// For `redact_pii` and `scrub_url`: each match replaced, by detector,
    /// and what decided it (`shape`, `key:ssn`, `word:phone`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pii: Vec<Detection>,
}

/// One PII match a rule replaced, for `explain --trace`: the detector and
/// the context that decided ([`pii::Why`]). Never the value, nor the
/// words around it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Detection {
    /// The detector's name (`phone`).
    pub detector: &'static str,
    /// What decided (`shape`, `key:phone`, `word:ssn`, `field:name`).
    pub decided_by: String,
}

/// Why a policy could not run over an event.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The event is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// The event is not UTF-8.
    #[error("an event must be UTF-8")]
    NotUtf8,
    /// The JSON is malformed or nested deeper than 128 levels.
    #[error("invalid JSON: {0}")]
    Json(#[from] Malformed),
}

pub use crate::json::Malformed;
pub use matcher::{TooComplex, MAX_STATES};

impl Policy {
    /// Compiles `rules` (applied in order) and `allow` (applied last:
    /// everything it does not name is removed).
    pub fn new(rules: Vec<Rule>, allow: Option<Vec<Selector>>) -> Result<Policy, TooComplex> {
        let words = rules.len().div_ceil(64).max(1);
        let mask = |want: fn(&Action) -> bool| {
            let mut bits = vec![0u64; words];
            for (i, rule) in rules.iter().enumerate() {
                if want(&rule.action) {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            bits
        };
        let drops = mask(|a| matches!(a, Action::Drop));
        let encrypts = mask(|a| matches!(a, Action::EncryptField));
        let redacts = mask(|a| matches!(a, Action::RedactPii(_)));
        let selectors: Vec<(usize, Selector)> = rules
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.selectors.iter().map(move |s| (i, s.clone())))
            .collect();
        let mut matcher =
            matcher::Matcher::new(&selectors, allow.as_deref().unwrap_or(&[]), words)?;
        matcher.classify(&drops, &encrypts, &redacts);
        Ok(Policy {
            rules,
            selectors,
            allow,
            matcher,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The allow list, if any.
    pub fn allow(&self) -> Option<&[Selector]> {
        self.allow.as_deref()
    }

    /// Whether it has neither rules nor an allow list (changes nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.allow.is_none()
    }

    /// Applies the policy to one JSON object; returns the new JSON (the
    /// input with the policy's edits, unchanged parts as written) and what
    /// was done. With `trace`, every change is also recorded there.
    pub fn apply(
        &self,
        event: &[u8],
        keys: &Keyring,
        trace: Option<&mut Vec<Fired>>,
    ) -> Result<(Vec<u8>, Report), PolicyError> {
        walk::apply(self, event, keys, trace)
    }
}

#[cfg(test)]
mod tests;
