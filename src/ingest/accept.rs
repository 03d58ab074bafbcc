//! The protocol-independent half of ingest: a batch of events decoded from
//! one request of an authenticated source goes through the pipeline (consent,
//! rules, allow lists, per destination), is handed to the destinations'
//! queues or spools for all of them or none, and is accepted once durable
//! destinations have committed it. All or none holds when a commit fails
//! too: events reach a destination's forwarding only once every
//! destination of the request has them ([`Ingest::hand_over`]), so the
//! client's retry of a 503 duplicates nothing.
//!
//! Every protocol decoder ends in the same accept stack, built per request
//! by [`Ingest::accept`]: the per-write-key rate limit
//! ([`super::ratelimit::PerKeyLayer`]) around [`Accept`].
//!
//! Accept never answers the client itself: it succeeds or returns the
//! [`IngestError`] the protocol's handler turns into its answer.

use super::error::IngestError;
use super::Ingest;
use crate::event::{Event, Marks, RequestMeta};
use crate::forward::Accepted;
use crate::metrics::DropReason;
use crate::pipeline::Verdict;
use crate::spool::{Commit, Hold};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

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

/// Accepts a [`Batch`]: see the module doc.
#[derive(Clone)]
pub struct Accept(pub(super) Arc<Ingest>);

impl Service<Batch> for Accept {
    type Response = ();
    type Error = IngestError;
    type Future = BoxFuture<'static, Result<(), IngestError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), IngestError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, batch: Batch) -> Self::Future {
        let ingest = self.0.clone();
        Box::pin(async move { ingest.accept_batch(batch).await })
    }
}

impl Ingest {
    async fn accept_batch(&self, batch: Batch) -> Result<(), IngestError> {
        if batch.invalid > 0 {
            self.metrics
                .events_dropped
                .with_label_values(&["none", DropReason::InvalidEvent.as_str()])
                .inc_by(batch.invalid as u64);
        }
        let source = batch.source;
        // Counted once accepted: events refused with 503 are the client's to retry.
        let accepted = batch.events.len() as u64;
        let routed = self.route_batch(source, batch.events, batch.meta);
        self.hand_over(routed).await?;
        self.sources[source].received.inc_by(accepted);
        Ok(())
    }

    /// Runs each event through the pipeline: what each destination of the
    /// source keeps, for the destinations that keep something.
    fn route_batch(
        &self,
        index: usize,
        events: Vec<(Bytes, Marks)>,
        meta: Arc<RequestMeta>,
    ) -> Vec<(usize, Vec<Bytes>)> {
        let src = &self.sources[index];
        let mut routed: Vec<Vec<Bytes>> = src
            .destinations
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
                .route(event, &src.destinations, |slot, verdict| match verdict {
                    Verdict::Keep(e) => routed[slot].push(e.body),
                    Verdict::Drop(reason) => {
                        let dest = &self.destinations[src.destinations[slot]];
                        self.dropped(dest, reason);
                    }
                });
        }
        src.destinations
            .iter()
            .copied()
            .zip(routed)
            .filter(|(_, events)| !events.is_empty())
            .collect()
    }

    /// Hands each destination its events, for all of them or none: room
    /// is reserved everywhere first; durable destinations commit next
    /// (when there are several, each holds its records until every one has
    /// committed, and voids them if one failed); memory queues get their
    /// events last, once nothing can fail any more. The answer waits for
    /// the commits.
    async fn hand_over(&self, routed: Vec<(usize, Vec<Bytes>)>) -> Result<(), IngestError> {
        let wanted: Vec<(usize, usize)> = routed.iter().map(|(d, e)| (*d, e.len())).collect();
        let mut reservation = self
            .queues
            .reserve(&wanted)
            .map_err(|_| IngestError::Backpressure)?;
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
                        .map_err(|_| IngestError::StorageUnavailable)?,
                    Ok(Accepted::Queued) | Err(_) => return Err(IngestError::Backpressure),
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
                    // Voiding writes it down: off the async threads. (Were the
                    // task not to run, the dropped holds void all the same.)
                    tokio::task::spawn_blocking(move || holds.into_iter().for_each(Hold::void));
                    return Err(IngestError::StorageUnavailable);
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
                Err(_) if !handed => return Err(IngestError::Backpressure),
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

    fn dropped(&self, destination: &str, reason: &'static str) {
        self.metrics
            .events_dropped
            .with_label_values(&[destination, reason])
            .inc();
    }
}
