//! Hot reload through `POST /admin/reload` and SIGHUP: a new config takes
//! effect for new requests (write keys, rules, destinations) without
//! dropping a connection or an accepted event; a bad config changes
//! nothing and says why; the admin token guards it; what needs a restart is
//! refused or reported.

mod common;

use bytes::Bytes;
use common::*;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN: &str = "a-long-admin-token-for-tests";

/// A config with one source (write key `key`), `destinations`, and the
/// admin token read from `dir/token`.
fn config(dir: &Path, key: &str, destinations: &str) -> String {
    std::fs::write(dir.join("token"), TOKEN).unwrap();
    segment_config(destinations)
        .replace(
            "write_keys = [\"test-key\"]",
            &format!("write_keys = [\"{key}\"]"),
        )
        .replace(
            "[admin]\n",
            &format!("[admin]\ntoken = \"file:{}/token\"\n", dir.display()),
        )
}

fn basic(key: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    format!("Basic {encoded}")
}

async fn track_as(addr: std::net::SocketAddr, key: &str, id: &str) -> u16 {
    let auth = basic(key);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    send("POST", addr, "/v1/track", &headers, track(id))
        .await
        .status
}

async fn reload(admin: std::net::SocketAddr, token: Option<&str>) -> Answer {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    send("POST", admin, "/admin/reload", &headers, Bytes::new()).await
}

#[tokio::test]
async fn a_reload_swaps_keys_rules_and_destinations_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = Upstream::start().await;
    let second = Upstream::start().await;
    let file = dir.path().join("proxy.toml");
    std::fs::write(
        &file,
        config(
            dir.path(),
            "old-key",
            &http_destination("first", &first, ""),
        ),
    )
    .unwrap();
    let app = start_privgate_file(&file).await;
    let (addr, admin) = (app.ingest_addr(), app.admin_addr());
    assert_eq!(track_as(addr, "old-key", "before").await, 200);

    // The token guards /admin/*.
    assert_eq!(reload(admin, None).await.status, 401);
    assert_eq!(
        reload(admin, Some("wrong-token-of-some-length"))
            .await
            .status,
        401
    );

    // New write key; `first` now keeps only two fields; `second` is added.
    let destinations = format!(
        "{}allow = [\"type\", \"messageId\"]\n{}",
        http_destination("first", &first, ""),
        http_destination("second", &second, "")
    );
    std::fs::write(&file, config(dir.path(), "new-key", &destinations)).unwrap();
    let answer = reload(admin, Some(TOKEN)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let result = &answer.json()["result"];
    assert_eq!(
        result["destinations"]["added"],
        serde_json::json!(["second"])
    );
    assert_eq!(
        result["destinations"]["updated"],
        serde_json::json!(["first"])
    );

    assert_eq!(track_as(addr, "old-key", "refused").await, 401);
    assert_eq!(track_as(addr, "new-key", "after").await, 200);
    second.wait_for_delivered(1, Duration::from_secs(5)).await;
    let at_first = first.wait_for_delivered(2, Duration::from_secs(5)).await;
    assert_eq!(at_first, ["before", "after"]);
    let after = first.received().last().unwrap().events()[0].clone();
    assert!(
        after.get("properties").is_none(),
        "the new allow list applies: {after}"
    );

    // A broken file: 422 naming the problem; the running config stays.
    std::fs::write(&file, "[server]\nlisten = \"nowhere\"\n").unwrap();
    let answer = reload(admin, Some(TOKEN)).await;
    assert_eq!(answer.status, 422);
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("proxy.toml") && message.contains("server.listen"),
        "{message}"
    );
    assert_eq!(track_as(addr, "new-key", "still").await, 200);
    first.wait_for_delivered(3, Duration::from_secs(5)).await;

    // A durable/memory switch would weaken a promise silently: refused.
    std::fs::write(
        dir.path().join("e1.key"),
        privgate::crypto::generate_key().as_str(),
    )
    .unwrap();
    let durable = format!(
        "{}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{}/e1.key\" }}]\n",
        http_destination("first", &first, "delivery = \"durable\""),
        dir.path().display()
    );
    std::fs::write(&file, config(dir.path(), "new-key", &durable)).unwrap();
    let answer = reload(admin, Some(TOKEN)).await;
    assert_eq!(answer.status, 422);
    assert!(answer.json()["message"]
        .as_str()
        .unwrap()
        .contains("needs a restart"));

    let ok = metric(admin, "privgate_config_reloads_total{result=\"success\"}").await;
    let failed = metric(admin, "privgate_config_reloads_total{result=\"failure\"}").await;
    assert_eq!((ok, failed), (Some(1.0), Some(2.0)));
    // The last one failed: the running config is not the file's (alerted
    // on in deploy/prometheus/alerts.yml).
    let last = metric(admin, "privgate_config_last_reload_successful").await;
    assert_eq!(last, Some(0.0));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_load_drop_no_connection_and_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let file = dir.path().join("proxy.toml");
    let text = config(
        dir.path(),
        "test-key",
        &http_destination("backend", &upstream, ""),
    );
    std::fs::write(&file, &text).unwrap();
    let app = start_privgate_file(&file).await;
    let addr = app.ingest_addr();
    // Clients send until told to stop; reloads go on meanwhile until there
    // were at least 5 and over 100 events were acknowledged, however slow
    // the machine (a fixed time would leave that to its speed).
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (stop, count) = (stop.clone(), count.clone());
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let id = format!("c{c}-{i}");
                    i += 1;
                    let answer = post(addr, "/v1/track", track(&id)).await;
                    assert_eq!(answer.status, 200, "a request failed during a reload");
                    acked.push(id);
                    count.fetch_add(1, Ordering::SeqCst);
                }
                acked
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reloads = 0;
    while reloads < 5 || count.load(Ordering::SeqCst) <= 100 {
        assert!(
            Instant::now() < deadline,
            "{reloads} reloads, {} events in 30 s",
            count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Alternate batching settings so every reload replaces something.
        let batch = if reloads % 2 == 0 { "5" } else { "50" };
        let destination = http_destination(
            "backend",
            &upstream,
            &format!("batch = {{ max_events = {batch}, max_wait = \"10ms\" }}"),
        );
        std::fs::write(&file, config(dir.path(), "test-key", &destination)).unwrap();
        assert_eq!(reload(app.admin_addr(), Some(TOKEN)).await.status, 200);
        reloads += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let mut acked = HashSet::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    let delivered: HashSet<String> = upstream
        .wait_for_delivered(acked.len(), Duration::from_secs(10))
        .await
        .into_iter()
        .collect();
    assert!(
        acked.is_subset(&delivered),
        "acknowledged events went missing"
    );
    app.shutdown().await;
}

#[test]
fn sighup_reloads_the_running_binary() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let upstream = rt.block_on(Upstream::start());
    let destination = http_destination("backend", &upstream, "");
    let file = write(
        dir.path(),
        "proxy.toml",
        &config(dir.path(), "old-key", &destination),
    );
    let proc = spawn(&file);
    rt.block_on(async {
        assert_eq!(track_as(proc.ingest, "old-key", "a").await, 200);
        std::fs::write(&file, config(dir.path(), "new-key", &destination)).unwrap();
        let pid = proc.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        wait_for_metric(
            proc.admin,
            "privgate_config_reloads_total{result=\"success\"}",
            1.0,
        )
        .await;
        assert_eq!(track_as(proc.ingest, "new-key", "b").await, 200);
        assert_eq!(track_as(proc.ingest, "old-key", "c").await, 401);
        upstream.wait_for_delivered(2, Duration::from_secs(5)).await;
    });
    assert!(
        proc.log_tail().contains("config reloaded"),
        "{}",
        proc.log_tail()
    );
}

#[tokio::test]
async fn a_removed_durable_destination_keeps_its_spool_until_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("e1.key"),
        privgate::crypto::generate_key().as_str(),
    )
    .unwrap();
    let keys = format!(
        "[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/e1.key\" }}]\n[spool]\ndir = \"{d}/spool\"\n",
        d = dir.path().display()
    );
    let down = DownPort::new();
    let port = down.addr();
    let durable = format!(
        "[[destinations]]\nname = \"durable\"\nkind = \"http\"\nurl = \"http://{port}/v1/batch\"\nretry = {{ max_retries = 1, initial_backoff = \"20ms\", max_backoff = \"50ms\" }}\n{keys}"
    );
    let file = dir.path().join("proxy.toml");
    std::fs::write(&file, config(dir.path(), "test-key", &durable)).unwrap();
    let app = start_privgate_file(&file).await;
    for i in 0..5 {
        assert_eq!(
            post(app.ingest_addr(), "/v1/track", track(&format!("kept-{i}")))
                .await
                .status,
            200
        );
    }
    // Removed while its backend is down: the five stay on disk.
    let stdout = format!("[[destinations]]\nname = \"other\"\nkind = \"stdout\"\n{keys}");
    std::fs::write(&file, config(dir.path(), "test-key", &stdout)).unwrap();
    let answer = reload(app.admin_addr(), Some(TOKEN)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.json()["result"]["destinations"]["removed"],
        serde_json::json!(["durable"])
    );
    let segments = spool_segments(&dir.path().join("spool/durable"));
    assert!(!segments.is_empty(), "the spool stays on disk");
    // Back, with its backend up: the five are delivered.
    let upstream = Upstream::start_on(down).await;
    std::fs::write(&file, config(dir.path(), "test-key", &durable)).unwrap();
    assert_eq!(reload(app.admin_addr(), Some(TOKEN)).await.status, 200);
    let ids: HashSet<String> = upstream
        .wait_for_delivered(5, Duration::from_secs(10))
        .await
        .into_iter()
        .collect();
    assert_eq!(ids, (0..5).map(|i| format!("kept-{i}")).collect());
    app.shutdown().await;
}

#[tokio::test]
async fn without_a_token_admin_refuses_browser_requests() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Upstream::start().await;
    let open = segment_config(&http_destination("backend", &upstream, ""));
    let file = dir.path().join("proxy.toml");
    std::fs::write(&file, &open).unwrap();
    let pg = start_privgate_file(&file).await;
    let admin = pg.admin_addr();
    // What a web page can make a browser send: a form POST or a fetch.
    for origin in ["https://evil.example", "null"] {
        let answer = send(
            "POST",
            admin,
            "/admin/reload",
            &[
                ("origin", origin),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Bytes::new(),
        )
        .await;
        assert_eq!(answer.status, 403, "from {origin}");
        assert_eq!(answer.json()["error"], "cross_origin");
    }
    let reloads = "privgate_config_reloads_total{result=\"success\"}";
    assert_eq!(
        metric(admin, reloads).await.unwrap_or(0.0),
        0.0,
        "nothing reloaded"
    );
    // Without an Origin (curl, scripts) it reloads, as before.
    let answer = reload(admin, None).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(metric(admin, reloads).await, Some(1.0));
    pg.shutdown().await;

    // With a token, the token decides, Origin or not.
    std::fs::write(
        &file,
        config(
            dir.path(),
            "test-key",
            &http_destination("backend", &upstream, ""),
        ),
    )
    .unwrap();
    let pg = start_privgate_file(&file).await;
    let bearer = format!("Bearer {TOKEN}");
    let headers = [
        ("origin", "https://ops.example"),
        ("authorization", bearer.as_str()),
    ];
    let answer = send(
        "POST",
        pg.admin_addr(),
        "/admin/reload",
        &headers,
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = send(
        "POST",
        pg.admin_addr(),
        "/admin/reload",
        &headers[..1],
        Bytes::new(),
    )
    .await;
    assert_eq!(answer.status, 401);
    pg.shutdown().await;
}

/// A reload removes a memory destination whose backend holds its batches:
/// its queue drains in the background. A shutdown before that drain is
/// done must count what it gives up (`reason="shutdown"`, and in the
/// report), as it does for the destinations still configured, rather
/// than lose the events without a trace.
#[tokio::test]
async fn a_shutdown_counts_what_a_removed_memory_destination_had_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let gone = Upstream::start().await;
    gone.fail_with(Reply::Stall);
    let stay = Upstream::start().await;
    let file = dir.path().join("proxy.toml");
    let both = format!(
        "{}{}",
        http_destination("gone", &gone, ""),
        http_destination("stay", &stay, "")
    );
    std::fs::write(&file, config(dir.path(), "test-key", &both)).unwrap();
    let pg = start_privgate_file(&file).await;
    for i in 0..3 {
        assert_eq!(
            track_as(pg.ingest_addr(), "test-key", &format!("e-{i}")).await,
            200
        );
    }
    stay.wait_for_delivered(3, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while gone.faulted() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone.faulted() > 0, "a batch is held by the backend");
    let only_stay = config(dir.path(), "test-key", &http_destination("stay", &stay, ""));
    std::fs::write(&file, only_stay).unwrap();
    let answer = reload(pg.admin_addr(), Some(TOKEN)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let metrics = pg.metrics().clone();
    let report = pg.shutdown().await;
    let dropped = |reason: &str| {
        metrics
            .events_dropped
            .with_label_values(&["gone", reason])
            .get()
    };
    let forwarded = metrics.events_forwarded.with_label_values(&["gone"]).get();
    assert_eq!(
        (forwarded, dropped("shutdown"), report.undelivered),
        (0, 3, 3),
        "every event of the removed destination is counted once"
    );
    gone.heal();
}
