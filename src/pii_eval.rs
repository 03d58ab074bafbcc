//! Scoring `redact_pii` on the labeled corpus in `tests/data/pii/` (issue
//! #18; the format and the scoring rules are in its README.md): each line
//! is given whole to the `redact_pii` action with the default detectors,
//! as the pipeline applies it to a string, and the output is scored:
//!
//! - a PII value is **leaked** when its `value` or its `decoded` form is
//!   still in the output;
//! - a PII-free line is **changed** when the output differs at all;
//! - a look-alike is **destroyed** when neither its `value` nor its
//!   `decoded` form is left.
//!
//! `benches/pii_eval.rs` prints the tables; `tests/pii_corpus.rs` pins
//! the floor on the dev split. Not an API: hidden from the docs, never
//! used by the server.
#![doc(hidden)]

use crate::crypto::Keyring;
use crate::policy::pii::{Scanner, Under};
use crate::policy::rules::Action;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// One labeled line.
#[derive(Debug, Deserialize)]
pub struct Line {
    /// `dev-00042`.
    pub id: String,
    /// `url`, `form`, `json`, `text`, ...
    pub context: String,
    /// How the line's values were written.
    pub encoding: String,
    /// The string given to the redactor.
    pub text: String,
    /// Every PII value in it.
    pub pii: Vec<Pii>,
    /// Every look-alike token in it.
    pub lookalikes: Vec<LookAlike>,
}

/// A labeled PII value.
#[derive(Debug, Deserialize)]
pub struct Pii {
    /// `email`, `phone`, `card`, `iban`, `ip`, `ssn`, `name`.
    #[serde(rename = "type")]
    pub kind: String,
    /// As written in the line.
    pub value: String,
    /// Decoded, when that differs.
    pub decoded: Option<String>,
    /// The decoder chain from `value` to `decoded`.
    pub encoding: String,
    /// The key it sits under, if any.
    pub key: Option<String>,
}

/// A labeled look-alike.
#[derive(Debug, Deserialize)]
pub struct LookAlike {
    /// `version`, `part_number`, ...
    pub class: String,
    /// As written in the line.
    pub value: String,
    /// Decoded, when that differs.
    pub decoded: Option<String>,
    /// The PII types a context-free detector would take it for.
    #[serde(default)]
    pub looks_like: Vec<String>,
}

/// Reads a split (`tests/data/pii/dev.jsonl`).
pub fn load(path: &Path) -> std::io::Result<Vec<Line>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(std::io::Error::other))
        .collect()
}

/// `redact_pii` with the default detectors, as a rule applies it to one
/// string (no key: the line is the whole value).
pub fn redact_pii() -> impl Fn(&str) -> String {
    let action = Action::RedactPii(Scanner::default());
    let keys = Keyring::new(Vec::new(), None, Vec::new(), None);
    move |text: &str| {
        action
            .on_str(text, Under::default(), &keys, &mut |_| {})
            .unwrap_or_else(|| text.to_owned())
    }
}

/// Counts: how many of how many.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ratio {
    /// Leaked, changed or destroyed.
    pub bad: u32,
    /// Of these.
    pub total: u32,
}

impl Ratio {
    fn add(&mut self, bad: bool) {
        self.bad += u32::from(bad);
        self.total += 1;
    }

    /// As a percentage (0 when there are none).
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * f64::from(self.bad) / f64::from(self.total)
        }
    }
}

/// The score of one run.
#[derive(Debug, Default)]
pub struct Score {
    /// Leaked values by `type X`, `context C / X`, `encoding E / X`, `all`.
    pub leaked: BTreeMap<String, Ratio>,
    /// Changed PII-free lines by `all`, `context C`, `kind clean|lookalike`.
    pub changed: BTreeMap<String, Ratio>,
    /// Destroyed look-alikes by `all`, `class C`, `hard`/`easy`.
    pub destroyed: BTreeMap<String, Ratio>,
    /// Bytes of text redacted, and the time it took (redaction alone).
    pub bytes: usize,
    /// Time spent in the redactor.
    pub elapsed: Duration,
    /// Lines whose outcome was wrong, for reading: `(id, what)`.
    pub failures: Vec<(String, String)>,
}

fn survives(value: &str, decoded: Option<&str>, out: &str) -> bool {
    out.contains(value) || decoded.is_some_and(|d| out.contains(d))
}

/// Scores `redact` on `lines`.
pub fn score(lines: &[Line], redact: impl Fn(&str) -> String) -> Score {
    let mut s = Score::default();
    for line in lines {
        let start = Instant::now();
        let out = redact(&line.text);
        s.elapsed += start.elapsed();
        s.bytes += line.text.len();
        for p in &line.pii {
            let hit = survives(&p.value, p.decoded.as_deref(), &out);
            for key in [
                format!("type {}", p.kind),
                format!("context {} / {}", line.context, p.kind),
                format!("encoding {} / {}", p.encoding, p.kind),
                "all".to_owned(),
            ] {
                s.leaked.entry(key).or_default().add(hit);
            }
            if hit {
                s.failures
                    .push((line.id.clone(), format!("leaked {} {:?}", p.kind, p.value)));
            }
        }
        if line.pii.is_empty() {
            let changed = out != line.text;
            let kind = if line.lookalikes.is_empty() {
                "kind clean"
            } else {
                "kind lookalike"
            };
            for key in [
                "all".to_owned(),
                format!("context {}", line.context),
                kind.to_owned(),
            ] {
                s.changed.entry(key).or_default().add(changed);
            }
            if changed {
                s.failures
                    .push((line.id.clone(), format!("changed -> {out:?}")));
            }
        }
        for l in &line.lookalikes {
            let gone = !survives(&l.value, l.decoded.as_deref(), &out);
            let hard = if l.looks_like.is_empty() {
                "easy (looks like no PII)".to_owned()
            } else {
                format!("hard (looks like {})", l.looks_like.join("+"))
            };
            for key in ["all".to_owned(), format!("class {}", l.class), hard] {
                s.destroyed.entry(key).or_default().add(gone);
            }
            if gone {
                s.failures.push((
                    line.id.clone(),
                    format!("destroyed {} {:?}", l.class, l.value),
                ));
            }
        }
    }
    s
}

impl Score {
    /// The leaked share of PII values of `kind` (`phone`, ...), or of all.
    pub fn leaked(&self, kind: Option<&str>) -> Ratio {
        let key = kind.map_or_else(|| "all".to_owned(), |k| format!("type {k}"));
        self.leaked.get(&key).copied().unwrap_or_default()
    }

    /// The changed share of PII-free lines.
    pub fn changed(&self) -> Ratio {
        self.changed.get("all").copied().unwrap_or_default()
    }

    /// The destroyed share of look-alikes.
    pub fn destroyed(&self) -> Ratio {
        self.destroyed.get("all").copied().unwrap_or_default()
    }

    /// Redaction throughput, in MB/s (10^6 bytes), on this machine.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9) / 1e6
    }

    /// The tables, as text: the summary first, then every breakdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "summary (targets: leaked <= 1% per type, changed <= 2%, destroyed <= 1%)"
        );
        for kind in ["email", "phone", "card", "iban", "ip", "ssn", "name"] {
            let r = self.leaked(Some(kind));
            let _ = writeln!(
                out,
                "  leaked {kind:<28} {:>6} / {:<6} {:>6.2}%",
                r.bad,
                r.total,
                r.percent()
            );
        }
        let rows = [
            ("leaked, all PII", self.leaked(None)),
            ("PII-free lines changed", self.changed()),
            ("look-alikes destroyed", self.destroyed()),
        ];
        for (name, r) in rows {
            let _ = writeln!(
                out,
                "  {name:<35} {:>6} / {:<6} {:>6.2}%",
                r.bad,
                r.total,
                r.percent()
            );
        }
        let _ = writeln!(
            out,
            "  throughput {:>31.1} MB/s ({} bytes)",
            self.mb_per_s(),
            self.bytes
        );
        for (title, map) in [
            ("PII values leaked", &self.leaked),
            ("PII-free lines changed", &self.changed),
            ("look-alikes destroyed", &self.destroyed),
        ] {
            let _ = writeln!(out, "\n{title}");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (k.as_str() != "all", k.as_str()));
            for key in keys {
                let r = map[key];
                let _ = writeln!(
                    out,
                    "  {key:<40} {:>6} / {:<6} {:>6.2}%",
                    r.bad,
                    r.total,
                    r.percent()
                );
            }
        }
        out
    }
}
