//! `GET /privacy` in a real browser: Debian's headless Chromium, driven
//! over WebDriver by Debian's chromedriver (both on 127.0.0.1; the page
//! loads nothing else). At phone width (390x844) and at 1280 wide, the
//! rendered page names every destination by its display name with the
//! purposes it needs, its text is at least 16px, and nothing is wider than
//! the screen. Screenshots go to `target/tmp/privacy-browser/`; the
//! phone-width one is what docs/privacy-page.png shows.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium
//! chromium-driver`; `.ci/run` installs them): skipped without them,
//! failed without them under `PRIVGATE_REQUIRE_TOOLS=1` (see
//! `common::tool`).

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A config as a shop might run it, with the operator's texts.
fn config(dir: &Path) -> String {
    let key = |byte: u8| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32]);
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
name = "website"
protocol = "segment"
write_keys = ["test-key"]
destinations = ["analytics", "ads", "archive"]

[[sources]]
name = "google-tag"
protocol = "ga4"
write_keys = ["G-TEST"]
destinations = ["archive"]

[[destinations]]
name = "analytics"
display_name = "Product analytics"
description = "Counts visits and orders so that we can improve the shop."
kind = "http"
url = "http://127.0.0.1:9/v1/batch"
require_consent = ["analytics"]
[[destinations.rules]]
select = "@email"
action = "hash"

[[destinations]]
name = "ads"
display_name = "Advertising partner"
description = "Measures which of our ads lead to orders."
kind = "http"
url = "http://127.0.0.1:9/v1/batch"
delivery = "memory"
require_consent = ["advertising"]
encrypt = "payload"
allow = ["event", "messageId", "@anonymous_id", "properties.revenue"]

[[destinations]]
name = "archive"
display_name = "Backup archive"
description = "An encrypted copy kept by us for 30 days."
kind = "file"
path = "{d}/out/events.ndjson"
require_consent = ["analytics"]
encrypt = "payload"

[consent]
gpc_denies = ["advertising"]
categories = {{ C0002 = "analytics", C0004 = "advertising" }}
tcf_purposes = {{ analytics = [1, 8], advertising = [1, 2, 3, 4] }}
consent_mode = {{ analytics_storage = "analytics", ad_storage = "advertising" }}
max_age = "395d"

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
select = ["@user_id", "@anonymous_id"]
action = "hash"

[[rules]]
select = "@url"
action = "scrub_url"
keep_params = ["utm_*"]

[[rules]]
select = "@user_agent"
action = "generalize_ua"
"#,
        d = dir.display()
    )
}

/// A child killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One WebDriver request: its JSON answer's `value`, or what went wrong.
async fn webdriver(driver: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    let body = match method {
        "GET" | "DELETE" => bytes::Bytes::new(),
        _ => body.to_string().into(),
    };
    let headers = [("content-type", "application/json")];
    // Starting a browser on a busy machine takes a while: retry a slow
    // answer a bounded number of times rather than wait without end.
    let mut last = String::new();
    for _ in 0..6 {
        match try_send(method, driver, path, &headers, body.clone()).await {
            Ok(answer) => {
                let value = answer.json();
                assert_eq!(answer.status, 200, "{method} {path}: {value}");
                return value["value"].clone();
            }
            Err(e) if method == "GET" => last = e,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
    panic!("{method} {path}: {last}")
}

/// Measures the page as laid out: widths, the body's font size, every
/// element that reaches past the viewport's right edge, and the text.
const MEASURE: &str = r#"
const root = document.documentElement;
const limit = root.clientWidth + 0.5;
const wide = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  if (r.width > 0 && r.right > limit) wide.push(e.tagName + ' ' + e.textContent.slice(0, 60));
}
return {
  innerWidth: window.innerWidth,
  screenWidth: screen.width,
  clientWidth: root.clientWidth,
  scrollWidth: Math.max(root.scrollWidth, document.body.scrollWidth),
  fontSize: parseFloat(getComputedStyle(document.body).fontSize),
  smallest: Math.min(...[...document.querySelectorAll('body *')]
    .filter(e => e.textContent.trim() !== '')
    .map(e => parseFloat(getComputedStyle(e).fontSize))),
  wide: wide.slice(0, 5),
  text: document.body.innerText,
  scripts: document.scripts.length,
};
"#;

/// Opens `url` in a new headless Chromium `width` x `height`, measures it
/// and saves a screenshot to `shot`.
async fn open(driver: SocketAddr, url: &str, (width, height): (u32, u32), shot: &Path) -> Value {
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--hide-scrollbars".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
        format!("--window-size={width},{height}"),
    ];
    // Headless windows are at least 500 wide: a phone's viewport is
    // emulated (as DevTools' device mode does: viewport meta, touch).
    let mut options = json!({"binary": "/usr/bin/chromium", "args": args});
    if width < 500 {
        options["mobileEmulation"] = json!({"deviceMetrics": {
            "width": width, "height": height, "pixelRatio": 2, "touch": true, "mobile": true,
        }});
    }
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": options,
    }}});
    let session = webdriver(driver, "POST", "/session", capabilities).await;
    let id = session["sessionId"].as_str().unwrap().to_owned();
    let base = format!("/session/{id}");
    webdriver(driver, "POST", &format!("{base}/url"), json!({"url": url})).await;
    let measured = webdriver(
        driver,
        "POST",
        &format!("{base}/execute/sync"),
        json!({"script": MEASURE, "args": []}),
    )
    .await;
    let png = webdriver(driver, "GET", &format!("{base}/screenshot"), Value::Null).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(shot, png).unwrap();
    // And, scrolled to where the destinations start, the part of the page
    // the README shows.
    let scroll = "document.getElementById('destinations').scrollIntoView(); return null;";
    let script = json!({"script": scroll, "args": []});
    webdriver(driver, "POST", &format!("{base}/execute/sync"), script).await;
    let png = webdriver(driver, "GET", &format!("{base}/screenshot"), Value::Null).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    std::fs::write(shot.with_extension("destinations.png"), png).unwrap();
    webdriver(driver, "DELETE", &base, Value::Null).await;
    measured
}

/// chromedriver on a free loopback port, once it answers `/status`.
async fn start_driver(chromedriver: &Path) -> (Killed, SocketAddr) {
    let addr = port_for_external_tool();
    let child = Command::new(chromedriver)
        .arg(format!("--port={}", addr.port()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(answer) = try_send("GET", addr, "/status", &[], bytes::Bytes::new()).await {
            if answer.json()["value"]["ready"] == true {
                return (child, addr);
            }
        }
        assert!(Instant::now() < deadline, "chromedriver not ready in 30s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("privacy-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reads_in_a_real_browser_at_phone_and_desktop_width() {
    let install = "apt-get install chromium chromium-driver";
    let (Some(_), Some(chromedriver)) = (tool("chromium", install), tool("chromedriver", install))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pg = start_privgate(&config(dir.path())).await;
    let url = format!("http://{}/privacy", pg.ingest_addr());
    let (_driver, driver) = start_driver(&chromedriver).await;
    let out = out_dir();

    for (name, size) in [("phone", (390, 844)), ("desktop", (1280, 900))] {
        let shot = out.join(format!("privacy-{name}.png"));
        let page = open(driver, &url, size, &shot).await;
        let text = page["text"].as_str().unwrap();
        // A phone lays a page that does not fit out wider than its
        // screen, and zooms out: the layout viewport must be the screen.
        let width = page["innerWidth"].as_f64().unwrap();
        let screen = match name {
            "phone" => page["screenWidth"].as_f64().unwrap(),
            _ => size.0 as f64,
        };
        assert!(
            (screen - size.0 as f64).abs() <= 20.0,
            "{name}: the screen is {screen} wide, not {}",
            size.0
        );
        assert!(
            width <= screen,
            "{name}: the page is laid out {width} wide, wider than the {screen} screen \
             (screenshot {})",
            shot.display()
        );
        for expected in [
            "Product analytics",
            "Advertising partner",
            "Backup archive",
            "Your consent for analytics",
            "Your consent for advertising",
            "Counts visits and orders",
            "Global Privacy Control",
            "Example Shop Ltd",
        ] {
            assert!(
                text.contains(expected),
                "{name}: no {expected:?} in:\n{text}"
            );
        }
        for secret in ["127.0.0.1:9", "test-key", "G-TEST", "h1.key"] {
            assert!(!text.contains(secret), "{name}: {secret:?} shown");
        }
        assert_eq!(page["scripts"], 0, "{name}: the page has no script");
        assert!(page["fontSize"].as_f64().unwrap() >= 16.0, "{name}: {page}");
        assert!(
            page["smallest"].as_f64().unwrap() >= 14.0,
            "{name}: text smaller than 14px: {page}"
        );
        assert_eq!(
            page["wide"],
            json!([]),
            "{name}: elements wider than the screen (screenshot {})",
            shot.display()
        );
        assert!(
            page["scrollWidth"].as_f64().unwrap() <= page["clientWidth"].as_f64().unwrap(),
            "{name}: the page scrolls sideways: {page}"
        );
    }
    pg.shutdown().await;
}
