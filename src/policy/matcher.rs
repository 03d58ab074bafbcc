//! Every selector of a policy (its rules' and its allow list's) compiled
//! into one deterministic automaton over the steps of a JSON path, so the
//! walker pays one transition per value however many selectors there are.
//!
//! # Design
//! Each selector is a small NFA whose state is a bit set of the positions
//! it has matched ([`Selector::step`]). A DFA state is the tuple of all
//! selectors' NFA states (subset construction). Only steps a selector
//! names literally (`context`, `[0]`) can lead to different states; every
//! other key behaves alike (only `*` and `**` match it), and so does every
//! other index, so each DFA state has a short list of literal transitions
//! and one fallback for keys and one for indices. Key prefixes (`"ep."*`)
//! add one more list: a key no literal names goes where the longest prefix
//! it starts with goes (the prefixes it starts with are exactly that one's
//! own prefixes, so one representative key per prefix stands for all of
//! them). Acceptance is absorbing
//! (a selector that matched a value matches everything below it, since an
//! action on an object applies to all of it), so a state tells directly
//! which rules are in force and whether the allow list keeps the value. Built once at config
//! load; the number of states is capped so a pathological set of `**`
//! selectors is a config error, not an explosion at run time.

use super::selector::{Selector, State, Step};
use std::collections::HashMap;

/// Index of a DFA state; [`DEAD`] can match nothing, here or below.
pub(super) type StateId = u32;

/// The state from which nothing can match.
pub(super) const DEAD: StateId = 0;

/// Largest automaton a policy may compile to.
pub const MAX_STATES: usize = 20_000;

/// An index no selector names (selectors cannot spell it).
const OTHER_INDEX: usize = usize::MAX;

/// One DFA state.
#[derive(Clone, Debug, Default)]
pub(super) struct DState {
    /// Rules in force (bit set by rule index): one of their selectors
    /// accepted here or above.
    pub accepts: Vec<u64>,
    /// `(rule, selector)` pairs in force, for tracing.
    pub via: Vec<(usize, usize)>,
    /// An allow selector accepted here or above: all of it is kept.
    pub allowed: bool,
    /// Some rule selector may still accept below.
    pub rules_live: bool,
    /// Some allow selector may still accept below.
    pub allow_live: bool,
    /// No rule is in force here.
    pub quiet: bool,
    /// The first `drop` rule in force here, if any ([`Matcher::classify`]).
    pub first_drop: Option<usize>,
    /// The first `encrypt_field` rule in force here, if any.
    pub first_encrypt: Option<usize>,
    /// Rules are in force here and all are `redact_pii`: a string with no
    /// digit and no `@` (escapes included) stays as it is.
    pub redact_only: bool,
    keys: Vec<(Box<str>, StateId)>,
    /// Bit `min(len, 63)` set for each key in `keys`: most keys of an
    /// event have a length none of them has, and skip the list.
    key_lengths: u64,
    /// Longest first; empty when every prefix leads to `other_key`.
    prefixes: Vec<(Box<str>, StateId)>,
    other_key: StateId,
    indices: Vec<(usize, StateId)>,
    other_index: StateId,
}

/// The compiled automaton.
#[derive(Clone, Debug)]
pub(super) struct Matcher {
    states: Vec<DState>,
    /// The state at the root.
    pub start: StateId,
}

/// The policy's selectors compile to more than [`MAX_STATES`] states.
#[derive(Debug, thiserror::Error)]
#[error(
    "the selectors combine into more than {MAX_STATES} matching states; use fewer `**` wildcards"
)]
pub struct TooComplex;

impl Matcher {
    /// Compiles `rules` (`(rule index, selector)`, for `words` words of
    /// rule bits) and `allow`.
    pub(super) fn new(
        rules: &[(usize, Selector)],
        allow: &[Selector],
        words: usize,
    ) -> Result<Matcher, TooComplex> {
        let selectors: Vec<&Selector> = rules.iter().map(|(_, s)| s).chain(allow).collect();
        let mut literal_keys: Vec<&str> = selectors.iter().flat_map(|s| s.literal_keys()).collect();
        literal_keys.sort_unstable();
        literal_keys.dedup();
        let mut literal_indices: Vec<usize> =
            selectors.iter().flat_map(|s| s.literal_indices()).collect();
        literal_indices.sort_unstable();
        literal_indices.dedup();
        let mut prefixes: Vec<&str> = selectors
            .iter()
            .flat_map(|s| s.literal_prefixes())
            .collect();
        prefixes.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        prefixes.dedup();
        // Keys standing for every key no literal names: one that starts
        // with no prefix, and one per prefix that starts with no longer one.
        let other_key = unnamed("", &literal_keys, &prefixes);
        let by_prefix: Vec<String> = prefixes
            .iter()
            .map(|p| unnamed(p, &literal_keys, &prefixes))
            .collect();
        let mut b = Builder {
            rules,
            selectors,
            words,
            ids: HashMap::new(),
            configs: Vec::new(),
            states: Vec::new(),
        };
        let dead = b.intern(vec![0; b.selectors.len()])?;
        debug_assert_eq!(dead, DEAD);
        let start = b.intern(b.selectors.iter().map(|s| s.start()).collect())?;
        // States are added as transitions discover them; fill each in turn.
        let mut next = 1;
        while next < b.states.len() {
            let (keys, other_key) =
                b.transitions(next, &literal_keys, other_key.as_str(), Step::Key)?;
            let (indices, other_index) =
                b.transitions(next, &literal_indices, OTHER_INDEX, Step::Index)?;
            let mut by_prefix_to = Vec::with_capacity(prefixes.len());
            for (prefix, key) in prefixes.iter().zip(&by_prefix) {
                by_prefix_to.push((Box::from(*prefix), b.step_from(next, Step::Key(key))?));
            }
            // Longest match needs them all, or none when none matters.
            if by_prefix_to.iter().all(|&(_, to)| to == other_key) {
                by_prefix_to.clear();
            }
            let state = &mut b.states[next];
            state.keys = keys.into_iter().map(|(k, to)| (Box::from(k), to)).collect();
            state.key_lengths = state
                .keys
                .iter()
                .fold(0, |bits, (k, _)| bits | length_bit(k));
            state.prefixes = by_prefix_to;
            (state.other_key, state.indices, state.other_index) = (other_key, indices, other_index);
            next += 1;
        }
        Ok(Matcher {
            states: b.states,
            start,
        })
    }

    /// The state after `step` from `from`.
    #[inline]
    pub(super) fn next(&self, from: StateId, step: Step<'_>) -> StateId {
        let state = &self.states[from as usize];
        match step {
            // Length and first byte first: most keys differ there, and
            // then no `memcmp` is called.
            Step::Key(key) => (state.key_lengths & length_bit(key) != 0)
                .then(|| {
                    state.keys.iter().find(|(k, _)| {
                        k.len() == key.len()
                            && k.as_bytes().first() == key.as_bytes().first()
                            && **k == *key
                    })
                })
                .flatten()
                .or_else(|| state.prefixes.iter().find(|(p, _)| key.starts_with(&**p)))
                .map_or(state.other_key, |&(_, to)| to),
            Step::Index(i) => state
                .indices
                .iter()
                .find(|(n, _)| *n == i)
                .map_or(state.other_index, |&(_, to)| to),
        }
    }

    /// Records in each state the first `drop` and `encrypt_field` rule in
    /// force and whether all in force are `redact_pii` (`drops`, `encrypts`
    /// and `redacts` are bit sets of rule indices), so the walker does not
    /// look for them at every value.
    pub(super) fn classify(&mut self, drops: &[u64], encrypts: &[u64], redacts: &[u64]) {
        let first = |accepts: &[u64], of: &[u64]| {
            accepts.iter().zip(of).enumerate().find_map(|(i, (a, b))| {
                let both = a & b;
                (both != 0).then(|| i * 64 + both.trailing_zeros() as usize)
            })
        };
        for state in &mut self.states {
            state.quiet = state.accepts.iter().all(|&bits| bits == 0);
            state.first_drop = first(&state.accepts, drops);
            state.first_encrypt = first(&state.accepts, encrypts);
            state.redact_only =
                !state.quiet && state.accepts.iter().zip(redacts).all(|(a, r)| a & !r == 0);
        }
    }

    /// What is known at `id`.
    #[inline]
    pub(super) fn state(&self, id: StateId) -> &DState {
        &self.states[id as usize]
    }
}

/// A key's bit in [`DState::key_lengths`].
#[inline]
fn length_bit(key: &str) -> u64 {
    1 << key.len().min(63)
}

/// A key that is not in `literals` (sorted) and starts with `base` but
/// with no longer one of `prefixes`: what every such key does, it does.
fn unnamed(base: &str, literals: &[&str], prefixes: &[&str]) -> String {
    let taken: Vec<char> = prefixes
        .iter()
        .filter_map(|p| p.strip_prefix(base)?.chars().next())
        .collect();
    let c = ('!'..)
        .find(|c| !taken.contains(c))
        .expect("finitely many prefixes");
    let mut key = format!("{base}{c}");
    while literals.binary_search(&key.as_str()).is_ok() {
        key.push(c);
    }
    key
}

/// Subset construction: one DFA state per distinct tuple of the selectors'
/// NFA states (`configs[id]`).
struct Builder<'a> {
    rules: &'a [(usize, Selector)],
    /// The rules' selectors, then the allow list's.
    selectors: Vec<&'a Selector>,
    words: usize,
    ids: HashMap<Vec<State>, StateId>,
    configs: Vec<Vec<State>>,
    states: Vec<DState>,
}

impl Builder<'_> {
    /// The state for `config`, made (with what is known there) if new.
    fn intern(&mut self, config: Vec<State>) -> Result<StateId, TooComplex> {
        if let Some(&id) = self.ids.get(&config) {
            return Ok(id);
        }
        if self.states.len() >= MAX_STATES {
            return Err(TooComplex);
        }
        let id = self.states.len() as StateId;
        let mut state = DState {
            accepts: vec![0; self.words],
            ..DState::default()
        };
        for (j, (&nfa, selector)) in config.iter().zip(&self.selectors).enumerate() {
            let live = nfa & !selector.accepting() != 0;
            if let Some(&(rule, _)) = self.rules.get(j) {
                state.rules_live |= live;
                if selector.accepts(nfa) {
                    state.accepts[rule / 64] |= 1 << (rule % 64);
                    state.via.push((rule, j));
                }
            } else {
                state.allow_live |= live;
                state.allowed |= selector.accepts(nfa);
            }
        }
        self.states.push(state);
        self.ids.insert(config.clone(), id);
        self.configs.push(config);
        Ok(id)
    }

    /// From state `from`: the target for every step not named literally,
    /// and the literals whose target differs from it.
    fn transitions<'s, T: Copy + 's>(
        &mut self,
        from: usize,
        literals: &[T],
        other: T,
        step: impl Fn(T) -> Step<'s>,
    ) -> Result<(Vec<(T, StateId)>, StateId), TooComplex> {
        let fallback = self.step_from(from, step(other))?;
        let mut named = Vec::new();
        for &literal in literals {
            let to = self.step_from(from, step(literal))?;
            if to != fallback {
                named.push((literal, to));
            }
        }
        Ok((named, fallback))
    }

    fn step_from(&mut self, from: usize, step: Step<'_>) -> Result<StateId, TooComplex> {
        let config = self.configs[from]
            .iter()
            .zip(&self.selectors)
            // Acceptance is absorbing: a rule selected here is in force
            // below, and what the allow list keeps, it keeps whole.
            .map(|(&nfa, s)| s.step(nfa, step) | (nfa & s.accepting()))
            .collect();
        self.intern(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(text: &str) -> Selector {
        Selector::parse(text).unwrap().remove(0)
    }

    #[test]
    fn agrees_with_the_selectors_it_compiles() {
        let rules: Vec<(usize, Selector)> = [
            "context.ip",
            "**.email",
            "items[1].sku",
            "a.*.b",
            r#""ep."*"#,
            r#""ep.x"*.y"#,
            r#"**."ep.x1""#,
            r#""*""#,
            "**",
        ]
        .iter()
        .enumerate()
        .map(|(i, s)| (i, sel(s)))
        .collect();
        let allow = vec![sel("context.page.*"), sel("items[*]"), sel(r#""up."*"#)];
        let m = Matcher::new(&rules, &allow, 1).unwrap();
        let paths: &[&[Step<'_>]] = &[
            &[Step::Key("context"), Step::Key("ip")],
            &[
                Step::Key("context"),
                Step::Key("traits"),
                Step::Key("email"),
            ],
            &[Step::Key("email")],
            &[Step::Key("items"), Step::Index(1), Step::Key("sku")],
            &[Step::Key("items"), Step::Index(0), Step::Key("sku")],
            &[Step::Key("a"), Step::Key("x"), Step::Key("b")],
            &[Step::Key("context"), Step::Key("page"), Step::Key("url")],
            &[Step::Key("zzz")],
            &[Step::Key("ep.a")],
            &[Step::Key("ep.")],
            &[Step::Key("ep")],
            &[Step::Key("ep.x1"), Step::Key("y")],
            &[Step::Key("ep.x2"), Step::Key("y")],
            &[Step::Key("ep.x2"), Step::Key("z")],
            &[Step::Key("ep.x1"), Step::Key("ep.x1")],
            &[Step::Key("up.email")],
            &[Step::Key("*")],
            &[Step::Key("!")],
        ];
        for path in paths {
            let mut id = m.start;
            let mut nfa: Vec<State> = rules.iter().map(|(_, s)| s.start()).collect();
            let mut allow_nfa: Vec<State> = allow.iter().map(|s| s.start()).collect();
            // In force: accepted at this step or any before (not the root).
            let mut ever = vec![false; rules.len()];
            let mut ever_allowed = false;
            for &step in *path {
                id = m.next(id, step);
                for (state, (_, s)) in nfa.iter_mut().zip(&rules) {
                    *state = s.step(*state, step);
                }
                for (state, s) in allow_nfa.iter_mut().zip(&allow) {
                    *state = s.step(*state, step);
                }
                let d = m.state(id);
                for (i, (_, s)) in rules.iter().enumerate() {
                    ever[i] |= s.accepts(nfa[i]);
                    let in_force = d.accepts[0] >> i & 1 == 1;
                    assert_eq!(in_force, ever[i], "{path:?} rule {i}");
                }
                ever_allowed |= allow.iter().zip(&allow_nfa).any(|(s, &n)| s.accepts(n));
                assert_eq!(d.allowed, ever_allowed, "{path:?}");
            }
        }
        let none = Matcher::new(&[(0, sel("a.b"))], &[], 1).unwrap();
        let dead = none.next(none.start, Step::Key("x"));
        assert_eq!(dead, DEAD);
        assert!(!none.state(DEAD).rules_live);
    }

    #[test]
    fn pathological_wildcards_are_refused() {
        let many: Vec<(usize, Selector)> = (0..40)
            .map(|i| (0, sel(&format!("**.k{i}.**.k{}.**.x", i + 1))))
            .collect();
        assert!(Matcher::new(&many, &[], 1).is_err());
    }
}
