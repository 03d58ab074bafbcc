//! JWE compact serialization (RFC 7516 §7.1) with direct AES-256-GCM
//! (`alg: dir`, `enc: A256GCM`, RFC 7518 §4.5 and §5.3):
//!
//! `BASE64URL(header) . "" . BASE64URL(iv) . BASE64URL(ciphertext) . BASE64URL(tag)`
//!
//! The protected header's base64url text is the additional authenticated
//! data, so a header cannot be swapped without detection.

use super::{CryptoError, EncryptionKey};
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Encrypts `plaintext` for `key`; returns the compact serialization.
/// Fails only when the OS random number generator does: without a fresh
/// nonce nothing may be sealed.
pub fn encrypt(key: &EncryptionKey, plaintext: &[u8]) -> Result<String, CryptoError> {
    let header = format!(
        r#"{{"alg":"dir","enc":"A256GCM","kid":{}}}"#,
        serde_json::to_string(key.id()).expect("a string serializes")
    );
    let header_b64 = URL_SAFE_NO_PAD.encode(header);
    let cipher = Aes256Gcm::new(key.bytes().into());
    let mut nonce = Nonce::default();
    OsRng
        .try_fill_bytes(&mut nonce)
        .map_err(|_| CryptoError::Encrypt("the OS random number generator failed"))?;
    let mut buffer = plaintext.to_vec();
    let tag = cipher
        .encrypt_in_place_detached(&nonce, header_b64.as_bytes(), &mut buffer)
        .map_err(|_| CryptoError::Encrypt("message too long for AES-GCM"))?;
    let mut out = String::with_capacity(header_b64.len() + buffer.len() * 4 / 3 + 64);
    out.push_str(&header_b64);
    out.push_str("..");
    URL_SAFE_NO_PAD.encode_string(nonce, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(&buffer, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut out);
    Ok(out)
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    enc: String,
    kid: Option<String>,
}

/// The `kid` a compact JWE's header names, if any.
pub fn kid(compact: &str) -> Option<String> {
    let header = compact.split('.').next()?;
    let header: Header = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    header.kid
}

/// Decrypts a compact JWE with whichever of `keys` its `kid` names (or, with
/// no `kid`, the one that authenticates it).
pub fn decrypt(keys: &[EncryptionKey], compact: &str) -> Result<Vec<u8>, CryptoError> {
    let parts: Vec<&str> = compact.trim().split('.').collect();
    let [header_b64, encrypted_key, iv, ciphertext, tag] = parts[..] else {
        return Err(CryptoError::Malformed("expected five dot-separated parts"));
    };
    let b64 = |part: &str, what| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| CryptoError::Malformed(what))
    };
    let header: Header = serde_json::from_slice(&b64(header_b64, "header is not base64url")?)
        .map_err(|_| CryptoError::Malformed("header is not JSON"))?;
    if header.alg != "dir" || header.enc != "A256GCM" || !encrypted_key.is_empty() {
        return Err(CryptoError::Unsupported);
    }
    let iv = b64(iv, "iv is not base64url")?;
    let tag = b64(tag, "tag is not base64url")?;
    if iv.len() != 12 || tag.len() != 16 {
        return Err(CryptoError::Malformed("iv must be 12 bytes and tag 16"));
    }
    let ciphertext = b64(ciphertext, "ciphertext is not base64url")?;
    let candidates: Vec<&EncryptionKey> = match &header.kid {
        Some(kid) => {
            let key = keys
                .iter()
                .find(|k| k.id() == kid)
                .ok_or_else(|| CryptoError::UnknownKey(kid.clone()))?;
            vec![key]
        }
        None => keys.iter().collect(),
    };
    for key in candidates {
        let cipher = Aes256Gcm::new(key.bytes().into());
        let mut buffer = ciphertext.clone();
        if cipher
            .decrypt_in_place_detached(
                Nonce::from_slice(&iv),
                header_b64.as_bytes(),
                &mut buffer,
                Tag::from_slice(&tag),
            )
            .is_ok()
        {
            return Ok(buffer);
        }
    }
    Err(CryptoError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(id: &str) -> EncryptionKey {
        EncryptionKey::from_text(id, &crate::crypto::generate_key()).unwrap()
    }

    #[test]
    fn the_header_is_dir_a256gcm_with_kid() {
        let k = key("e1");
        let jwe = encrypt(&k, b"{}").unwrap();
        let header = URL_SAFE_NO_PAD
            .decode(jwe.split('.').next().unwrap())
            .unwrap();
        assert_eq!(header, br#"{"alg":"dir","enc":"A256GCM","kid":"e1"}"#);
        assert_eq!(jwe.split('.').nth(1), Some(""));
    }

    #[test]
    fn nonces_are_fresh() {
        let k = key("e1");
        assert_ne!(encrypt(&k, b"same").unwrap(), encrypt(&k, b"same").unwrap());
    }

    #[test]
    fn rotation_old_keys_still_decrypt() {
        let old = key("e1");
        let new = key("e2");
        let sealed_old = encrypt(&old, b"before").unwrap();
        let sealed_new = encrypt(&new, b"after").unwrap();
        let ring = [old, new];
        assert_eq!(decrypt(&ring, &sealed_old).unwrap(), b"before");
        assert_eq!(decrypt(&ring, &sealed_new).unwrap(), b"after");
        assert_eq!(
            decrypt(&ring[1..], &sealed_old).unwrap_err(),
            CryptoError::UnknownKey("e1".into())
        );
    }

    #[test]
    fn tampering_is_detected() {
        let k = key("e1");
        let jwe = encrypt(&k, b"secret payload").unwrap();
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        // Flip one ciphertext byte.
        let mut ct = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
        ct[0] ^= 1;
        parts[3] = URL_SAFE_NO_PAD.encode(ct);
        let ring = [k];
        assert_eq!(
            decrypt(&ring, &parts.join(".")).unwrap_err(),
            CryptoError::Decrypt
        );
        // Swapping the header for another kid-less one fails authentication.
        parts[3] = jwe.split('.').nth(3).unwrap().to_owned();
        parts[0] = URL_SAFE_NO_PAD.encode(br#"{"alg":"dir","enc":"A256GCM"}"#);
        assert_eq!(
            decrypt(&ring, &parts.join(".")).unwrap_err(),
            CryptoError::Decrypt
        );
        assert!(matches!(
            decrypt(&ring, "a.b.c"),
            Err(CryptoError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn encryption_round_trips(plaintext in prop::collection::vec(any::<u8>(), 0..2048)) {
            let k = key("e1");
            let jwe = encrypt(&k, &plaintext).unwrap();
            prop_assert_eq!(decrypt(&[k], &jwe).unwrap(), plaintext);
        }
    }
}
