//! AES-256-GCM for what privgate keeps on its own disk (the spool's
//! segment files), where no other program has to read it, so no envelope
//! format is needed: one cipher per file, with 96-bit nonces made of a
//! random 64-bit salt drawn when the file is created and the record's
//! 32-bit index in it. Every nonce under one key is then fresh without
//! asking the OS for randomness per record; a file is never appended to
//! again after a restart (a new file gets a new salt), so a crash can never
//! make an index repeat, and the spool closes a file well before its index
//! could wrap (`spool::segment::MAX_RECORDS`). The additional data binds each record to its
//! file's header.

use super::{CryptoError, EncryptionKey};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{rand_core::RngCore, AeadInPlace, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Tag};

/// Bytes the cipher adds to each record (the GCM tag).
pub const OVERHEAD: usize = 16;

/// The cipher of one file.
pub struct FileCipher {
    cipher: Aes256Gcm,
    salt: [u8; 8],
}

impl FileCipher {
    /// The cipher of a file whose header holds `salt`.
    pub fn new(key: &EncryptionKey, salt: [u8; 8]) -> FileCipher {
        FileCipher {
            cipher: Aes256Gcm::new(key.bytes().into()),
            salt,
        }
    }

    /// A salt for a new file, from the OS CSPRNG.
    pub fn fresh_salt() -> Result<[u8; 8], CryptoError> {
        let mut salt = [0; 8];
        OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|_| CryptoError::Encrypt("the OS random number generator failed"))?;
        Ok(salt)
    }

    fn nonce(&self, index: u32) -> GenericArray<u8, aes_gcm::aead::consts::U12> {
        let mut nonce = GenericArray::default();
        nonce[..8].copy_from_slice(&self.salt);
        nonce[8..].copy_from_slice(&index.to_be_bytes());
        nonce
    }

    /// Appends record `index` sealed (ciphertext, then tag) to `out`. Each
    /// index must be sealed at most once per file.
    pub fn seal_into(
        &self,
        index: u32,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .cipher
            .encrypt_in_place_detached(&self.nonce(index), aad, &mut out[start..])
            .map_err(|_| CryptoError::Encrypt("record too long for AES-GCM"))?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Record `index` opened; fails on a wrong key or any altered byte.
    pub fn open(&self, index: u32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let split = sealed
            .len()
            .checked_sub(OVERHEAD)
            .ok_or(CryptoError::Decrypt)?;
        let (ciphertext, tag) = sealed.split_at(split);
        let mut plain = ciphertext.to_vec();
        self.cipher
            .decrypt_in_place_detached(&self.nonce(index), aad, &mut plain, Tag::from_slice(tag))
            .map_err(|_| CryptoError::Decrypt)?;
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_text("k", &crate::crypto::base64_standard(&[byte; 32])).unwrap()
    }

    #[test]
    fn every_altered_part_fails_to_open() {
        let c = FileCipher::new(&key(1), [7; 8]);
        let mut sealed = Vec::new();
        c.seal_into(3, b"header", b"an event", &mut sealed).unwrap();
        assert_eq!(c.open(3, b"header", &sealed).unwrap(), b"an event");
        assert_eq!(c.open(4, b"header", &sealed), Err(CryptoError::Decrypt));
        assert_eq!(c.open(3, b"other", &sealed), Err(CryptoError::Decrypt));
        let salted = FileCipher::new(&key(1), [8; 8]);
        assert_eq!(
            salted.open(3, b"header", &sealed),
            Err(CryptoError::Decrypt)
        );
        let rekeyed = FileCipher::new(&key(2), [7; 8]);
        assert_eq!(
            rekeyed.open(3, b"header", &sealed),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            c.open(3, b"header", &sealed[..10]),
            Err(CryptoError::Decrypt)
        );
        assert_ne!(
            FileCipher::fresh_salt().unwrap(),
            FileCipher::fresh_salt().unwrap()
        );
    }

    #[test]
    fn the_nonce_is_the_salt_and_the_whole_index() {
        let c = FileCipher::new(&key(1), [7; 8]);
        let last = crate::spool::segment::MAX_RECORDS - 1;
        let n = c.nonce(last);
        assert_eq!(&n[..8], &[7; 8]);
        assert_eq!(&n[8..], &last.to_be_bytes());
        // Indexes that a 16- or 24-bit counter would alias stay apart.
        for (a, b) in [(0, 1 << 16), (0, 1 << 24), (1, last)] {
            assert_ne!(c.nonce(a), c.nonce(b), "{a} {b}");
        }
    }

    proptest! {
        /// Round trip, the plaintext never appears in the output, and a flipped bit anywhere is caught.
        #[test]
        fn round_trips_and_detects_any_flip(
            plain in prop::collection::vec(any::<u8>(), 0..300),
            index in any::<u32>(),
            flip in any::<prop::sample::Index>(),
        ) {
            let c = FileCipher::new(&key(9), [1, 2, 3, 4, 5, 6, 7, 8]);
            let mut sealed = b"prefix".to_vec();
            c.seal_into(index, b"h", &plain, &mut sealed).unwrap();
            prop_assert_eq!(&sealed[..6], b"prefix");
            let sealed = &mut sealed[6..];
            prop_assert_eq!(sealed.len(), plain.len() + OVERHEAD);
            prop_assert_eq!(c.open(index, b"h", sealed).unwrap(), plain.clone());
            if plain.len() >= 8 {
                prop_assert!(sealed.windows(plain.len()).all(|w| w != plain.as_slice()));
            }
            let at = flip.index(sealed.len());
            sealed[at] ^= 1;
            prop_assert_eq!(c.open(index, b"h", sealed), Err(CryptoError::Decrypt));
        }
    }
}
