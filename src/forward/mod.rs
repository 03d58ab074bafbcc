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
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod batch;
pub(crate) mod breaker;
pub(crate) mod concurrency;
pub(crate) mod deletion;
mod file;
mod http;
mod lane;
mod limiter;
mod queue;
pub(crate) mod requests;
pub(crate) mod retry;
pub(crate) mod settings;

pub(crate) use queue::{Accepted, Queues};

use crate::consent::erasure::Erasures;
use crate::metrics::{DropReason, Metrics};
use crate::spool::SpoolError;
use bytes::Bytes;
use lane::Lane;
use prometheus::{Histogram, IntCounter};
use settings::{BatchFormat, Delivery, DestinationConfig, Destinations, SinkConfig};
use std::sync::Arc;
use std::time::Duration;

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

/// The running delivery side: one lane (intake and batcher task) per
/// destination.
pub(crate) struct Forwarder {
    lanes: Vec<Lane>,
    /// Memory destinations a reload removed, still draining: shutdown
    /// waits for them and counts what they did not deliver.
    retiring: Vec<Lane>,
    spool: crate::spool::SpoolConfig,
    metrics: Metrics,
    erasures: Option<Arc<Erasures>>,
}

/// Per-destination metric handles, resolved once.
#[derive(Clone)]
struct DestMetrics {
    name: Arc<str>,
    forwarded: IntCounter,
    /// Events skipped because they name an erased subject.
    erased: IntCounter,
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

/// Starts one lane per destination, opening (and replaying) the spools of
/// durable ones. Must run inside a tokio runtime; opening a spool reads its
/// files.
/// `erasures`: the subjects whose waiting events are never sent
/// ([`crate::consent::erasure`]).
pub(crate) fn start(
    config: Destinations<'_>,
    metrics: &Metrics,
    erasures: Option<Arc<Erasures>>,
) -> Result<(Queues, Forwarder), StartError> {
    let mut forwarder = Forwarder {
        lanes: Vec::new(),
        retiring: Vec::new(),
        spool: config.spool.clone(),
        metrics: metrics.clone(),
        erasures,
    };
    for dest in config.destinations {
        let settings = lane::settings(dest, &config, metrics, forwarder.erasures.clone(), None)?;
        forwarder
            .lanes
            .push(Lane::start(dest, &config, settings, metrics)?);
    }
    Ok((forwarder.queues(), forwarder))
}

/// Why a reload left delivery as it was.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// Something only a restart can change.
    #[error("{0}; that needs a restart")]
    NeedsRestart(String),
    /// A new destination could not start.
    #[error(transparent)]
    Start(#[from] StartError),
}

/// What a reload changed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Changes {
    /// Destinations started.
    pub added: Vec<String>,
    /// Destinations whose settings were replaced.
    pub updated: Vec<String>,
    /// Destinations stopped (a spool stays on disk).
    pub removed: Vec<String>,
}

impl Forwarder {
    /// Where ingest hands each destination's events, in config order.
    pub(crate) fn queues(&self) -> Queues {
        Queues {
            queues: self.lanes.iter().map(|l| l.queue.clone()).collect(),
        }
    }

    /// Brings delivery to `config`: destinations are matched by name; kept
    /// ones get their new sink and batching for the batches cut from now
    /// on, new ones start, removed ones stop (memory queues drain, spools
    /// stay on disk). All or nothing: on error nothing changed. Returns the
    /// queues for `config`'s destinations, in its order.
    pub(crate) async fn apply(
        &mut self,
        config: Destinations<'_>,
    ) -> Result<(Queues, Changes), ReloadError> {
        let any_durable = self.lanes.iter().any(|l| l.delivery == Delivery::Durable)
            || config
                .destinations
                .iter()
                .any(|d| d.delivery == Delivery::Durable);
        if any_durable && *config.spool != self.spool {
            return Err(ReloadError::NeedsRestart("[spool] changed".into()));
        }
        for dest in config.destinations {
            if let Some(lane) = self.lanes.iter().find(|l| *l.name == *dest.name) {
                if lane.delivery != dest.delivery {
                    return Err(ReloadError::NeedsRestart(format!(
                        "destination `{}` changes delivery",
                        dest.name
                    )));
                }
            }
        }
        // Everything that can fail, before anything changes.
        let mut prepared = Vec::with_capacity(config.destinations.len());
        for dest in config.destinations {
            // A kept destination keeps its limiter (and what an adaptive
            // one learned, unless its concurrency changed): batches in
            // flight across the reload still count against one limit.
            let kept = self.lanes.iter().find(|l| *l.name == *dest.name);
            let limiter = kept.map(Lane::limiter);
            let settings =
                lane::settings(dest, &config, &self.metrics, self.erasures.clone(), limiter)?;
            let fresh = if kept.is_some() {
                None
            } else {
                match Lane::start(dest, &config, settings.clone(), &self.metrics) {
                    Ok(lane) => Some(lane),
                    Err(e) => {
                        // Just started: nothing queued to drain.
                        for lane in prepared.into_iter().filter_map(|(_, _, l)| l) {
                            let _ = Lane::retire(lane).await;
                        }
                        return Err(e.into());
                    }
                }
            };
            prepared.push((dest, settings, fresh));
        }
        let mut changes = Changes::default();
        let mut old: Vec<Lane> = std::mem::take(&mut self.lanes);
        for (dest, settings, fresh) in prepared {
            let lane = match fresh {
                Some(lane) => {
                    changes.added.push(dest.name.clone());
                    lane
                }
                None => {
                    let at = old
                        .iter()
                        .position(|l| *l.name == *dest.name)
                        .expect("matched above");
                    let lane = old.swap_remove(at);
                    lane.update(dest, settings);
                    changes.updated.push(dest.name.clone());
                    lane
                }
            };
            self.lanes.push(lane);
        }
        self.retiring.retain(|lane| !lane.task.is_finished());
        for lane in old {
            changes.removed.push(lane.name.to_string());
            // Done before the reload answers, so a spool's directory is free
            // for the next reload that adds the destination back.
            if let Some(draining) = lane.retire().await {
                self.retiring.push(draining);
            }
        }
        self.spool = config.spool.clone();
        Ok((self.queues(), changes))
    }

    /// Closes every queue and spool, flushes what is queued and waits for
    /// deliveries, up to `deadline`. Memory-queued events still undelivered
    /// then are given up and counted as dropped with reason `shutdown`;
    /// spooled ones stay on disk.
    pub(crate) async fn shutdown(mut self, deadline: Duration) -> Undelivered {
        let started = tokio::time::Instant::now();
        // Removed destinations still draining are given the same deadline
        // and counted the same way.
        self.lanes.append(&mut self.retiring);
        // Memory queues stop taking events; spools stop taking appends and
        // their readers stop once drained.
        for lane in &mut self.lanes {
            lane.close().await;
        }
        let all = futures_util::future::join_all(self.lanes.iter_mut().map(|l| &mut l.task));
        let left = deadline.saturating_sub(started.elapsed());
        if tokio::time::timeout(left, all).await.is_err() {
            for lane in &self.lanes {
                lane.task.abort();
            }
            // Wait for the aborts to land, so each spool's feed is dropped
            // and its reader stops.
            for lane in &mut self.lanes {
                if !lane.task.is_finished() {
                    let _ = (&mut lane.task).await;
                }
            }
        }
        let mut undelivered = Undelivered::default();
        for lane in &mut self.lanes {
            if let Some(closer) = lane.spool.take() {
                undelivered.spooled += closer.pending();
                let _ = tokio::task::spawn_blocking(move || closer.finish()).await;
            }
            let Some(depth) = &lane.depth else { continue };
            let left = depth.get();
            if left > 0 {
                undelivered.lost += left;
                self.metrics
                    .events_dropped
                    .with_label_values(&[&lane.name, DropReason::Shutdown.as_str()])
                    .inc_by(left as u64);
                depth.release(left, depth.bytes());
                tracing::warn!(destination = %lane.name, events = left, "shutdown deadline passed; events not delivered");
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

/// What delivery left undone at shutdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Undelivered {
    /// Memory-queued events given up (counted as dropped, `shutdown`).
    pub lost: usize,
    /// Events left in spools, delivered after the next start.
    pub spooled: u64,
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
        limiter: Arc<limiter::Limiter>,
    ) -> std::io::Result<Sink> {
        let kind = match &dest.sink {
            SinkConfig::Http(cfg) => SinkKind::Http(Box::new(http::HttpSink::new(
                cfg,
                dm,
                metrics,
                seal.is_some(),
                limiter,
            ))),
            SinkConfig::File(settings) => SinkKind::File(file::FileSink::open(settings)?),
            SinkConfig::Stdout => SinkKind::Stdout(file::StdoutSink::default()),
        };
        Ok(Sink {
            kind,
            seal,
            encrypt_errors: metrics.encrypt_errors.clone(),
        })
    }

    fn framing(&self) -> crate::protocol::Framing {
        match &self.kind {
            SinkKind::Http(h) => h.framing().clone(),
            SinkKind::File(_) | SinkKind::Stdout(_) => batch::framing(BatchFormat::Ndjson, None),
        }
    }

    /// How long a spooled batch waits after a failed round of retries.
    fn pause(&self) -> Duration {
        match &self.kind {
            SinkKind::Http(h) => h.pause(),
            SinkKind::File(_) | SinkKind::Stdout(_) => Duration::from_secs(1),
        }
    }

    async fn deliver(
        &self,
        body: Bytes,
        fresh: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), DropReason> {
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
            SinkKind::Http(h) => h.deliver(body, fresh).await,
            SinkKind::File(f) => f.write(&body).await,
            SinkKind::Stdout(s) => s.write(&body).await,
        }
    }
}
