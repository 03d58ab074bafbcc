//! Delivery to destinations: where ingest puts accepted events ([`queue`]:
//! a bounded memory queue, or the durable spool), the batcher that cuts
//! batches by count, size and age ([`batch`]), and the sinks that send
//! them (HTTP with retries, file, stdout).
//!
//! Invariants:
//! - Every destination has its own queue or spool and task, so a slow or
//!   dead backend only ever fills its own; ingest then answers 503 for it.
//! - Every event that leaves a queue is counted exactly once: forwarded, or
//!   dropped with a reason. An event in a spool is forwarded, dropped for a
//!   reason that retrying cannot fix (counted), expired (counted), or still
//!   on disk. Nothing here looks inside an event.

mod batch;
mod file;
mod http;
mod queue;
pub mod retry;

pub use queue::{Accepted, QueueFull, Queues, Reservation};

use crate::config::{BatchFormat, Config, Delivery, DestinationConfig, SinkConfig};
use crate::metrics::{DropReason, Metrics};
use crate::spool::{self, Closer, SpoolError, SpoolMetrics};
use batch::{Batcher, Feed};
use bytes::Bytes;
use prometheus::{Histogram, IntCounter};
use queue::{Depth, Intake, Queue};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;

/// Why delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file destination could not be opened.
    #[error("destination `{destination}`: {source}")]
    Open {
        /// The destination.
        destination: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A durable destination's spool could not be opened.
    #[error("destination `{destination}`: {source}")]
    Spool {
        /// The destination.
        destination: String,
        /// Why.
        source: SpoolError,
    },
}

/// The running delivery side: one task per destination.
pub struct Forwarder {
    tasks: Vec<JoinHandle<()>>,
    depths: Vec<(Arc<str>, Arc<Depth>)>,
    spools: Vec<Closer>,
    janitors: Vec<JoinHandle<()>>,
    close: watch::Sender<bool>,
    metrics: Metrics,
}

/// Per-destination metric handles, resolved once.
#[derive(Clone)]
struct DestMetrics {
    name: Arc<str>,
    forwarded: IntCounter,
    batch_size: Histogram,
    metrics: Metrics,
}

impl DestMetrics {
    fn dropped(&self, reason: DropReason, n: usize) {
        self.metrics
            .events_dropped
            .with_label_values(&[&self.name, reason.as_str()])
            .inc_by(n as u64);
    }
}

/// Chunks of records a spool's reader may have waiting for the batcher.
const SPOOL_FEED_CHUNKS: usize = 2;

/// Starts one delivery task per destination, opening (and replaying) the
/// spools of durable ones. Must run inside a tokio runtime; opening a spool
/// reads its files.
pub fn start(config: &Config, metrics: &Metrics) -> Result<(Queues, Forwarder), StartError> {
    let (close, close_rx) = watch::channel(false);
    let mut queues = Vec::new();
    let mut forwarder = Forwarder {
        tasks: Vec::new(),
        depths: Vec::new(),
        spools: Vec::new(),
        janitors: Vec::new(),
        close,
        metrics: metrics.clone(),
    };
    for dest in &config.destinations {
        let name: Arc<str> = dest.name.as_str().into();
        let dm = DestMetrics {
            name: name.clone(),
            forwarded: metrics.events_forwarded.with_label_values(&[&name]),
            batch_size: metrics.batch_size.with_label_values(&[&name]),
            metrics: metrics.clone(),
        };
        let seal =
            (dest.encrypt == crate::config::Encrypt::Payload).then(|| config.keyring.clone());
        let sink =
            Sink::new(dest, dm.clone(), metrics, seal).map_err(|source| StartError::Open {
                destination: dest.name.clone(),
                source,
            })?;
        let (intake, feed) = match dest.delivery {
            Delivery::Memory => {
                let depth = Arc::new(Depth::new(
                    dest.queue_max_events,
                    metrics.queue_depth.with_label_values(&[&name]),
                ));
                forwarder.depths.push((name.clone(), depth.clone()));
                let (tx, rx) = mpsc::unbounded_channel();
                (
                    Intake::Memory {
                        tx,
                        depth: depth.clone(),
                    },
                    Feed::Memory { rx, depth },
                )
            }
            Delivery::Durable => {
                let opened = spool::open(
                    &config.spool,
                    &dest.name,
                    config.keyring.clone(),
                    SpoolMetrics::new(metrics, &dest.name),
                    SPOOL_FEED_CHUNKS,
                )
                .map_err(|source| StartError::Spool {
                    destination: dest.name.clone(),
                    source,
                })?;
                forwarder.spools.push(opened.closer);
                forwarder.janitors.push(tokio::spawn(expire_every(
                    opened.spool.clone(),
                    config.spool.max_age,
                )));
                (
                    Intake::Durable(opened.spool),
                    Feed::Spool {
                        rx: opened.feed,
                        acks: Arc::new(opened.acks),
                    },
                )
            }
        };
        let batcher = Batcher {
            config: dest.batch,
            format: sink.format(),
            concurrency: Arc::new(Semaphore::new(sink.concurrency())),
            sink: Arc::new(sink),
            metrics: dm,
        };
        forwarder
            .tasks
            .push(tokio::spawn(batcher.run(feed, close_rx.clone())));
        queues.push(Queue {
            name: name.clone(),
            intake,
            backpressure: metrics.backpressure.with_label_values(&[&name]),
        });
    }
    Ok((
        Queues {
            queues: queues.into(),
        },
        forwarder,
    ))
}

/// Deletes what outlived `max_age` from a spool, checking a tenth as often
/// as that (between once a second and once a minute).
async fn expire_every(spool: spool::Spool, max_age: Duration) {
    let every = (max_age / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let spool = spool.clone();
        let _ = tokio::task::spawn_blocking(move || spool.expire(SystemTime::now())).await;
    }
}

/// What delivery left undone at shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Undelivered {
    /// Memory-queued events given up (counted as dropped, `shutdown`).
    pub lost: usize,
    /// Events left in spools, delivered after the next start.
    pub spooled: u64,
}

impl Forwarder {
    /// Closes every queue and spool, flushes what is queued and waits for
    /// deliveries, up to `deadline`. Memory-queued events still undelivered
    /// then are given up and counted as dropped with reason `shutdown`;
    /// spooled ones stay on disk.
    pub async fn shutdown(self, deadline: Duration) -> Undelivered {
        let started = tokio::time::Instant::now();
        let _ = self.close.send(true);
        for janitor in &self.janitors {
            janitor.abort();
        }
        // Spools stop taking appends; their readers stop once drained.
        let mut spools = Vec::new();
        for mut closer in self.spools {
            spools.push(
                tokio::task::spawn_blocking(move || {
                    closer.close();
                    closer
                })
                .await
                .expect("closing a spool does not panic"),
            );
        }
        let mut tasks = self.tasks;
        let all = futures_util::future::join_all(tasks.iter_mut());
        let left = deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, all).await.is_err() {
            for task in &tasks {
                task.abort();
            }
            // Wait for the aborts to land, so each spool's feed is dropped
            // and its reader stops.
            for task in &mut tasks {
                if !task.is_finished() {
                    let _ = task.await;
                }
            }
        }
        let mut undelivered = Undelivered::default();
        for closer in spools {
            undelivered.spooled += closer.pending();
            let _ = tokio::task::spawn_blocking(move || closer.finish()).await;
        }
        for (name, depth) in &self.depths {
            let left = depth.get();
            if left > 0 {
                undelivered.lost += left;
                self.metrics
                    .events_dropped
                    .with_label_values(&[name, DropReason::Shutdown.as_str()])
                    .inc_by(left as u64);
                depth.release(left);
                tracing::warn!(destination = %name, events = left, "shutdown deadline passed; events not delivered");
            }
        }
        if undelivered.spooled > 0 {
            tracing::info!(
                events = undelivered.spooled,
                "undelivered events stay in the spool for the next start"
            );
        }
        undelivered
    }
}

/// Where a destination's batches go, and whether each body is sealed first.
struct Sink {
    kind: SinkKind,
    /// With `encrypt = "payload"`: the keyring whose active key seals bodies.
    seal: Option<Arc<crate::crypto::Keyring>>,
    encrypt_errors: prometheus::IntCounter,
}

enum SinkKind {
    Http(Box<http::HttpSink>),
    File(file::FileSink),
    Stdout(file::StdoutSink),
}

impl Sink {
    fn new(
        dest: &DestinationConfig,
        dm: DestMetrics,
        metrics: &Metrics,
        seal: Option<Arc<crate::crypto::Keyring>>,
    ) -> std::io::Result<Sink> {
        let kind = match &dest.sink {
            SinkConfig::Http(cfg) => SinkKind::Http(Box::new(http::HttpSink::new(
                cfg,
                dm,
                metrics,
                seal.is_some(),
            ))),
            SinkConfig::File(path) => SinkKind::File(file::FileSink::open(path)?),
            SinkConfig::Stdout => SinkKind::Stdout(file::StdoutSink::default()),
        };
        Ok(Sink {
            kind,
            seal,
            encrypt_errors: metrics.encrypt_errors.clone(),
        })
    }

    fn format(&self) -> BatchFormat {
        match &self.kind {
            SinkKind::Http(h) => h.format(),
            SinkKind::File(_) | SinkKind::Stdout(_) => BatchFormat::Ndjson,
        }
    }

    /// How long a spooled batch waits after a failed round of retries.
    fn pause(&self) -> Duration {
        match &self.kind {
            SinkKind::Http(h) => h.pause(),
            SinkKind::File(_) | SinkKind::Stdout(_) => Duration::from_secs(1),
        }
    }

    fn concurrency(&self) -> usize {
        match &self.kind {
            SinkKind::Http(h) => h.concurrency(),
            // Appends stay in order.
            SinkKind::File(_) | SinkKind::Stdout(_) => 1,
        }
    }

    async fn deliver(&self, body: Bytes) -> Result<(), DropReason> {
        let body = match &self.seal {
            None => body,
            Some(keyring) => {
                // A batch that cannot be sealed is never sent in the clear.
                let Ok(mut sealed) = keyring.seal(&body) else {
                    self.encrypt_errors.inc();
                    return Err(DropReason::EncryptFailed);
                };
                if !matches!(self.kind, SinkKind::Http(_)) {
                    // One JWE per line in files and on stdout.
                    sealed.push('\n');
                }
                Bytes::from(sealed)
            }
        };
        match &self.kind {
            SinkKind::Http(h) => h.deliver(body).await,
            SinkKind::File(f) => f.write(&body).await,
            SinkKind::Stdout(s) => s.write(&body).await,
        }
    }
}
