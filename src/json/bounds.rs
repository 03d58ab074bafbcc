//! What ingest checks in an event beyond JSON's grammar, while it reads the
//! event once: nesting depth, the number of object members, the events in
//! a batch and the bytes they hold together are bounded; strings are decoded, so a lone UTF-16 surrogate
//! escape (`"\ud800"`) is refused; numbers are read, so one beyond the range
//! of a double (`1e999`) is refused. Backends' own parsers refuse such
//! events, and with them the whole batch privgate forwards, so they are
//! stopped here, one event at a time.
//!
//! [`Checked`] is the serde seed that does this for a value ingest does not
//! otherwise look into. It never keeps anything it reads.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// Bounds on one request's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of objects and arrays in one event (the event itself is 1).
    pub max_depth: usize,
    /// Most object members in one event, at every level together.
    pub max_fields: usize,
    /// Most events in one batch.
    pub max_batch: usize,
    /// Most bytes the events of one request hold together, everything a
    /// decoder copies into each of them included (`receivedAt`, a
    /// Snowplow `User-Agent`, GA4's shared parameters, the client's
    /// address): `server.max_decompressed_bytes`, so what a request expands
    /// to is bounded like a decompressed body.
    pub max_bytes: usize,
}

impl Limits {
    /// The deepest nesting a limit may allow: the policy walker's and
    /// serde_json's bound.
    pub const DEPTH_CEILING: usize = 128;

    /// The default `max_bytes` (`server.max_decompressed_bytes`'s).
    pub const DEFAULT_MAX_BYTES: usize = 4 << 20;
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 64,
            max_fields: 10_000,
            max_batch: 10_000,
            max_bytes: Limits::DEFAULT_MAX_BYTES,
        }
    }
}

/// Which bound a read went past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exceeded {
    /// `max_depth`.
    Depth,
    /// `max_fields`.
    Fields,
    /// `max_batch`.
    Batch,
}

/// The count of one event's fields so far, and the bound it hit, if any
/// (serde errors are text; this keeps which limit it was).
pub(super) struct Budget {
    limits: Limits,
    fields: Cell<usize>,
    exceeded: Cell<Option<Exceeded>>,
}

impl Budget {
    /// A fresh budget for one event (or one batch envelope).
    pub(super) fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            fields: Cell::new(0),
            exceeded: Cell::new(None),
        }
    }

    /// The limits.
    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// The bound that stopped the read, if one did.
    pub(super) fn exceeded(&self) -> Option<Exceeded> {
        self.exceeded.get()
    }

    /// Fails with `what` after noting `bound`.
    pub(super) fn exceed<E: de::Error>(&self, bound: Exceeded, what: fmt::Arguments<'_>) -> E {
        self.exceeded.set(Some(bound));
        E::custom(what)
    }

    /// Counts one object member.
    pub(super) fn field<E: de::Error>(&self) -> Result<(), E> {
        let n = self.fields.get() + 1;
        self.fields.set(n);
        if n > self.limits.max_fields {
            return Err(self.exceed(
                Exceeded::Fields,
                format_args!("more than {} fields in one event", self.limits.max_fields),
            ));
        }
        Ok(())
    }

    /// Checks that a container at `depth` is allowed.
    pub(super) fn enter<E: de::Error>(&self, depth: usize) -> Result<(), E> {
        if depth > self.limits.max_depth {
            return Err(self.exceed(
                Exceeded::Depth,
                format_args!("nested deeper than {} levels", self.limits.max_depth),
            ));
        }
        Ok(())
    }
}

/// Reads and checks one value at `depth` (the event itself is at 1),
/// keeping nothing.
#[derive(Clone, Copy)]
pub(super) struct Checked<'b> {
    /// The event's budget.
    pub budget: &'b Budget,
    /// Depth of the value read.
    pub depth: usize,
}

impl Checked<'_> {
    fn inner(self) -> Self {
        Checked {
            budget: self.budget,
            depth: self.depth + 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.budget.enter(self.depth)?;
        // Keys are decoded too: they are strings a backend parses.
        while map.next_key_seed(Key)?.is_some() {
            self.budget.field()?;
            map.next_value_seed(self.inner())?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.budget.enter(self.depth)?;
        while seq.next_element_seed(self.inner())?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads a value as raw text (for marks that point into the input) and
/// checks it as [`Checked`] would.
pub(super) fn checked_raw<'de, A: MapAccess<'de>>(
    map: &mut A,
    at: Checked<'_>,
) -> Result<&'de RawValue, A::Error> {
    let raw = map.next_value::<&'de RawValue>()?;
    let mut de = serde_json::Deserializer::from_str(raw.get());
    at.deserialize(&mut de).map_err(de::Error::custom)?;
    Ok(raw)
}

/// An object key, borrowed from the input when it has no escapes (serde's
/// own `Cow<str>` always copies).
pub(crate) struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, limits: Limits) -> Result<(), (Option<Exceeded>, String)> {
        let budget = Budget::new(limits);
        let mut de = serde_json::Deserializer::from_str(text);
        Checked {
            budget: &budget,
            depth: 1,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| (budget.exceeded(), e.to_string()))
    }

    #[test]
    fn bounds_and_values_backends_refuse_are_caught() {
        let small = Limits {
            max_depth: 3,
            max_fields: 4,
            max_batch: 1,
            ..Limits::default()
        };
        assert!(check(r#"{"a":{"b":[1]}}"#, small).is_ok());
        let (hit, msg) = check(r#"{"a":{"b":[[1]]}}"#, small).unwrap_err();
        assert_eq!(hit, Some(Exceeded::Depth), "{msg}");
        assert!(msg.contains("deeper than 3"), "{msg}");
        assert!(check(r#"{"a":1,"b":2,"c":{"d":4}}"#, small).is_ok());
        let (hit, msg) = check(r#"{"a":1,"b":2,"c":{"d":4,"e":5}}"#, small).unwrap_err();
        assert_eq!(hit, Some(Exceeded::Fields), "{msg}");

        let ok = Limits::default();
        for bad in [
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00 x"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":1e999}"#,
            r#"{"a":[-1e400]}"#,
        ] {
            let (hit, _) = check(bad, ok).expect_err(bad);
            assert_eq!(hit, None, "{bad}: grammar, not a bound");
        }
        for good in [
            r#"{"a":"\ud83d\ude00","b":1e308,"c":123456789012345678901234567890}"#,
            r#"{"a":"\u0000","a":2}"#,
        ] {
            assert!(check(good, ok).is_ok(), "{good}");
        }
        // Far beyond serde_json's own recursion limit: a clean error.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(check(&deep, ok).unwrap_err().0, Some(Exceeded::Depth));
    }
}
