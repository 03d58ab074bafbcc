//! What keys mean, remembered per thread. The same member keys come back
//! event after event (`userAgent`, `page`, `traits`), so what a key says
//! (its cue, whether it may name a person) is worked out once per key and
//! thread, not once per string under it.
//!
//! A [`KeyTable`] is two-way set-associative: a key hashes to a set of two
//! slots, each holding one key's exact bytes and what was worked out of
//! them; a new key goes into the first slot, and the key it moves out
//! goes into the second, replacing what that held. So two keys of one
//! event that hash alike are both held, where a direct-mapped table had
//! them replace each other at every event. Only keys of at most
//! [`KEY_MAX`] bytes are held; longer ones are worked out every time. It
//! holds member names only, never a value, in memory (never written out
//! or logged), and a lookup gives what computing would: the table is only
//! a shortcut.

use std::cell::Cell;

/// Longer keys are not held.
pub(super) const KEY_MAX: usize = 16;

/// Sets of [`WAYS`] slots: 256 slots in all.
const SETS: usize = 128;

/// Slots per set.
const WAYS: usize = 2;

/// A key of at most [`KEY_MAX`] bytes as its length and two words: the
/// first and last eight bytes (overlapping when shorter), or four and
/// four, or its first, middle and last byte. Together they are all of
/// the key, so equal packs are equal keys.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Packed {
    len: u8,
    head: u64,
    tail: u64,
}

impl Packed {
    fn of(key: &[u8]) -> Packed {
        let len = key.len();
        debug_assert!(len <= KEY_MAX);
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
        Packed {
            len: len as u8,
            head,
            tail,
        }
    }

    fn set(&self) -> usize {
        let h = (self.head ^ self.tail.rotate_left(29) ^ u64::from(self.len))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 57) as usize % SETS
    }
}

/// A per-thread table of keys and what they mean (put it in a
/// `thread_local!`).
pub(super) struct KeyTable<V: Copy> {
    sets: [Set<V>; SETS],
}

/// The slots a key may be held in, the newer first; each a key and
/// what was worked out of it.
type Set<V> = [Cell<Option<(Packed, V)>>; WAYS];

impl<V: Copy> KeyTable<V> {
    /// An empty table.
    pub(super) const fn new() -> KeyTable<V> {
        KeyTable {
            sets: [const { [const { Cell::new(None) }; WAYS] }; SETS],
        }
    }

    /// `compute(key)`, from the table when it holds `key`.
    pub(super) fn get_or(&self, key: &[u8], compute: impl FnOnce(&[u8]) -> V) -> V {
        if key.len() > KEY_MAX {
            return computed(key, compute);
        }
        let packed = Packed::of(key);
        let set = &self.sets[packed.set()];
        for slot in set {
            if let Some((held, value)) = slot.get() {
                if held == packed {
                    return value;
                }
            }
        }
        held_anew(set, packed, key, compute)
    }
}

/// `compute(key)`, out of line: a lookup that hits (the common case) then
/// saves and restores only the registers its own few steps use.
#[inline(never)]
fn computed<V>(key: &[u8], compute: impl FnOnce(&[u8]) -> V) -> V {
    compute(key)
}

/// A key the table missed: computed, and held in the first slot of its
/// set, the key that was there moving to the second.
#[cold]
#[inline(never)]
fn held_anew<V: Copy>(
    set: &Set<V>,
    packed: Packed,
    key: &[u8],
    compute: impl FnOnce(&[u8]) -> V,
) -> V {
    let value = compute(key);
    let [first, second] = set;
    second.set(first.get());
    first.set(Some((packed, value)));
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever keys come, in whatever order, a lookup answers what
        /// computing answers (colliding keys included: 128 sets).
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
