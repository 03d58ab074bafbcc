//! The audit log: an append-only, hash-chained record of what changed how
//! privgate treats people's data, and who tried to change it.
//!
//! # What it owns
//! - Writing ([`AuditLog`]): one JSON object per line, each carrying
//!   `seq` (from 0), `at` (RFC 3339), `kind`, its details and `prev`, the
//!   SHA-256 (hex) of the previous line's bytes (64 zeros for the first).
//!   Every `checkpoint_every` records (and when the log opens), a
//!   `checkpoint` record signs the chain so far: Ed25519 over the bytes of
//!   its `prev`, with the key `[keys] audit` names; it carries the public
//!   key. Each line is synced before the call that records it returns.
//! - Verifying ([`verify`]): `privgate audit verify --log PATH` checks
//!   sequence, chain and signatures, and names the first broken record.
//!
//! Recorded: config loads and reloads (the config's SHA-256, the outcome,
//! the active key ids), suppressions, their lifting and erasures (how many,
//! and each id only as its keyed pseudonym under the active HMAC key, never
//! raw; an erasure also its deletion request's id),
//! and admin authentication failures (which endpoint family).
//!
//! # What it must never do
//! - Hold a field value, a raw id or a secret.
//! - Rewrite or drop a line: a line cut short by a crash (no final line
//!   break) is the only thing removed, at open, and it was never answered.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod verify;

pub use verify::{verify, Verified, VerifyError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// `[audit]`, validated.
#[derive(Debug)]
pub struct AuditConfig {
    /// The log file.
    pub path: PathBuf,
    /// Records between signed checkpoints.
    pub checkpoint_every: u64,
    /// The Ed25519 seed (`[keys] audit`); unsigned checkpoints without it.
    pub signing_seed: Option<zeroize::Zeroizing<[u8; 32]>>,
}

/// Why the log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Reading, writing or syncing the file failed.
    #[error("audit log I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The existing log's last line is not a record privgate wrote.
    #[error("the audit log's last record cannot be read: run `privgate audit verify`")]
    Corrupt,
}

struct Tail {
    file: File,
    seq: u64,
    prev: String,
    since_checkpoint: u64,
}

/// An open audit log.
pub struct AuditLog {
    path: PathBuf,
    every: u64,
    key: Option<Ed25519KeyPair>,
    tail: Mutex<Tail>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .finish()
    }
}

impl AuditLog {
    /// Opens (or creates) the log, continuing its chain, and writes a
    /// checkpoint of what was there.
    pub fn open(config: &AuditConfig) -> Result<AuditLog, AuditError> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&config.path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        // A last line without its line break was cut short by a crash: it
        // was never answered, and is the one thing ever removed.
        let whole = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            file.set_len(whole as u64)?;
            file.sync_all()?;
            text.truncate(whole);
        }
        file.seek(SeekFrom::End(0))?;
        let (seq, prev) = match text[..whole.saturating_sub(1)]
            .rsplit(|&b| b == b'\n')
            .next()
            .filter(|l| !l.is_empty())
        {
            None => (0, GENESIS.to_owned()),
            Some(last) => {
                let record: Value =
                    serde_json::from_slice(last).map_err(|_| AuditError::Corrupt)?;
                let seq = record["seq"].as_u64().ok_or(AuditError::Corrupt)?;
                (seq + 1, hex(&Sha256::digest(last)))
            }
        };
        let key = config
            .signing_seed
            .as_ref()
            .map(|seed| Ed25519KeyPair::from_seed_unchecked(&seed[..]))
            .transpose()
            .map_err(|_| AuditError::Corrupt)?;
        let log = AuditLog {
            path: config.path.clone(),
            every: config.checkpoint_every.max(1),
            key,
            tail: Mutex::new(Tail {
                file,
                seq,
                prev,
                since_checkpoint: 0,
            }),
        };
        if seq > 0 {
            log.checkpoint()?;
        }
        Ok(log)
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record of `kind` with `detail` (an object of counts,
    /// hashes, names: never a value or raw id), synced before it returns;
    /// then a checkpoint when one is due.
    pub fn record(&self, kind: &str, detail: Value) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        self.append(&mut tail, kind, detail)?;
        tail.since_checkpoint += 1;
        if tail.since_checkpoint >= self.every {
            self.sign(&mut tail)?;
        }
        Ok(())
    }

    /// Signs the chain so far.
    pub fn checkpoint(&self) -> Result<(), AuditError> {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        self.sign(&mut tail)
    }

    fn sign(&self, tail: &mut Tail) -> Result<(), AuditError> {
        let detail = match &self.key {
            Some(key) => json!({
                "public_key": URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
                "signature": URL_SAFE_NO_PAD.encode(key.sign(tail.prev.as_bytes()).as_ref()),
            }),
            None => json!({ "unsigned": "no [keys] audit key" }),
        };
        self.append(tail, "checkpoint", detail)?;
        tail.since_checkpoint = 0;
        Ok(())
    }

    fn append(&self, tail: &mut Tail, kind: &str, detail: Value) -> Result<(), AuditError> {
        let at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        let mut record = json!({ "seq": tail.seq, "at": at, "kind": kind });
        if let (Value::Object(record), Value::Object(detail)) = (&mut record, detail) {
            record.extend(detail);
        }
        record["prev"] = Value::String(tail.prev.clone());
        let mut line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        let digest = hex(&Sha256::digest(&line));
        line.push(b'\n');
        tail.file.write_all(&line)?;
        tail.file.sync_data()?;
        tail.seq += 1;
        tail.prev = digest;
        Ok(())
    }
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
