//! Delivery to destinations: a bounded queue per destination, a batcher that
//! cuts batches by count, size and age, and the sinks that send them (HTTP
//! with retries, file, stdout).
//!
//! Invariants:
//! - Every destination has its own queue and task, so a slow or dead backend
//!   only ever fills its own queue; ingest then answers 503 for it.
//! - The queue bound counts events from the moment ingest reserves room until
//!   the batch holding them is delivered or given up, so the depth gauge and
//!   the bound cover in-flight retries too.
//! - Every event that leaves the queue is counted exactly once: forwarded, or
//!   dropped with a reason. Nothing here looks inside an event.

mod file;
mod http;
pub mod retry;

use crate::config::{BatchFormat, Config, DestinationConfig, SinkConfig};
use crate::metrics::{DropReason, Metrics};
use bytes::{BufMut, Bytes, BytesMut};
use prometheus::{Histogram, IntCounter, IntGauge};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The sending side of every destination's queue; cheap to share.
#[derive(Clone)]
pub struct Queues {
    queues: Arc<[Queue]>,
}

struct Queue {
    name: Arc<str>,
    tx: mpsc::UnboundedSender<Vec<Bytes>>,
    depth: Arc<Depth>,
    backpressure: IntCounter,
}

/// Events queued or in flight for one destination, against its bound.
struct Depth {
    current: AtomicUsize,
    max: usize,
    gauge: IntGauge,
}

impl Depth {
    fn try_add(&self, n: usize) -> bool {
        let mut current = self.current.load(Ordering::Relaxed);
        loop {
            if current + n > self.max {
                return false;
            }
            match self.current.compare_exchange_weak(
                current,
                current + n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.gauge.add(n as i64);
                    return true;
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn release(&self, n: usize) {
        self.current.fetch_sub(n, Ordering::AcqRel);
        self.gauge.sub(n as i64);
    }

    fn get(&self) -> usize {
        self.current.load(Ordering::Acquire)
    }
}

/// Room reserved in some destinations' queues; released if not used.
pub struct Reservation<'a> {
    queues: &'a Queues,
    taken: Vec<(usize, usize)>,
}

/// A destination's queue is full (or closed for shutdown).
#[derive(Debug, thiserror::Error)]
#[error("destination `{destination}` cannot take more events now")]
pub struct QueueFull {
    /// Which destination.
    pub destination: Arc<str>,
}

impl Queues {
    /// Reserves room for `counts[i]` events in destination `i`, for every
    /// pair at once or not at all.
    pub fn reserve(&self, wanted: &[(usize, usize)]) -> Result<Reservation<'_>, QueueFull> {
        let mut reservation = Reservation {
            queues: self,
            taken: Vec::with_capacity(wanted.len()),
        };
        for &(dest, n) in wanted {
            if n == 0 {
                continue;
            }
            let queue = &self.queues[dest];
            if queue.tx.is_closed() || !queue.depth.try_add(n) {
                queue.backpressure.inc();
                return Err(QueueFull {
                    destination: queue.name.clone(),
                });
            }
            reservation.taken.push((dest, n));
        }
        Ok(reservation)
    }

    /// Whether destination `dest` could take one more event now. A cheap
    /// check before a body is read and parsed; [`Queues::reserve`] decides.
    pub fn has_room(&self, dest: usize) -> bool {
        let queue = &self.queues[dest];
        let full = queue.tx.is_closed() || queue.depth.get() >= queue.depth.max;
        if full {
            queue.backpressure.inc();
        }
        !full
    }

    /// Number of destinations.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether there are no destinations.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

impl Reservation<'_> {
    /// Hands `events` to destination `dest`, using room reserved for it.
    /// Fails only when the destination is shutting down.
    pub fn send(&mut self, dest: usize, events: Vec<Bytes>) -> Result<(), QueueFull> {
        let queue = &self.queues.queues[dest];
        let n = events.len();
        let slot = self
            .taken
            .iter()
            .position(|&(d, m)| d == dest && m == n)
            .expect("send matches a reservation");
        self.taken.swap_remove(slot);
        if queue.tx.send(events).is_err() {
            queue.depth.release(n);
            return Err(QueueFull {
                destination: queue.name.clone(),
            });
        }
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        for &(dest, n) in &self.taken {
            self.queues.queues[dest].depth.release(n);
        }
    }
}

/// The running delivery side: one task per destination.
pub struct Forwarder {
    tasks: Vec<JoinHandle<()>>,
    depths: Vec<(Arc<str>, Arc<Depth>)>,
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

/// Starts one delivery task per destination. Must run inside a tokio runtime.
pub fn start(config: &Config, metrics: &Metrics) -> std::io::Result<(Queues, Forwarder)> {
    let (close, close_rx) = watch::channel(false);
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    let mut depths = Vec::new();
    for dest in &config.destinations {
        let name: Arc<str> = dest.name.as_str().into();
        let depth = Arc::new(Depth {
            current: AtomicUsize::new(0),
            max: dest.queue_max_events,
            gauge: metrics.queue_depth.with_label_values(&[&name]),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let dm = DestMetrics {
            name: name.clone(),
            forwarded: metrics.events_forwarded.with_label_values(&[&name]),
            batch_size: metrics.batch_size.with_label_values(&[&name]),
            metrics: metrics.clone(),
        };
        let seal =
            (dest.encrypt == crate::config::Encrypt::Payload).then(|| config.keyring.clone());
        let sink = Sink::new(dest, dm.clone(), metrics, seal)?;
        let batcher = Batcher {
            config: dest.batch,
            format: sink.format(),
            concurrency: Arc::new(Semaphore::new(sink.concurrency())),
            sink: Arc::new(sink),
            depth: depth.clone(),
            metrics: dm,
        };
        tasks.push(tokio::spawn(batcher.run(rx, close_rx.clone())));
        queues.push(Queue {
            name: name.clone(),
            tx,
            depth: depth.clone(),
            backpressure: metrics.backpressure.with_label_values(&[&name]),
        });
        depths.push((name, depth));
    }
    Ok((
        Queues {
            queues: queues.into(),
        },
        Forwarder {
            tasks,
            depths,
            close,
            metrics: metrics.clone(),
        },
    ))
}

impl Forwarder {
    /// Closes every queue, flushes what is queued and waits for deliveries,
    /// up to `deadline`. Returns how many events were given up; they are
    /// counted as dropped with reason `shutdown`.
    pub async fn shutdown(self, deadline: Duration) -> usize {
        let _ = self.close.send(true);
        let mut tasks = self.tasks;
        let all = futures_util::future::join_all(tasks.iter_mut());
        if tokio::time::timeout(deadline, all).await.is_err() {
            for task in &tasks {
                task.abort();
            }
        }
        let mut lost = 0;
        for (name, depth) in &self.depths {
            let left = depth.get();
            if left > 0 {
                lost += left;
                self.metrics
                    .events_dropped
                    .with_label_values(&[name, DropReason::Shutdown.as_str()])
                    .inc_by(left as u64);
                depth.release(left);
                tracing::warn!(destination = %name, events = left, "shutdown deadline passed; events not delivered");
            }
        }
        lost
    }
}

/// Cuts batches from one destination's queue and dispatches them.
struct Batcher {
    config: crate::config::BatchConfig,
    format: BatchFormat,
    concurrency: Arc<Semaphore>,
    sink: Arc<Sink>,
    depth: Arc<Depth>,
    metrics: DestMetrics,
}

/// Events of one batch, encoded as the body they will be sent as.
pub struct Batch {
    body: BytesMut,
    events: usize,
    format: BatchFormat,
}

impl Batch {
    fn new(format: BatchFormat) -> Batch {
        Batch {
            body: BytesMut::new(),
            events: 0,
            format,
        }
    }

    /// Bytes the body would have with `event` added.
    fn size_with(&self, event: &Bytes) -> usize {
        // `{"batch":[` + `]}` framing, one separator per event.
        self.body.len() + event.len() + 1 + if self.events == 0 { 12 } else { 0 }
    }

    fn push(&mut self, event: &Bytes) {
        match self.format {
            BatchFormat::Segment => {
                self.body.put_slice(if self.events == 0 {
                    b"{\"batch\":["
                } else {
                    b","
                });
                self.body.put_slice(event);
            }
            BatchFormat::Ndjson => {
                self.body.put_slice(event);
                self.body.put_u8(b'\n');
            }
        }
        self.events += 1;
    }

    /// The finished body.
    fn finish(mut self) -> (Bytes, usize) {
        if self.format == BatchFormat::Segment && self.events > 0 {
            self.body.put_slice(b"]}");
        }
        (self.body.freeze(), self.events)
    }
}

impl Batcher {
    async fn run(
        self,
        mut rx: mpsc::UnboundedReceiver<Vec<Bytes>>,
        mut close: watch::Receiver<bool>,
    ) {
        let mut batch = Batch::new(self.format);
        // One timer, re-armed when a batch starts: no timer per event.
        let linger = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(linger);
        let mut armed = false;
        let mut inflight = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                msg = rx.recv() => {
                    let Some(events) = msg else { break };
                    for event in &events {
                        if batch.events > 0 && batch.size_with(event) > self.config.max_bytes {
                            let full = std::mem::replace(&mut batch, Batch::new(self.format));
                            self.dispatch(full, &mut inflight).await;
                            armed = false;
                        }
                        if batch.events == 0 {
                            linger.as_mut().reset(Instant::now() + self.config.max_wait);
                            armed = true;
                        }
                        batch.push(event);
                        if batch.events >= self.config.max_events {
                            let full = std::mem::replace(&mut batch, Batch::new(self.format));
                            self.dispatch(full, &mut inflight).await;
                            armed = false;
                        }
                    }
                }
                () = &mut linger, if armed => {
                    armed = false;
                    let full = std::mem::replace(&mut batch, Batch::new(self.format));
                    self.dispatch(full, &mut inflight).await;
                }
                changed = close.changed(), if !*close.borrow() => {
                    // Stop taking new events; what is already queued drains below.
                    if changed.is_err() || *close.borrow() {
                        rx.close();
                    }
                }
            }
            // Reap finished deliveries so the set does not grow.
            while inflight.try_join_next().is_some() {}
        }
        self.dispatch(batch, &mut inflight).await;
        while inflight.join_next().await.is_some() {}
    }

    async fn dispatch(&self, batch: Batch, inflight: &mut JoinSet<()>) {
        if batch.events == 0 {
            return;
        }
        // Waiting here holds the batcher back while the backend is slow; the
        // queue bound then pushes back on ingest.
        let permit = self
            .concurrency
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let sink = self.sink.clone();
        let depth = self.depth.clone();
        let metrics = self.metrics.clone();
        inflight.spawn(async move {
            let (body, events) = batch.finish();
            metrics.batch_size.observe(events as f64);
            match sink.deliver(body).await {
                Ok(()) => metrics.forwarded.inc_by(events as u64),
                Err(reason) => {
                    metrics.dropped(reason, events);
                    tracing::warn!(destination = %metrics.name, events, reason = reason.as_str(), "batch not delivered");
                }
            }
            depth.release(events);
            drop(permit);
        });
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
