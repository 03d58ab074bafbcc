//! Erasure marks: ids whose events still waiting for delivery (in a
//! durable spool, a memory queue, or a batch being retried) must never be
//! forwarded. `POST /admin/subjects/erase` suppresses the ids (no new
//! event of theirs is accepted) and marks them here; the batcher asks
//! [`Erasures::covers`] of every event it takes and of every batch before
//! each delivery attempt, and skips (and counts) what is covered.
//!
//! **Matching.** Events are stored after the policy ran, so an id may be
//! there raw or as the destination's pseudonym (`hash`): every string and
//! number of a stored event (JSON, or a form-encoded line) is compared as
//! the opt-out registry compares ids ([`super::registry`]), which matches
//! both forms under every HMAC key of the keyring. Any value, not only the
//! id fields: an event that names an erased subject anywhere is theirs.
//!
//! **Durability.** A mark is appended to its log (one JSON object per
//! line, `{"id":"…","at":1733370000}`) and the log is synced before
//! [`Erasures::erase`] returns, and only then is it in force; the log is
//! read when privgate starts, so a restart between the erase and the
//! backend coming back keeps the events skipped. A mark is kept for
//! `keep` (the longest a spooled event may wait, the spool's `max_age`,
//! plus a day); older marks are dropped when the log is rewritten at open,
//! since no event they could cover is left.
//!
//! **Generation.** Every erase bumps [`Erasures::generation`] after its
//! marks are in force: a batch built under an older generation is filtered
//! again before its next attempt.
//!
//! Never: logs an id or an event, or answers before the marks are on disk.

use super::registry::Entries;
use crate::crypto::Keyring;
use crate::policy::rules::Scalar;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One line of the log.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    at: u64,
}

/// The erased ids, their log, and what the batcher matches.
#[derive(Debug)]
pub struct Erasures {
    path: PathBuf,
    keys: Arc<Keyring>,
    state: RwLock<(HashMap<Box<str>, u64>, Entries)>,
    generation: AtomicU64,
    log: Mutex<File>,
}

impl Erasures {
    /// Where the marks of the suppression log at `suppressions` are kept:
    /// beside it, `<name>.erased.jsonl`.
    pub fn path_for(suppressions: &Path) -> PathBuf {
        let mut name = suppressions
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        name.push(".erased.jsonl");
        suppressions.with_file_name(name)
    }

    /// Opens (or creates) the log at `path`, drops marks older than
    /// `keep`, and rewrites it to hold the rest.
    pub fn open(path: &Path, keys: Arc<Keyring>, keep: Duration) -> std::io::Result<Erasures> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let oldest = now().saturating_sub(keep.as_secs());
        let mut ids: HashMap<Box<str>, u64> = HashMap::new();
        match File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    // A line cut short by a crash was never answered.
                    let Ok(line) = serde_json::from_slice::<Line<'_>>(&line) else {
                        continue;
                    };
                    if line.at >= oldest {
                        let at = ids.entry(line.id.into()).or_insert(line.at);
                        *at = (*at).max(line.at);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let log = rewrite(path, &ids)?;
        let entries = Entries::new(ids.keys().map(|k| &**k), &keys);
        Ok(Erasures {
            path: path.to_owned(),
            keys,
            state: RwLock::new((ids, entries)),
            generation: AtomicU64::new(0),
            log: Mutex::new(log),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks `ids` (already checked by the suppression's bounds). On disk
    /// before it returns, and in force from then on. Returns how many
    /// distinct ids were marked.
    pub fn erase(&self, ids: &[String]) -> std::io::Result<usize> {
        let at = now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = std::collections::HashSet::new();
        let fresh: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| seen.insert(*id))
            .collect();
        let mut buf = vec![b'\n'];
        for id in &fresh {
            serde_json::to_writer(
                &mut buf,
                &Line {
                    id: (*id).into(),
                    at,
                },
            )
            .map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        log.write_all(&buf)?;
        log.sync_data()?;
        {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            for id in &fresh {
                if state.0.insert((*id).into(), at).is_none() {
                    state.1.add(id, &self.keys);
                }
            }
        }
        // After the marks are in force: a batch that sees the new
        // generation filters with them.
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(fresh.len())
    }

    /// Changes with every erase.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How many ids are marked.
    pub fn len(&self) -> usize {
        self.state.read().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the stored event `event` names an erased id anywhere (as
    /// the id or as a pseudonym of it).
    pub fn covers(&self, event: &[u8]) -> bool {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        if state.0.is_empty() {
            return false;
        }
        let hit = |s: Scalar<'_>| state.1.matches(s, &self.keys);
        match serde_json::from_slice::<serde_json::Value>(event) {
            Ok(value) => any_scalar(&value, &hit),
            // Not JSON (a GA4 hit is a query string): its values, and the
            // line as a whole.
            Err(_) => {
                form_urlencoded::parse(event)
                    .any(|(k, v)| hit(Scalar::Str(&k)) || hit(Scalar::Str(&v)))
                    || std::str::from_utf8(event).is_ok_and(|t| hit(Scalar::Str(t.trim())))
            }
        }
    }
}

/// Whether any string or number in `value` satisfies `hit`. serde_json
/// bounds the depth of what it parses, so this recursion is bounded too.
fn any_scalar(value: &serde_json::Value, hit: &impl Fn(Scalar<'_>) -> bool) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => hit(Scalar::Str(s)),
        Value::Number(n) => hit(Scalar::Number(&n.to_string())),
        Value::Array(items) => items.iter().any(|v| any_scalar(v, hit)),
        Value::Object(map) => map.values().any(|v| any_scalar(v, hit)),
        Value::Bool(_) | Value::Null => false,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Rewrites the log to hold `ids` (write, sync, rename, sync the
/// directory) and opens it for appending.
fn rewrite(path: &Path, ids: &HashMap<Box<str>, u64>) -> std::io::Result<File> {
    let tmp = path.with_extension("tmp");
    {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        let mut buf = Vec::new();
        for (id, &at) in ids {
            serde_json::to_writer(
                &mut buf,
                &Line {
                    id: (&**id).into(),
                    at,
                },
            )
            .map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        file.write_all(&buf)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Arc<Keyring> {
        let key =
            crate::crypto::HmacKey::from_text("h1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
                .unwrap();
        Arc::new(Keyring::new(vec![key], Some(0), Vec::new(), None))
    }

    const UNIVERSE: [&str; 5] = ["u-1", "u-2", "anon-3", "4711", "ü/5"];

    #[derive(Clone, Debug)]
    enum Step {
        Erase(Vec<usize>),
        Reopen,
        /// A crash mid-append: a torn last line, then a reopen.
        Torn,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            4 => proptest::collection::vec(0..UNIVERSE.len(), 0..4).prop_map(Step::Erase),
            1 => Just(Step::Reopen),
            1 => Just(Step::Torn),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Against a set: after every step, an event with an id (raw, as
        /// a number where it is one, or as its pseudonym) is covered
        /// exactly when the id was erased, across reopens and torn writes.
        #[test]
        fn marks_match_a_model(steps in proptest::collection::vec(step(), 1..12)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("e.jsonl");
            let keys = keys();
            let keep = Duration::from_secs(3600);
            let mut e = Erasures::open(&path, keys.clone(), keep).unwrap();
            let mut model = std::collections::HashSet::new();
            for step in steps {
                match step {
                    Step::Erase(ids) => {
                        let ids: Vec<String> = ids.iter().map(|&i| UNIVERSE[i].to_owned()).collect();
                        let before = e.generation();
                        e.erase(&ids).unwrap();
                        proptest::prop_assert!(e.generation() > before);
                        model.extend(ids);
                    }
                    Step::Reopen => {
                        drop(e);
                        e = Erasures::open(&path, keys.clone(), keep).unwrap();
                    }
                    Step::Torn => {
                        drop(e);
                        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
                        f.write_all(b"\n{\"id\":\"u-2\",\"a").unwrap();
                        e = Erasures::open(&path, keys.clone(), keep).unwrap();
                    }
                }
                proptest::prop_assert_eq!(e.len(), model.len());
                for id in UNIVERSE {
                    let erased = model.contains(id);
                    let raw = serde_json::json!({"userId": id}).to_string();
                    let pseudonym = keys.active_hmac().unwrap().hash(id.as_bytes());
                    let hashed = serde_json::json!({"p": {"x": [pseudonym]}}).to_string();
                    proptest::prop_assert_eq!(e.covers(raw.as_bytes()), erased, "{}", id);
                    proptest::prop_assert_eq!(e.covers(hashed.as_bytes()), erased, "{}", id);
                    if let Ok(n) = id.parse::<u64>() {
                        let number = format!(r#"{{"userId":{n}}}"#);
                        proptest::prop_assert_eq!(e.covers(number.as_bytes()), erased);
                    }
                }
            }
        }
    }

    #[test]
    fn covers_raw_and_pseudonymous_ids_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let keys = keys();
        let e = Erasures::open(&path, keys.clone(), Duration::from_secs(3600)).unwrap();
        assert!(!e.covers(br#"{"userId":"alice"}"#));
        e.erase(&["alice".into()]).unwrap();
        assert_eq!(e.generation(), 1);
        let pseudonym = keys.active_hmac().unwrap().hash(b"alice");
        assert!(e.covers(br#"{"userId":"alice"}"#));
        assert!(e.covers(format!(r#"{{"context":{{"x":"{pseudonym}"}}}}"#).as_bytes()));
        assert!(!e.covers(br#"{"userId":"bob"}"#));
        assert!(e.covers(b"v=2&uid=alice"));
        drop(e);
        let e = Erasures::open(&path, keys.clone(), Duration::from_secs(3600)).unwrap();
        assert!(e.covers(br#"{"userId":"alice"}"#));
        // Expired marks are dropped at open.
        drop(e);
        std::thread::sleep(Duration::from_millis(1100));
        let e = Erasures::open(&path, keys, Duration::ZERO).unwrap();
        assert!(e.is_empty());
    }
}
