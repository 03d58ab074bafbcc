//! Fault suite: the real `privgate` binary with a durable destination,
//! under backend faults, crashes and spool damage, with clients sending
//! throughout. Every event privgate acknowledged must reach the upstream
//! (checked by messageId); delivery is at least once, so duplicates are
//! allowed and counted, and after a kill bounded by what was in flight.
//! Each scenario prints one line for the issue note:
//! `fault <scenario>: sent=.. acknowledged=.. delivered=.. duplicated=.. lost=..`.
//! Everything is on 127.0.0.1 and bounded in time.

mod common;

use common::*;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A config file for one durable destination at `upstream`, with its key
/// and spool in a temporary directory (which outlives restarts).
struct Setup {
    dir: tempfile::TempDir,
    config: String,
}

fn setup(upstream: SocketAddr, spool: &str) -> Setup {
    setup_with(upstream, "300ms", spool)
}

/// Batches in flight at once (the `concurrency` [`setup`] pins; with the
/// default `"adaptive"` the bound reads `max_concurrency`) and events per
/// batch (`batch.max_events` of [`setup`]): after a kill, at most their
/// product of events is delivered again.
const IN_FLIGHT_EVENTS: usize = 4 * 50;

/// [`setup`], with the destination's `request_timeout`.
fn setup_with(upstream: SocketAddr, request_timeout: &str, spool: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    write(dir.path(), "e1.key", &privgate::crypto::generate_key());
    let text = segment_config(&format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{upstream}/v1/batch"
connect_timeout = "200ms"
request_timeout = "{request_timeout}"
concurrency = 4
retry = {{ max_retries = 2, initial_backoff = "20ms", max_backoff = "100ms" }}
circuit_breaker = {{ failures = 5, cooldown = "100ms", max_cooldown = "400ms" }}
batch = {{ max_events = 50, max_wait = "20ms" }}
[keys]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]
[spool]
dir = "{d}/spool"
{spool}
"#
    ));
    let config = write(dir.path(), "proxy.toml", &text);
    Setup { dir, config }
}

impl Setup {
    fn segments(&self) -> Vec<PathBuf> {
        spool_segments(&self.dir.path().join("spool/backend"))
    }
}

/// Waits until every acknowledged id was delivered (at most 30 s), then
/// prints the scenario's line; returns how many acknowledged ids are
/// missing.
async fn settle(name: &str, tally: &Tally, upstream: &Upstream) -> usize {
    settle_counts(name, tally, upstream).await.0
}

/// [`settle`]; how many acknowledged ids are missing, and how many
/// deliveries were duplicates.
async fn settle_counts(name: &str, tally: &Tally, upstream: &Upstream) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let delivered: HashSet<String> = upstream.delivered_ids().into_iter().collect();
        let missing = tally
            .acked
            .iter()
            .filter(|id| !delivered.contains(*id))
            .count();
        if missing == 0 || Instant::now() > deadline {
            let all = upstream.delivered_ids().len();
            println!(
                "fault {name}: sent={} acknowledged={} refused_503={} delivered={} duplicated={} lost={missing}",
                tally.sent,
                tally.acked.len(),
                tally.refused,
                delivered.len(),
                all - delivered.len(),
            );
            return (missing, all - delivered.len());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_for_seconds_then_back_loses_nothing() {
    let down = DownPort::new();
    let port = down.addr();
    let s = setup(port, "");
    let proc = spawn(&s.config);
    // Clients are served while the backend is down.
    let mut tally = load_until(proc.ingest, "down", Duration::from_millis(2500), |t| {
        t.acked.len() > 50
    })
    .await;
    let upstream = Upstream::start_on(down).await;
    tally.add(
        load(
            proc.ingest,
            "back",
            Instant::now() + Duration::from_millis(500),
        )
        .await,
    );
    assert_eq!(
        settle("backend-down-then-back", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_errors_hangs_and_resets_lose_nothing() {
    let upstream = Upstream::start().await;
    let s = setup(upstream.addr, "");
    let proc = spawn(&s.config);
    let mut tally = Tally::default();
    for (fault, name) in [
        (Reply::Status(500), "500"),
        (Reply::Delay(Duration::from_secs(5)), "hang"),
        (Reply::Hangup, "reset"),
    ] {
        // A second of load, and on until the backend met two requests with
        // this fault: a busy machine may send none in a second.
        upstream.fail_with(fault);
        let met = upstream.faulted();
        let faulted = || upstream.faulted() >= met + 2;
        let first = Duration::from_millis(1000);
        tally.add(load_until(proc.ingest, name, first, |_| faulted()).await);
    }
    upstream.heal();
    tally.add(
        load(
            proc.ingest,
            "healed",
            Instant::now() + Duration::from_millis(300),
        )
        .await,
    );
    let failed = upstream
        .received()
        .iter()
        .filter(|r| r.status != 200)
        .count();
    assert!(failed > 3, "the faults were met ({failed} failed attempts)");
    assert_eq!(
        settle("backend-500-hang-reset", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_then_restart_loses_nothing() {
    let upstream = Upstream::start().await;
    // A slow backend: batches are in flight when the process dies. Their
    // request_timeout is long: a test process that a busy machine stalls
    // past a short one would answer late, the attempt would time out after
    // the backend took the batch, and its retry would count here as
    // delivered again, though nothing was killed.
    upstream.fail_with(Reply::Delay(Duration::from_millis(150)));
    let s = setup_with(upstream.addr, "10s", "");
    let mut tally = Tally::default();
    let kills = 2;
    for round in 0..kills {
        let mut proc = spawn(&s.config);
        let addr = proc.ingest;
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            proc.child.kill().unwrap(); // SIGKILL
            proc.child.wait().unwrap();
        });
        tally.add(
            load(
                addr,
                &format!("kill{round}"),
                Instant::now() + Duration::from_secs(5),
            )
            .await,
        );
        killer.await.unwrap();
    }
    upstream.heal();
    let proc = spawn(&s.config);
    tally.add(
        load(
            proc.ingest,
            "after",
            Instant::now() + Duration::from_millis(300),
        )
        .await,
    );
    let replayed = metric(
        proc.admin,
        "privgate_spool_replayed_total{destination=\"backend\"}",
    )
    .await;
    assert!(
        replayed.is_some_and(|n| n > 0.0),
        "something was replayed: {replayed:?}"
    );
    let (lost, duplicated) = settle_counts("sigkill-under-load", &tally, &upstream).await;
    assert_eq!(lost, 0, "{}", proc.log_tail());
    println!(
        "fault sigkill-under-load: duplicated={duplicated} bound={} ({kills} kills x {IN_FLIGHT_EVENTS} events in flight)",
        kills * IN_FLIGHT_EVENTS
    );
    assert!(
        duplicated <= kills * IN_FLIGHT_EVENTS,
        "only what was in flight is delivered again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_an_early_batch_hangs_resends_only_what_was_in_flight() {
    // The first batch hangs at the backend (which then takes it) while the
    // later ones are delivered; the process dies meanwhile. What the
    // backend acknowledged after the hanging batch is not sent again. The
    // kill comes once enough was delivered behind the hang, and the hang
    // lasts until then, however slowly a busy machine gets there.
    let upstream = Upstream::with_script(vec![Reply::Stall]).await;
    let s = setup_with(upstream.addr, "60s", "");
    let mut proc = spawn(&s.config);
    let addr = proc.ingest;
    let watched = upstream.clone();
    let killer = tokio::spawn(async move {
        // Enough delivered behind the hanging batch.
        watched
            .wait_for_delivered(2 * IN_FLIGHT_EVENTS + 1, Duration::from_secs(30))
            .await;
        proc.child.kill().unwrap(); // SIGKILL
        proc.child.wait().unwrap();
    });
    let mut tally = load(addr, "hang", Instant::now() + Duration::from_secs(60)).await;
    killer.await.unwrap();
    let before = upstream.delivered_ids().len();
    upstream.heal();
    let proc = spawn(&s.config);
    tally.add(
        load(
            proc.ingest,
            "after",
            Instant::now() + Duration::from_millis(300),
        )
        .await,
    );
    let (lost, duplicated) = settle_counts("sigkill-behind-a-hang", &tally, &upstream).await;
    assert_eq!(lost, 0, "{}", proc.log_tail());
    assert!(
        before > 2 * IN_FLIGHT_EVENTS,
        "batches after the hanging one were delivered before the kill ({before})"
    );
    println!(
        "fault sigkill-behind-a-hang: duplicated={duplicated} bound={IN_FLIGHT_EVENTS} (delivered before the kill: {before})"
    );
    assert!(
        duplicated <= IN_FLIGHT_EVENTS,
        "only what was in flight is delivered again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_answers_503_and_loses_nothing() {
    let down = DownPort::new();
    let port = down.addr();
    let s = setup(port, "segment_bytes = \"8KiB\"\nmax_bytes = \"32KiB\"");
    let proc = spawn(&s.config);
    // The spool fills up and ingest pushes back.
    let mut tally = load_until(proc.ingest, "full", Duration::from_millis(1500), |t| {
        t.refused > 0
    })
    .await;
    let backpressure = metric(
        proc.admin,
        "privgate_backpressure_total{destination=\"backend\"}",
    )
    .await;
    assert!(backpressure.is_some_and(|n| n > 0.0));
    let upstream = Upstream::start_on(down).await;
    tally.add(
        load(
            proc.ingest,
            "drained",
            Instant::now() + Duration::from_millis(300),
        )
        .await,
    );
    assert_eq!(
        settle("spool-full", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_spool_tail_is_skipped_and_the_rest_replayed() {
    let down = DownPort::new();
    let port = down.addr();
    let s = setup(port, "");
    let mut proc = spawn(&s.config);
    let mut tally = Tally::default();
    for i in 0..20 {
        let id = format!("torn-{i}");
        assert_eq!(post(proc.ingest, "/v1/track", track(&id)).await.status, 200);
        tally.sent += 1;
        tally.acked.push(id);
    }
    // A clean stop with the backend down: all twenty stay in the spool.
    let pid = proc.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(proc.child.wait().unwrap().success(), "{}", proc.log_tail());
    // Damage: the last record loses its last bytes, as a crash mid-write
    // would leave it: zeros where they were (the writer writes records
    // over zeros it put ahead of them).
    let last = s.segments().pop().expect("a segment");
    cut_last_record(&last, 5);

    let upstream = Upstream::start_on(down).await;
    let proc = spawn(&s.config);
    let torn = tally.acked.pop().unwrap();
    assert_eq!(
        settle(
            "torn-spool-tail (the 20th record torn by the test)",
            &tally,
            &upstream
        )
        .await,
        0,
        "{}",
        proc.log_tail()
    );
    assert!(
        !upstream.delivered_ids().contains(&torn),
        "the torn record is not made up"
    );
    let skipped = metric(
        proc.admin,
        "privgate_spool_corrupt_total{destination=\"backend\",kind=\"tail\"}",
    )
    .await;
    assert_eq!(skipped, Some(1.0));
}

/// Zeros the last `bytes` of the last record of the segment file at
/// `path`, read as `src/spool/segment.rs` documents the format: a header
/// (`PGSPOOL1`, an 8-byte salt, the key id's length and the key id), then
/// records framed by their length (u32 LE) and checksum (u32 LE), then
/// zeros.
fn cut_last_record(path: &Path, bytes: usize) {
    let mut raw = std::fs::read(path).unwrap();
    assert!(raw.starts_with(b"PGSPOOL1"), "a segment");
    let mut at = 8 + 8 + 1 + usize::from(raw[16]);
    let mut last = None;
    while at + 8 <= raw.len() {
        let len = u32::from_le_bytes(raw[at..at + 4].try_into().unwrap()) as usize;
        if len == 0 {
            break;
        }
        at += 8 + len;
        last = Some(at);
    }
    let end = last.expect("a record");
    raw[end - bytes..end].fill(0);
    std::fs::write(path, raw).unwrap();
}

/// Stops the binary with SIGTERM and waits for a clean exit.
fn stop(mut proc: Proc) {
    let pid = proc.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(proc.child.wait().unwrap().success(), "{}", proc.log_tail());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_quiet_restarts_are_delivered() {
    // The audit's repro: two events delivered, SIGTERM, two starts and
    // stops with no traffic, then two more events answered 200.
    let upstream = Upstream::start().await;
    let s = setup(upstream.addr, "");
    let proc = spawn(&s.config);
    for id in ["m1", "m2"] {
        assert_eq!(post(proc.ingest, "/v1/track", track(id)).await.status, 200);
    }
    upstream.wait_for_delivered(2, Duration::from_secs(5)).await;
    stop(proc);
    for _ in 0..2 {
        stop(spawn(&s.config));
    }
    let proc = spawn(&s.config);
    let mut tally = Tally::default();
    for id in ["m3", "m4"] {
        assert_eq!(post(proc.ingest, "/v1/track", track(id)).await.status, 200);
        tally.sent += 1;
        tally.acked.push(id.into());
    }
    assert_eq!(
        settle("quiet-restarts", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_after_everything_expired_are_delivered() {
    // The audit's second repro: max_age passes with the backend down, a
    // restart, then two new events answered 200.
    let down = DownPort::new();
    let port = down.addr();
    let s = setup(port, "max_age = \"1s\"");
    let proc = spawn(&s.config);
    for id in ["old1", "old2"] {
        assert_eq!(post(proc.ingest, "/v1/track", track(id)).await.status, 200);
    }
    wait_for_metric(
        proc.admin,
        "privgate_events_dropped_total{destination=\"backend\",reason=\"expired\"}",
        2.0,
    )
    .await;
    stop(proc);
    let upstream = Upstream::start_on(down).await;
    let proc = spawn(&s.config);
    let mut tally = Tally::default();
    for id in ["new1", "new2"] {
        assert_eq!(post(proc.ingest, "/v1/track", track(id)).await.status, 200);
        tally.sent += 1;
        tally.acked.push(id.into());
    }
    assert_eq!(
        settle("after-expiry", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
}

/// Sets the running privgate's soft file-size limit (RLIMIT_FSIZE, bytes,
/// or `unlimited`; the hard limit stays, so it can be raised again without
/// privileges) with util-linux's `prlimit`: at 0 no file may grow, as on a
/// full disk (writes fail with EFBIG once SIGXFSZ is ignored).
fn limit_file_size(proc: &Proc, limit: &str) {
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &proc.child.id().to_string(),
            &format!("--fsize={limit}:"),
        ])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(status.success(), "prlimit --fsize={limit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_then_recovers_and_loses_nothing() {
    let down = DownPort::new();
    let port = down.addr();
    let s = setup(port, "segment_bytes = \"8KiB\"");
    let proc = spawn_after_shell("trap '' XFSZ", &s.config);
    let mut tally = load(
        proc.ingest,
        "before",
        Instant::now() + Duration::from_millis(300),
    )
    .await;
    assert!(!tally.acked.is_empty());

    // The disk is full: no file may grow.
    limit_file_size(&proc, "0");
    let full = load(
        proc.ingest,
        "full",
        Instant::now() + Duration::from_millis(600),
    )
    .await;
    // load() checked that every 503 has Retry-After and a JSON error.
    assert!(full.refused > 0, "requests were answered");
    assert_eq!(full.acked.len(), 0, "no 2xx for what could not be written");
    let errors = metric(
        proc.admin,
        "privgate_spool_write_errors_total{destination=\"backend\"}",
    )
    .await;
    assert!(errors.is_some_and(|n| n > 0.0), "{errors:?}");
    for seg in s.segments() {
        let len = std::fs::metadata(&seg).unwrap().len();
        assert!(len > 0, "a failed create left {seg:?} behind");
    }

    // Space returns, then the backend comes up.
    limit_file_size(&proc, "unlimited");
    // Ingest recovers.
    let after = load_until(proc.ingest, "after", Duration::from_millis(300), |t| {
        !t.acked.is_empty()
    })
    .await;
    tally.add(full);
    tally.add(after);
    let upstream = Upstream::start_on(down).await;
    assert_eq!(
        settle("disk-full", &tally, &upstream).await,
        0,
        "{}",
        proc.log_tail()
    );
    let refused_delivered = upstream
        .delivered_ids()
        .iter()
        .filter(|id| id.starts_with("full-"))
        .count();
    assert_eq!(refused_delivered, 0, "refused events are not forwarded");

    // A clean restart finds nothing left over, and replays nothing twice.
    stop(proc);
    let before = upstream.delivered_ids().len();
    let proc = spawn(&s.config);
    still_serving(proc.ingest, &upstream, "restarted").await;
    assert_eq!(upstream.delivered_ids().len(), before + 1);
    assert_eq!(
        metric(
            proc.admin,
            "privgate_spool_files_removed_total{destination=\"backend\",kind=\"empty\"}"
        )
        .await
        .unwrap_or(0.0),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_one_spool_refuses_reaches_no_destination() {
    // One source, two durable destinations and a memory one. When one
    // spool cannot take a request's events, the request is answered 503
    // and none of the three forwards them, even if privgate is killed the
    // moment the 503 is out; the client's retry then reaches each exactly
    // once.
    let (a, b, c) = (
        Upstream::start().await,
        Upstream::start().await,
        Upstream::start().await,
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    write(dir.path(), "e1.key", &privgate::crypto::generate_key());
    let dest = |name: &str, up: &Upstream, delivery: &str| {
        format!(
            r#"
[[destinations]]
name = "{name}"
kind = "http"
url = "{}"
delivery = "{delivery}"
retry = {{ max_retries = 2, initial_backoff = "20ms", max_backoff = "100ms" }}
batch = {{ max_events = 50, max_wait = "20ms" }}
"#,
            up.url("/v1/batch")
        )
    };
    let text = segment_config(&format!(
        "{}{}{}[keys]\nencryption = [{{ id = \"e1\", key = \"file:{d}/e1.key\" }}]\n[spool]\ndir = \"{d}/spool\"\nmax_age = \"1s\"\n",
        dest("a", &a, "durable"),
        dest("b", &b, "durable"),
        dest("c", &c, "memory"),
    ));
    let config = write(dir.path(), "proxy.toml", &text);
    let mut proc = spawn(&config);
    assert_eq!(
        post(proc.ingest, "/v1/track", track("first")).await.status,
        200
    );
    for up in [&a, &b, &c] {
        up.wait_for_delivered(1, Duration::from_secs(5)).await;
    }

    // Once max_age has removed the delivered segments, b's directory is
    // replaced by a file: b cannot create the segment it now needs.
    let deadline = Instant::now() + Duration::from_secs(5);
    let spool = dir.path().join("spool");
    while !spool_segments(&spool.join("a")).is_empty()
        || !spool_segments(&spool.join("b")).is_empty()
    {
        assert!(Instant::now() < deadline, "delivered segments expire");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b_dir = spool.join("b");
    std::fs::rename(&b_dir, dir.path().join("b.away")).unwrap();
    std::fs::write(&b_dir, b"not a directory").unwrap();
    let refused = post(proc.ingest, "/v1/track", track("retried")).await;
    assert_error(&refused, 503, "storage_unavailable");
    assert!(refused.headers.contains_key("retry-after"));
    // Killed the moment the 503 is out: a's copy, committed and held, must
    // be voided on disk already, or a replays it after the restart and
    // the client's retry makes it twice.
    proc.child.kill().unwrap(); // SIGKILL
    proc.child.wait().unwrap();

    // Space for b again; privgate restarts.
    std::fs::remove_file(&b_dir).unwrap();
    std::fs::rename(dir.path().join("b.away"), &b_dir).unwrap();
    let proc = spawn(&config);
    // Nothing of the refused request is forwarded anywhere.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for up in [&a, &b, &c] {
        assert!(
            !up.saw_message_id("retried"),
            "a refused request was forwarded"
        );
    }

    // The client retries.
    assert_eq!(
        post(proc.ingest, "/v1/track", track("retried"))
            .await
            .status,
        200
    );
    for up in [&a, &b, &c] {
        let ids = up.wait_for_delivered(2, Duration::from_secs(5)).await;
        assert_eq!(ids, ["first", "retried"]);
    }

    // After a restart, the voided copy in a's spool is not delivered either.
    stop(proc);
    let proc = spawn(&config);
    still_serving(proc.ingest, &a, "after-restart").await;
    assert_eq!(a.delivered_ids(), ["first", "retried", "after-restart"]);
    assert_eq!(
        metric(
            proc.admin,
            "privgate_spool_replayed_total{destination=\"a\"}"
        )
        .await,
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_backend_ack_and_cursor_write_resends_only_those_batches() {
    // The `acked` file is written through `acked.tmp` (then renamed). A
    // FIFO in its place makes that open block: every batch the backend
    // acknowledges stops right after the acknowledgement, before its
    // cursor write, holding its concurrency slot. The kill comes there.
    let upstream = Upstream::start().await;
    let s = setup_with(upstream.addr, "10s", "");
    let mut proc = spawn(&s.config);
    let fifo = s.dir.path().join("spool/backend/acked.tmp");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(made.success(), "mkfifo {}", fifo.display());
    let mut tally = load(
        proc.ingest,
        "window",
        Instant::now() + Duration::from_millis(1500),
    )
    .await;
    // Delivery stalls once every slot waits on its cursor write.
    let mut before = upstream.delivered_ids().len();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = upstream.delivered_ids().len();
        if now == before && now > 0 {
            break;
        }
        before = now;
    }
    assert!(
        before > 0,
        "the backend acknowledged batches before the kill"
    );
    assert!(
        before <= IN_FLIGHT_EVENTS,
        "no batch is sent once every slot waits on its cursor write ({before} delivered)"
    );
    proc.child.kill().unwrap(); // SIGKILL
    proc.child.wait().unwrap();
    std::fs::remove_file(&fifo).unwrap();
    let proc = spawn(&s.config);
    tally.add(
        load(
            proc.ingest,
            "after",
            Instant::now() + Duration::from_millis(300),
        )
        .await,
    );
    let (lost, duplicated) = settle_counts("sigkill-before-cursor-write", &tally, &upstream).await;
    assert_eq!(lost, 0, "{}", proc.log_tail());
    println!(
        "fault sigkill-before-cursor-write: duplicated={duplicated} bound={IN_FLIGHT_EVENTS} (acknowledged by the backend, not written down: {before})"
    );
    // What the backend took before the kill was never written down: sent
    // again, and nothing more.
    assert!(
        duplicated >= before,
        "the batches acknowledged but not written down are sent again"
    );
    assert!(
        duplicated <= IN_FLIGHT_EVENTS,
        "only what was in flight is delivered again"
    );
}
