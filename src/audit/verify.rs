//! `privgate audit verify`: checks an audit log's sequence, hash chain and
//! checkpoint signatures, and names the first record that breaks them.

use super::{hex, GENESIS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ED25519};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::BufRead;

/// What a log that verifies holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records, checkpoints included.
    pub records: u64,
    /// Signed checkpoints that verified.
    pub signed_checkpoints: u64,
    /// Records after the last signed checkpoint (not covered by a
    /// signature yet).
    pub unsigned_tail: u64,
    /// The public key the checkpoints were signed with (base64url).
    pub public_key: Option<String>,
}

/// The first thing wrong with a log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The file could not be read.
    #[error("cannot read the log: {0}")]
    Io(String),
    /// A line is not a JSON record.
    #[error("record {record} (line {line}) is not a JSON record")]
    NotJson {
        /// Its position (from 0).
        record: u64,
        /// Its line (from 1).
        line: u64,
    },
    /// A record's `seq` is not the next one (a record removed, added or
    /// reordered).
    #[error("record {record} (line {line}) has seq {found}: a record before it was removed, added or reordered")]
    Sequence {
        /// Where it was expected.
        record: u64,
        /// Its line.
        line: u64,
        /// The `seq` it carries.
        found: i64,
    },
    /// The record after this one does not chain to it: this record was
    /// changed after it was written (or the next one's `prev` was).
    #[error("record {record} (line {line}) was changed after it was written: the record after it does not chain to it")]
    Chain {
        /// Its position.
        record: u64,
        /// Its line.
        line: u64,
    },
    /// A checkpoint's signature does not verify.
    #[error("record {record} (line {line}) is a checkpoint whose signature does not verify")]
    Signature {
        /// Its position.
        record: u64,
        /// Its line.
        line: u64,
    },
    /// A checkpoint was signed with another key than expected.
    #[error("record {record} (line {line}) is a checkpoint signed with another key")]
    OtherKey {
        /// Its position.
        record: u64,
        /// Its line.
        line: u64,
    },
    /// The last line has no line break: a write was cut short.
    #[error("the last line (line {line}) was cut short")]
    Torn {
        /// Its line.
        line: u64,
    },
}

/// Verifies the log read from `input`. With `public_key` (base64url),
/// every checkpoint must be signed with it; without one, every checkpoint
/// must be signed with the key of the first one.
pub fn verify(input: impl BufRead, public_key: Option<&str>) -> Result<Verified, VerifyError> {
    let mut out = Verified {
        records: 0,
        signed_checkpoints: 0,
        unsigned_tail: 0,
        public_key: public_key.map(str::to_owned),
    };
    let mut prev = GENESIS.to_owned();
    let mut input = input;
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|e| VerifyError::Io(e.kind().to_string()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            return Err(VerifyError::Torn { line: number });
        }
        line.pop();
        let at = (out.records, number);
        let record: Value = serde_json::from_slice(&line).map_err(|_| VerifyError::NotJson {
            record: at.0,
            line: at.1,
        })?;
        let seq = record["seq"].as_i64().unwrap_or(-1);
        if seq != out.records as i64 {
            return Err(VerifyError::Sequence {
                record: at.0,
                line: at.1,
                found: seq,
            });
        }
        if record["prev"].as_str() != Some(prev.as_str()) {
            // The first record chains to nothing: its `prev` was changed.
            return Err(VerifyError::Chain {
                record: at.0.saturating_sub(1),
                line: at.1.saturating_sub(1).max(1),
            });
        }
        if record["kind"] == "checkpoint" {
            if let Some(key) = record["public_key"].as_str() {
                let signature = record["signature"]
                    .as_str()
                    .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
                    .unwrap_or_default();
                let public = URL_SAFE_NO_PAD.decode(key).unwrap_or_default();
                let expected = out.public_key.get_or_insert_with(|| key.to_owned());
                if expected != key {
                    return Err(VerifyError::OtherKey {
                        record: at.0,
                        line: at.1,
                    });
                }
                UnparsedPublicKey::new(&ED25519, &public)
                    .verify(prev.as_bytes(), &signature)
                    .map_err(|_| VerifyError::Signature {
                        record: at.0,
                        line: at.1,
                    })?;
                out.signed_checkpoints += 1;
                out.unsigned_tail = 0;
            } else {
                out.unsigned_tail += 1;
            }
        } else {
            out.unsigned_tail += 1;
        }
        prev = hex(&Sha256::digest(&line));
        out.records += 1;
    }
    Ok(out)
}
