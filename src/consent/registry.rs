//! The opt-out registry: user and anonymous ids that consent to nothing,
//! read from a file (one id per line, `#` comments) and re-read when the
//! file changes.
//!
//! **Matching.** An id is compared as `hash` sees it
//! ([`crate::policy::rules::hashed_text`]): a string by its text, a number
//! by its JSON text (`"userId": 12345` is the id `12345`), and also as the
//! default `auto` normalization leaves it (emails lowercased, phone numbers
//! reduced). A registry line may also be a pseudonym as `hash` writes it,
//! `<key id>:<base64url(HMAC-SHA256)>`, made with any HMAC key of the
//! keyring, active or not. So:
//! - a raw id matches the same raw id, and the pseudonym of it under any
//!   key (an event of a server that hashes before sending);
//! - a pseudonym matches itself, and the raw id it was made from.
//!
//! **Cost.** Loading hashes every raw line once per HMAC key and form (at
//! most two forms). Per event id, the lookups do not depend on the size of
//! the registry: a set lookup per form, a digest lookup when the id is
//! itself a pseudonym, and, only for keys the registry holds pseudonyms
//! of, one HMAC per key and form. Digests are kept as their first 128 bits.

use super::suppression::Suppressions;
use crate::crypto::{parse_pseudonym, Keyring};
use crate::policy::rules::{hashed_text, Normalize, Scalar};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// A set of opted-out ids, reloadable from its file.
#[derive(Debug)]
pub struct OptOutRegistry {
    path: Option<PathBuf>,
    keys: Arc<Keyring>,
    state: RwLock<(Entries, Option<SystemTime>)>,
    /// What the admin API suppressed: matched like the file's lines.
    suppressions: Option<Arc<Suppressions>>,
}

/// What the registry lists, ready for lookups.
#[derive(Debug, Default)]
pub(super) struct Entries {
    /// Every line, and each raw id also as `auto` normalizes it.
    text: HashSet<Box<str>>,
    /// Per HMAC key (by position in the keyring): the digests of every raw
    /// line's forms under it, for events that carry pseudonyms.
    raw_macs: Vec<HashSet<u128>>,
    /// Per HMAC key: the digests of the lines that are its pseudonyms, for
    /// events that carry raw ids.
    pseudonyms: Vec<HashSet<u128>>,
    /// Number of lines (ids or pseudonyms).
    lines: usize,
}

/// The first 128 bits of a digest: enough to tell ids apart.
fn short(digest: &[u8; 32]) -> u128 {
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

/// The texts an id is compared by: as written, and as `hash`'s `auto`
/// normalization leaves it (when that differs).
fn forms(id: Scalar<'_>) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    let plain = hashed_text(id, Normalize::None, None);
    let auto = hashed_text(id, Normalize::Auto, None);
    let auto = (auto != plain).then_some(auto);
    std::iter::once(plain).chain(auto)
}

impl Entries {
    pub(super) fn new<'a>(lines: impl Iterator<Item = &'a str>, keys: &Keyring) -> Entries {
        let hmac = keys.hmac_keys();
        let mut entries = Entries {
            raw_macs: vec![HashSet::new(); hmac.len()],
            pseudonyms: vec![HashSet::new(); hmac.len()],
            ..Entries::default()
        };
        for line in lines {
            entries.add(line, keys);
        }
        entries
    }

    /// Lists one more line (an id or a pseudonym).
    pub(super) fn add(&mut self, line: &str, keys: &Keyring) {
        let hmac = keys.hmac_keys();
        self.raw_macs.resize(hmac.len(), HashSet::new());
        self.pseudonyms.resize(hmac.len(), HashSet::new());
        self.lines += 1;
        let pseudonym = parse_pseudonym(line).and_then(|(id, digest)| {
            let key = hmac.iter().position(|k| k.id() == id)?;
            Some((key, digest))
        });
        if let Some((key, digest)) = pseudonym {
            self.text.insert(line.into());
            self.pseudonyms[key].insert(short(&digest));
            return;
        }
        for form in forms(Scalar::Str(line)) {
            for (key, macs) in hmac.iter().zip(&mut self.raw_macs) {
                macs.insert(short(&key.mac(form.as_bytes())));
            }
            self.text.insert(form.into());
        }
    }

    pub(super) fn matches(&self, id: Scalar<'_>, keys: &Keyring) -> bool {
        let hmac = keys.hmac_keys();
        for form in forms(id) {
            if self.text.contains(&*form) {
                return true;
            }
            // A pseudonym of a listed raw id.
            let of_raw = parse_pseudonym(&form).is_some_and(|(kid, digest)| {
                hmac.iter()
                    .position(|k| k.id() == kid)
                    .and_then(|key| self.raw_macs.get(key))
                    .is_some_and(|macs| macs.contains(&short(&digest)))
            });
            // A raw id whose pseudonym is listed: hashed once per key that
            // has pseudonyms listed.
            let listed_pseudonym = || {
                hmac.iter()
                    .zip(&self.pseudonyms)
                    .filter(|(_, listed)| !listed.is_empty())
                    .any(|(key, listed)| listed.contains(&short(&key.mac(form.as_bytes()))))
            };
            if of_raw || listed_pseudonym() {
                return true;
            }
        }
        false
    }
}

impl OptOutRegistry {
    /// Loads `path`; pseudonyms in it are recognised with `keys`' HMAC keys.
    pub fn load(path: &Path, keys: Arc<Keyring>) -> std::io::Result<OptOutRegistry> {
        let registry = OptOutRegistry {
            path: Some(path.to_owned()),
            keys,
            state: RwLock::new((Entries::default(), None)),
            suppressions: None,
        };
        registry.reload()?;
        Ok(registry)
    }

    /// A fixed registry (tests).
    pub fn from_ids<'a>(
        ids: impl IntoIterator<Item = &'a str>,
        keys: Arc<Keyring>,
    ) -> OptOutRegistry {
        let entries = Entries::new(ids.into_iter(), &keys);
        OptOutRegistry {
            path: None,
            keys,
            state: RwLock::new((entries, None)),
            suppressions: None,
        }
    }

    /// A registry of `suppressions` alone (no file).
    pub fn of_suppressions(suppressions: Arc<Suppressions>, keys: Arc<Keyring>) -> OptOutRegistry {
        OptOutRegistry::from_ids([], keys).with_suppressions(Some(suppressions))
    }

    /// Also matches what the admin API suppressed.
    pub fn with_suppressions(mut self, suppressions: Option<Arc<Suppressions>>) -> OptOutRegistry {
        self.suppressions = suppressions;
        self
    }

    /// Whether `id` (a string id's text) is opted out.
    pub fn contains(&self, id: &str) -> bool {
        self.matches(Scalar::Str(id))
    }

    /// Whether the id `id` (a JSON string's text or a number's JSON text)
    /// is opted out.
    pub fn matches(&self, id: Scalar<'_>) -> bool {
        let listed = {
            let state = self.state.read().expect("registry lock");
            state.0.matches(id, &self.keys)
        };
        listed || self.suppressions.as_ref().is_some_and(|s| s.matches(id))
    }

    /// Number of lines (ids and pseudonyms).
    pub fn len(&self) -> usize {
        self.state.read().expect("registry lock").0.lines
    }

    /// Whether no id is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads the file if it changed since the last read. Returns whether
    /// it was reloaded. On error the previous set stays in force.
    pub fn reload(&self) -> std::io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        let modified = std::fs::metadata(path)?.modified().ok();
        if modified.is_some() && self.state.read().expect("registry lock").1 == modified {
            return Ok(false);
        }
        let text = std::fs::read_to_string(path)?;
        let lines = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let entries = Entries::new(lines, &self.keys);
        *self.state.write().expect("registry lock") = (entries, modified);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::HmacKey;
    use proptest::prelude::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const K2: &str = "HxwdGhsYGRYXFBUSExAREA4PDA0KCwgJBgcEBQIDAAE";

    /// Two HMAC keys, `h2` active, `h1` retired.
    fn keys() -> Arc<Keyring> {
        let h1 = HmacKey::from_text("h1", K1).unwrap();
        let h2 = HmacKey::from_text("h2", K2).unwrap();
        Arc::new(Keyring::new(vec![h1, h2], Some(1), Vec::new(), None))
    }

    #[test]
    fn loads_and_reloads_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optouts.txt");
        std::fs::write(&path, "# opted out\nuser-1\n\n  anon-2  \n").unwrap();
        let r = OptOutRegistry::load(&path, Arc::default()).unwrap();
        assert!(r.contains("user-1") && r.contains("anon-2"));
        assert!(!r.contains("# opted out"));
        assert_eq!(r.len(), 2);
        assert!(!r.reload().unwrap(), "unchanged file is not re-read");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "user-3\n").unwrap();
        // Force a different mtime even on coarse filesystems.
        let later = SystemTime::now() + std::time::Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(r.reload().unwrap());
        assert!(r.contains("user-3") && !r.contains("user-1"));
        std::fs::remove_file(&path).unwrap();
        assert!(r.reload().is_err());
        assert!(
            r.contains("user-3"),
            "a failed reload keeps the previous set"
        );
    }

    #[test]
    fn numbers_match_their_text() {
        let r = OptOutRegistry::from_ids(["12345", "4155550100"], Arc::default());
        assert!(r.matches(Scalar::Number("12345")));
        assert!(r.matches(Scalar::Str("12345")));
        assert!(r.matches(Scalar::Number("4155550100")));
        // As `hash` normalizes a phone-like id.
        assert!(r.matches(Scalar::Str("415-555-0100")));
        assert!(!r.matches(Scalar::Number("123456")));
        assert!(!r.matches(Scalar::Number("12345.0")), "another number text");
    }

    #[test]
    fn emails_match_as_hash_normalizes_them() {
        let r = OptOutRegistry::from_ids(["Jane@Example.com"], Arc::default());
        assert!(r.contains("Jane@Example.com"));
        assert!(r.contains(" jane@example.COM "));
        assert!(!r.contains("john@example.com"));
    }

    #[test]
    fn pseudonyms_match_raw_ids_under_every_key() {
        let keys = keys();
        let [h1, h2] = [&keys.hmac_keys()[0], &keys.hmac_keys()[1]];
        // Listed as pseudonyms made by `hash` (h1 retired, h2 active).
        let listed = [h1.hash(b"user-1"), h2.hash(b"12345")];
        let r = OptOutRegistry::from_ids(listed.iter().map(String::as_str), keys.clone());
        assert!(
            r.contains("user-1"),
            "raw id, pseudonym under a retired key"
        );
        assert!(r.matches(Scalar::Number("12345")));
        assert!(r.contains(&listed[0]), "the same pseudonym");
        assert!(!r.contains("user-2"));
        assert!(!r.contains(&h2.hash(b"user-2")));
        // Listed raw: an event carrying its pseudonym under any key matches.
        let r = OptOutRegistry::from_ids(["user-1", "Jane@Example.com"], keys.clone());
        assert!(r.contains(&h1.hash(b"user-1")));
        assert!(r.contains(&h2.hash(b"user-1")));
        // `hash` with `normalize = "auto"` lowercased the email first.
        assert!(r.contains(&h2.hash(b"jane@example.com")));
        assert!(r.contains(&h2.hash(b"Jane@Example.com")));
        assert!(!r.contains(&h2.hash(b"user-2")));
        // A pseudonym under a key the keyring does not have is only text.
        let other = HmacKey::from_text("h9", K1).unwrap().hash(b"user-1");
        assert!(!r.contains(&other));
    }

    proptest! {
        /// Whatever is listed, raw or as a pseudonym under any key, an
        /// event carrying the id raw or as a pseudonym under any key is
        /// matched, and an id not listed never is.
        #[test]
        fn raw_and_pseudonymous_forms_match_each_other(
            listed in prop::collection::vec("[a-z0-9-]{1,12}", 1..6),
            other in "[A-Z]{1,12}",
            listed_as in 0usize..3,
            sent_as in 0usize..3,
        ) {
            // A pseudonym under one key cannot be told from one under
            // another without the raw id.
            prop_assume!(listed_as == 0 || sent_as == 0 || listed_as == sent_as);
            let keys = keys();
            let form = |id: &str, how: usize| match how {
                0 => id.to_owned(),
                k => keys.hmac_keys()[k - 1].hash(id.as_bytes()),
            };
            let lines: Vec<String> = listed.iter().map(|id| form(id, listed_as)).collect();
            let r = OptOutRegistry::from_ids(lines.iter().map(String::as_str), keys.clone());
            for id in &listed {
                prop_assert!(r.contains(&form(id, sent_as)), "{id} as {sent_as}, listed as {listed_as}");
            }
            prop_assert!(!r.contains(&form(&other, sent_as)));
        }
    }
}
