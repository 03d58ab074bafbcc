//! The events decoded from one request, within one byte budget, and what
//! decoders fill into them.

use crate::json::Limits;
use crate::json::Marks;
use crate::json::{detach, Layout, TopLevel};
use crate::tracker_http::error::IngestError;
use bytes::Bytes;

/// What one event's place in [`Decoded::events`] takes.
const SLOT: usize = std::mem::size_of::<(Bytes, Marks)>();

/// Events decoded from one request.
///
/// **Budget.** The events of one request hold at most
/// [`Limits::max_bytes`] bytes together (413 `body_too_large` beyond),
/// counting everything a decoder copies into each of them: the request's
/// own data repeated per event (a Snowplow `User-Agent`, GA4's shared
/// parameters, `receivedAt`, the client's address) is multiplied only
/// within it. Decoders add events through [`Decoded::push`], and ask
/// [`Decoded::fits`] before they build an event that copies request data.
///
/// **Keys.** A decoder reports each write key it reads in a body to its
/// `key` callback as soon as it reads it: an envelope's before its
/// elements, the first event's before the others, a Snowplow app id before
/// its element's event is built. The callback authenticates it
/// ([`crate::ingest::Ingest`]), so a request naming no source's key costs no
/// per-element work.
#[derive(Debug)]
pub struct Decoded {
    /// The events, each one JSON object ready to forward, with where its
    /// consent inputs are.
    pub events: Vec<(Bytes, Marks)>,
    /// Batch elements that were not valid events (skipped, counted).
    pub invalid: usize,
    /// The client asked that no identifier or address of it be recorded
    /// (Snowplow's `SP-Anonymous`): no client address is added.
    pub anonymous: bool,
    /// What the events hold together, in bytes.
    bytes: usize,
    /// [`Limits::max_bytes`].
    max_bytes: usize,
}

impl Decoded {
    /// No events yet, within `limits`.
    pub fn new(limits: Limits) -> Decoded {
        Decoded {
            events: Vec::new(),
            invalid: 0,
            anonymous: false,
            bytes: 0,
            max_bytes: limits.max_bytes,
        }
    }

    /// The bytes the events hold together.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// What holding the events takes: their bytes and their slots.
    pub fn memory(&self) -> usize {
        self.bytes + self.events.capacity() * SLOT
    }

    /// The most [`Decoded::memory`] reaches within `limits`: the events'
    /// bytes, and slots for twice `max_batch` of them (a vector grown one
    /// push at a time may double past its length).
    pub fn ceiling(limits: Limits) -> usize {
        limits
            .max_bytes
            .saturating_add(limits.max_batch.saturating_mul(2 * SLOT))
    }

    /// 413 unless `more` bytes fit beside the events so far.
    pub fn fits(&self, more: usize) -> Result<(), IngestError> {
        match self.bytes.checked_add(more) {
            Some(total) if total <= self.max_bytes => Ok(()),
            _ => Err(IngestError::TooLarge(self.max_bytes)),
        }
    }

    /// Counts `bytes` against the budget without adding an event (what a
    /// decoder built and then refused still cost the work).
    pub fn take(&mut self, bytes: usize) -> Result<(), IngestError> {
        self.fits(bytes)?;
        self.bytes += bytes;
        Ok(())
    }

    /// Adds an event, counted against the budget.
    pub fn push(&mut self, event: Bytes, marks: Marks) -> Result<(), IngestError> {
        self.take(event.len())?;
        self.events.push((event, marks));
        Ok(())
    }

    /// Rewrites every event with `write` (ingest writes the client's
    /// address into them), counted against the budget.
    pub fn rewrite(
        &mut self,
        mut write: impl FnMut(Bytes, &mut Marks) -> Bytes,
    ) -> Result<(), IngestError> {
        for (event, marks) in &mut self.events {
            let before = event.len();
            *event = write(std::mem::take(event), marks);
            self.bytes = self.bytes - before + event.len();
            if self.bytes > self.max_bytes {
                return Err(IngestError::TooLarge(self.max_bytes));
            }
        }
        Ok(())
    }

    /// Adds the elements of a batch array of `body`: each an `L` event
    /// (an object with a type) as it was sent, or counted invalid. `seen` is
    /// shown each event before it is added, with its scan, for what a
    /// protocol reads more (PostHog: the first event's key).
    pub fn add_elements<L: Layout>(
        &mut self,
        items: Vec<&str>,
        body: &Bytes,
        limits: Limits,
        mut seen: impl FnMut(&TopLevel<'_>, &Bytes) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        self.events.reserve(items.len());
        for item in items {
            let raw = body.slice_ref(item.as_bytes());
            match TopLevel::parse_event_as::<L>(&raw, limits) {
                Ok(event) if event.has_type => {
                    seen(&event, &raw)?;
                    let marks = event.marks;
                    self.push(detach(raw, body), marks)?;
                }
                _ => self.invalid += 1,
            }
        }
        Ok(())
    }
}

/// Generated values an event may need.
pub struct Stamp<'a> {
    /// `receivedAt`, RFC 3339 with milliseconds.
    pub received_at: &'a str,
}

/// A batch envelope of `L`'s protocol (a body that must be UTF-8) and the
/// elements of its batch array; without one, `InvalidShape(missing)`.
pub(super) fn envelope<'a, L: Layout>(
    body: &'a [u8],
    limits: Limits,
    missing: &'static str,
) -> Result<(TopLevel<'a>, Vec<&'a str>), IngestError> {
    crate::json::check_utf8(body).map_err(|e| IngestError::InvalidJson(e.into()))?;
    let mut top = TopLevel::parse_as::<L>(body, limits)?;
    let items = top.batch.take().ok_or(IngestError::InvalidShape(missing))?;
    Ok((top, items))
}
