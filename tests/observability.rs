//! The real Prometheus scrape: a real Prometheus (Debian's `prometheus`)
//! scrapes a real privgate (the binary, its admin listener over TLS as a
//! deployment may run it) under a short load, with the recording and
//! alerting rules of `deploy/prometheus/alerts.yml` loaded. Then:
//!
//! - every query of every panel of `deploy/grafana/privgate.json` (its
//!   template variables filled in) returns data;
//! - every metric that README.md, docs/, deploy/README.md,
//!   deploy/RUNBOOK.md, the dashboard and the rules name is in what
//!   Prometheus scraped from `/metrics`;
//! - every rule evaluates without error, and the only alert firing is the
//!   one the test provoked (a torn spool tail found at start).
//!
//! The load covers what the panels show: consented events with PII,
//! refused and denied ones, a malformed batch element, a backend that
//! fails for a while (retries, breaker), a settings request relayed
//! upstream, a rate-limited source and a plaintext connection to the TLS
//! admin listener. Everything binds 127.0.0.1; the test stops what it
//! started. Without `prometheus` on PATH it is skipped (see
//! `common::tool`).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What `$__rate_interval` becomes: a few 1 s scrapes.
const RATE_INTERVAL: &str = "5s";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A child killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// privgate's config: two sources (one rate-limited), a durable http
/// destination needing consent, a file destination needing none, rules
/// that hash and redact, the admin listener on `admin` over TLS.
fn config(dir: &Path, upstream: &Upstream, admin: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
shutdown_timeout = "1s"
max_batch_events = 100
[admin]
listen = "{admin}"
[admin.tls]
cert = "file:{dir}/admin.crt"
key = "file:{dir}/admin.key"

[[sources]]
name = "web"
protocol = "segment"
write_keys = ["test-key"]
upstream = "{upstream_base}"

[[sources]]
name = "limited"
protocol = "segment"
write_keys = ["limited-key"]
rate_limit = {{ events_per_second = 1, burst = 100 }}

[[destinations]]
name = "backend"
kind = "http"
url = "{url}"
require_consent = ["analytics"]
batch = {{ max_events = 50, max_wait = "50ms" }}
retry = {{ max_retries = 3, initial_backoff = "20ms", max_backoff = "100ms" }}
circuit_breaker = {{ failures = 2, cooldown = "100ms", max_cooldown = "200ms" }}

[[destinations]]
name = "archive"
kind = "file"
path = "{dir}/archive.ndjson"
batch = {{ max_wait = "50ms" }}

[spool]
dir = "{dir}/spool"

[keys]
hmac = [{{ id = "h1", secret = "file:{dir}/h1.key" }}]
encryption = [{{ id = "e1", key = "file:{dir}/e1.key" }}]

[consent]
default = "deny"
gpc_denies = ["analytics"]
categories = {{ Analytics = "analytics" }}

[[rules]]
name = "pseudonymize"
select = ["@user_id", "@email"]
action = "hash"

[[rules]]
name = "truncate-ip"
select = "@ip"
action = "truncate_ip"

[[rules]]
name = "redact-pii"
select = "**"
action = "redact_pii"
"#,
        dir = dir.display(),
        upstream_base = upstream.url(""),
        url = upstream.url("/v1/batch"),
    )
}

fn event(id: &str, consent: Option<bool>) -> String {
    let consent = match consent {
        Some(granted) => {
            format!(r#","consent":{{"categoryPreferences":{{"Analytics":{granted}}}}}"#)
        }
        None => String::new(),
    };
    format!(
        r#"{{"type":"track","event":"Order Completed","messageId":"{id}","userId":"user-{id}","properties":{{"email":"jane@example.com","note":"call me at +44 20 7946 0958"}},"context":{{"ip":"203.0.113.7"{consent}}}}}"#
    )
}

async fn post_as(
    addr: SocketAddr,
    auth: &str,
    path: &str,
    body: String,
    extra: &[(&str, &str)],
) -> u16 {
    let mut headers = vec![
        ("authorization", auth),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    send("POST", addr, path, &headers, body).await.status
}

const WEB: &str = "Basic dGVzdC1rZXk6"; // test-key:
const LIMITED: &str = "Basic bGltaXRlZC1rZXk6"; // limited-key:

/// The Prometheus HTTP API on `addr`.
struct Api(SocketAddr);

impl Api {
    async fn get(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let answer = send("GET", self.0, &format!("{path}?{query}"), &[], "").await;
        let body: Value = serde_json::from_slice(&answer.body)
            .unwrap_or_else(|_| panic!("{path}: {}", String::from_utf8_lossy(&answer.body)));
        assert_eq!(body["status"], "success", "{path} {params:?}: {body}");
        body["data"].clone()
    }

    async fn query_range(&self, expr: &str, start: f64, end: f64) -> Value {
        let (start, end) = (format!("{start:.3}"), format!("{end:.3}"));
        self.get(
            "/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", "1"),
            ],
        )
        .await
    }
}

/// Whether a range result holds a finite value anywhere.
fn has_data(data: &Value) -> bool {
    data["result"].as_array().unwrap().iter().any(|series| {
        series["values"].as_array().unwrap().iter().any(|v| {
            v[1].as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(f64::is_finite)
        })
    })
}

/// Every target expression of the dashboard, its variables filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_str(&read("deploy/grafana/privgate.json")).unwrap();
    let vars: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        vars,
        ["datasource", "job", "instance"],
        "the test fills in these variables"
    );
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        if panel["type"] == "row" {
            continue;
        }
        let title = panel["title"].as_str().unwrap();
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for target in targets {
            let expr = target["expr"].as_str().unwrap();
            let filled = expr
                .replace("$__rate_interval", RATE_INTERVAL)
                .replace("$job", "privgate")
                .replace("$instance", ".*");
            assert!(
                !filled.contains('$'),
                "{title}: a variable the test does not know in {expr}"
            );
            out.push((
                format!("{title} [{}]", target["refId"].as_str().unwrap()),
                filled,
            ));
        }
    }
    out
}

/// Every rule of alerts.yml: (name, expression).
fn rule_exprs() -> Vec<(String, String)> {
    let doc = &yaml_file(&repo("deploy/prometheus/alerts.yml"))[0];
    let mut out = Vec::new();
    for group in doc["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap();
            out.push((name.to_owned(), rule["expr"].as_str().unwrap().to_owned()));
        }
    }
    out
}

/// Metric names (`privgate_...`, `process_...`) in `text`: words of
/// `[a-z0-9_]` only (recording rules have a `:`).
fn metric_names(text: &str) -> BTreeSet<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.split(|c: char| !word(c))
        .filter(|w| (w.starts_with("privgate_") || w.starts_with("process_")) && !w.contains(':'))
        .filter(|w| !w.ends_with('_'))
        .map(str::to_owned)
        .collect()
}

/// The names README.md lists without their prefix ("Metrics (all prefixed
/// `privgate_`): `events_received_total{source}`, ...").
fn readme_prefixless_names(readme: &str) -> BTreeSet<String> {
    let Some(start) = readme.find("(all prefixed `privgate_`)") else {
        return BTreeSet::new();
    };
    let rest = &readme[start..];
    let list = &rest[..rest.find("\n- ").unwrap_or(rest.len())];
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(|item| item.split('{').next().unwrap())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .filter(|name| *name != "privgate_")
        .map(|name| format!("privgate_{name}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_privgate_and_every_panel_and_rule_has_data() {
    let Some(prometheus) = tool("prometheus", "apt-get install prometheus") else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca = TestCa::new("privgate admin test CA");
    ca.server_leaf().write(d, "admin");
    let ca_file = ca.write(d, "ca.pem");
    for key in ["h1.key", "e1.key"] {
        std::fs::write(d.join(key), privgate::crypto::generate_key().as_str()).unwrap();
    }
    let upstream = Upstream::start().await;

    // A spool with a torn tail, as a crash leaves one: events spooled
    // while the backend is down, then bytes of a half-written record.
    upstream.fail_with(Reply::Status(503));
    let first = write(d, "first.toml", &config(d, &upstream, "127.0.0.1:0"));
    let proc = spawn(&first);
    for i in 0..3 {
        assert_eq!(
            post_as(
                proc.ingest,
                WEB,
                "/v1/t",
                event(&format!("pre-{i}"), Some(true)),
                &[]
            )
            .await,
            200
        );
    }
    let mut child = proc;
    assert!(Command::new("kill")
        .args(["-TERM", &child.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = tokio::task::spawn_blocking(move || child.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    let segment = spool_segments(&d.join("spool/backend"))
        .pop()
        .expect("a spool segment");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&[0, 0, 1])
        .unwrap();

    // privgate, and Prometheus scraping it every second with the rules.
    let config_path = write(d, "proxy.toml", &config(d, &upstream, "127.0.0.1:0"));
    let proc = spawn(&config_path);
    let admin = proc.admin;
    let web = port_for_external_tool();
    let prometheus_config = write(
        d,
        "prometheus.yml",
        &format!(
            r#"
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: privgate
    scheme: https
    tls_config:
      ca_file: {ca}
    static_configs:
      - targets: ["{admin}"]
"#,
            rules = repo("deploy/prometheus/alerts.yml").display(),
            ca = ca_file.display(),
        ),
    );
    let _prometheus = Killed(
        Command::new(&prometheus)
            .arg(format!("--config.file={prometheus_config}"))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address={web}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let api = Api(web);
    loop {
        assert!(
            Instant::now() < deadline,
            "Prometheus never scraped privgate"
        );
        if let Ok(answer) = try_send("GET", web, "/api/v1/targets", &[], "").await {
            let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
            let up = body["data"]["activeTargets"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
            if up {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A short load: a few hundred events over a few seconds.
    let load_start = now();
    upstream.fail_with(Reply::Status(503)); // retries, a breaker that opens
    let mut n = 0;
    for round in 0..30 {
        if round == 8 {
            upstream.heal(); // the breaker closes, the backlog drains
        }
        for _ in 0..6 {
            n += 1;
            assert_eq!(
                post_as(
                    proc.ingest,
                    WEB,
                    "/v1/t",
                    event(&format!("ok-{n}"), Some(true)),
                    &[]
                )
                .await,
                200
            );
        }
        assert_eq!(
            post_as(
                proc.ingest,
                WEB,
                "/v1/t",
                event(&format!("none-{round}"), None),
                &[]
            )
            .await,
            200
        );
        assert_eq!(
            post_as(
                proc.ingest,
                WEB,
                "/v1/t",
                event(&format!("no-{round}"), Some(false)),
                &[]
            )
            .await,
            200
        );
        let gpc = [("sec-gpc", "1")];
        assert_eq!(
            post_as(
                proc.ingest,
                WEB,
                "/v1/t",
                event(&format!("gpc-{round}"), Some(true)),
                &gpc
            )
            .await,
            200
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A batch with an element that is not an event, and a body that is not JSON.
    let batch = format!(r#"{{"batch":[{},5]}}"#, event("in-batch", Some(true)));
    assert_eq!(
        post_as(proc.ingest, WEB, "/v1/batch", batch, &[]).await,
        200
    );
    assert_eq!(
        post_as(proc.ingest, WEB, "/v1/t", "not json".into(), &[]).await,
        400
    );
    // The SDK's settings request, relayed to the source's upstream.
    let settings = send(
        "GET",
        proc.ingest,
        "/v1/projects/test-key/settings",
        &[],
        "",
    )
    .await;
    assert_eq!(settings.status, 200);
    // A source over its rate limit.
    let hundred = format!(
        r#"{{"batch":[{}]}}"#,
        (0..100)
            .map(|i| event(&format!("lim-{i}"), Some(true)))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        post_as(proc.ingest, LIMITED, "/v1/batch", hundred.clone(), &[]).await,
        200
    );
    assert_eq!(
        post_as(proc.ingest, LIMITED, "/v1/batch", hundred, &[]).await,
        429
    );
    // A client speaking plaintext to the TLS admin listener.
    let mut plain = std::net::TcpStream::connect(admin).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = plain.read_to_end(&mut Vec::new());
    let load_end = now();

    // Scrapes and rule evaluations catch up: wait until the recording
    // rules have samples from after the load.
    loop {
        assert!(
            Instant::now() < deadline,
            "the recording rules never had data"
        );
        let data = api
            .get(
                "/api/v1/query",
                &[("query", "privgate:upstream_errors:ratio_rate5m")],
            )
            .await;
        let fresh = data["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["value"][0].as_f64().is_some_and(|t| t > load_end + 2.0));
        if fresh {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let end = now();

    // Every panel's query returns data.
    let mut empty = Vec::new();
    let queries = dashboard_queries();
    for (panel, expr) in &queries {
        if !has_data(&api.query_range(expr, load_start - 2.0, end).await) {
            empty.push(format!("{panel}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );

    // Every metric the docs, the dashboard and the rules name was scraped.
    let scraped: BTreeSet<String> = api
        .get("/api/v1/label/__name__/values", &[])
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let readme = read("README.md");
    let mut named = metric_names(&readme);
    named.extend(readme_prefixless_names(&readme));
    for doc in std::fs::read_dir(repo("docs")).unwrap() {
        let path = doc.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(path).unwrap();
            named.extend(metric_names(&text));
            named.extend(readme_prefixless_names(&text));
        }
    }
    for doc in [
        "deploy/README.md",
        "deploy/RUNBOOK.md",
        "deploy/grafana/privgate.json",
        "deploy/prometheus/alerts.yml",
    ] {
        named.extend(metric_names(&read(doc)));
    }
    // The Prometheus adapter's name for the events rate (deploy/README.md,
    // components/hpa-events-rate), not privgate's.
    named.remove("privgate_events_received_per_second");
    assert!(
        named.len() >= 30,
        "too few metric names found in the docs: {named:?}"
    );
    let missing: Vec<&String> = named
        .iter()
        .filter(|name| !scraped.contains(*name) && !scraped.contains(&format!("{name}_bucket")))
        .collect();
    assert!(
        missing.is_empty(),
        "named in the docs but not in /metrics: {missing:?}"
    );

    // Every rule parses, queries and evaluates cleanly in Prometheus.
    for (name, expr) in rule_exprs() {
        api.get("/api/v1/query", &[("query", &expr)]).await;
        let _ = name;
    }
    let groups = api.get("/api/v1/rules", &[]).await;
    let mut evaluated = BTreeSet::new();
    for group in groups["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["name"].as_str().unwrap();
            assert_eq!(rule["health"], "ok", "{name}: {}", rule["lastError"]);
            evaluated.insert(name.to_owned());
        }
    }
    let defined: BTreeSet<String> = rule_exprs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        evaluated, defined,
        "Prometheus loaded every rule of alerts.yml"
    );
    // The torn tail found at start fires its alert; nothing else fires.
    let alerts = api.get("/api/v1/alerts", &[]).await;
    let firing: BTreeSet<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "firing")
        .map(|a| a["labels"]["alertname"].as_str().unwrap())
        .collect();
    assert_eq!(firing, BTreeSet::from(["PrivgateSpoolCorrupt"]), "{alerts}");
    note(&format!(
        "observability: {} panel queries with data, {} metric names scraped, {} rules evaluated",
        queries.len(),
        named.len(),
        evaluated.len()
    ));
}
