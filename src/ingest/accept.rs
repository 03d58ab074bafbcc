//! The accept stack every protocol's decoded batch goes through, built
//! once per config by [`super::Ingest::new`]: the per-write-key rate limit
//! ([`super::ratelimit::PerKeyLayer`]) around [`Accept`], which hands the
//! batch to the pipeline's [`Delivery`] (consent, rules, fan-out to the
//! destinations, all-or-nothing hand-over to their queues and spools).
//!
//! Accept never answers the client itself: it succeeds or returns the
//! [`IngestError`] that ingest turns into the protocol's answer.

use super::error::IngestError;
use crate::pipeline::{Delivery, Refused};
use futures_util::future::BoxFuture;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

pub(crate) use crate::pipeline::Batch;

/// Accepts a [`Batch`]: see the module doc.
#[derive(Clone)]
pub(crate) struct Accept(pub(super) Arc<Delivery>);

impl Service<Batch> for Accept {
    type Response = ();
    type Error = IngestError;
    type Future = BoxFuture<'static, Result<(), IngestError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), IngestError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, batch: Batch) -> Self::Future {
        let delivery = self.0.clone();
        Box::pin(async move { Ok(delivery.deliver(batch).await?) })
    }
}

impl From<Refused> for IngestError {
    fn from(refused: Refused) -> IngestError {
        match refused {
            Refused::Backpressure => IngestError::Backpressure,
            Refused::StorageUnavailable => IngestError::StorageUnavailable,
        }
    }
}
