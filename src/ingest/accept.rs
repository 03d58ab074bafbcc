//! The protocol-independent half of ingest: a batch of events decoded from
//! one request of an authenticated source goes through the pipeline (consent,
//! rules, allow lists, per destination), is handed to the destinations'
//! queues or spools for all of them or none, and is accepted once durable
//! destinations have committed it.
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
use crate::spool::Commit;
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
        let commits = self.dispatch(source, batch.events, batch.meta)?;
        // Durable destinations: the answer waits until the events are in
        // their spools.
        for commit in commits {
            if commit.wait().await.is_err() {
                return Err(IngestError::StorageUnavailable);
            }
        }
        self.sources[source].received.inc_by(accepted);
        Ok(())
    }

    /// Runs each event through the pipeline and hands what each destination
    /// keeps to its queue or spool, for all destinations or none; the
    /// spool commits to wait for.
    fn dispatch(
        &self,
        index: usize,
        events: Vec<(Bytes, Marks)>,
        meta: Arc<RequestMeta>,
    ) -> Result<Vec<Commit>, IngestError> {
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

        let wanted: Vec<(usize, usize)> = src
            .destinations
            .iter()
            .zip(&routed)
            .map(|(&dest, events)| (dest, events.len()))
            .collect();
        let mut reservation = self
            .queues
            .reserve(&wanted)
            .map_err(|_| IngestError::Backpressure)?;
        let mut commits = Vec::new();
        for (&dest, events) in src.destinations.iter().zip(routed) {
            if !events.is_empty() {
                match reservation.send(dest, events) {
                    Ok(Accepted::Queued) => {}
                    Ok(Accepted::Committing(commit)) => commits.push(commit),
                    Err(_) => return Err(IngestError::Backpressure),
                }
            }
        }
        Ok(commits)
    }

    fn dropped(&self, destination: &str, reason: &'static str) {
        self.metrics
            .events_dropped
            .with_label_values(&[destination, reason])
            .inc();
    }
}
