//! Keys and what privgate does with them: keyed hashing (HMAC-SHA256) for
//! pseudonyms, and AES-256-GCM in a standard envelope, the JWE compact
//! serialization (RFC 7516) with `alg: dir`, `enc: A256GCM` and a `kid`, so
//! any JOSE library holding the key can read what privgate wrote.
//!
//! Invariants: key material lives in zeroizing buffers and is never printed
//! (`Debug` shows ids only); nonces are 96 random bits from the OS CSPRNG,
//! fresh for every message; exactly one key of each kind is active for new
//! output, older keys stay for decryption (rotation). This module logs
//! nothing.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub mod at_rest;
mod jwe;
pub mod secret;

pub use jwe::{decrypt as jwe_decrypt, encrypt as jwe_encrypt, kid as jwe_kid};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use zeroize::Zeroizing;

/// Why a key or a ciphertext could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Key text is not base64/base64url of the right length.
    #[error("a key must be {expected} bytes, base64url-encoded (as `privgate keygen` prints); got {got} bytes")]
    KeyLength {
        /// Required length (or minimum, for HMAC).
        expected: usize,
        /// Decoded length.
        got: usize,
    },
    /// Key text is not base64 at all.
    #[error("a key must be base64url-encoded (as `privgate keygen` prints)")]
    KeyEncoding,
    /// Not a JWE compact serialization.
    #[error("not a JWE compact serialization: {0}")]
    Malformed(&'static str),
    /// A JWE with another algorithm than `dir` + `A256GCM`.
    #[error("unsupported JWE algorithm (only alg \"dir\" with enc \"A256GCM\")")]
    Unsupported,
    /// No key with the JWE's `kid`.
    #[error("no key with id `{0}`")]
    UnknownKey(String),
    /// Authentication failed: wrong key or tampered data.
    #[error("decryption failed: wrong key or the data was altered")]
    Decrypt,
    /// Encryption could not run: no active key, or the OS random number
    /// generator failed (no nonce, so nothing is sealed).
    #[error("encryption failed: {0}")]
    Encrypt(&'static str),
}

/// Minimum HMAC key length: a pseudonym is only as strong as its key.
pub const MIN_HMAC_KEY: usize = 32;

/// A 256-bit AES key with its id.
pub struct EncryptionKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl EncryptionKey {
    /// Parses the base64url (or base64) text of exactly 32 bytes.
    pub fn from_text(id: &str, text: &str) -> Result<EncryptionKey, CryptoError> {
        let bytes = decode_key(text)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::KeyLength {
                expected: 32,
                got: bytes.len(),
            })?;
        Ok(EncryptionKey {
            id: id.to_owned(),
            key: Zeroizing::new(key),
        })
    }

    /// The key id (`kid`).
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({})", self.id)
    }
}

/// An HMAC-SHA256 key with its id.
pub struct HmacKey {
    id: String,
    /// The MAC with the key absorbed (its inner and outer pads hashed), so
    /// each pseudonym costs two SHA-256 blocks fewer. Key material too:
    /// overwritten on drop (see `Drop`).
    keyed: Box<Hmac<Sha256>>,
}

impl Drop for HmacKey {
    /// The keyed state holds secrets derived from the key, and the `hmac`
    /// crate offers no zeroizing; it is overwritten in place by a state
    /// keyed with zeros, and the write is kept (`black_box`).
    fn drop(&mut self) {
        *self.keyed =
            Hmac::<Sha256>::new_from_slice(&[0; MIN_HMAC_KEY]).expect("HMAC takes any key length");
        std::hint::black_box(&*self.keyed);
    }
}

impl HmacKey {
    /// Parses base64url (or base64) text of at least [`MIN_HMAC_KEY`] bytes.
    pub fn from_text(id: &str, text: &str) -> Result<HmacKey, CryptoError> {
        let key = decode_key(text)?;
        if key.len() < MIN_HMAC_KEY {
            return Err(CryptoError::KeyLength {
                expected: MIN_HMAC_KEY,
                got: key.len(),
            });
        }
        let keyed =
            Box::new(Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length"));
        // The decoded key is zeroized when it drops, here.
        Ok(HmacKey {
            id: id.to_owned(),
            keyed,
        })
    }

    /// `<id>:<base64url(HMAC-SHA256(key, value))>`: stable for the same key
    /// and value, so backends can join on it without seeing the value.
    pub fn hash(&self, value: &[u8]) -> String {
        let mut out = String::new();
        self.hash_into(value, &mut out);
        out
    }

    /// HMAC-SHA256 of `value`: the digest a pseudonym encodes.
    pub fn mac(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = (*self.keyed).clone();
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// [`HmacKey::hash`], appended to `out`.
    pub fn hash_into(&self, value: &[u8], out: &mut String) {
        let digest = self.mac(value);
        // Into a buffer on the stack: `encode_string` goes through a
        // chunked writer that costs more than the rest of the encoding.
        let mut encoded = [0u8; 43];
        let n = URL_SAFE_NO_PAD
            .encode_slice(digest, &mut encoded)
            .expect("32 bytes encode to 43");
        let encoded = std::str::from_utf8(&encoded[..n]).expect("base64 is ASCII");
        out.reserve(self.id.len() + 1 + n);
        out.push_str(&self.id);
        out.push(':');
        out.push_str(encoded);
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey({})", self.id)
    }
}

fn decode_key(text: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let text = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::KeyEncoding)
}

/// Every key privgate holds; one of each kind active.
#[derive(Debug, Default)]
pub struct Keyring {
    hmac: Vec<HmacKey>,
    active_hmac: Option<usize>,
    encryption: Vec<EncryptionKey>,
    active_encryption: Option<usize>,
}

impl Keyring {
    /// A keyring from validated keys; `active_*` index into the lists.
    pub fn new(
        hmac: Vec<HmacKey>,
        active_hmac: Option<usize>,
        encryption: Vec<EncryptionKey>,
        active_encryption: Option<usize>,
    ) -> Keyring {
        debug_assert!(active_hmac.is_none_or(|i| i < hmac.len()));
        debug_assert!(active_encryption.is_none_or(|i| i < encryption.len()));
        Keyring {
            hmac,
            active_hmac,
            encryption,
            active_encryption,
        }
    }

    /// The active HMAC key.
    pub fn active_hmac(&self) -> Option<&HmacKey> {
        self.active_hmac.map(|i| &self.hmac[i])
    }

    /// The active encryption key.
    pub fn active_encryption(&self) -> Option<&EncryptionKey> {
        self.active_encryption.map(|i| &self.encryption[i])
    }

    /// Every HMAC key, active or not (to recognise pseudonyms made with
    /// any of them).
    pub fn hmac_keys(&self) -> &[HmacKey] {
        &self.hmac
    }

    /// Every encryption key, for decryption after rotation.
    pub fn encryption_keys(&self) -> &[EncryptionKey] {
        &self.encryption
    }

    /// Seals `plaintext` as JWE compact with the active encryption key.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        let key = self
            .active_encryption()
            .ok_or(CryptoError::Encrypt("no active encryption key"))?;
        jwe::encrypt(key, plaintext)
    }

    /// Number of keys of each kind (for summaries).
    pub fn counts(&self) -> (usize, usize) {
        (self.hmac.len(), self.encryption.len())
    }
}

/// The key id and digest of a pseudonym as [`HmacKey::hash`] writes it
/// (`<id>:<43 characters of base64url>`); `None` for any other text.
pub fn parse_pseudonym(text: &str) -> Option<(&str, [u8; 32])> {
    let (id, encoded) = text.split_once(':')?;
    let id_ok = (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok || encoded.len() != 43 {
        return None;
    }
    let mut digest = [0u8; 32];
    let n = URL_SAFE_NO_PAD.decode_slice(encoded, &mut digest).ok()?;
    (n == 32).then_some((id, digest))
}

/// A new random 256-bit key from the OS CSPRNG, base64url-encoded.
pub fn generate_key() -> Zeroizing<String> {
    use aes_gcm::aead::{rand_core::RngCore, OsRng};
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(key.as_mut());
    Zeroizing::new(URL_SAFE_NO_PAD.encode(key.as_ref()))
}

/// Standard base64, for the rare caller that needs it.
pub fn base64_standard(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    #[test]
    fn keys_parse_from_base64url_and_base64_and_check_length() {
        assert!(EncryptionKey::from_text("e1", K1).is_ok());
        assert!(EncryptionKey::from_text("e1", &format!("{K1}=")).is_ok());
        assert_eq!(
            EncryptionKey::from_text("e1", "AAEC").unwrap_err(),
            CryptoError::KeyLength {
                expected: 32,
                got: 3
            }
        );
        assert_eq!(
            EncryptionKey::from_text("e1", "not base64!").unwrap_err(),
            CryptoError::KeyEncoding
        );
        assert!(HmacKey::from_text("h1", "AAEC").is_err());
    }

    #[test]
    fn generated_keys_are_32_random_bytes() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(*a, *b);
        assert!(EncryptionKey::from_text("x", &a).is_ok());
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 uses a short key; check the primitive with it,
        // then the output form with a real key.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = HmacKey::from_text("h1", K1).unwrap();
        let h = key.hash(b"jane@example.com");
        assert!(h.starts_with("h1:"));
        assert_eq!(h.len(), 3 + 43);
        // RFC 4231 test case 6 (a key long enough for privgate) through
        // `HmacKey`, whose keyed state is reused: twice, same answer.
        let key = HmacKey::from_text("t6", &URL_SAFE_NO_PAD.encode([0xaa; 131])).unwrap();
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let digest: Vec<u8> = (0..32)
            .map(|i| {
                let hex = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()
            })
            .collect();
        let expected = format!("t6:{}", URL_SAFE_NO_PAD.encode(digest));
        assert_eq!(key.hash(data), expected);
        assert_eq!(key.hash(data), expected);
    }

    #[test]
    fn debug_never_shows_key_material() {
        let key = EncryptionKey::from_text("e1", K1).unwrap();
        assert_eq!(format!("{key:?}"), "EncryptionKey(e1)");
        let key = HmacKey::from_text("h1", K1).unwrap();
        assert_eq!(format!("{key:?}"), "HmacKey(h1)");
    }

    proptest! {
        #[test]
        fn hashing_is_deterministic_per_key_and_differs_across_keys(value in ".*") {
            let a = HmacKey::from_text("h1", K1).unwrap();
            let b = HmacKey::from_text("h1", &generate_key()).unwrap();
            prop_assert_eq!(a.hash(value.as_bytes()), a.hash(value.as_bytes()));
            prop_assert_ne!(a.hash(value.as_bytes()), b.hash(value.as_bytes()));
        }
    }
}
