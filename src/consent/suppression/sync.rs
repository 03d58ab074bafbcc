//! Fleet sync: a replica polls a primary's change feed
//! (`GET /admin/subjects?after=<cursor>&limit=<n>`, with the primary's
//! admin token) every `interval` and applies each change to its own
//! [`Suppressions`], so the list survives the replica's restart.
//!
//! **Cursor.** After a page's changes are on disk, the page's `next` is
//! written to `<log>.cursor` (temporary file, synced, renamed, directory
//! synced), with the url it belongs to. A crash between the two replays
//! the page, which changes nothing (applying a change is idempotent). A
//! cursor of another url is not used: the sync starts again from the
//! start of that primary's feed.
//!
//! **Hostile or broken primaries.** A poll that fails in any way
//! (connection refused, timeout, non-2xx, a body over the bound, JSON that
//! is not a page, more changes than asked for, an id out of bounds, a
//! cursor that goes backwards) changes nothing: the page is checked
//! whole before any of it is applied, and the next poll comes after
//! `interval`. Outcomes are counted in `privgate_suppression_sync_total`.
//!
//! Never: logs an id, the token or a body.

use super::{Change, Suppressions, MAX_ID_BYTES};
use crate::crypto::secret::Secret;
use crate::metrics::Metrics;
use bytes::Bytes;
use http::{header, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Changes asked for per page.
pub const PAGE: usize = 1_000;
/// Largest page body accepted: a full page of the longest ids, escaped.
pub const MAX_BODY: usize = PAGE * (MAX_ID_BYTES * 6 + 64) + 1024;
/// Most pages one poll reads before waiting for the next interval.
const MAX_PAGES_PER_POLL: usize = 1_000;

/// `[consent.suppression_sync]`, validated.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// The primary's listing: `http(s)://host:port/admin/subjects`.
    pub url: Uri,
    /// The primary's admin token.
    pub token: Secret,
    /// Time between polls.
    pub interval: Duration,
    /// Deadline for one page (connect, answer and body).
    pub timeout: Duration,
}

/// Why a poll changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer: refused, reset, timed out.
    #[error("the primary did not answer")]
    Unreachable,
    /// An answer that is not 2xx.
    #[error("the primary answered {0}")]
    Status(u16),
    /// An answer that is not a page of the feed.
    #[error("the primary's answer is not a page of the change feed")]
    Invalid,
    /// An answer larger than [`MAX_BODY`].
    #[error("the primary's answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The local log or cursor could not be written.
    #[error("the local suppression log or cursor could not be written: {0}")]
    NotRecorded(std::io::ErrorKind),
}

impl SyncError {
    fn outcome(&self) -> &'static str {
        match self {
            SyncError::Unreachable => "unreachable",
            SyncError::Status(_) => "status",
            SyncError::Invalid => "invalid",
            SyncError::TooLarge => "too_large",
            SyncError::NotRecorded(_) => "not_recorded",
        }
    }
}

/// Every outcome, for series that exist from the start.
pub const OUTCOMES: [&str; 6] = [
    "ok",
    "unreachable",
    "status",
    "invalid",
    "too_large",
    "not_recorded",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    changes: Vec<Change>,
    next: String,
    more: bool,
}

#[derive(Serialize, Deserialize)]
struct Cursor {
    url: String,
    after: u64,
}

type SyncClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Starts polling; the task ends when `stop` is cancelled.
pub fn start(
    config: SyncConfig,
    suppressions: Arc<Suppressions>,
    metrics: Metrics,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    for outcome in OUTCOMES {
        metrics.suppression_sync.with_label_values(&[outcome]);
    }
    tokio::spawn(async move {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(config.timeout));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client: SyncClient = Client::builder(TokioExecutor::new()).build(https);
        let cursor_path = cursor_path(suppressions.path());
        let mut tick = tokio::time::interval(config.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                r = poll(&client, &config, &suppressions, &cursor_path) => r,
            };
            let label = match &outcome {
                Ok(changed) => {
                    if *changed > 0 {
                        tracing::info!(changed, "suppression list synced from the primary");
                    }
                    metrics
                        .suppression_sync_last_success
                        .set(i64::try_from(super::now()).unwrap_or(i64::MAX));
                    "ok"
                }
                Err(e) => {
                    tracing::warn!(error = %e, "suppression sync failed; the local list stays as it is");
                    e.outcome()
                }
            };
            metrics.suppression_sync.with_label_values(&[label]).inc();
            metrics
                .suppressed_subjects
                .set(i64::try_from(suppressions.len()).unwrap_or(i64::MAX));
        }
    })
}

/// Where the cursor is kept: next to the log.
pub fn cursor_path(log: &Path) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_owned();
    name.push(".cursor");
    log.with_file_name(name)
}

/// Reads pages until the primary says there are no more; returns how
/// many changes altered the local list.
async fn poll(
    client: &SyncClient,
    config: &SyncConfig,
    suppressions: &Suppressions,
    cursor_path: &Path,
) -> Result<usize, SyncError> {
    let url = config.url.to_string();
    let mut after = read_cursor(cursor_path, &url);
    let mut changed = 0;
    for _ in 0..MAX_PAGES_PER_POLL {
        let page = tokio::time::timeout(config.timeout, fetch(client, config, after))
            .await
            .map_err(|_| SyncError::Unreachable)??;
        let next: u64 = page.next.parse().map_err(|_| SyncError::Invalid)?;
        // A page that does not move the cursor forward yet says more
        // follow would be asked for again and again.
        if page.changes.len() > PAGE || next < after || (page.more && next == after) {
            return Err(SyncError::Invalid);
        }
        changed += suppressions.apply(&page.changes).map_err(|e| match e {
            super::SuppressionError::Io(e) => SyncError::NotRecorded(e.kind()),
            _ => SyncError::Invalid,
        })?;
        if next != after {
            write_cursor(cursor_path, &url, next).map_err(|e| SyncError::NotRecorded(e.kind()))?;
            after = next;
        }
        if !page.more {
            return Ok(changed);
        }
    }
    Ok(changed)
}

async fn fetch(client: &SyncClient, config: &SyncConfig, after: u64) -> Result<Page, SyncError> {
    let sep = if config.url.query().is_some() {
        '&'
    } else {
        '?'
    };
    let uri: Uri = format!("{}{sep}after={after}&limit={PAGE}", config.url)
        .parse()
        .map_err(|_| SyncError::Invalid)?;
    let mut bearer = HeaderValue::try_from(format!("Bearer {}", config.token.expose()))
        .map_err(|_| SyncError::Invalid)?;
    bearer.set_sensitive(true);
    let request = Request::get(uri)
        .header(header::AUTHORIZATION, bearer)
        .header(header::ACCEPT, "application/json")
        .body(Full::new(Bytes::new()))
        .map_err(|_| SyncError::Invalid)?;
    let response = client
        .request(request)
        .await
        .map_err(|_| SyncError::Unreachable)?;
    let status = response.status();
    if !status.is_success() {
        return Err(SyncError::Status(status.as_u16()));
    }
    if response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY)
    {
        return Err(SyncError::TooLarge);
    }
    let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(SyncError::TooLarge),
        Err(_) => return Err(SyncError::Unreachable),
    };
    serde_json::from_slice(&body).map_err(|_| SyncError::Invalid)
}

/// The cursor kept for `url`; 0 (the start of the feed) when there is
/// none, it is unreadable, or it was kept for another url.
fn read_cursor(path: &Path, url: &str) -> u64 {
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        .filter(|c| c.url == url)
        .map_or(0, |c| c.after)
}

fn write_cursor(path: &Path, url: &str, after: u64) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("cursor.tmp");
    {
        let mut file = super::create_private(&tmp)?;
        let cursor = Cursor {
            url: url.to_owned(),
            after,
        };
        file.write_all(&serde_json::to_vec(&cursor).map_err(std::io::Error::other)?)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
