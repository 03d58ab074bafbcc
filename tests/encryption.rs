//! Payload encryption end to end: the backend receives JWE compact strings
//! (`application/jose`) that an independent JOSE implementation (Python
//! jwcrypto, installed by .ci/run) and `privgate decrypt` both open to the
//! exact events that were sent; keys are used by reference only.

mod common;

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

/// Decrypts with Python's jwcrypto: a JOSE implementation that shares no
/// code with privgate.
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
        "jwcrypto failed (is it installed? .ci/run installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
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

/// jwcrypto's plaintext, without the `kid` line it prints first.
fn jwcrypto_payload(key_b64url: &str, compact: &str) -> Vec<u8> {
    let opened = jwcrypto_decrypt(key_b64url, compact);
    opened[opened.iter().position(|&b| b == b'\n').unwrap() + 1..].to_vec()
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
    assert!(!compact.contains("Order Completed") && !compact.contains("enc-1"));

    let opened = jwcrypto_decrypt(&new_key, compact);
    let (kid, payload) = opened.split_at(opened.iter().position(|&b| b == b'\n').unwrap() + 1);
    assert_eq!(kid, b"e2\n", "the active key sealed it");
    let batch: serde_json::Value = serde_json::from_slice(payload).unwrap();
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
    assert_eq!(out.stdout.strip_suffix(b"\n").unwrap(), payload);

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
    let payload = jwcrypto_payload(&key, std::str::from_utf8(&received.body).unwrap());
    let batch: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let events = batch["batch"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    let mut all = Vec::new();
    for event in events {
        // The sealed traits open (independently) to the traits as the
        // global rules left them: hashed email, redacted phone and card.
        let sealed = event["traits"].as_str().expect("traits are a JWE string");
        let traits: serde_json::Value =
            serde_json::from_slice(&jwcrypto_payload(&key, sealed)).unwrap();
        assert_eq!(traits["plan"], "pro");
        assert_eq!(traits["card"], "[credit_card]");
        assert!(traits["email"].as_str().unwrap().starts_with("h1:"));
        texts(&traits, &mut all);
        texts(event, &mut all);
    }
    for text in &all {
        for secret in pii.iter().chain(&["jane", "7946", "4111", "user-s1"]) {
            assert!(!text.contains(secret), "{secret} survived in {text:?}");
        }
    }
}
