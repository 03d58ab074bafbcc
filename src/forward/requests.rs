//! Deletion requests: what `POST /admin/subjects/erase` asks each
//! destination's backend to delete, and what `GET /admin/requests/{id}`
//! reports (the admin module answers the calls).
//!
//! An erase creates one request (a random id) with, per destination, a
//! status from Segment's set: `INITIALIZED`, `RUNNING`, then `FINISHED`
//! (every id deleted), `PARTIAL_SUCCESS` (some), `FAILED` (none), or
//! `NOT_SUPPORTED` (no `[destinations.deletion]`). Per destination, one
//! call per id ([`DeletionConfig`]), each tried up to `max_attempts` times
//! with backoff (a 2xx deletes; a 4xx other than 408/429 fails at once).
//! The overall status: `FINISHED` when every destination finished (or
//! does not support deletion; `NOT_SUPPORTED` when none does), `RUNNING`
//! while any is not done, `FAILED` when every supporting one failed,
//! `PARTIAL_SUCCESS` otherwise.
//!
//! **Durability.** Requests and their status changes are appended to a
//! log beside the suppression log (`<name>.requests.jsonl`, one JSON
//! object per line, synced before the erase is answered); on start the
//! log is read, rewritten with the kept requests only, and requests still
//! `INITIALIZED` or `RUNNING` for a destination are run again (deletion
//! calls are assumed idempotent). At most `keep` requests are kept: the
//! oldest finished one goes first. The log holds the raw ids (the calls
//! need them after a restart), like the suppression log: owner-only.
//!
//! Deletion settings are read at start; a reload does not change them.
//!
//! Never: logs an id, or puts one in a metric label or an answer.

use super::deletion::DeletionConfig;
use super::retry::{Attempt, Backoff};
use crate::metrics::Metrics;
use bytes::Bytes;
use http::{header, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A destination's (or the request's) state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Status {
    /// Not started yet.
    Initialized,
    /// Calls under way.
    Running,
    /// Every id deleted.
    Finished,
    /// Some ids deleted.
    PartialSuccess,
    /// No id deleted.
    Failed,
    /// The destination has no deletion call.
    NotSupported,
}

impl Status {
    fn done(self) -> bool {
        !matches!(self, Status::Initialized | Status::Running)
    }

    /// The label and JSON value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Initialized => "INITIALIZED",
            Status::Running => "RUNNING",
            Status::Finished => "FINISHED",
            Status::PartialSuccess => "PARTIAL_SUCCESS",
            Status::Failed => "FAILED",
            Status::NotSupported => "NOT_SUPPORTED",
        }
    }
}

/// One line of the log.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Line {
    Create {
        id: String,
        at: u64,
        ids: Vec<String>,
        destinations: Vec<(String, Status)>,
    },
    Status {
        id: String,
        destination: String,
        status: Status,
    },
}

#[derive(Clone)]
struct Req {
    id: String,
    at: u64,
    ids: Vec<String>,
    destinations: Vec<(String, Status)>,
}

impl Req {
    fn overall(&self) -> Status {
        let supported: Vec<Status> = self
            .destinations
            .iter()
            .map(|(_, s)| *s)
            .filter(|s| *s != Status::NotSupported)
            .collect();
        if supported.is_empty() {
            Status::NotSupported
        } else if supported.iter().all(|s| *s == Status::Initialized) {
            Status::Initialized
        } else if supported.iter().any(|s| !s.done()) {
            Status::Running
        } else if supported.iter().all(|s| *s == Status::Finished) {
            Status::Finished
        } else if supported.iter().all(|s| *s == Status::Failed) {
            Status::Failed
        } else {
            Status::PartialSuccess
        }
    }
}

type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The deletion requests, their log, and the calls.
pub(crate) struct Requests {
    log: Mutex<File>,
    state: Mutex<VecDeque<Req>>,
    /// Every destination, in config order, with its deletion call.
    targets: Vec<(String, Option<Arc<DeletionConfig>>)>,
    client: HttpClient,
    metrics: Metrics,
    keep: usize,
}

impl Requests {
    /// Where the requests of the suppression log at `suppressions` are
    /// kept: beside it, `<name>.requests.jsonl`.
    pub(crate) fn path_for(suppressions: &Path) -> PathBuf {
        let mut name = suppressions
            .file_stem()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        name.push(".requests.jsonl");
        suppressions.with_file_name(name)
    }

    /// Opens (or creates) the log, keeps the newest `keep` requests, and
    /// runs again what was not done. Must run inside a tokio runtime.
    pub(crate) fn open(
        path: &Path,
        targets: Vec<(String, Option<DeletionConfig>)>,
        keep: usize,
        metrics: Metrics,
    ) -> std::io::Result<Arc<Requests>> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut reqs: VecDeque<Req> = VecDeque::new();
        match File::open(path) {
            Ok(file) => {
                for line in BufReader::new(file).split(b'\n') {
                    let line = line?;
                    // A line cut short by a crash was never answered.
                    match serde_json::from_slice::<Line>(&line) {
                        Ok(Line::Create {
                            id,
                            at,
                            ids,
                            destinations,
                        }) => reqs.push_back(Req {
                            id,
                            at,
                            ids,
                            destinations,
                        }),
                        Ok(Line::Status {
                            id,
                            destination,
                            status,
                        }) => {
                            if let Some(r) = reqs.iter_mut().find(|r| r.id == id) {
                                for (d, s) in &mut r.destinations {
                                    if *d == destination {
                                        *s = status;
                                    }
                                }
                            }
                        }
                        Err(_) => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let keep = keep.max(1);
        while reqs.len() > keep {
            reqs.pop_front();
        }
        let log = rewrite(path, &reqs)?;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::ClientTls::default().rustls().clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let requests = Arc::new(Requests {
            log: Mutex::new(log),
            targets: targets
                .into_iter()
                .map(|(name, d)| (name, d.map(Arc::new)))
                .collect(),
            state: Mutex::new(reqs.clone()),
            client: Client::builder(TokioExecutor::new()).build(https),
            metrics,
            keep,
        });
        for req in reqs {
            for (destination, status) in &req.destinations {
                if status.done() {
                    continue;
                }
                requests.start(&req.id, destination, req.ids.clone());
            }
        }
        Ok(requests)
    }

    /// Records a request to delete `ids` everywhere (synced before it
    /// returns) and starts its calls. Returns its id.
    pub(crate) fn create(self: &Arc<Self>, ids: &[String]) -> std::io::Result<String> {
        let mut raw = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut raw);
        let id: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let destinations: Vec<(String, Status)> = self
            .targets
            .iter()
            .map(|(name, d)| {
                let status = if d.is_some() {
                    Status::Initialized
                } else {
                    Status::NotSupported
                };
                (name.clone(), status)
            })
            .collect();
        let req = Req {
            id: id.clone(),
            at: now(),
            ids: ids.to_vec(),
            destinations,
        };
        self.append(&Line::Create {
            id: req.id.clone(),
            at: req.at,
            ids: req.ids.clone(),
            destinations: req.destinations.clone(),
        })?;
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.len() >= self.keep {
                // The oldest finished one goes first; the oldest at all
                // when none is (its calls still run).
                let at = state
                    .iter()
                    .position(|r| r.destinations.iter().all(|(_, s)| s.done()))
                    .unwrap_or(0);
                state.remove(at);
            }
            state.push_back(req.clone());
        }
        for (name, status) in &req.destinations {
            if *status == Status::NotSupported {
                self.metrics
                    .deletion_requests
                    .with_label_values(&[name, status.as_str()])
                    .inc();
            } else {
                self.start(&id, name, req.ids.clone());
            }
        }
        Ok(id)
    }

    /// Runs `destination`'s calls for request `id`.
    fn start(self: &Arc<Self>, id: &str, destination: &str, ids: Vec<String>) {
        let Some(config) = self
            .targets
            .iter()
            .find(|(n, _)| n == destination)
            .and_then(|(_, d)| d.clone())
        else {
            // The destination (or its deletion call) is gone since.
            self.set(id, destination, Status::NotSupported);
            return;
        };
        let this = self.clone();
        let (id, destination) = (id.to_owned(), destination.to_owned());
        tokio::spawn(async move {
            this.set(&id, &destination, Status::Running);
            let mut deleted = 0;
            for subject in &ids {
                if this.call(&config, subject).await {
                    deleted += 1;
                }
            }
            let status = if deleted == ids.len() {
                Status::Finished
            } else if deleted == 0 {
                Status::Failed
            } else {
                Status::PartialSuccess
            };
            this.set(&id, &destination, status);
            this.metrics
                .deletion_requests
                .with_label_values(&[&destination, status.as_str()])
                .inc();
            tracing::info!(destination = %destination, status = status.as_str(), "deletion request done");
        });
    }

    /// One id's deletion call, retried with backoff. Whether it deleted.
    async fn call(&self, config: &DeletionConfig, subject: &str) -> bool {
        let backoff = Backoff {
            initial: config.initial_backoff,
            max: config.max_backoff,
        };
        let mut asked = None;
        for attempt in 0..config.max_attempts {
            if attempt > 0 {
                tokio::time::sleep(backoff.delay(attempt - 1, asked)).await;
            }
            let body = config.body_for(subject);
            let mut request = Request::builder()
                .method(config.method.clone())
                .uri(config.url_for(subject));
            if config.body.is_some() {
                request = request.header(header::CONTENT_TYPE, config.content_type.clone());
            }
            let Ok(mut request) = request.body(Full::new(Bytes::from(body))) else {
                // An id that makes no valid url: no attempt can succeed.
                return false;
            };
            for (name, value) in &config.headers {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            let outcome = tokio::time::timeout(config.request_timeout, async {
                let response = self.client.request(request).await?;
                let (parts, body) = response.into_parts();
                let _ = http_body_util::Limited::new(body, 64 * 1024)
                    .collect()
                    .await;
                Ok::<_, hyper_util::client::legacy::Error>(parts)
            })
            .await;
            match outcome {
                Ok(Ok(parts)) => match Attempt::from_response(parts.status, &parts.headers) {
                    Attempt::Delivered => return true,
                    Attempt::DontRetry => return false,
                    Attempt::Retry { after } => asked = after,
                },
                Ok(Err(_)) | Err(_) => asked = None,
            }
        }
        false
    }

    /// Sets and records a destination's status.
    fn set(&self, id: &str, destination: &str, status: Status) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(r) = state.iter_mut().find(|r| r.id == id) {
                for (d, s) in &mut r.destinations {
                    if d == destination {
                        *s = status;
                    }
                }
            }
        }
        let line = Line::Status {
            id: id.to_owned(),
            destination: destination.to_owned(),
            status,
        };
        if let Err(e) = self.append(&line) {
            // In force in memory; after a restart the calls run again.
            tracing::error!(error = %e.kind(), "deletion request status not recorded");
        }
    }

    fn append(&self, line: &Line) -> std::io::Result<()> {
        let mut buf = vec![b'\n'];
        serde_json::to_writer(&mut buf, line).map_err(std::io::Error::other)?;
        buf.push(b'\n');
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.write_all(&buf)?;
        log.sync_data()
    }

    /// What `GET /admin/requests/{id}` answers (`None`: no such request).
    pub(crate) fn lookup(&self, id: &str) -> Option<serde_json::Value> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let req = state.iter().find(|r| r.id == id)?;
        let destinations: serde_json::Map<String, serde_json::Value> = req
            .destinations
            .iter()
            .map(|(d, s)| (d.clone(), s.as_str().into()))
            .collect();
        let created = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(req.at));
        Some(serde_json::json!({
            "id": req.id,
            "status": req.overall().as_str(),
            "created": created.to_string(),
            "ids": req.ids.len(),
            "destinations": destinations,
        }))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Rewrites the log to hold `reqs` (write, sync, rename, sync the
/// directory) and opens it for appending.
fn rewrite(path: &Path, reqs: &VecDeque<Req>) -> std::io::Result<File> {
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
        for r in reqs {
            let line = Line::Create {
                id: r.id.clone(),
                at: r.at,
                ids: r.ids.clone(),
                destinations: r.destinations.clone(),
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
