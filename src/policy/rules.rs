//! Compiled rules and what their actions do to one value.
//!
//! A rule is a selector list and an action. Where a rule applies is the
//! walker's business ([`super::walk`]); this module owns what it does to
//! the string or number it is given. Rules are compiled when the config
//! loads, so nothing here can fail at run time: a value an action does not
//! understand (a number for `scrub_url`, text that is no IP address for
//! `truncate_ip`) is left as it is.

use super::pii::{Found, Scanner, Under};
use super::selector::Selector;
use crate::crypto::Keyring;
use std::borrow::Cow;
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
    /// E.164 (`+442079460958`): numbers written with `+` or `00`, or in
    /// the rule's `phone_region`; otherwise digits with a leading `+` kept.
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
    Hash {
        /// How the value is prepared.
        normalize: Normalize,
        /// Region national phone numbers are read in (E.164 normalization).
        region: Option<phonenumber::country::Id>,
    },
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
        keep: Vec<Glob>,
        /// Detectors run on the path and the kept values.
        scanner: Scanner,
    },
    /// User agent to browser family, major version and OS family.
    GeneralizeUa(std::sync::Arc<super::ua::Generalizer>),
    /// Replace the value (any JSON) by a JWE compact string of its JSON text.
    EncryptField,
}

impl Action {
    /// The config name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Drop => "drop",
            Action::Hash { .. } => "hash",
            Action::RedactPii(_) => "redact_pii",
            Action::TruncateIp { .. } => "truncate_ip",
            Action::ScrubUrl { .. } => "scrub_url",
            Action::GeneralizeUa(_) => "generalize_ua",
            Action::EncryptField => "encrypt_field",
        }
    }

    /// Whether the action's output is final: a pseudonym or a ciphertext is
    /// no longer the user's data, so later rules leave it alone (a detector
    /// must never "find" a phone number in a base64url hash).
    pub fn seals(&self) -> bool {
        matches!(self, Action::Hash { .. } | Action::EncryptField)
    }

    /// Whether what this action makes of a string (when it changes it)
    /// holds nothing that `scanner` redacts, under any key: a `redact_pii`
    /// after it would leave it as it is, so the walker does not run one.
    /// - `truncate_ip` to at most /24 and /64: a network address, which the
    ///   IP detector reads as one token and never calls PII;
    /// - `generalize_ua`: a browser and an OS from woothee's fixed names, a
    ///   major of at most four digits and parentheses, which no detector
    ///   can start a match in, and no name holds.
    ///
    /// Held by `clean_outputs_are_left_alone_by_every_scanner` (rules tests).
    pub fn output_is_clean_for(&self, scanner: &Scanner) -> bool {
        match self {
            Action::TruncateIp { v4, v6 } => {
                *v4 <= 24 && *v6 <= 64 && scanner.on(super::pii::Detector::Ip)
            }
            Action::GeneralizeUa(_) => true,
            Action::ScrubUrl { scanner: own, .. } => own == scanner,
            _ => false,
        }
    }

    /// Applies a value action to one string, `under` the key it is the
    /// value of (or of an element of the array under that key; none at
    /// the top). `None`: unchanged. `redacted` is told each match it
    /// replaced.
    pub fn on_str(
        &self,
        s: &str,
        under: Under<'_>,
        keys: &Keyring,
        redacted: &mut dyn FnMut(Found),
    ) -> Option<String> {
        fresh(|out| self.on_str_into(s, under, keys, redacted, out))
    }

    /// [`Action::on_str`], writing the new value into `out` (empty on
    /// entry: a buffer the walker reuses, so that changing a value
    /// allocates nothing); `false`, with `out` left empty, if unchanged.
    pub fn on_str_into(
        &self,
        s: &str,
        under: Under<'_>,
        keys: &Keyring,
        redacted: &mut dyn FnMut(Found),
        out: &mut String,
    ) -> bool {
        debug_assert!(out.is_empty());
        match self {
            Action::Drop | Action::EncryptField => false, // whole values: the walker's job
            Action::Hash { normalize, region } => {
                hash_into(keys, &hashed_text(Scalar::Str(s), *normalize, *region), out);
                true
            }
            Action::RedactPii(scanner) => scanner.redact_under(s, under, redacted, out),
            Action::TruncateIp { v4, v6 } => truncate_ip_into(s, *v4, *v6, out),
            Action::ScrubUrl { keep, scanner } => {
                scrub_url_into(s, keep, scanner, under, redacted, out)
            }
            Action::GeneralizeUa(generalizer) => {
                generalizer.generalize_into(s, out);
                changed(out, s)
            }
        }
    }

    /// Applies a value action to a number's JSON text (`under` a key, as
    /// for [`Action::on_str`]); the result is a string. `hash`
    /// hashes its text (ids are often numeric); `redact_pii` replaces a
    /// number that is PII by its token ([`Scanner::number`]).
    pub fn on_number(
        &self,
        text: &str,
        under: Under<'_>,
        keys: &Keyring,
        redacted: &mut dyn FnMut(Found),
    ) -> Option<String> {
        match self {
            Action::Hash { normalize, region } => Some(hash(
                keys,
                &hashed_text(Scalar::Number(text), *normalize, *region),
            )),
            Action::RedactPii(scanner) => scanner.number(text, under).map(|f| {
                redacted(f);
                f.detector.token().to_owned()
            }),
            _ => None,
        }
    }
}

/// A JSON string or number, as `hash` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// A string's decoded text.
    Str(&'a str),
    /// A number's JSON text, as written.
    Number(&'a str),
}

/// The text `hash` makes a pseudonym of: a string as `normalize` (and
/// `region`) prepare it, a number's JSON text as written, never normalized
/// (ids are often numeric, and `12345` and `"12345"` hash alike). Whoever
/// compares ids as `hash` does (the opt-out registry) uses this.
pub fn hashed_text(
    value: Scalar<'_>,
    normalize: Normalize,
    region: Option<phonenumber::country::Id>,
) -> Cow<'_, str> {
    match value {
        Scalar::Str(s) => normalized(normalize, region, s),
        Scalar::Number(text) => Cow::Borrowed(text),
    }
}

fn hash(keys: &Keyring, text: &str) -> String {
    active_hmac(keys).hash(text.as_bytes())
}

fn hash_into(keys: &Keyring, text: &str, out: &mut String) {
    active_hmac(keys).hash_into(text.as_bytes(), out);
}

fn active_hmac(keys: &Keyring) -> &crate::crypto::HmacKey {
    keys.active_hmac()
        .expect("validated: hash rules need an active HMAC key")
}

/// What an `_into` action writes into a fresh buffer, if it changed the
/// value (the walker passes its own reused buffers instead).
fn fresh(write: impl FnOnce(&mut String) -> bool) -> Option<String> {
    let mut out = String::new();
    write(&mut out).then_some(out)
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

/// The text `hash` hashes (borrowed when `s` needs no change). `region`:
/// where national phone numbers are read.
pub fn normalized(
    mode: Normalize,
    region: Option<phonenumber::country::Id>,
    s: &str,
) -> Cow<'_, str> {
    // Ids fail at their first letter, before any digit is counted.
    let looks_like_phone = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || b" +-.()".contains(&b))
            && (7..=15).contains(&s.bytes().filter(u8::is_ascii_digit).count())
    };
    match mode {
        Normalize::Email => {
            let trimmed = s.trim();
            if trimmed.bytes().any(|b| b.is_ascii_uppercase()) || !trimmed.is_ascii() {
                Cow::Owned(trimmed.to_lowercase())
            } else {
                Cow::Borrowed(trimmed)
            }
        }
        Normalize::Phone => {
            let text = s.trim();
            let (international, text) = match text.strip_prefix("00") {
                Some(rest) => (true, Cow::Owned(format!("+{rest}"))),
                None => (text.starts_with('+'), Cow::Borrowed(text)),
            };
            if international || region.is_some() {
                let number = phonenumber::parse(if international { None } else { region }, &*text);
                if let Some(number) = number.ok().filter(phonenumber::is_valid) {
                    return Cow::Owned(number.format().mode(phonenumber::Mode::E164).to_string());
                }
            }
            // `text`, not `s`: a leading `00` has become the `+` it stands for.
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            Cow::Owned(if text.starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            })
        }
        Normalize::Auto if s.contains('@') => normalized(Normalize::Email, region, s),
        Normalize::Auto if looks_like_phone(s) => normalized(Normalize::Phone, region, s),
        Normalize::Auto | Normalize::None => Cow::Borrowed(s),
    }
}

/// `203.0.113.7` → `203.0.113.0` (/24), `2001:db8:1:2::5` → `2001:db8:1::` (/48).
pub fn truncate_ip(s: &str, v4: u8, v6: u8) -> Option<String> {
    fresh(|out| truncate_ip_into(s, v4, v6, out))
}

/// [`truncate_ip`] into `out` (empty on entry, left empty if unchanged).
fn truncate_ip_into(s: &str, v4: u8, v6: u8, out: &mut String) -> bool {
    let Ok(ip) = s.trim().parse::<IpAddr>() else {
        return false;
    };
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
    match truncated {
        // Written by hand: `Display` for addresses goes through the
        // formatting machinery, which costs more than the rest of the rule.
        IpAddr::V4(a) => {
            for (k, octet) in a.octets().into_iter().enumerate() {
                if k > 0 {
                    out.push('.');
                }
                out.push_str(itoa::Buffer::new().format(octet));
            }
        }
        IpAddr::V6(a) => {
            use std::fmt::Write;
            let _ = write!(out, "{a}");
        }
    }
    changed(out, s)
}

/// Whether `out`, an action's result for `s`, differs from it; if not, it
/// is cleared (an unchanged value leaves the buffer empty).
fn changed(out: &mut String, s: &str) -> bool {
    if out != s {
        return true;
    }
    out.clear();
    false
}

/// `s` split at the first `sep` (an ASCII byte), found with memchr.
fn split_once_byte(s: &str, sep: u8) -> Option<(&str, &str)> {
    debug_assert!(sep.is_ascii());
    memchr::memchr(sep, s.as_bytes()).map(|i| (&s[..i], &s[i + 1..]))
}

/// A `keep_params` pattern, compiled at config load: most are a name
/// (`gclid`) or a prefix (`utm_*`), matched without the general loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Glob {
    /// No `*`: the name itself.
    Exact(String),
    /// One `*`, at the end: names that start with this.
    Prefix(String),
    /// Anything else, matched by the general `*` matcher.
    Pattern(String),
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Glob {
        match pattern.find('*') {
            None => Glob::Exact(pattern.to_owned()),
            Some(at) if at + 1 == pattern.len() => Glob::Prefix(pattern[..at].to_owned()),
            Some(_) => Glob::Pattern(pattern.to_owned()),
        }
    }

    /// Whether `name` matches.
    #[inline]
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Glob::Exact(exact) => name == exact,
            Glob::Prefix(prefix) => name.starts_with(prefix.as_str()),
            Glob::Pattern(pattern) => glob(pattern, name),
        }
    }
}

/// Whether `name` matches a glob with `*` wildcards (linear time: on a
/// mismatch, retry from the last `*` one byte further).
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == n[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&b| b == b'*')
}

mod scrub;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use scrub::filter_query;
#[cfg(test)]
use scrub::form_decode;
pub use scrub::scrub_url;
use scrub::scrub_url_into;

#[cfg(test)]
mod tests;
