//! The `file` and `stdout` sinks: append NDJSON batches. A file sink may
//! rotate (by size, by age) and delete what it rotated once `retain` has
//! passed, so that the data it keeps has a stated lifetime.
//!
//! A rotated file is renamed `<path>.<UTC time, to the millisecond>`
//! (`events.ndjson.20261205T033500123Z`), in the same directory; deleting
//! looks only at files named that way, by their modification time (the
//! time they were rotated: nothing writes to them after).

use super::settings::FileSinkConfig;
use crate::metrics::DropReason;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// The open file and what rotation needs to know of it.
struct Current {
    file: tokio::fs::File,
    bytes: u64,
    opened: SystemTime,
}

/// Appends batches to one file, opened once at start, rotating it as
/// configured.
pub(super) struct FileSink {
    settings: FileSinkConfig,
    current: Mutex<Current>,
}

fn open(path: &Path) -> std::io::Result<Current> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let meta = file.metadata()?;
    Ok(Current {
        bytes: meta.len(),
        // A file kept from before a restart counts from when it was made.
        opened: meta
            .created()
            .or_else(|_| meta.modified())
            .unwrap_or_else(|_| SystemTime::now()),
        file: tokio::fs::File::from_std(file),
    })
}

impl FileSink {
    /// Opens (creating it and its directory if needed) the file for
    /// appending, and deletes rotated files past `retain`.
    pub(super) fn open(settings: &FileSinkConfig) -> std::io::Result<FileSink> {
        let current = open(&settings.path)?;
        let sink = FileSink {
            settings: settings.clone(),
            current: Mutex::new(current),
        };
        sink.expire();
        Ok(sink)
    }

    /// Appends one NDJSON batch, rotating first when it is time.
    pub(super) async fn write(&self, body: &[u8]) -> Result<(), DropReason> {
        let mut current = self.current.lock().await;
        let result = async {
            if self.due(&current, body.len() as u64) {
                self.rotate(&mut current).await?;
            }
            current.file.write_all(body).await?;
            current.file.flush().await?;
            current.bytes += body.len() as u64;
            Ok::<_, std::io::Error>(())
        }
        .await;
        result.map_err(|e| {
            tracing::error!(error = %e.kind(), "cannot append to the destination file");
            DropReason::WriteFailed
        })
    }

    /// Whether the current file is to be rotated before `more` bytes.
    fn due(&self, current: &Current, more: u64) -> bool {
        let by_size = self
            .settings
            .rotate_bytes
            .is_some_and(|max| current.bytes > 0 && current.bytes + more > max);
        let by_age = self.settings.rotate_every.is_some_and(|every| {
            current.bytes > 0
                && SystemTime::now()
                    .duration_since(current.opened)
                    .unwrap_or_default()
                    >= every
        });
        by_size || by_age
    }

    async fn rotate(&self, current: &mut Current) -> std::io::Result<()> {
        current.file.sync_all().await?;
        let stamp = humantime::format_rfc3339_millis(SystemTime::now())
            .to_string()
            .replace(['-', ':'], "")
            .replace('.', "");
        let mut rotated = rotated_name(&self.settings.path, &stamp);
        let mut n = 1;
        while rotated.exists() {
            rotated = rotated_name(&self.settings.path, &format!("{stamp}-{n}"));
            n += 1;
        }
        tokio::fs::rename(&self.settings.path, &rotated).await?;
        *current = open(&self.settings.path)?;
        current.opened = SystemTime::now();
        self.expire();
        Ok(())
    }

    /// Deletes rotated files older than `retain`.
    fn expire(&self) {
        let Some(retain) = self.settings.retain else {
            return;
        };
        for old in rotated_files(&self.settings.path) {
            let age = std::fs::metadata(&old)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or(Duration::ZERO);
            if age > retain {
                if let Err(e) = std::fs::remove_file(&old) {
                    tracing::warn!(error = %e.kind(), "cannot delete an expired rotated file");
                }
            }
        }
    }
}

fn rotated_name(path: &Path, stamp: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".");
    name.push(stamp);
    path.with_file_name(name)
}

/// The files rotated from `path`: `<name>.<digits>T<digits>Z[-n]`.
pub(super) fn rotated_files(path: &Path) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let file = e.file_name();
            let Some(file) = file.to_str() else {
                return false;
            };
            file.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|stamp| {
                    let stamp = stamp.split('-').next().unwrap_or("");
                    stamp.ends_with('Z')
                        && stamp.contains('T')
                        && stamp[..stamp.len() - 1]
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == 'T')
                })
        })
        .map(|e| e.path())
        .collect()
}

/// Prints batches on standard output.
#[derive(Default)]
pub(super) struct StdoutSink {
    out: Mutex<Option<tokio::io::Stdout>>,
}

impl StdoutSink {
    /// Writes one NDJSON batch.
    pub(super) async fn write(&self, body: &[u8]) -> Result<(), DropReason> {
        let mut out = self.out.lock().await;
        let out = out.get_or_insert_with(tokio::io::stdout);
        let result = async {
            out.write_all(body).await?;
            out.flush().await
        }
        .await;
        result.map_err(|_| DropReason::WriteFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path, bytes: Option<u64>, retain: Option<Duration>) -> FileSinkConfig {
        FileSinkConfig {
            path: dir.join("out").join("events.ndjson"),
            rotate_bytes: bytes,
            rotate_every: None,
            retain,
        }
    }

    #[tokio::test]
    async fn rotates_by_size_and_keeps_every_batch_whole() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path(), Some(100), None);
        let sink = FileSink::open(&s).unwrap();
        let batch = format!("{}\n", "x".repeat(39));
        for _ in 0..7 {
            sink.write(batch.as_bytes()).await.unwrap();
        }
        let rotated = rotated_files(&s.path);
        assert_eq!(rotated.len(), 3, "{rotated:?}");
        let mut total = std::fs::read_to_string(&s.path).unwrap().len();
        for f in &rotated {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.len() <= 100 && text.len() % 40 == 0, "{}", text.len());
            total += text.len();
        }
        assert_eq!(total, 7 * 40, "nothing lost or doubled");
    }

    #[tokio::test]
    async fn deletes_rotated_files_past_retain_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(dir.path(), Some(10), Some(Duration::from_secs(3600)));
        std::fs::create_dir_all(s.path.parent().unwrap()).unwrap();
        let old = rotated_name(&s.path, "20200101T000000000Z");
        let unrelated = s.path.with_file_name("events.ndjson.backup");
        for f in [&old, &unrelated] {
            std::fs::write(f, "old\n").unwrap();
            let then = SystemTime::now() - Duration::from_secs(7200);
            std::fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(then)
                .unwrap();
        }
        let sink = FileSink::open(&s).unwrap();
        assert!(!old.exists(), "expired at open");
        assert!(unrelated.exists(), "not a rotated file");
        sink.write(b"0123456789\n").await.unwrap();
        sink.write(b"0123456789\n").await.unwrap();
        assert_eq!(rotated_files(&s.path).len(), 1, "young rotated files stay");
    }
}
