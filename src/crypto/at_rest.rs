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
//!
//! The cipher is ring's (`LessSafeKey`: the nonces are ours to keep unique,
//! as above), about four times faster than the RustCrypto one on this
//! path, which every durable event crosses (sealed by the spool's writer;
//! opened by its reader when it reads a record back from disk rather than
//! from the writer's tail in memory). Same algorithm, nonce and additional
//! data as before, so segments written by either read with the other; a
//! test holds that against the RustCrypto implementation.

use super::{CryptoError, EncryptionKey};
use aes_gcm::aead::{rand_core::RngCore, OsRng};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};

/// Bytes the cipher adds to each record (the GCM tag).
pub const OVERHEAD: usize = 16;

/// The cipher of one file.
pub struct FileCipher {
    cipher: LessSafeKey,
    salt: [u8; 8],
}

impl FileCipher {
    /// The cipher of a file whose header holds `salt`.
    pub fn new(key: &EncryptionKey, salt: [u8; 8]) -> FileCipher {
        let key = UnboundKey::new(&AES_256_GCM, key.bytes()).expect("an AES-256 key is 32 bytes");
        FileCipher {
            cipher: LessSafeKey::new(key),
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

    fn nonce(&self, index: u32) -> [u8; 12] {
        let mut nonce = [0; 12];
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
        let nonce = Nonce::assume_unique_for_key(self.nonce(index));
        let tag = self
            .cipher
            .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut out[start..])
            .map_err(|_| CryptoError::Encrypt("record too long for AES-GCM"))?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Record `index` opened; fails on a wrong key or any altered byte.
    pub fn open(&self, index: u32, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < OVERHEAD {
            return Err(CryptoError::Decrypt);
        }
        let mut plain = sealed.to_vec();
        let nonce = Nonce::assume_unique_for_key(self.nonce(index));
        let len = self
            .cipher
            .open_in_place(nonce, Aad::from(aad), &mut plain)
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        plain.truncate(len);
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
    fn reads_and_writes_what_the_rustcrypto_aes_gcm_does() {
        // Segments sealed before the switch to ring (and any sealed now)
        // read either way: an independent implementation of the same
        // AES-256-GCM, nonce (salt, then the index big-endian) and AAD.
        use aes_gcm::aead::{AeadInPlace, KeyInit};
        let k = key(5);
        let salt = [9, 8, 7, 6, 5, 4, 3, 2];
        let other = aes_gcm::Aes256Gcm::new(k.bytes().into());
        let c = FileCipher::new(&k, salt);
        for (index, plain) in [(0u32, &b""[..]), (7, b"an event"), (u32::MAX, &[0xa5; 300])] {
            let mut nonce = [0; 12];
            nonce[..8].copy_from_slice(&salt);
            nonce[8..].copy_from_slice(&index.to_be_bytes());
            let mut theirs = plain.to_vec();
            let tag = other
                .encrypt_in_place_detached(&nonce.into(), b"hdr", &mut theirs)
                .unwrap();
            theirs.extend_from_slice(&tag);
            let mut ours = Vec::new();
            c.seal_into(index, b"hdr", plain, &mut ours).unwrap();
            assert_eq!(ours, theirs, "record {index}");
            assert_eq!(c.open(index, b"hdr", &theirs).unwrap(), plain);
        }
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
