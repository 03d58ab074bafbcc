//! Small serde pieces that ingest and consent share for reading a value of
//! one expected shape and skipping (but still validating) anything else.
//! Nothing here allocates unless a wanted string has escapes.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The `visit_*` methods for scalars in a "this shape, or anything else
/// ignored" visitor: answered with the value type's default.
macro_rules! ignore_scalars {
    ($t:ty) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$t, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<$t, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<$t, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<$t, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<$t, E> {
            Ok(Default::default())
        }
    };
}

/// [`ignore_scalars`] plus arrays, consumed and answered with the default
/// (the wanted shapes' methods are written by hand).
macro_rules! ignore_other_shapes {
    ($t:ty) => {
        $crate::json::ignore_scalars!($t);
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$t, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

pub(crate) use ignore_scalars;

/// A JSON string borrowed when it has no escapes; anything else is `None`.
#[derive(Default)]
pub(crate) struct MaybeStr<'a>(pub Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for MaybeStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeStr(None))
            }
            ignore_other_shapes!(MaybeStr<'de>);
        }
        d.deserialize_any(V)
    }
}
