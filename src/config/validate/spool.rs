//! `[spool]`: where durable destinations keep their events, and its bounds.

use super::Validator;
use crate::config::schema;
use crate::spool::SpoolConfig;

impl Validator<'_> {
    /// `[spool]`: segments small enough for their nonces, two of them at
    /// least within `max_bytes`.
    pub(super) fn spool(&mut self, s: &schema::Spool) -> SpoolConfig {
        let dir = s.dir.get_ref();
        if dir.is_empty() {
            self.problem(
                s.dir.span(),
                "spool.dir".into(),
                "must not be empty".into(),
                "write e.g. dir = \"./privgate-spool\"",
            );
        }
        let segment_bytes = s.segment_bytes.0;
        if segment_bytes < 4096 {
            self.problem(
                0..0,
                "spool.segment_bytes".into(),
                "must be at least 4KiB".into(),
                "write e.g. \"16MiB\"",
            );
        }
        // Bounds the records per segment far below 2^32: the record index
        // is the end of each record's AES-GCM nonce.
        if segment_bytes > crate::spool::segment::MAX_SEGMENT_BYTES {
            self.problem(
                0..0,
                "spool.segment_bytes".into(),
                "must be at most 1GiB".into(),
                "write e.g. \"16MiB\"",
            );
        }
        if s.max_bytes.0 < segment_bytes.saturating_mul(2) {
            self.problem(
                0..0,
                "spool.max_bytes".into(),
                format!(
                    "{} is less than two segments ({} each)",
                    s.max_bytes, s.segment_bytes
                ),
                "raise max_bytes or lower segment_bytes",
            );
        }
        SpoolConfig {
            dir: self.base.join(dir),
            fsync: s.fsync,
            fsync_interval: self.positive(s.fsync_interval.0, "spool.fsync_interval"),
            max_bytes: s.max_bytes.0,
            max_age: self.positive(s.max_age.0, "spool.max_age"),
            segment_bytes,
        }
    }
}
