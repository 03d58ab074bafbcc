//! What keys mean, remembered per thread. The same member keys come back
//! event after event (`userAgent`, `page`, `traits`), so what a key says
//! (its cue, whether it may name a person) is worked out once per key and
//! thread, not once per string under it.
//!
//! A [`KeyTable`] is direct-mapped: each slot holds one key's exact bytes
//! and what was worked out of them, and a key that hashes to a taken slot
//! replaces it. Only keys of at most [`KEY_MAX`] bytes are held; longer
//! ones are worked out every time. It holds member names only, never a
//! value, in memory (never written out or logged), and a lookup gives
//! what computing would: the table is only a shortcut.

use std::cell::Cell;

/// Longer keys are not held.
pub(super) const KEY_MAX: usize = 16;

const SLOTS: usize = 256;

/// A key of at most [`KEY_MAX`] bytes as its length and two words: the
/// first and last eight bytes (overlapping when shorter), or four and
/// four, or its first, middle and last byte. Together they are all of
/// the key, so equal packs are equal keys.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Packed {
    len: usize,
    head: u64,
    tail: u64,
}

impl Packed {
    fn of(key: &[u8]) -> Packed {
        let len = key.len();
        let (head, tail) = match len {
            8.. => (
                u64::from_le_bytes(key[..8].try_into().expect("eight bytes")),
                u64::from_le_bytes(key[len - 8..].try_into().expect("eight bytes")),
            ),
            4..=7 => (
                u64::from(u32::from_le_bytes(key[..4].try_into().expect("four bytes"))),
                u64::from(u32::from_le_bytes(
                    key[len - 4..].try_into().expect("four bytes"),
                )),
            ),
            1..=3 => (
                u64::from(key[0]) | u64::from(key[len / 2]) << 8 | u64::from(key[len - 1]) << 16,
                0,
            ),
            0 => (0, 0),
        };
        Packed { len, head, tail }
    }

    fn slot(&self) -> usize {
        let h = (self.head ^ self.tail.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 56) as usize % SLOTS
    }
}

/// A per-thread table of keys and what they mean (put it in a
/// `thread_local!`).
pub(super) struct KeyTable<V: Copy> {
    slots: [Cell<Option<(Packed, V)>>; SLOTS],
}

impl<V: Copy> KeyTable<V> {
    /// An empty table.
    pub(super) const fn new() -> KeyTable<V> {
        KeyTable {
            slots: [const { Cell::new(None) }; SLOTS],
        }
    }

    /// `compute(key)`, from the table when it holds `key`.
    pub(super) fn get_or(&self, key: &[u8], compute: impl FnOnce(&[u8]) -> V) -> V {
        if key.len() > KEY_MAX {
            return compute(key);
        }
        let packed = Packed::of(key);
        let slot = &self.slots[packed.slot()];
        match slot.get() {
            Some((held, value)) if held == packed => value,
            _ => {
                let value = compute(key);
                slot.set(Some((packed, value)));
                value
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever keys come, in whatever order, a lookup answers what
        /// computing answers (colliding keys included: 256 slots).
        #[test]
        fn lookups_answer_what_computing_does(
            keys in proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..24), 1..600),
        ) {
            let table = KeyTable::new();
            let compute = |k: &[u8]| {
                k.iter().fold(k.len() as u64, |h, &b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
            };
            for k in keys.iter().chain(keys.iter().rev()) {
                prop_assert_eq!(table.get_or(k, compute), compute(k));
            }
        }
    }
}
