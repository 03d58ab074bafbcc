//! Payload encryption end to end: the backend receives JWE compact strings
//! (`application/jose`) that independent readers open to the exact events
//! that were sent, and privgate opens JWEs that an independent
//! implementation sealed; keys are used by reference only.
//!
//! The independent readers:
//! - [`ring_open`], RFC 7516's decryption steps written here on `ring`'s
//!   AES-256-GCM (privgate seals with RustCrypto's `aes-gcm`: no shared
//!   cipher code). Runs everywhere `cargo test` does.
//! - Python jwcrypto, a complete JOSE library, when it is installed
//!   (`python3 -m pip install jwcrypto`). `.ci/run` installs it and sets
//!   `PRIVGATE_REQUIRE_TOOLS=1`, which turns a missing jwcrypto into a
//!   failure; elsewhere its checks are skipped with a note.
//!
//! And the other direction: `tests/fixtures/jwe/vectors.json`, sealed by
//! jwcrypto (the file says which version; `generate.py` beside it remakes
//! it), must open with privgate's decrypt, and fail once tampered with.

mod common;

use base64::Engine;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_privgate");

fn keygen() -> String {
    let out = Command::new(BIN).arg("keygen").output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn b64url(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url")
}

/// Opens a compact JWE (`dir`, `A256GCM`) following RFC 7516 section 5.2,
/// with `ring`'s AES-GCM: the protected header's kid, and the plaintext.
fn ring_open(key_b64url: &str, compact: &str) -> (String, Vec<u8>) {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let parts: Vec<&str> = compact.split('.').collect();
    assert_eq!(parts.len(), 5, "five parts");
    let header: serde_json::Value = serde_json::from_slice(&b64url(parts[0])).unwrap();
    assert_eq!(header["alg"], "dir");
    assert_eq!(header["enc"], "A256GCM");
    assert!(parts[1].is_empty(), "dir has an empty encrypted key");
    let iv: [u8; 12] = b64url(parts[2]).try_into().expect("96-bit IV");
    let mut sealed = b64url(parts[3]);
    let tag = b64url(parts[4]);
    assert_eq!(tag.len(), 16, "128-bit tag");
    sealed.extend_from_slice(&tag);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &b64url(key_b64url)).unwrap());
    // The additional data is the ASCII of the encoded protected header.
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(iv),
            Aad::from(parts[0].as_bytes()),
            &mut sealed,
        )
        .expect("the tag verifies");
    let kid = header["kid"].as_str().expect("a kid").to_owned();
    (kid, plain.to_vec())
}

/// Whether Python jwcrypto can run here; panics when it cannot and
/// `PRIVGATE_REQUIRE_TOOLS=1` says it must.
fn jwcrypto_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import jwcrypto"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("PRIVGATE_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "Python jwcrypto is required (PRIVGATE_REQUIRE_TOOLS=1): python3 -m pip install jwcrypto"
        );
        eprintln!("skipped: the jwcrypto cross-check (python3 -m pip install jwcrypto to run it)");
    }
    found
}

/// Decrypts with Python's jwcrypto: a JOSE implementation that shares no
/// code with privgate. Its output: the kid, a newline, the plaintext.
fn jwcrypto_decrypt(key_b64url: &str, compact: &str) -> Vec<u8> {
    let script = r#"
import sys
from jwcrypto import jwe, jwk
key = jwk.JWK(kty="oct", k=sys.argv[1])
token = jwe.JWE()
token.allowed_algs = ["dir", "A256GCM"]
token.deserialize(sys.stdin.read().strip(), key=key)
assert token.jose_header["alg"] == "dir" and token.jose_header["enc"] == "A256GCM"
sys.stdout.write(token.jose_header["kid"] + "\n")
sys.stdout.flush()
sys.stdout.buffer.write(token.payload)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, key_b64url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(compact.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jwcrypto failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Opens `compact` with every independent reader available, checks they
/// agree, and returns the kid and the plaintext.
fn open_independently(key_b64url: &str, compact: &str) -> (String, Vec<u8>) {
    let (kid, plain) = ring_open(key_b64url, compact);
    if jwcrypto_available() {
        let opened = jwcrypto_decrypt(key_b64url, compact);
        let cut = opened.iter().position(|&b| b == b'\n').unwrap();
        assert_eq!(
            &opened[..cut],
            kid.as_bytes(),
            "jwcrypto reads the same kid"
        );
        assert_eq!(
            &opened[cut + 1..],
            &plain[..],
            "jwcrypto reads the same plaintext"
        );
    }
    (kid, plain)
}

/// Sealed bodies are not JSON (so not countable as events): waits for the
/// first request itself.
async fn wait_for_request(upstream: &Upstream) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while upstream.received().is_empty() {
        assert!(std::time::Instant::now() < deadline, "a batch arrives");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn encrypted_batches_open_with_an_independent_jose_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let old_key = keygen();
    let new_key = keygen();
    std::fs::write(dir.path().join("e1.key"), format!("{old_key}\n")).unwrap();
    std::fs::write(dir.path().join("e2.key"), &new_key).unwrap();
    let upstream = Upstream::start().await;
    let config = format!(
        r#"{}
[keys]
encryption = [
  {{ id = "e1", key = "file:{d}/e1.key", active = false }},
  {{ id = "e2", key = "file:{d}/e2.key", active = true }},
]
"#,
        sealing_backend(&upstream),
        d = dir.path().display()
    );
    let pg = start_privgate(&config).await;
    let ids = ["enc-1", "enc-2", "enc-3"];
    let body = format!(r#"{{"batch":[{}]}}"#, ids.map(track).join(","));
    assert_eq!(post(pg.ingest_addr(), "/v1/batch", body).await.status, 200);
    wait_for_request(&upstream).await;
    pg.shutdown().await;

    let received = &upstream.received()[0];
    assert_eq!(received.headers["content-type"], "application/jose");
    let compact = std::str::from_utf8(&received.body).unwrap();
    assert_eq!(compact.split('.').count(), 5);
    // Nothing readable travels: no event field in the ciphertext.
    // Quoted, as JSON holds it: base64url has no quote, but spells a bare
    // "enc-1" by chance.
    assert!(!compact.contains("Order Completed") && !compact.contains("\"enc-1\""));

    let (kid, payload) = open_independently(&new_key, compact);
    assert_eq!(kid, "e2", "the active key sealed it");
    let batch: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let got: Vec<&str> = batch["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids);

    // privgate decrypt gives the same plaintext, reading the key by reference.
    let mut child = Command::new(BIN)
        .args([
            "decrypt",
            "--key",
            &format!("file:{}/e2.key", dir.path().display()),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{compact}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.strip_suffix(b"\n").unwrap(), &payload[..]);

    // The retired key does not open it.
    let out = Command::new(BIN)
        .args([
            "decrypt",
            "--key",
            &format!("file:{}/e1.key", dir.path().display()),
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(compact.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("decryption failed"));
}

#[test]
fn decrypt_refuses_a_literal_key() {
    let out = Command::new(BIN)
        .args(["decrypt", "--key", "AAAA"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be written literally"));
}

#[test]
fn payload_encryption_without_a_key_is_a_config_error() {
    let config = segment_config(
        "[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\ndelivery = \"memory\"\nencrypt = \"payload\"\n",
    );
    let err =
        privgate::config::Config::from_str(&config, std::path::Path::new("t.toml")).unwrap_err();
    assert_eq!(err.problems[0].key, "destinations[0].encrypt");
}

/// A Segment source whose one destination seals every batch it sends to
/// `upstream` (payload encryption, short batching delay).
fn sealing_backend(upstream: &Upstream) -> String {
    segment_config(&http_destination(
        "backend",
        upstream,
        "encrypt = \"payload\"\nbatch = { max_wait = \"20ms\" }",
    ))
}

/// Every string in `v`, keys included.
fn texts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| texts(v, out)),
        serde_json::Value::Object(o) => o.iter().for_each(|(k, v)| {
            out.push(k.clone());
            texts(v, out)
        }),
        other => out.push(other.to_string()),
    }
}

#[tokio::test]
async fn sealed_payloads_and_fields_decrypt_to_minimized_events() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen();
    std::fs::write(dir.path().join("e1.key"), &key).unwrap();
    std::fs::write(
        dir.path().join("h1.key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    )
    .unwrap();
    let upstream = Upstream::start().await;
    // The shipped global rules, then this destination seals the traits
    // field and every batch.
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml")).unwrap();
    let rules = &shipped[shipped.find("[[rules]]").unwrap()..];
    let config = format!(
        r#"{}
[[destinations.rules]]
name = "seal-traits"
select = "@traits"
action = "encrypt_field"

[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]

{rules}"#,
        sealing_backend(&upstream),
        d = dir.path().display()
    );
    let pg = start_privgate(&config).await;
    let pii = [
        "jane.doe@example.com",
        "+44 20 7946 0958",
        "203.0.113.7",
        "4111 1111 1111 1111",
    ];
    let event = |id: &str| {
        format!(
            r#"{{"type":"identify","messageId":"{id}","userId":"user-{id}","traits":{{"email":"{}","phone":"{}","card":"{}","plan":"pro"}},"context":{{"ip":"{}","traits":{{"email":"{}"}},"page":{{"url":"https://shop.example.com/u/{}?card={}"}}}},"properties":{{"note":"reach me at {} or {}"}}}}"#,
            pii[0], pii[1], pii[3], pii[2], pii[0], pii[0], pii[3], pii[0], pii[1]
        )
    };
    let body = format!(r#"{{"batch":[{},{}]}}"#, event("s1"), event("s2"));
    assert_eq!(post(pg.ingest_addr(), "/v1/batch", body).await.status, 200);
    wait_for_request(&upstream).await;
    pg.shutdown().await;

    let received = &upstream.received()[0];
    assert_eq!(received.headers["content-type"], "application/jose");
    let (_, payload) = open_independently(&key, std::str::from_utf8(&received.body).unwrap());
    let batch: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let events = batch["batch"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    let mut all = Vec::new();
    for event in events {
        // The sealed traits open (independently) to the traits as the
        // global rules left them: hashed email, redacted phone and card.
        let sealed = event["traits"].as_str().expect("traits are a JWE string");
        let traits: serde_json::Value =
            serde_json::from_slice(&open_independently(&key, sealed).1).unwrap();
        assert_eq!(traits["plan"], "pro");
        assert_eq!(traits["card"], "[credit_card]");
        assert!(traits["email"].as_str().unwrap().starts_with("h1:"));
        texts(&traits, &mut all);
        // The sealed string is ciphertext, opened just above: its random
        // base64url spells "jane", "7946" or "4111" by chance (about one
        // run in 20 000).
        let mut event = event.clone();
        event["traits"] = "<sealed>".into();
        texts(&event, &mut all);
    }
    for text in &all {
        for secret in pii.iter().chain(&["jane", "7946", "4111", "user-s1"]) {
            assert!(!text.contains(secret), "{secret} survived in {text:?}");
        }
    }
}

/// What jwcrypto sealed, privgate opens: the plaintext byte for byte, the
/// kid it names; a flipped bit anywhere, or another key, fails.
#[test]
fn jwes_sealed_by_jwcrypto_open_with_privgate() {
    use privgate::crypto::{jwe_decrypt, jwe_kid, EncryptionKey};
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/jwe/vectors.json"
    ))
    .unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(file["made_by"].as_str().unwrap().starts_with("jwcrypto "));
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 4);
    let other = EncryptionKey::from_text("other", &keygen()).unwrap();
    for v in vectors {
        let kid = v["kid"].as_str().unwrap();
        let key = EncryptionKey::from_text(kid, v["key"].as_str().unwrap()).unwrap();
        let compact = v["compact"].as_str().unwrap();
        let plaintext = b64url(v["plaintext_b64url"].as_str().unwrap());
        assert_eq!(jwe_kid(compact).as_deref(), Some(kid));
        assert_eq!(
            jwe_decrypt(std::slice::from_ref(&key), compact).unwrap(),
            plaintext
        );
        // The ring reader agrees (it is checked against jwcrypto's output too).
        assert_eq!(ring_open(v["key"].as_str().unwrap(), compact).1, plaintext);
        assert!(jwe_decrypt(std::slice::from_ref(&other), compact).is_err());
        // Tampering with any part (header, IV, ciphertext, tag) fails.
        let bytes = compact.as_bytes();
        for at in [1, compact.find("..").unwrap() + 3, bytes.len() - 2] {
            let mut t = bytes.to_vec();
            t[at] = if t[at] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert!(
                jwe_decrypt(std::slice::from_ref(&key), &t).is_err(),
                "tampered at {at}"
            );
        }
    }
}
