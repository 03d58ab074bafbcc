//! One destination's delivery, from start to retirement: its intake (memory
//! queue or spool), its batcher task, and the settings the batcher reads
//! for each batch (sink, batching limits), which a reload replaces without
//! stopping anything. In-flight batches finish with the settings they
//! started with.

use super::batch::{Batcher, Feed, Settings};
use super::limiter::{Gauges, Limiter};
use super::queue::{Depth, Intake, Queue};
use super::settings::{
    queue_max_bytes, Concurrency, Delivery, DestinationConfig, Destinations, Encrypt, SinkConfig,
};
use super::{DestMetrics, Sink, StartError};
use crate::metrics::Metrics;
use crate::spool::{self, Closer, SpoolMetrics};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Chunks of records a spool's reader may have waiting for the batcher.
const SPOOL_FEED_CHUNKS: usize = 2;

/// A destination's running delivery.
pub(super) struct Lane {
    pub(super) name: Arc<str>,
    pub(super) delivery: Delivery,
    /// What ingest hands events to.
    pub(super) queue: Queue,
    settings: watch::Sender<Arc<Settings>>,
    close: watch::Sender<bool>,
    pub(super) task: JoinHandle<()>,
    pub(super) depth: Option<Arc<Depth>>,
    pub(super) spool: Option<Closer>,
    janitor: Option<JoinHandle<()>>,
}

/// A destination's batcher settings, built (and its file opened) from config.
pub(super) fn settings(
    dest: &DestinationConfig,
    config: &Destinations<'_>,
    metrics: &Metrics,
    erasures: Option<Arc<crate::consent::erasure::Erasures>>,
    previous: Option<Arc<Limiter>>,
) -> Result<Arc<Settings>, StartError> {
    let name: Arc<str> = dest.name.as_str().into();
    metrics.init_destination(&name);
    let dm = DestMetrics {
        forwarded: metrics.events_forwarded.with_label_values(&[&name]),
        erased: metrics.erased_skipped.with_label_values(&[&name]),
        batch_size: metrics.batch_size.with_label_values(&[&name]),
        name,
        metrics: metrics.clone(),
    };
    let seal = (dest.encrypt == Encrypt::Payload).then(|| config.keyring.clone());
    // A reload keeps the destination's limiter: the batches it has in
    // flight count against whatever limit the new config sets (set by
    // `Lane::update`, once the reload can no longer fail).
    let limiter = match previous {
        Some(limiter) => limiter,
        None => Limiter::new(
            concurrency_of(dest),
            Gauges {
                limit: metrics
                    .forward_concurrency_limit
                    .with_label_values(&[&dm.name]),
                in_flight: metrics.forward_in_flight.with_label_values(&[&dm.name]),
            },
        ),
    };
    let sink = Sink::new(dest, dm.clone(), metrics, seal, limiter.clone()).map_err(|source| {
        StartError::Open {
            destination: dest.name.clone(),
            source,
        }
    })?;
    Ok(Arc::new(Settings {
        batch: dest.batch,
        framing: sink.framing(),
        concurrency: limiter,
        sink: Arc::new(sink),
        metrics: dm,
        erasures,
        bodies: Arc::new(super::batch::Bodies::new()),
    }))
}

/// How many batches of `dest` may be in flight.
fn concurrency_of(dest: &DestinationConfig) -> Concurrency {
    match &dest.sink {
        SinkConfig::Http(h) => h.concurrency,
        // Appends stay in order.
        SinkConfig::File(_) | SinkConfig::Stdout => Concurrency::Fixed(1),
    }
}

impl Lane {
    /// Starts delivery for `dest` (opening and replaying its spool if it is
    /// durable). Must run inside a tokio runtime.
    pub(super) fn start(
        dest: &DestinationConfig,
        config: &Destinations<'_>,
        settings: Arc<Settings>,
        metrics: &Metrics,
    ) -> Result<Lane, StartError> {
        let name: Arc<str> = dest.name.as_str().into();
        let (mut depth, mut closer, mut janitor) = (None, None, None);
        let (intake, feed) = match dest.delivery {
            Delivery::Memory => {
                let d = Arc::new(Depth::new(
                    dest.queue_max_events,
                    queue_max_bytes(dest),
                    metrics.queue_depth.with_label_values(&[&name]),
                ));
                depth = Some(d.clone());
                let (tx, rx) = mpsc::unbounded_channel();
                (
                    Intake::Memory {
                        tx,
                        depth: d.clone(),
                    },
                    Feed::Memory { rx, depth: d },
                )
            }
            Delivery::Durable => {
                let opened = spool::open(
                    config.spool,
                    &dest.name,
                    config.keyring.clone(),
                    SpoolMetrics::new(metrics, &dest.name),
                    SPOOL_FEED_CHUNKS,
                )
                .map_err(|source| StartError::Spool {
                    destination: dest.name.clone(),
                    source,
                })?;
                closer = Some(opened.closer);
                metrics
                    .spool_max_bytes
                    .with_label_values(&[&name])
                    .set(i64::try_from(config.spool.max_bytes).unwrap_or(i64::MAX));
                janitor = Some(tokio::spawn(expire_every(
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
        let (settings_tx, settings_rx) = watch::channel(settings);
        let (close, close_rx) = watch::channel(false);
        let task = tokio::spawn(Batcher::run(settings_rx, feed, close_rx));
        Ok(Lane {
            queue: Queue {
                name: name.clone(),
                intake,
                backpressure: metrics.backpressure.with_label_values(&[&name]),
            },
            name,
            delivery: dest.delivery,
            settings: settings_tx,
            close,
            task,
            depth,
            spool: closer,
            janitor,
        })
    }

    /// The limiter its batches are dispatched under now.
    pub(super) fn limiter(&self) -> Arc<Limiter> {
        self.settings.borrow().concurrency.clone()
    }

    /// Batches cut from now on use `settings`; the memory queue takes the
    /// new bound.
    pub(super) fn update(&self, dest: &DestinationConfig, settings: Arc<Settings>) {
        settings.concurrency.reconfigure(concurrency_of(dest));
        let _ = self.settings.send(settings);
        if let Some(depth) = &self.depth {
            depth.set_max(dest.queue_max_events, queue_max_bytes(dest));
        }
    }

    /// Stops taking events: a memory queue drains what it holds, a spool
    /// stops taking appends and its reader stops once drained.
    pub(super) async fn close(&mut self) {
        let _ = self.close.send(true);
        if let Some(janitor) = &self.janitor {
            janitor.abort();
        }
        if let Some(mut closer) = self.spool.take() {
            let closer = tokio::task::spawn_blocking(move || {
                closer.close();
                closer
            })
            .await
            .expect("closing a spool does not panic");
            self.spool = Some(closer);
        }
    }

    /// A destination a reload removed: a memory queue drains in the
    /// background (the lane is returned, for shutdown to wait for and
    /// count what it has not delivered); a spool stops at once and keeps
    /// what it holds on disk (reported), for when the destination comes
    /// back.
    pub(super) async fn retire(mut self) -> Option<Lane> {
        self.close().await;
        match self.spool.take() {
            None => {
                tracing::info!(destination = %self.name, "destination removed; its queue drains");
                Some(self)
            }
            Some(closer) => {
                self.task.abort();
                let _ = (&mut self.task).await;
                let pending = closer.pending();
                let dir = tokio::task::spawn_blocking(move || {
                    let dir = closer.dir().to_owned();
                    closer.finish();
                    dir
                })
                .await
                .expect("finishing a spool does not panic");
                tracing::warn!(destination = %self.name, events = pending, spool = %dir.display(), "destination removed; its spool stays on disk until the destination is configured again");
                None
            }
        }
    }
}

/// Deletes what outlived `max_age` from a spool, checking a tenth as often
/// as that (between every 100 ms and once a minute).
async fn expire_every(spool: spool::Spool, max_age: Duration) {
    let every = (max_age / 10).clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let spool = spool.clone();
        let _ = tokio::task::spawn_blocking(move || spool.expire(SystemTime::now())).await;
    }
}
