//! What the spool is built from: `[spool]` as config validated it. The
//! spool owns these types and config constructs them, so the spool never
//! reads the config itself.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `[spool]`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The directory (one subdirectory per durable destination).
    pub dir: PathBuf,
    /// When appends reach stable storage.
    pub fsync: Fsync,
    /// The group-commit window of `Fsync::Interval`.
    pub fsync_interval: Duration,
    /// Per destination: bytes on disk before ingest answers 503.
    pub max_bytes: u64,
    /// Per destination: undelivered events older than this are deleted and counted.
    pub max_age: Duration,
    /// Segment file size.
    pub segment_bytes: u64,
}

/// `[spool] fsync`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Fsync {
    /// Before every answer (group commit).
    #[default]
    Always,
    /// Once per `fsync_interval` (group commit).
    Interval,
    /// Never explicitly (only when a segment is closed).
    Never,
}
