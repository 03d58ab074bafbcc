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
//! **Change feed.** Every line carries a sequence number (`seq`), one
//! more than the last one issued; [`Suppressions::changes`] answers the
//! changes after a cursor (a `seq`) in order, which is what replicas poll
//! (`GET /admin/subjects?after=`). Compaction keeps, for every id ever
//! changed, its latest line with its `seq` (an unsuppression too, as a
//! tombstone), so a cursor stays valid across restarts and compactions:
//! the latest change of every id changed after it is still there. The
//! log therefore grows with the number of distinct ids ever changed, not
//! with the number of calls. Lines written before sequence numbers
//! existed are numbered in the order they are read.
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

/// One line of the log, and one change of the feed.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    op: Op,
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    at: u64,
    /// 0 in lines written before sequence numbers: numbered when read.
    #[serde(default)]
    seq: u64,
}

/// One change of the feed: what happened to an id, when, and its place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Suppressed or lifted.
    pub op: Op,
    /// The id, as it was written in the call.
    pub id: String,
    /// When (Unix seconds).
    pub at: u64,
}

/// What a suppression log line does.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// The id is suppressed.
    Suppress,
    /// Its suppression is lifted.
    Unsuppress,
}

/// The latest change of every id ever changed, by sequence number.
#[derive(Debug, Default)]
struct Feed {
    by_seq: std::collections::BTreeMap<u64, (Op, Box<str>, u64)>,
    seq_of: HashMap<Box<str>, u64>,
    last: u64,
}

impl Feed {
    /// Records `op` on `id` as the next change; returns its number.
    fn push(&mut self, op: Op, id: &str, at: u64) -> u64 {
        self.last += 1;
        self.put(self.last, op, id, at);
        self.last
    }

    fn put(&mut self, seq: u64, op: Op, id: &str, at: u64) {
        if let Some(old) = self.seq_of.insert(id.into(), seq) {
            self.by_seq.remove(&old);
        }
        self.by_seq.insert(seq, (op, id.into(), at));
        self.last = self.last.max(seq);
    }
}

/// The suppressed ids, their log, and what lookups match.
#[derive(Debug)]
pub struct Suppressions {
    path: PathBuf,
    keys: Arc<Keyring>,
    /// Id -> when it was suppressed (Unix seconds).
    since: RwLock<(HashMap<Box<str>, u64>, Entries)>,
    /// The change feed (written under `log`'s lock).
    feed: RwLock<Feed>,
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
        let mut feed = Feed::default();
        match File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    // A line cut short (a crash mid-append) or not ours is
                    // skipped: only whole lines were answered.
                    let Ok(line) = serde_json::from_slice::<Line<'_>>(&line) else {
                        continue;
                    };
                    // An unnumbered (older) line, or one numbered out of
                    // order by hand, comes after everything read so far.
                    let seq = if line.seq > feed.last {
                        line.seq
                    } else {
                        feed.last + 1
                    };
                    feed.put(seq, line.op, &line.id, line.at);
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
        // Only the latest line of each id matters: its `at` is when the
        // id was first suppressed (a repeated suppress changes nothing).
        for (id, at) in &since {
            if let Some(seq) = feed.seq_of.get(id) {
                if let Some(entry) = feed.by_seq.get_mut(seq) {
                    entry.2 = *at;
                }
            }
        }
        let log = compact(path, &feed)?;
        let entries = Entries::new(since.keys().map(|k| &**k), &keys);
        Ok(Suppressions {
            path: path.to_owned(),
            keys,
            since: RwLock::new((since, entries)),
            feed: RwLock::new(feed),
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
        let first = self.next_seq();
        append(
            &mut log,
            fresh
                .iter()
                .zip(first..)
                .map(|(id, seq)| (Op::Suppress, id.as_str(), at, seq)),
        )?;
        self.record(fresh.iter().map(|id| (Op::Suppress, id.as_str(), at)));
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
        let first = self.next_seq();
        append(
            &mut log,
            listed
                .iter()
                .zip(first..)
                .map(|(id, seq)| (Op::Unsuppress, id.as_str(), at, seq)),
        )?;
        self.record(listed.iter().map(|id| (Op::Unsuppress, id.as_str(), at)));
        let mut state = self.since.write().unwrap_or_else(|p| p.into_inner());
        for id in &listed {
            state.0.remove(id.as_str());
        }
        // Digests cannot be taken out one by one (two ids may share a
        // form): rebuilt from what stays.
        state.1 = Entries::new(state.0.keys().map(|k| &**k), &self.keys);
        Ok(listed.len())
    }

    fn next_seq(&self) -> u64 {
        self.feed.read().unwrap_or_else(|p| p.into_inner()).last + 1
    }

    /// Puts appended lines into the feed, numbered as [`Self::next_seq`]
    /// said (the log's lock is held throughout).
    fn record<'a>(&self, lines: impl Iterator<Item = (Op, &'a str, u64)>) {
        let mut feed = self.feed.write().unwrap_or_else(|p| p.into_inner());
        for (op, id, at) in lines {
            feed.push(op, id, at);
        }
    }

    /// At most `limit` changes after cursor `after`, in order, with the
    /// cursor of the last one (`after` when there is none) and whether
    /// more follow. Replaying them onto the state at `after` gives the
    /// state now.
    pub fn changes(&self, after: u64, limit: usize) -> (Vec<Change>, u64, bool) {
        let feed = self.feed.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut next = after;
        let mut more = false;
        for (&seq, (op, id, at)) in feed
            .by_seq
            .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
        {
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(Change {
                op: *op,
                id: id.to_string(),
                at: *at,
            });
            next = seq;
        }
        (out, next, more)
    }

    /// Applies changes a primary sent (see [`Self::changes`]), in order,
    /// keeping their times: ids already in the state a change describes
    /// are left alone. Every id is checked first; on any error nothing
    /// changed. Returns how many changed the state.
    pub fn apply(&self, changes: &[Change]) -> Result<usize, SuppressionError> {
        if changes.len() > MAX_IDS {
            return Err(SuppressionError::TooMany);
        }
        for (i, c) in changes.iter().enumerate() {
            if !valid_id(&c.id) {
                return Err(SuppressionError::BadId(i));
            }
        }
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let effective: Vec<&Change> = {
            let state = self.since.read().unwrap_or_else(|p| p.into_inner());
            let mut view: HashMap<&str, bool> = HashMap::new();
            changes
                .iter()
                .filter(|c| {
                    let now_in = *view
                        .get(c.id.as_str())
                        .unwrap_or(&state.0.contains_key(c.id.as_str()));
                    let want = c.op == Op::Suppress;
                    view.insert(&c.id, want);
                    now_in != want
                })
                .collect()
        };
        let first = self.next_seq();
        append(
            &mut log,
            effective
                .iter()
                .zip(first..)
                .map(|(c, seq)| (c.op, c.id.as_str(), c.at, seq)),
        )?;
        self.record(effective.iter().map(|c| (c.op, c.id.as_str(), c.at)));
        let mut state = self.since.write().unwrap_or_else(|p| p.into_inner());
        let mut lifted = false;
        for c in &effective {
            match c.op {
                Op::Suppress => {
                    state.0.insert(c.id.as_str().into(), c.at);
                    state.1.add(&c.id, &self.keys);
                }
                Op::Unsuppress => {
                    state.0.remove(c.id.as_str());
                    lifted = true;
                }
            }
        }
        if lifted {
            state.1 = Entries::new(state.0.keys().map(|k| &**k), &self.keys);
        }
        Ok(effective.len())
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
        if !valid_id(id) {
            return Err(SuppressionError::BadId(i));
        }
    }
    Ok(())
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

/// Appends the lines in one write and syncs. A failed write may leave a
/// partial last line, which reading skips; each write starts with a line
/// break, so a later write never runs on from it. Nothing is in force
/// until this returns.
fn append<'a>(
    log: &mut File,
    lines: impl Iterator<Item = (Op, &'a str, u64, u64)>,
) -> std::io::Result<()> {
    let mut buf = vec![b'\n'];
    for (op, id, at, seq) in lines {
        let line = Line {
            op,
            id: id.into(),
            at,
            seq,
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

/// Rewrites the log at `path` to hold the latest line of each id only,
/// in sequence order (write, sync, rename, sync the directory) and opens
/// it for appending.
fn compact(path: &Path, feed: &Feed) -> std::io::Result<File> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = create_private(&tmp)?;
        let mut buf = Vec::new();
        for (&seq, (op, id, at)) in &feed.by_seq {
            let line = Line {
                op: *op,
                id: (&**id).into(),
                at: *at,
                seq,
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

pub mod sync;

#[cfg(test)]
mod tests;
