//! Reading a request's payload as its protocol says ([`Read`]): a body
//! within the body limits, or a GET's query, charged to the request's
//! in-flight budget as it grows (see [`super::inflight`]).

use super::error::IngestError;
use super::inflight::Charge;
use super::{body, Ingest};
use crate::protocol::{query_payload, Codec, Read, Route};
use bytes::Bytes;
use hyper::body::Incoming;

impl Ingest {
    /// The payload of an event request, decoded from its wire form (gzip,
    /// the forms and encodings the codec unwraps).
    pub(super) async fn payload(
        &self,
        codec: &dyn Codec,
        route: Route,
        parts: &http::request::Parts,
        incoming: Incoming,
        charge: &Charge,
    ) -> Result<Bytes, IngestError> {
        let limits = self.limits;
        let headers = &parts.headers;
        Ok(match codec.read(route) {
            Read::Body => body::read(headers, incoming, limits, charge).await?,
            Read::Forms => {
                let forms = body::Forms::Accepted;
                body::read_as(headers, incoming, limits, forms, charge).await?
            }
            Read::Wrapped => {
                let forms = body::Forms::Accepted;
                let raw = body::read_as(headers, incoming, limits, forms, charge).await?;
                // Unwrapping may hold twice the decompression limit (lz64:
                // its UTF-16 units and their text); then what it came
                // from is gone, or is what it made.
                let raw_len = raw.len();
                let room = charge.reserve(2 * limits.max_decompressed)?;
                let body = codec.unwrap(raw, parts, limits)?;
                room.settle(body.len());
                charge.release(raw_len);
                body
            }
            Read::Query => {
                let query = query_payload(parts.uri.query(), limits.max_body)?;
                charge.add(query.len())?;
                query
            }
        })
    }
}
