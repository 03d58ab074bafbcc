//! The audit log through the real server and the real binary (issue 20,
//! point 4): config loads and reloads, suppressions and their lifting (ids
//! only as keyed pseudonyms) and refused admin calls are recorded in a
//! hash chain with signed checkpoints; `privgate audit verify` accepts the
//! log as written and, after one record is changed, fails naming it. The
//! log never holds a raw id or the token.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_privgate");
const TOKEN: &str = "a-long-admin-token-for-audit-tests";
const HMAC: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const SEED: &str = "HxwdGhsYGRYXFBUSExAREA4PDA0KCwgJBgcEBQIDAAE";

fn verify(log: &std::path::Path, key: Option<&str>) -> (bool, String) {
    let mut command = Command::new(BIN);
    command.args(["audit", "verify", "--log"]).arg(log);
    if let Some(key) = key {
        command.args(["--public-key", key]);
    }
    let out = command.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[tokio::test]
async fn the_audit_log_records_changes_and_verify_finds_a_tampered_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    for (name, value) in [("token", TOKEN), ("h1", HMAC), ("audit.key", SEED)] {
        std::fs::write(dir.path().join(name), value).unwrap();
    }
    let upstream = Upstream::start().await;
    let config = format!(
        r#"[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"
token = "file:{d}/token"
[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1" }}]
audit = "file:{d}/audit.key"
[audit]
log = "{d}/audit/log.jsonl"
checkpoint_every = 3
[consent]
suppressions = "{d}/suppressions.jsonl"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["seg-key"]
{}"#,
        http_destination("out", &upstream, "")
    );
    let path = dir.path().join("proxy.toml");
    std::fs::write(&path, &config).unwrap();
    let pg = start_privgate_file(&path).await;
    let admin =
        |method: &'static str, path: &'static str, token: &'static str, body: &'static str| {
            let addr = pg.admin_addr();
            async move {
                let auth = format!("Bearer {token}");
                send(method, addr, path, &[("authorization", &auth)], body).await
            }
        };
    let ok = admin(
        "POST",
        "/admin/subjects/suppress",
        TOKEN,
        r#"{"ids":["jane@example.com","user-77"]}"#,
    )
    .await;
    assert_eq!(ok.status, 200);
    let ok = admin(
        "POST",
        "/admin/subjects/unsuppress",
        TOKEN,
        r#"{"ids":["user-77"]}"#,
    )
    .await;
    assert_eq!(ok.status, 200);
    let refused = admin("POST", "/admin/reload", "not-the-token-but-long", "").await;
    assert_eq!(refused.status, 401);
    let reloaded = admin("POST", "/admin/reload", TOKEN, "").await;
    assert_eq!(reloaded.status, 200);
    pg.shutdown().await;

    let log = dir.path().join("audit").join("log.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    for secret in ["jane@example.com", "user-77", TOKEN, HMAC, SEED] {
        assert!(!text.contains(secret), "the log holds {secret}");
    }
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .filter(|k| *k != "checkpoint")
        .collect();
    assert_eq!(
        kinds,
        [
            "config_load",
            "suppress",
            "unsuppress",
            "admin_auth_failure",
            "config_reload"
        ]
    );
    let suppress = records.iter().find(|r| r["kind"] == "suppress").unwrap();
    let pseudonym = privgate::crypto::HmacKey::from_text("h1", HMAC)
        .unwrap()
        .hash(b"jane@example.com");
    assert!(suppress["pseudonyms"]
        .as_array()
        .unwrap()
        .contains(&Value::from(pseudonym)));
    assert_eq!(records[0]["config_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(records[0]["keys"]["hmac"], "h1");

    let key = records
        .iter()
        .find_map(|r| r["public_key"].as_str())
        .unwrap()
        .to_owned();
    let (ok, out) = verify(&log, Some(&key));
    assert!(ok, "{out}");
    assert!(out.contains("ok:"), "{out}");

    // Change one record in the middle: verify names it.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let k = lines
        .iter()
        .position(|l| l.contains("\"unsuppress\""))
        .unwrap();
    lines[k] = lines[k].replace("\"changed\":1", "\"changed\":0");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let (ok, out) = verify(&log, Some(&key));
    assert!(!ok);
    assert!(
        out.contains(&format!("record {k} (line {})", k + 1)),
        "{out}"
    );
}
