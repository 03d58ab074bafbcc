//! Suppressions: ids an operator withdrew through the admin API
//! (`POST /admin/subjects/suppress`, `unsuppress`), kept in an append-only
//! log on disk and matched exactly as the opt-out registry's lines are
//! (the registry consults them: one mechanism).
//!
//! **Durability.** A change is appended to the log and the log is synced
//! before [`Suppressions::suppress`] returns, so an answered suppression
//! survives a crash; it is in force for the next lookup on every thread as
//! soon as it returns. The log is one JSON object per line
//! (`{"op":"suppress","id":"…","at":1733370000}`); a line cut short by a
//! crash is ignored when the log is read, and the log is rewritten (to a
//! temporary file, synced, renamed over it, and the directory synced) when
//! it opens, holding only what is in force.
//!
//! **Bounds.** An id is 1 to [`MAX_ID_BYTES`] bytes without control
//! characters; a call takes at most [`MAX_IDS`] of them.
//!
//! Never: logs an id, or answers before the change is on disk.

use super::registry::Entries;
use crate::crypto::Keyring;
use crate::policy::rules::Scalar;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest id, in bytes.
pub const MAX_ID_BYTES: usize = 512;
/// Most ids in one call.
pub const MAX_IDS: usize = 5_000;

/// Why a change was refused or not recorded.
#[derive(Debug, thiserror::Error)]
pub enum SuppressionError {
    /// An id is empty, too long or holds a control character (its
    /// position in the call is given, never the id).
    #[error("id {0} is empty, longer than {MAX_ID_BYTES} bytes or holds a control character")]
    BadId(usize),
    /// More ids than a call may carry.
    #[error("at most {MAX_IDS} ids per call")]
    TooMany,
    /// The log could not be written or synced: nothing changed.
    #[error("the suppression log could not be written: {0}")]
    Io(#[from] std::io::Error),
}

/// One line of the log.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    op: Op,
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    at: u64,
}

#[derive(Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Op {
    Suppress,
    Unsuppress,
}

/// The suppressed ids, their log, and what lookups match.
#[derive(Debug)]
pub struct Suppressions {
    path: PathBuf,
    keys: Arc<Keyring>,
    /// Id -> when it was suppressed (Unix seconds).
    since: RwLock<(HashMap<Box<str>, u64>, Entries)>,
    /// The open log; appends are serialized here.
    log: Mutex<File>,
}

impl Suppressions {
    /// Opens (or creates) the log at `path`, reads what is in force, and
    /// rewrites the log to hold only that. Pseudonyms are recognised with
    /// `keys`' HMAC keys.
    pub fn open(path: &Path, keys: Arc<Keyring>) -> std::io::Result<Suppressions> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut since: HashMap<Box<str>, u64> = HashMap::new();
        match File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    // A line cut short (a crash mid-append) or not ours is
                    // skipped: only whole lines were answered.
                    let Ok(line) = serde_json::from_slice::<Line<'_>>(&line) else {
                        continue;
                    };
                    match line.op {
                        Op::Suppress => {
                            since.entry(line.id.into()).or_insert(line.at);
                        }
                        Op::Unsuppress => {
                            since.remove(&*line.id);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let log = compact(path, &since)?;
        let entries = Entries::new(since.keys().map(|k| &**k), &keys);
        Ok(Suppressions {
            path: path.to_owned(),
            keys,
            since: RwLock::new((since, entries)),
            log: Mutex::new(log),
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Suppresses `ids` (already suppressed ones keep their time). Returns
    /// how many were new. On disk before it returns.
    pub fn suppress(&self, ids: &[String]) -> Result<usize, SuppressionError> {
        check(ids)?;
        let at = now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let fresh: Vec<&String> = {
            let state = self.since.read().unwrap_or_else(|p| p.into_inner());
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .filter(|id| !state.0.contains_key(id.as_str()) && seen.insert(id.as_str()))
                .collect()
        };
        append(
            &mut log,
            fresh.iter().map(|id| (Op::Suppress, id.as_str(), at)),
        )?;
        let mut state = self.since.write().unwrap_or_else(|p| p.into_inner());
        for id in &fresh {
            state.0.insert(id.as_str().into(), at);
            state.1.add(id, &self.keys);
        }
        Ok(fresh.len())
    }

    /// Lifts the suppression of `ids`. Returns how many were suppressed.
    /// On disk before it returns.
    pub fn unsuppress(&self, ids: &[String]) -> Result<usize, SuppressionError> {
        check(ids)?;
        let at = now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let listed: Vec<&String> = {
            let state = self.since.read().unwrap_or_else(|p| p.into_inner());
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .filter(|id| state.0.contains_key(id.as_str()) && seen.insert(id.as_str()))
                .collect()
        };
        if listed.is_empty() {
            return Ok(0);
        }
        append(
            &mut log,
            listed.iter().map(|id| (Op::Unsuppress, id.as_str(), at)),
        )?;
        let mut state = self.since.write().unwrap_or_else(|p| p.into_inner());
        for id in &listed {
            state.0.remove(id.as_str());
        }
        // Digests cannot be taken out one by one (two ids may share a
        // form): rebuilt from what stays.
        state.1 = Entries::new(state.0.keys().map(|k| &**k), &self.keys);
        Ok(listed.len())
    }

    /// When `id` was suppressed, as it was written in the call (`None`:
    /// it is not).
    pub fn since(&self, id: &str) -> Option<SystemTime> {
        let state = self.since.read().unwrap_or_else(|p| p.into_inner());
        state
            .0
            .get(id)
            .map(|&at| UNIX_EPOCH + std::time::Duration::from_secs(at))
    }

    /// Whether an event's id matches a suppressed one, as the registry
    /// matches its lines.
    pub fn matches(&self, id: Scalar<'_>) -> bool {
        let state = self.since.read().unwrap_or_else(|p| p.into_inner());
        !state.0.is_empty() && state.1.matches(id, &self.keys)
    }

    /// `id` as the active HMAC key's pseudonym (what the audit log
    /// records instead of the id); `None` without an HMAC key.
    pub fn pseudonym(&self, id: &str) -> Option<String> {
        self.keys.active_hmac().map(|k| k.hash(id.as_bytes()))
    }

    /// How many ids are suppressed.
    pub fn len(&self) -> usize {
        self.since.read().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn check(ids: &[String]) -> Result<(), SuppressionError> {
    if ids.len() > MAX_IDS {
        return Err(SuppressionError::TooMany);
    }
    for (i, id) in ids.iter().enumerate() {
        if id.is_empty() || id.len() > MAX_ID_BYTES || id.chars().any(char::is_control) {
            return Err(SuppressionError::BadId(i));
        }
    }
    Ok(())
}

/// Appends the lines in one write and syncs. A failed write may leave a
/// partial last line, which reading skips; each write starts with a line
/// break, so a later write never runs on from it. Nothing is in force
/// until this returns.
fn append<'a>(
    log: &mut File,
    lines: impl Iterator<Item = (Op, &'a str, u64)>,
) -> std::io::Result<()> {
    let mut buf = vec![b'\n'];
    for (op, id, at) in lines {
        let line = Line {
            op,
            id: id.into(),
            at,
        };
        serde_json::to_writer(&mut buf, &line).map_err(std::io::Error::other)?;
        buf.push(b'\n');
    }
    if buf.len() == 1 {
        return Ok(());
    }
    log.write_all(&buf)?;
    log.sync_data()
}

/// Rewrites the log at `path` to hold `since` only (write, sync, rename,
/// sync the directory) and opens it for appending.
fn compact(path: &Path, since: &HashMap<Box<str>, u64>) -> std::io::Result<File> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = create_private(&tmp)?;
        let mut sorted: Vec<(&Box<str>, &u64)> = since.iter().collect();
        sorted.sort_by_key(|(_, at)| **at);
        let mut buf = Vec::new();
        for (id, &at) in sorted {
            let line = Line {
                op: Op::Suppress,
                id: (&**id).into(),
                at,
            };
            serde_json::to_writer(&mut buf, &line).map_err(std::io::Error::other)?;
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

/// A new file only its owner may read (it names people).
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(test)]
mod tests;
