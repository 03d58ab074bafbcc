//! One request's events from the pipeline to the destinations: each event
//! goes through the [`Pipeline`] for every destination of its source (the
//! fan-out), then the events each destination keeps are handed to the
//! destinations' queues or spools for all of them or none, and the call
//! returns once durable destinations have committed them. All or none
//! holds when a commit fails too: events reach a destination's forwarding
//! only once every destination of the request has them
//! (`Delivery::hand_over`), so the client's retry of a 503 duplicates
//! nothing.
//!
//! Ingest calls [`Delivery::deliver`] once per request (through its
//! accept stack, after the per-write-key rate limit) and answers as it
//! returns; nothing here calls back into ingest or answers a client.

use super::{Dropped, Pipeline, Verdict};
use crate::event::{Event, Marks, RequestMeta};
use crate::forward::{Accepted, Queues};
use crate::metrics::{DropReason, Metrics};
use crate::spool::{Commit, Hold};
use bytes::Bytes;
use prometheus::IntCounter;
use std::sync::Arc;

/// The events of one request, decoded.
pub struct Batch {
    /// The source (index into the config's sources) whose key authenticated
    /// the request.
    pub source: usize,
    /// Each event's minimal JSON object and what its scan marked.
    pub events: Vec<(Bytes, Marks)>,
    /// Elements of the request that were not events (skipped, counted).
    pub invalid: usize,
    /// What every event of the request shares.
    pub meta: Arc<RequestMeta>,
}

impl Batch {
    /// Every element the client sent, events or not.
    pub fn sent(&self) -> usize {
        self.events.len() + self.invalid
    }
}

/// Why a batch was not delivered (nothing of it was: the client may retry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A destination's queue or spool has no room, or is closed for
    /// shutdown.
    #[error("a destination has no room for the events")]
    Backpressure,
    /// A spool could not commit the events.
    #[error("a destination's spool could not commit the events")]
    StorageUnavailable,
}

/// The pipeline and the destinations' queues, for one config.
pub struct Delivery {
    pipeline: Pipeline,
    queues: Queues,
    /// By source: its destinations.
    routes: Vec<Vec<usize>>,
    /// By source: its accepted events.
    received: Vec<IntCounter>,
    /// By destination: its name (a metric label).
    destinations: Vec<Arc<str>>,
    metrics: Metrics,
}

impl Delivery {
    /// The delivery of `sources` (each its name and the indexes of its
    /// destinations) through `pipeline` into `queues`, whose destinations
    /// are named `destinations`, in order.
    pub fn new<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a [usize])>,
        destinations: impl IntoIterator<Item = &'a str>,
        pipeline: Pipeline,
        queues: Queues,
        metrics: Metrics,
    ) -> Delivery {
        let (routes, received) = sources
            .into_iter()
            .map(|(name, to)| {
                let received = metrics.events_received.with_label_values(&[name]);
                (to.to_vec(), received)
            })
            .unzip();
        Delivery {
            pipeline,
            queues,
            routes,
            received,
            destinations: destinations.into_iter().map(Arc::from).collect(),
            metrics,
        }
    }

    /// The pipeline (ingest decides relayed requests with its consent).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Whether every destination of `source` has room for more events (a
    /// request refused before its body is read when not).
    pub fn has_room(&self, source: usize) -> bool {
        self.routes[source].iter().all(|&d| self.queues.has_room(d))
    }

    /// Delivers a batch: see the module doc.
    pub async fn deliver(&self, batch: Batch) -> Result<(), Refused> {
        if batch.invalid > 0 {
            self.metrics
                .events_dropped
                .with_label_values(&["none", DropReason::InvalidEvent.as_str()])
                .inc_by(batch.invalid as u64);
        }
        let source = batch.source;
        // Counted once accepted: events refused with 503 are the client's to retry.
        let accepted = batch.events.len() as u64;
        let routed = self.fan_out(source, batch.events, batch.meta);
        self.hand_over(routed).await?;
        self.received[source].inc_by(accepted);
        Ok(())
    }

    /// Runs each event through the pipeline: what each destination of the
    /// source keeps, for the destinations that keep something.
    fn fan_out(
        &self,
        source: usize,
        events: Vec<(Bytes, Marks)>,
        meta: Arc<RequestMeta>,
    ) -> Vec<(usize, Vec<Bytes>)> {
        let targets = &self.routes[source];
        let mut routed: Vec<Vec<Bytes>> = targets
            .iter()
            .map(|_| Vec::with_capacity(events.len()))
            .collect();
        for (body, marks) in events {
            let event = Event {
                body,
                marks,
                meta: meta.clone(),
            };
            self.pipeline
                .route(event, targets, |slot, verdict| match verdict {
                    Verdict::Keep(e) => routed[slot].push(e.body),
                    Verdict::Drop(reason) => {
                        let dest = &self.destinations[targets[slot]];
                        self.dropped(dest, reason);
                    }
                });
        }
        targets
            .iter()
            .copied()
            .zip(routed)
            .filter(|(_, events)| !events.is_empty())
            .map(|(dest, mut events)| {
                // A memory queue keeps the vector as it is: one event that
                // consent kept of many would hold room for all of them,
                // while the queue's bounds count what it holds.
                crate::json::fit(&mut events);
                (dest, events)
            })
            .collect()
    }

    /// Hands each destination its events, for all of them or none: room
    /// is reserved everywhere first; durable destinations commit next
    /// (when there are several, each holds its records until every one has
    /// committed, and voids them if one failed); memory queues get their
    /// events last, once nothing can fail any more. Returns once the
    /// commits are done.
    async fn hand_over(&self, routed: Vec<(usize, Vec<Bytes>)>) -> Result<(), Refused> {
        let wanted: Vec<(usize, usize, usize)> = routed
            .iter()
            .map(|(d, e)| (*d, e.len(), e.iter().map(Bytes::len).sum()))
            .collect();
        let mut reservation = self
            .queues
            .reserve(&wanted)
            .map_err(|_| Refused::Backpressure)?;
        let (durable, memory): (Vec<_>, Vec<_>) = routed
            .into_iter()
            .partition(|(dest, _)| self.queues.is_durable(*dest));
        match durable.len() {
            0 => {}
            // The common case: one spool, nothing else to wait for.
            1 => {
                let (dest, events) = durable.into_iter().next().expect("one");
                match reservation.send(dest, events) {
                    Ok(Accepted::Committing(commit)) => commit
                        .wait()
                        .await
                        .map_err(|_| Refused::StorageUnavailable)?,
                    Ok(Accepted::Queued) | Err(_) => return Err(Refused::Backpressure),
                }
            }
            _ => {
                let appends: Vec<(Commit, Hold)> = durable
                    .into_iter()
                    .map(|(dest, events)| reservation.send_held(dest, events))
                    .collect();
                let mut holds = Vec::with_capacity(appends.len());
                let mut failed = false;
                for (commit, hold) in appends {
                    failed |= commit.wait().await.is_err();
                    holds.push(hold);
                }
                if failed {
                    // Voiding writes it down, off the async threads, before
                    // the 503: a kill after the answer must not replay what
                    // the client is told to send again. (Were the task not
                    // to run, the dropped holds void all the same.)
                    let void = move || holds.into_iter().for_each(Hold::void);
                    let _ = tokio::task::spawn_blocking(void).await;
                    return Err(Refused::StorageUnavailable);
                }
                holds.into_iter().for_each(Hold::release);
            }
        }
        // Whether some destination took the events already.
        let mut handed = wanted.len() > memory.len();
        for (dest, events) in memory {
            let n = events.len();
            match reservation.send(dest, events) {
                Ok(_) => handed = true,
                // Closed for shutdown before anything else took the events:
                // the client may retry.
                Err(_) if !handed => return Err(Refused::Backpressure),
                // Others took them already: these count as lost to the
                // destination's shutdown, as what its queue held does.
                Err(_) => self
                    .metrics
                    .events_dropped
                    .with_label_values(&[&self.destinations[dest], DropReason::Shutdown.as_str()])
                    .inc_by(n as u64),
            }
        }
        Ok(())
    }

    fn dropped(&self, destination: &str, reason: Dropped) {
        self.metrics
            .events_dropped
            .with_label_values(&[destination, reason.as_str()])
            .inc();
    }
}
