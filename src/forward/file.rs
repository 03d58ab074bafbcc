//! The `file` and `stdout` sinks: append NDJSON batches.

use crate::metrics::DropReason;
use std::path::Path;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

/// Appends batches to one file, opened once at start.
pub struct FileSink {
    file: Mutex<tokio::fs::File>,
}

impl FileSink {
    /// Opens (creating it and its directory if needed) `path` for appending.
    pub fn open(path: &Path) -> std::io::Result<FileSink> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(FileSink {
            file: Mutex::new(tokio::fs::File::from_std(file)),
        })
    }

    /// Appends one NDJSON batch.
    pub async fn write(&self, body: &[u8]) -> Result<(), DropReason> {
        let mut file = self.file.lock().await;
        let result = async {
            file.write_all(body).await?;
            file.flush().await
        }
        .await;
        result.map_err(|e| {
            tracing::error!(error = %e.kind(), "cannot append to the destination file");
            DropReason::WriteFailed
        })
    }
}

/// Prints batches on standard output.
#[derive(Default)]
pub struct StdoutSink {
    out: Mutex<Option<tokio::io::Stdout>>,
}

impl StdoutSink {
    /// Writes one NDJSON batch.
    pub async fn write(&self, body: &[u8]) -> Result<(), DropReason> {
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
