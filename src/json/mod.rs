//! Everything privgate uses to read JSON, and the few raw-byte edits it
//! makes to an event it has read.
//!
//! # What it owns
//! - [`Limits`] (`bounds.rs`): the bounds on one request's events (nesting
//!   depth, object members, events per batch, bytes), and the serde seed
//!   that checks a value against them while keeping nothing.
//! - The borrowed top-level scan ([`TopLevel`], `object.rs`): one event's
//!   (or batch envelope's) top level read in one pass, without building a
//!   tree, through a protocol's [`Layout`] (`layout.rs`: which top-level
//!   key means what); it marks where consent's inputs are. Read with the
//!   [`reader`] when that can vouch for the answer (`fast.rs`), else with
//!   serde_json, which then decides and explains.
//! - The raw-byte edits ingest makes to a scanned event ([`finish_event`],
//!   [`detach`], [`fit`], `edit.rs`).
//! - The hand-written validating reader ([`reader`]) that policy and consent
//!   walk an event with, value by value, and the byte-class scans it is
//!   built on ([`bytes`]).
//! - Small serde helpers for "this shape, or anything else ignored"
//!   (`shape.rs`).
//!
//! # What it must never do
//! - No I/O, no logging, no metrics: callers count and report. Errors say
//!   where and why, never quote the input.
//! - No allocation proportional to the input beyond what [`Limits`] allow:
//!   values are borrowed from the input; a string is copied only when it
//!   has escapes; a batch holds at most `max_batch` borrowed elements.
//! - No recursion without a bound: the scan stops at `max_depth`, the
//!   reader skips iteratively, and its callers bound their own recursion.
//! - No protocol knowledge beyond the [`Layout`] a protocol hands in, and
//!   no policy or consent decision.

mod bounds;
pub(crate) mod bytes;
mod edit;
mod fast;
mod layout;
mod marks;
mod object;
pub(crate) mod reader;
mod shape;

pub use bounds::{Exceeded, Limits};
pub(crate) use edit::ROOM;
pub use edit::{detach, finish_event, fit, Fill};
pub use layout::{Layout, Role, SegmentLayout};
pub use marks::{same_value, Marks, Slot, Span};
pub use object::{check_utf8, Refused, TopLevel};
pub use reader::Malformed;
pub(crate) use shape::{ignore_scalars, MaybeStr};

#[cfg(test)]
pub(crate) use object::tests;

/// `bytes` as text if it is UTF-8, as [`std::str::from_utf8`] answers,
/// checked sixteen or thirty-two bytes at a time (`simdutf8`): every
/// event is checked whole at ingest, and again by the policy's walker.
/// A failure is explained by `std`'s own check, so the error says where.
pub fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

#[cfg(test)]
mod text_tests {
    use proptest::prelude::*;

    proptest! {
        /// Whatever the bytes (text with a byte changed, cut anywhere),
        /// [`super::text`] answers what `std` does, error position included.
        #[test]
        fn text_answers_what_std_does(
            s in ".{0,80}",
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = s.into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            prop_assert_eq!(super::text(&bytes), std::str::from_utf8(&bytes));
        }
    }
}
