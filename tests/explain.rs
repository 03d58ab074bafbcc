//! `privgate explain`: the real binary on the shipped proxy.toml and the
//! README's example events (docs/examples/events.ndjson) shows the consent
//! drops and the hashing, redaction, URL scrubbing, IP truncation and UA
//! generalization with `--trace`, never a value; and what explain predicts
//! is exactly what a real upstream receives from the running server.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_privgate");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn explain(args: &[&str], stdin: &[u8]) -> (std::process::ExitStatus, String, String) {
    let mut child = Command::new(BIN)
        .arg("explain")
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// `explain::run` on config text, without the binary.
fn explain_in_process(config: &str, events: &str) -> Vec<Value> {
    let parsed = privgate::config::Config::from_str(config, Path::new("test.toml")).unwrap();
    let mut out = Vec::new();
    privgate::explain::run(
        &parsed,
        &privgate::explain::Options::default(),
        events.as_bytes(),
        &mut out,
        std::io::sink(),
    )
    .unwrap();
    lines(std::str::from_utf8(&out).unwrap())
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn trace_on_the_shipped_config_shows_each_decision_and_rule() {
    let events = std::fs::read(Path::new(ROOT).join("docs/examples/events.ndjson")).unwrap();
    let (status, stdout, stderr) = explain(&["--config", "proxy.toml", "--trace"], &events);
    assert!(status.success(), "{stderr}");
    let out = lines(&stdout);
    assert_eq!(
        out.len(),
        3,
        "one line per event and destination:\n{stdout}"
    );

    // 1: consent for analytics; minimized.
    assert_eq!(out[0]["destination"], "local-file");
    assert_eq!(out[0]["decision"], "forward");
    assert_eq!(out[0]["reason"], "granted");
    let event = &out[0]["event"];
    let key_text =
        std::fs::read_to_string(Path::new(ROOT).join("keys/DEMO-ONLY-hmac.key")).unwrap();
    let key = privgate::crypto::HmacKey::from_text("demo", &key_text).unwrap();
    assert_eq!(event["userId"], key.hash(b"user-123"));
    assert_eq!(
        event["properties"]["email"],
        key.hash(b"jane.doe@example.com")
    );
    assert_eq!(event["properties"]["note"], "call me on [phone]");
    assert_eq!(event["context"]["ip"], "203.0.113.0");
    assert_eq!(event["context"]["userAgent"], "Chrome 120 (Windows)");
    assert_eq!(
        event["context"]["page"]["url"],
        "https://shop.example.com/account/[email]?utm_source=news"
    );
    assert_eq!(event["context"]["page"]["search"], "?utm_source=news");
    assert_eq!(event["properties"]["revenue"], 42.5);
    let actions: Vec<(&str, &str)> = out[0]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["action"].as_str().unwrap(), t["path"].as_str().unwrap()))
        .collect();
    for want in [
        ("hash", "userId"),
        ("hash", "anonymousId"),
        ("hash", "properties.email"),
        ("redact_pii", "properties.note"),
        ("truncate_ip", "context.ip"),
        ("generalize_ua", "context.userAgent"),
        ("scrub_url", "context.page.url"),
        ("scrub_url", "context.page.search"),
    ] {
        assert!(actions.contains(&want), "{want:?} not in {actions:?}");
    }
    let first = &out[0]["trace"][0];
    for field in ["scope", "rule", "index", "selector", "action", "path"] {
        assert!(!first[field].is_null(), "trace lacks {field}: {first}");
    }

    // 2: consent denied; 3: no signal at all, and the default is deny.
    assert_eq!(
        (out[1]["decision"].as_str(), out[1]["reason"].as_str()),
        (Some("drop"), Some("denied"))
    );
    assert_eq!(
        (out[2]["decision"].as_str(), out[2]["reason"].as_str()),
        (Some("drop"), Some("no_consent"))
    );
    assert!(
        out[1].get("event").is_none() && out[2].get("event").is_none(),
        "a dropped event is never shown"
    );

    // Nothing the user sent appears in a trace or an error.
    for secret in ["jane", "Jane", "7946", "203.0.113.7", "user-123", "SKU-42"] {
        for line in &out {
            assert!(
                !line["trace"].to_string().contains(secret),
                "{secret} in trace"
            );
        }
        assert!(!stderr.contains(secret));
    }
}

#[test]
fn bad_lines_and_unknown_destinations_are_reported() {
    let (status, stdout, stderr) = explain(
        &["--config", "proxy.toml"],
        b"{\"type\":\"track\",\"anonymousId\":\"a\"}\nnot json {\"email\":\"x@y.io\"}\n[1]\n",
    );
    assert_eq!(
        status.code(),
        Some(1),
        "invalid lines make the exit status 1"
    );
    assert_eq!(lines(&stdout).len(), 1, "good lines are still explained");
    assert!(
        stderr.contains("line 2: not a JSON object") && stderr.contains("line 3:"),
        "{stderr}"
    );
    assert!(!stderr.contains("x@y.io"), "errors never echo input");

    let (status, _, stderr) = explain(&["--config", "proxy.toml", "--destination", "nope"], b"");
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("no destination named `nope`") && stderr.contains("local-file"),
        "{stderr}"
    );
}

#[tokio::test]
async fn explain_predicts_exactly_what_the_upstream_receives() {
    let dir = tempfile::tempdir().unwrap();
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    std::fs::write(dir.path().join("h1.key"), key).unwrap();
    let upstream = Upstream::start().await;
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("proxy.toml")).unwrap();
    let rules = &shipped[shipped.find("[[rules]]").unwrap()..];
    let config = format!(
        "{}\n[keys]\nhmac = [{{ id = \"h1\", secret = \"file:{}/h1.key\" }}]\n[consent]\ndefault = \"deny\"\ncategories = {{ Analytics = \"analytics\" }}\n{rules}",
        segment_config(&format!(
            "{}require_consent = [\"analytics\"]\nallow = [\"type\", \"event\", \"messageId\", \"userId\", \"properties.*\", \"context.page.*\", \"context.ip\"]\n",
            http_destination("analytics", &upstream, r#"batch = { max_wait = "10ms" }"#)
        )),
        dir.path().display()
    );
    let pg = start_privgate(&config).await;
    let events =
        std::fs::read_to_string(Path::new(ROOT).join("docs/examples/events.ndjson")).unwrap();
    for event in events.lines() {
        let answer = post(pg.ingest_addr(), "/v1/track", event.to_owned()).await;
        assert_eq!(answer.status, 200);
    }
    upstream.wait_for_delivered(1, Duration::from_secs(5)).await;
    // The two dropped events never arrive; give them the chance to.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let received: Vec<Value> = upstream
        .received()
        .iter()
        .flat_map(|r| r.events())
        .collect();
    assert_eq!(received.len(), 1, "only the consented event is forwarded");
    pg.shutdown().await;

    let explained = explain_in_process(&config, &events);
    let predicted = &explained[0]["event"];
    let mut got = received[0].clone();
    // Ingest stamps arrival time; everything else must be as explained.
    got.as_object_mut().unwrap().remove("receivedAt");
    assert_eq!(&got, predicted);
    assert!(!got.to_string().contains("jane") && !got.to_string().contains("7946"));
}

#[test]
fn events_are_read_as_their_sources_protocol() {
    // A GA4 hit names its client in `cid`, not `anonymousId`: the opt-out
    // registry finds it only if explain reads the hit as ingest does.
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("optouts.txt");
    std::fs::write(&registry, "123.456\n").unwrap();
    let config = config_with(
        "[[sources]]\nname = \"gtag\"\nprotocol = \"ga4\"\nwrite_keys = [\"G-1\"]",
        &format!(
            "[[destinations]]\nname = \"out\"\nkind = \"stdout\"\nrequire_consent = [\"analytics\"]\n[consent]\ndefault = \"allow\"\nopt_out_registry = \"file:{}\"\n",
            registry.display()
        ),
    );
    let events = "{\"tid\":\"G-1\",\"en\":\"page_view\",\"cid\":\"123.456\"}\n{\"tid\":\"G-1\",\"en\":\"page_view\",\"cid\":\"789.1\"}\n";
    let explained = explain_in_process(&config, events);
    let decisions: Vec<(&str, &str)> = explained
        .iter()
        .map(|l| {
            (
                l["decision"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(decisions, [("drop", "opted_out"), ("forward", "granted")]);
}
