//! `GET /privacy` through the real server: what the page says (JSON and
//! HTML) for sources and destinations, that no secret, key, write key,
//! URL, host, header or path of the config ever appears in it, that a
//! reload changes it and its version, conditional requests, content
//! negotiation and CORS.

mod common;

use base64::Engine;
use common::*;
use sha2::Digest;
use std::path::Path;

/// A base64url key of 32 bytes, each `byte`.
fn key(byte: u8) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])
}

/// Two sources, three destinations: consent by purpose, hashed and
/// removed fields, payload encryption, a durable spool with a `max_age`.
fn config(dir: &Path) -> String {
    std::fs::write(dir.join("h1.key"), key(1)).unwrap();
    std::fs::write(dir.join("e1.key"), key(2)).unwrap();
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
[admin]
listen = "127.0.0.1:0"

[privacy]
controller = "Example Shop Ltd"
contact = "privacy@shop.example"
policy_url = "https://shop.example/privacy"

[[sources]]
name = "web"
protocol = "segment"
write_keys = ["test-key"]
cors_origins = ["http://shop.test"]
destinations = ["analytics", "ads", "archive"]

[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-TEST"]
destinations = ["analytics"]

[[destinations]]
name = "analytics"
display_name = "Product analytics"
description = "Counts page views <b>& orders</b> to improve the shop."
kind = "http"
url = "http://127.0.0.1:9/v1/batch"
format = "ndjson"
require_consent = ["analytics"]
allow = ["event", "@user_id", "properties.revenue"]
[[destinations.rules]]
select = "@email"
action = "hash"

[[destinations]]
name = "ads"
display_name = "Advertising partner"
kind = "http"
url = "http://127.0.0.1:9/v1/batch"
delivery = "memory"
require_consent = ["advertising", "sale"]
match = "any"
encrypt = "payload"
[[destinations.rules]]
select = "@phone"
action = "drop"

[[destinations]]
name = "archive"
kind = "file"
path = "{d}/out/events.ndjson"
rotate_every = "1d"
retain = "7d"

[consent]
gpc_denies = ["advertising", "sale"]
categories = {{ C0002 = "analytics", C0004 = "advertising" }}
tcf_purposes = {{ analytics = [1, 8] }}
consent_mode = {{ analytics_storage = "analytics" }}
max_age = "395d"
suppressions = "{d}/state/suppressions.jsonl"
[consent.us_opt_outs]
sale = ["sale"]
targeted_advertising = ["advertising"]

[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]

[spool]
dir = "{d}/spool"
max_age = "3d"

[[rules]]
select = "@ip"
action = "truncate_ip"

[[rules]]
select = "properties.note"
action = "redact_pii"
detectors = ["email", "phone"]
"#,
        d = dir.display()
    )
}

async fn get(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    send("GET", addr, path, headers, bytes::Bytes::new()).await
}

fn text(answer: &Answer) -> String {
    String::from_utf8(answer.body.to_vec()).unwrap()
}

fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn the_page_says_what_each_source_and_destination_does() {
    let dir = tempfile::tempdir().unwrap();
    let toml = config(dir.path());
    let pg = start_privgate(&toml).await;
    let addr = pg.ingest_addr();

    let answer = get(addr, "/privacy", &[("accept", "application/json")]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/json");
    let notice = answer.json();
    assert_eq!(notice["schema"], "privgate.privacy/1");
    assert_eq!(notice["config_version"], sha256_hex(&toml));
    assert_eq!(notice["operator"]["controller"], "Example Shop Ltd");
    assert_eq!(notice["operator"]["contact"], "privacy@shop.example");

    // Sources: their trackers and the consent signals read from them.
    let sources = notice["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    let (web, gtag) = (&sources[0], &sources[1]);
    assert_eq!(web["protocol"], "segment");
    assert_eq!(
        web["destinations"],
        serde_json::json!(["Product analytics", "Advertising partner", "archive"])
    );
    let signals = |s: &serde_json::Value| -> Vec<String> {
        s["consent_signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["signal"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(signals(web), ["gpc", "in_event", "tcf", "us_opt_outs"]);
    assert_eq!(signals(gtag), ["gpc", "tcf", "us_opt_outs", "consent_mode"]);
    let us = &gtag["consent_signals"][2];
    assert_eq!(us["opt_outs"]["sale"], serde_json::json!(["sale"]));
    assert_eq!(
        us["opt_outs"]["targeted_advertising"],
        serde_json::json!(["advertising"])
    );
    assert!(us["opt_outs"].get("sharing").is_none(), "{us}");
    assert!(
        us["places"]
            .to_string()
            .contains("the hit's gpp and us_privacy"),
        "{us}"
    );
    let gpc = &web["consent_signals"][0];
    assert_eq!(gpc["denies"], serde_json::json!(["advertising", "sale"]));
    let in_event = &web["consent_signals"][1];
    assert_eq!(in_event["categories"]["C0002"], "analytics");
    let tcf = &gtag["consent_signals"][1];
    assert_eq!(tcf["purposes"]["analytics"], serde_json::json!([1, 8]));
    assert_eq!(tcf["max_age_seconds"], 395 * 86_400);
    assert_eq!(
        gtag["consent_signals"][3]["signals"]["analytics_storage"],
        "analytics"
    );
    assert_eq!(web["no_signal"]["default"], "deny");
    assert_eq!(web["client_ip"], "truncated");

    // Destinations: purposes, fields, encryption, how long data waits.
    let destinations = notice["destinations"].as_array().unwrap();
    assert_eq!(destinations.len(), 3);
    let (analytics, ads, archive) = (&destinations[0], &destinations[1], &destinations[2]);
    assert_eq!(analytics["display_name"], "Product analytics");
    assert_eq!(analytics["purposes"], serde_json::json!(["analytics"]));
    assert_eq!(analytics["delivered_to"], "external_service");
    assert_eq!(analytics["encrypted"], false);
    assert_eq!(analytics["retention"]["delivery"], "durable");
    assert_eq!(analytics["retention"]["max_age_seconds"], 3 * 86_400);
    let rules = |d: &serde_json::Value| -> Vec<(String, String, String)> {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["scope"].as_str().unwrap().to_owned(),
                    r["fields"][0]["selector"].as_str().unwrap().to_owned(),
                    r["treatment"]["action"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let global = [
        ("global", "@ip", "ip_truncated"),
        ("global", "properties.note", "pii_redacted"),
    ];
    let with = |own: (&str, &str, &str)| -> Vec<(String, String, String)> {
        global
            .iter()
            .chain([&own])
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    };
    assert_eq!(rules(analytics), with(("destination", "@email", "hashed")));
    assert_eq!(rules(ads), with(("destination", "@phone", "removed")));
    assert_eq!(
        analytics["fields"][1]["treatment"]["detectors"],
        serde_json::json!(["email", "phone"])
    );
    assert_eq!(
        analytics["fields"][2]["fields"][0]["label"],
        "email address"
    );
    assert_eq!(
        analytics["allow_list"][1],
        serde_json::json!({"selector": "@user_id", "label": "user id"})
    );
    assert_eq!(ads["encrypted"], true);
    assert_eq!(ads["purposes_match"], "any");
    assert_eq!(ads["retention"]["delivery"], "memory");
    assert_eq!(ads["retention"]["max_age_seconds"], serde_json::Value::Null);
    assert_eq!(archive["display_name"], "archive");
    assert_eq!(archive["delivered_to"], "local_file");
    assert_eq!(archive["retention"]["file_kept_seconds"], 7 * 86_400);
    assert_eq!(
        analytics["retention"]["file_kept_seconds"],
        serde_json::Value::Null
    );
    assert_eq!(
        notice["opt_out"],
        serde_json::json!({"gpc_denies": ["advertising", "sale"], "registry": false, "on_request": true})
    );
    // What is kept besides events: the suppression log (no audit log here).
    let records = notice["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0]["kept"]
        .as_str()
        .unwrap()
        .contains("until the person asks to be included again"));

    // The same in HTML, for a browser's Accept; text from the config is
    // escaped.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = get(addr, "/privacy", &[("accept", browser)]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let html = text(&page);
    for expected in [
        "<h3>Product analytics</h3>",
        "<h3>Advertising partner</h3>",
        "<h3>archive</h3>",
        "Counts page views &lt;b&gt;&amp; orders&lt;/b&gt; to improve the shop.",
        "Your consent for analytics",
        "Your consent for any one of advertising and sale",
        "<strong>Email address</strong> is replaced by a pseudonym",
        "<strong>Phone number</strong> is removed",
        "every batch it receives is encrypted",
        "for at most 3 days",
        "wait in memory only",
        "Global Privacy Control",
        "US privacy opt-outs (IAB GPP, US Privacy)",
        "targeted advertising withdraws advertising",
        "deleted 7 days after they are closed",
        "leave you out or erase your data",
        "<h2>What else is kept</h2>",
        "Example Shop Ltd",
        "href=\"mailto:privacy@shop.example\"",
        "every other field is removed",
        &sha256_hex(&toml),
    ] {
        assert!(
            html.contains(expected),
            "the page lacks {expected:?}:\n{html}"
        );
    }
    assert!(!html.contains("<b>"), "config text is escaped");
    assert!(!html.contains("<script") && !html.contains("src="));

    // `?format=json` beats Accept; no Accept is HTML.
    let forced = get(addr, "/privacy?format=json", &[("accept", browser)]).await;
    assert_eq!(forced.json(), notice);
    let plain = get(addr, "/privacy", &[]).await;
    assert_eq!(text(&plain), html);

    // The headers of a public, hardened, cacheable page.
    for answer in [&answer, &page] {
        let h = &answer.headers;
        assert_eq!(h["cache-control"], "public, max-age=300");
        assert_eq!(h["vary"], "Accept, Origin");
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; style-src 'unsafe-inline'"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let etag = h["etag"].to_str().unwrap();
        assert!(
            etag.starts_with(&format!("\"{}", sha256_hex(&toml))),
            "{etag}"
        );
    }
    assert_ne!(answer.headers["etag"], page.headers["etag"], "one per form");

    // HEAD: the headers without the body; other methods are refused.
    let head = send("HEAD", addr, "/privacy", &[], bytes::Bytes::new()).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.headers["content-length"], html.len().to_string());
    let post = send("POST", addr, "/privacy", &[], "{}").await;
    assert_error(&post, 405, "method_not_allowed");
    pg.shutdown().await;
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_and_cors_is_the_sources() {
    let dir = tempfile::tempdir().unwrap();
    let pg = start_privgate(&config(dir.path())).await;
    let addr = pg.ingest_addr();
    let first = get(addr, "/privacy", &[]).await;
    let etag = first.headers["etag"].to_str().unwrap().to_owned();

    let again = get(addr, "/privacy", &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"], etag.as_str());
    let weak = format!("\"other\", W/{etag}");
    assert_eq!(
        get(addr, "/privacy", &[("if-none-match", &weak)])
            .await
            .status,
        304
    );
    // The HTML's validator does not validate the JSON.
    let json = get(addr, "/privacy?format=json", &[("if-none-match", &etag)]).await;
    assert_eq!(json.status, 200);
    let stale = get(addr, "/privacy", &[("if-none-match", "\"0123\"")]).await;
    assert_eq!(stale.status, 200);

    // An origin a source allows may read it from a script; another not.
    let allowed = get(addr, "/privacy", &[("origin", "http://shop.test")]).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "http://shop.test"
    );
    assert_eq!(allowed.headers["vary"], "Accept, Origin");
    let other = get(addr, "/privacy", &[("origin", "http://evil.test")]).await;
    assert_eq!(other.status, 200);
    assert!(other.headers.get("access-control-allow-origin").is_none());
    pg.shutdown().await;
}

#[tokio::test]
async fn a_reload_changes_the_page_and_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proxy.toml");
    let before = config(dir.path());
    std::fs::write(&file, &before).unwrap();
    let pg = start_privgate_file(&file).await;
    let (addr, admin) = (pg.ingest_addr(), pg.admin_addr());
    let json = [("accept", "application/json")];
    let old = get(addr, "/privacy", &json).await;
    assert_eq!(old.json()["config_version"], sha256_hex(&before));

    let after = before.replace("Advertising partner", "Ad network");
    std::fs::write(&file, &after).unwrap();
    let reloaded = send("POST", admin, "/admin/reload", &[], bytes::Bytes::new()).await;
    assert_eq!(reloaded.status, 200, "{}", text(&reloaded));

    let new = get(addr, "/privacy", &json).await;
    assert_eq!(new.json()["config_version"], sha256_hex(&after));
    assert_eq!(new.json()["destinations"][1]["display_name"], "Ad network");
    assert_ne!(new.headers["etag"], old.headers["etag"]);
    // A validator of the old config is stale now.
    let etag = old.headers["etag"].to_str().unwrap();
    let revalidated = get(addr, "/privacy?format=json", &[("if-none-match", etag)]).await;
    assert_eq!(revalidated.status, 200);
    assert!(text(&get(addr, "/privacy", &[]).await).contains("Ad network"));
    pg.shutdown().await;
}

/// A config full of secrets and internal addresses, each a distinct string
/// the test then looks for in both forms of the page.
fn secret_config(dir: &Path) -> (String, Vec<String>) {
    let d = dir.display().to_string();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let (hmac, aes) = (key(7), key(9));
    write("h1.key", &hmac);
    write("e1.key", &aes);
    write("mp-api-secret", "mpApiSecretValue4711");
    write("dest-mp-secret", "destMpSecretValue4712");
    write("header-secret", "headerSecretValue4713");
    write("admin-token", "adminTokenSecretValue4714xxxxxxxx");
    write("optouts-registry.txt", "opted-out-person\n");
    let ca = TestCa::new("privacy-test-ca");
    let ca_file = ca.write(dir, "ca.pem");
    let (admin_cert, admin_key) = ca.server_leaf().write(dir, "admin");
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_timeout = "5s"
trusted_proxies = ["10.77.66.0/24"]
[admin]
listen = "127.0.0.1:0"
token = "file:{d}/admin-token"
[admin.tls]
cert = "file:{admin_cert}"
key = "file:{admin_key}"

[[sources]]
name = "web"
protocol = "segment"
write_keys = ["writeKeySecret4715"]
cors_origins = ["http://shop.test"]
upstream = "https://relay-upstream.corp-internal.example:8443/cdn-settings-path"
destinations = ["collector", "archive"]

[[sources]]
name = "mp"
protocol = "ga4_mp"
write_keys = ["G-MEASURE4716"]
api_secrets = ["file:{d}/mp-api-secret"]
destinations = ["measurement"]

[[sources]]
name = "ph"
protocol = "posthog"
write_keys = ["phc_projectToken4717"]
upstream = "http://10.77.66.5:8000/posthog-upstream-path"
destinations = ["product"]

[[destinations]]
name = "collector"
display_name = "Collector"
kind = "http"
url = "https://collector.corp-internal.example:9443/tenant-4718/batch?token=urlToken4719"
headers = {{ X-Tenant = "tenantHeader4720" }}
secret_headers = {{ X-Api-Token = "file:{d}/header-secret" }}
tls = {{ ca = "file:{ca}" }}

[[destinations]]
name = "measurement"
kind = "http"
url = "https://10.77.66.9/mp/collect?measurement_id=G-DEST4721"
format = "ga4_mp"
api_secret = "file:{d}/dest-mp-secret"
encrypt = "payload"

[[destinations]]
name = "product"
kind = "http"
url = "http://[fd00:77::5]:8080/batch/"
format = "posthog"
api_key = "phcDestinationKey4722"

[[destinations]]
name = "archive"
kind = "file"
path = "{d}/archive-dir/events.ndjson"

[consent]
gpc_denies = ["advertising"]
opt_out_registry = "file:{d}/optouts-registry.txt"
[consent.jurisdiction]
country_header = "X-Internal-Geo4723"
defaults = {{ EEA = "deny" }}

[keys]
hmac = [{{ id = "h1", secret = "file:{d}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]

[spool]
dir = "{d}/spool-dir"

[[rules]]
select = "@email"
action = "hash"
"#,
        ca = ca_file.display(),
        admin_cert = admin_cert.display(),
        admin_key = admin_key.display(),
    );
    let secrets = [
        // Keys and secrets, by value (and the files they are read from).
        hmac.as_str(),
        aes.as_str(),
        "mpApiSecretValue4711",
        "destMpSecretValue4712",
        "headerSecretValue4713",
        "adminTokenSecretValue4714",
        "writeKeySecret4715",
        "G-MEASURE4716",
        "phc_projectToken4717",
        "phcDestinationKey4722",
        // URLs, hosts, ports, paths and queries of upstreams and destinations.
        "corp-internal",
        "relay-upstream",
        "cdn-settings-path",
        "posthog-upstream-path",
        "collector.",
        "tenant-4718",
        "urlToken4719",
        "G-DEST4721",
        "fd00:77",
        "10.77.66",
        "8443",
        "9443",
        "https://",
        "http://10",
        // Headers.
        "X-Tenant",
        "tenantHeader4720",
        "X-Api-Token",
        "X-Internal-Geo4723",
        // Listeners and files.
        "127.0.0.1",
        &d,
        "admin-token",
        "archive-dir",
        "spool-dir",
        "optouts-registry",
        "ca.pem",
        "privacy-test-ca",
        "BEGIN",
    ]
    .map(str::to_owned)
    .to_vec();
    (config, secrets)
}

#[tokio::test]
async fn no_secret_key_url_or_internal_address_appears_in_either_form() {
    let dir = tempfile::tempdir().unwrap();
    let (toml, secrets) = secret_config(dir.path());
    let pg = start_privgate(&toml).await;
    let addr = pg.ingest_addr();
    let json = get(addr, "/privacy", &[("accept", "application/json")]).await;
    let html = get(addr, "/privacy", &[]).await;
    assert_eq!((json.status, html.status), (200, 200));
    // The page does describe this config.
    let notice = json.json();
    assert_eq!(notice["destinations"].as_array().unwrap().len(), 4);
    assert_eq!(notice["opt_out"]["registry"], true);
    // The config's version is its SHA-256: a digest reveals nothing of the
    // secrets, but its hex digits can spell a short one ("9443") by chance.
    let version = sha256_hex(&toml);
    assert_eq!(notice["config_version"], version.as_str());
    for form in [text(&json), text(&html)] {
        let lower = form.replace(&version, "<config-version>").to_lowercase();
        for secret in &secrets {
            assert!(
                !lower.contains(&secret.to_lowercase()),
                "{secret:?} appears in the page:\n{form}"
            );
        }
    }
    pg.shutdown().await;
}
