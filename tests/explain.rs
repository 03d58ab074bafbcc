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
fn trace_names_each_detector_and_what_decided_never_the_value() {
    let event = r#"{"type":"identify","messageId":"ex-9","userId":"user-9","traits":{"firstName":"Jane","lastName":"Doe","address":{"street":"1 Main St"},"birthday":"1990-04-01","plan":"pro"},"context":{"consent":{"categoryPreferences":{"Analytics":true}},"traits":{"customer_name":"Jane Doe","note":"my SSN is 123 45 6789","phone":"612345678","ref":"part_no=212-555-0187","build":"build 10.0.1.2"}}}"#;
    let (status, stdout, stderr) = explain(
        &["--config", "proxy.toml", "--trace"],
        format!("{event}\n").as_bytes(),
    );
    assert!(status.success(), "{stderr}");
    let out = lines(&stdout);
    assert_eq!(out[0]["decision"], "forward", "{stdout}");
    let e = &out[0]["event"];
    // The Identify spec's personal traits are dropped by meaning.
    for gone in ["firstName", "lastName", "address", "birthday"] {
        assert!(e["traits"].get(gone).is_none(), "{gone} kept: {e}");
    }
    assert_eq!(e["traits"]["plan"], "pro");
    let traits = &e["context"]["traits"];
    assert_eq!(traits["customer_name"], "[name]");
    assert_eq!(traits["note"], "my SSN is [ssn]");
    assert_eq!(traits["phone"], "[phone]");
    // Look-alikes context refutes are left as they are.
    assert_eq!(traits["ref"], "part_no=212-555-0187");
    assert_eq!(traits["build"], "build 10.0.1.2");
    // The trace names the detector and the deciding context per path.
    let pii: Vec<(String, String, String)> = out[0]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            let path = t["path"].as_str().unwrap().to_owned();
            t["pii"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |d| {
                    (
                        path.clone(),
                        d["detector"].as_str().unwrap().to_owned(),
                        d["decided_by"].as_str().unwrap().to_owned(),
                    )
                })
        })
        .collect();
    for want in [
        ("context.traits.customer_name", "name", "field:name"),
        ("context.traits.note", "ssn", "word:ssn"),
        ("context.traits.phone", "phone", "field:phone"),
    ] {
        let want = (want.0.to_owned(), want.1.to_owned(), want.2.to_owned());
        assert!(pii.contains(&want), "{want:?} not in {pii:?}");
    }
    let drops: Vec<&str> = out[0]["trace"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["rule"] == "drop-personal-traits")
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        drops,
        [
            "traits.firstName",
            "traits.lastName",
            "traits.address",
            "traits.birthday"
        ]
    );
    // Never a value, nor the words around one.
    let trace = out[0]["trace"].to_string();
    for secret in ["Jane", "Doe", "6789", "612345678", "Main", "1990", "SSN is"] {
        assert!(!trace.contains(secret), "{secret} in {trace}");
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

/// A Segment source feeding `a`, a PostHog source feeding `b`, and `c`
/// that no source feeds; none requires consent.
fn two_sources(extra_source: &str) -> String {
    config_with(
        &format!(
            "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\ndestinations = [\"a\"]\n{extra_source}\n[[sources]]\nname = \"ph\"\nprotocol = \"posthog\"\nwrite_keys = [\"phc\"]\ndestinations = [\"b\"]\n{extra_source}"
        ),
        "[[destinations]]\nname = \"a\"\nkind = \"stdout\"\n[[destinations]]\nname = \"b\"\nkind = \"stdout\"\n[[destinations]]\nname = \"c\"\nkind = \"stdout\"\n",
    )
}

fn options() -> privgate::explain::Options {
    privgate::explain::Options::default()
}

#[test]
fn source_chooses_protocol_and_routing() {
    let config = two_sources("");
    let segment = r#"{"type":"track","event":"e","userId":"u"}"#;
    let posthog = r#"{"event":"e","distinct_id":"u","properties":{}}"#;
    // Default: the first source; only its destination.
    let (out, _, _) = explain_with(&config, options(), segment).unwrap();
    let dests: Vec<&str> = out
        .iter()
        .map(|l| l["destination"].as_str().unwrap())
        .collect();
    assert_eq!(dests, ["a"]);
    // --source ph: PostHog's protocol, destination b only.
    let ph = privgate::explain::Options {
        source: Some("ph".into()),
        ..options()
    };
    let (out, _, _) = explain_with(&config, ph, posthog).unwrap();
    let dests: Vec<&str> = out
        .iter()
        .map(|l| l["destination"].as_str().unwrap())
        .collect();
    assert_eq!(dests, ["b"]);
    // Errors name what exists, and a destination the source does not feed.
    let unknown = privgate::explain::Options {
        source: Some("nope".into()),
        ..options()
    };
    let err = explain_with(&config, unknown, segment)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no source named `nope`") && err.contains("web, ph"),
        "{err}"
    );
    let unrouted = privgate::explain::Options {
        destination: Some("c".into()),
        ..options()
    };
    let err = explain_with(&config, unrouted, segment)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`c` does not receive events of source `web`"),
        "{err}"
    );

    // The binary takes --source too.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "two.toml", &config);
    let (status, stdout, stderr) =
        explain(&["--config", &path, "--source", "ph"], posthog.as_bytes());
    assert!(status.success(), "{stderr}");
    assert_eq!(lines(&stdout)[0]["destination"], "b");
}

#[test]
fn client_ip_is_written_as_the_sources_client_ip_says() {
    let segment = r#"{"type":"track","event":"e"}"#;
    let posthog = r#"{"event":"e","distinct_id":"u","properties":{"x":1}}"#;
    let client: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    for (setting, want) in [
        ("truncated", Some("203.0.113.0")),
        ("full", Some("203.0.113.7")),
        ("none", None),
    ] {
        let config = two_sources(&format!("client_ip = \"{setting}\""));
        for (source, event, pointer) in [
            ("web", segment, "/context/ip"),
            ("ph", posthog, "/properties/$ip"),
        ] {
            let with = privgate::explain::Options {
                source: Some(source.into()),
                client_ip: Some(client),
                ..options()
            };
            let (out, _, _) = explain_with(&config, with, event).unwrap();
            let got = out[0]["event"].pointer(pointer).and_then(Value::as_str);
            assert_eq!(got, want, "{setting} {source}");
        }
        // Without --client-ip, none is added.
        let (out, _, _) = explain_with(&config, options(), segment).unwrap();
        assert!(out[0]["event"].get("context").is_none(), "{setting}");
    }
    // An event that names its own address keeps it.
    let config = two_sources("client_ip = \"full\"");
    let own = r#"{"type":"track","event":"e","context":{"ip":"198.51.100.9"}}"#;
    let with = privgate::explain::Options {
        client_ip: Some(client),
        ..options()
    };
    let (out, _, _) = explain_with(&config, with, own).unwrap();
    assert_eq!(out[0]["event"]["context"]["ip"], "198.51.100.9");
}

#[test]
fn the_configured_limits_refuse_what_the_server_refuses() {
    let config = two_sources("").replace(
        "[server]\n",
        "[server]\nmax_json_depth = 3\nmax_event_fields = 6\nmax_body_bytes = \"1KiB\"\nmax_decompressed_bytes = \"1KiB\"\n",
    );
    let ok = r#"{"type":"track","event":"e","properties":{"a":{"b":1}}}"#;
    let deep = r#"{"type":"track","event":"e","properties":{"a":{"b":{"c":"jane@example.com"}}}}"#;
    let wide = r#"{"type":"track","event":"e","properties":{"a":1,"b":2,"c":3,"d":4,"e":5}}"#;
    let long = format!(
        r#"{{"type":"track","event":"e","properties":{{"a":"{}"}}}}"#,
        "x".repeat(1100)
    );
    let input = [ok, deep, wide, &long].join("\n");
    let (out, errors, invalid) = explain_with(&config, options(), &input).unwrap();
    assert_eq!(out.len(), 1, "only the event within the limits: {errors}");
    assert_eq!(invalid, 3);
    for want in [
        "line 2: nested deeper than server.max_json_depth allows",
        "line 3: more fields in one event than server.max_event_fields allows",
        "line 4: larger than server.max_decompressed_bytes",
    ] {
        assert!(errors.contains(want), "{want}: {errors}");
    }
    assert!(!errors.contains("jane"), "never a value: {errors}");
}

/// The event an upstream received, as the bytes it was sent in.
fn raw_events(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Batch<'a> {
        #[serde(borrow)]
        batch: Vec<&'a serde_json::value::RawValue>,
    }
    let batch: Batch<'_> = serde_json::from_slice(body).unwrap();
    batch.batch.iter().map(|e| e.get().to_owned()).collect()
}

#[tokio::test]
async fn explain_gives_the_bytes_a_real_server_forwards() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("proxy.toml")).unwrap();
    std::fs::write(
        dir.path().join("h1.key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    )
    .unwrap();
    // The shipped rules, but the full address goes on (its rules on @ip
    // still apply), a source with its own routing, and limits of its own.
    let rules = shipped[shipped.find("[[rules]]").unwrap()..]
        .replace(
            "name = \"truncate-ip\"\nselect = \"@ip\"\naction = \"truncate_ip\"",
            "name = \"no-op\"\nselect = \"no.such.field\"\naction = \"drop\"",
        )
        .replace("\"iban\", \"ip\", \"ssn\"", "\"iban\", \"ssn\"");
    let config = format!(
        "{}\n{}\n[keys]\nhmac = [{{ id = \"h1\", secret = \"file:{}/h1.key\" }}]\n[consent]\ndefault = \"allow\"\n{rules}",
        config_with(
            "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"test-key\"]\nclient_ip = \"full\"\ndestinations = [\"backend\"]",
            &http_destination("backend", &upstream, r#"batch = { max_wait = "10ms" }"#),
        ),
        "[[destinations]]\nname = \"other\"\nkind = \"stdout\"\n",
        dir.path().display()
    )
    .replace("[server]\n", "[server]\nmax_json_depth = 10\n");
    let events = [
        r#"{"type":"track","event":"Order Completed","messageId":"m-1","receivedAt":"2026-01-01T00:00:00.000Z","userId":"user-1","properties":{"email":"Jane@Example.com","note":"call +44 20 7946 0958","card":4111111111111111,"revenue":42.5},"context":{"page":{"url":"https://shop.example.com/?email=jane%40example.com&utm_source=x"}}}"#,
        r#"{"type":"identify","messageId":"m-2","receivedAt":"2026-01-01T00:00:00.000Z","anonymousId":"a-1","traits":{"phone":4155550100}}"#,
    ];
    let pg = start_privgate(&config).await;
    for event in events {
        assert_eq!(post(pg.ingest_addr(), "/v1/t", event).await.status, 200);
    }
    upstream.wait_for_delivered(2, Duration::from_secs(5)).await;
    let mut forwarded: Vec<String> = upstream
        .received()
        .iter()
        .flat_map(|r| raw_events(&r.body))
        .collect();
    pg.shutdown().await;

    // The test client connects from 127.0.0.1: that is the address.
    let options = privgate::explain::Options {
        client_ip: Some("127.0.0.1".parse().unwrap()),
        ..options()
    };
    let parsed = privgate::config::Config::from_str(&config, Path::new("test.toml")).unwrap();
    let mut text = Vec::new();
    let input = events.join("\n");
    privgate::explain::run(
        &parsed,
        &options,
        input.as_bytes(),
        &mut text,
        std::io::sink(),
    )
    .unwrap();
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        destination: &'a str,
        #[serde(borrow)]
        event: &'a serde_json::value::RawValue,
    }
    let text = String::from_utf8(text).unwrap();
    let mut explained: Vec<String> = text
        .lines()
        .map(|line| {
            let line: Line<'_> = serde_json::from_str(line).unwrap();
            assert_eq!(line.destination, "backend", "only the source's destination");
            line.event.get().to_owned()
        })
        .collect();
    forwarded.sort();
    explained.sort();
    assert_eq!(forwarded, explained, "the same bytes");
    assert!(
        forwarded[0].contains("\"ip\":\"127.0.0.1\""),
        "{}",
        forwarded[0]
    );
    assert!(!forwarded.concat().contains("4111111111111111"));
}
