//! What an accepted event keeps alive while it waits for its destination:
//! about its own bytes, not a larger buffer it was cut from or written
//! into. A memory queue's bounds and a spool's in-memory tail count an
//! event's bytes; a small event holding a large buffer would make them
//! bound nothing.
//!
//! Four buffers an event could hold: the connection's read buffer, for a
//! body that came whole with its head (hyper's frame is a slice of it, up
//! to twice `max_header_bytes`); gunzip's output buffer, sized at four
//! times the compressed body; the policy walker's, sized for the event
//! before a rule removed most of it; the vector a destination's events
//! are handed over in, sized for all of the request's events when consent
//! kept one. A client with a (public) write key sends tiny events in each
//! way, with the destination down: what the real `privgate` binary holds
//! must stay near what it counts.

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Events sent, one connection each (below the memory queue's default
/// `queue_max_events`, 10,000, and within the spool tail's 4 MiB).
const EVENTS: usize = 1_500;

/// The head's padding: under the default `max_header_bytes` (64 KiB), so
/// the request is taken, and large enough that hyper's read buffer grows
/// to hold it.
const PAD: usize = 56 << 10;

/// gzip members of a [`Shape::PaddedGzip`] request, each with a 65,000
/// byte comment: the body is that large, and gunzips to the event alone.
const MEMBERS: usize = 4;

/// What counts the events a memory destination holds, and those a
/// source accepted (into a spool, once committed).
const QUEUED: &str = "privgate_queue_depth_events{destination=\"backend\"}";
const RECEIVED: &str = "privgate_events_received_total{source=\"web\"}";

/// Connections at once.
const AT_ONCE: usize = 4;

/// How much privgate's resident memory may grow while it holds the
/// events: their bytes (about 200 each, 300 KB in all) many times over,
/// allocator slack, the queue or spool's own structures. Measured (debug
/// build): 0 to 7 MiB (5 to 10 for batches of 10,000). Holding each event's read buffer instead (the
/// head and the event, some 56 KiB each) grew it by 81 MiB (memory
/// queue) and 84 MiB (spool tail); with the default bounds, 10,000
/// events in a memory queue and 4 MiB of them in a spool's tail (some
/// 20,000), that is 0.5 and 1 GiB. Holding each gzipped event's
/// decompression buffer (four times its compressed size, 1 MiB, of which
/// only what the allocator had used before is resident) grew it by 30 MiB,
/// each event's policy buffer, made for it before a rule dropped its
/// 56 KiB property, by 50 MiB, and 300 events each queued in room for
/// the 10,000 of its batch (320 KB) by 88 to 92 MiB.
const MAX_GROWTH_MIB: u64 = 16;

/// The child's resident memory (`VmRSS`), in KiB.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS")
}

/// One Segment `track` with the fields privgate would otherwise add
/// (`messageId`, `receivedAt`) and an empty `context` (where no address is
/// inserted), so that the event is the request's body as it came.
fn event(i: usize) -> String {
    format!(
        r#"{{"type":"track","event":"e","messageId":"pinned-{i}","receivedAt":"2026-01-01T00:00:00.000Z","context":{{}}}}"#
    )
}

/// How an event is sent.
#[derive(Clone, Copy)]
enum Shape {
    /// Behind a head of [`PAD`] bytes more.
    LargeHead,
    /// Gzipped, after gzip comments ([`MEMBERS`]).
    PaddedGzip,
    /// With a property of [`PAD`] bytes that a rule ([`DROP_JUNK`]) drops.
    DroppedProperty,
    /// In a batch of `max_batch_events` (10,000), the only one with
    /// consent for the destination ([`NEEDS_CONSENT`]).
    AmongDenied,
}

/// The destination takes events with consent for analytics, which only
/// Segment's consent object grants ([`Shape::AmongDenied`]).
const NEEDS_CONSENT: (&str, &str) = (
    r#"require_consent = ["analytics"]"#,
    r#"
[consent]
default = "deny"
categories = { Analytics = "analytics" }
"#,
);

/// A rule that drops what [`Shape::DroppedProperty`] pads its events with.
const DROP_JUNK: &str = r#"
[[rules]]
name = "drop-junk"
select = "properties.junk"
action = "drop"
"#;

/// Event `i` as a request of `shape`.
fn request(i: usize, shape: Shape) -> Vec<u8> {
    use base64::Engine;
    use std::io::Write;
    let key = base64::engine::general_purpose::STANDARD.encode("test-key:");
    let mut path = "/v1/t";
    let (pad, encoding, body) = match shape {
        Shape::LargeHead => ("p".repeat(PAD), "identity", event(i).into_bytes()),
        Shape::AmongDenied => {
            path = "/v1/batch";
            let granted = event(i).replace(
                r#""context":{}"#,
                r#""context":{"consent":{"categoryPreferences":{"Analytics":true}}}"#,
            );
            let denied = vec![r#"{"type":"track","event":"e"}"#; 9_999].join(",");
            let body = format!(r#"{{"batch":[{denied},{granted}]}}"#);
            ("p".to_owned(), "identity", body.into_bytes())
        }
        Shape::DroppedProperty => {
            let junk = format!(r#","properties":{{"junk":"{}"}}}}"#, "j".repeat(PAD));
            let event = event(i);
            let body = [event.strip_suffix('}').unwrap(), &junk].concat();
            ("p".to_owned(), "identity", body.into_bytes())
        }
        Shape::PaddedGzip => {
            // gzip members, each with the longest comment flate2 reads;
            // the first holds the event.
            let mut body = Vec::new();
            for member in 0..MEMBERS {
                let mut gz = flate2::GzBuilder::new()
                    .comment(vec![b'c'; 65_000])
                    .write(Vec::new(), flate2::Compression::fast());
                if member == 0 {
                    gz.write_all(event(i).as_bytes()).unwrap();
                }
                body.extend(gz.finish().unwrap());
            }
            ("p".to_owned(), "gzip", body)
        }
    };
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: privgate\r\nauthorization: Basic {key}\r\n\
         content-type: application/json\r\ncontent-encoding: {encoding}\r\n\
         x-pad: {pad}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// Sends `request` in one write on a new connection; the answer's status.
async fn send_one(addr: SocketAddr, request: Vec<u8>) -> Result<u16, String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(&request).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "no answer within 10s".to_owned())?
        .map_err(|e| e.to_string())?;
    let head = String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned();
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {head:?}"))
}

/// Sends [`EVENTS`] events of `shape` to `proc`, waits until `series`
/// counts them, and returns how much its resident memory grew, in MiB.
async fn growth_holding_events(proc: &Proc, shape: Shape, series: &str) -> u64 {
    growth_holding(proc, shape, series, EVENTS).await
}

/// [`growth_holding_events`] for `events` events.
async fn growth_holding(proc: &Proc, shape: Shape, series: &str, events: usize) -> u64 {
    let pid = proc.child.id();
    // First a few rounds at once, so that what any request sets up once,
    // and what requests take while they are read, is in the baseline.
    let warm = 2 * AT_ONCE;
    send_all(proc, shape, 0..warm).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(pid);
    send_all(proc, shape, warm..warm + events).await;
    wait_for_metric(proc.admin, series, (warm + events) as f64).await;
    let after = rss_kib(pid);
    eprintln!(
        "privgate VmRSS {} MiB before, {} MiB holding {} events",
        before / 1024,
        after / 1024,
        warm + events
    );
    after.saturating_sub(before) / 1024
}

/// Sends events `ids` of `shape`, [`AT_ONCE`] at a time; each must be
/// accepted.
async fn send_all(proc: &Proc, shape: Shape, ids: std::ops::Range<usize>) {
    let mut tasks = tokio::task::JoinSet::new();
    let mut statuses = std::collections::BTreeMap::new();
    let n = ids.len();
    for i in ids {
        if tasks.len() == AT_ONCE {
            let status = tasks.join_next().await.unwrap().unwrap();
            *statuses.entry(status).or_insert(0) += 1;
        }
        tasks.spawn(send_one(proc.ingest, request(i, shape)));
    }
    while let Some(status) = tasks.join_next().await {
        *statuses.entry(status.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses.get(&Ok(200)),
        Some(&n),
        "every event is accepted: {statuses:?}\n{}",
        proc.log_tail()
    );
}

/// A Segment source and one destination of `delivery` that cannot be
/// reached and keeps retrying, so that accepted events stay: the config
/// file, and the port, which refuses connections while it is held.
/// `destination` goes in its table, `tables` after.
fn config(
    dir: &std::path::Path,
    delivery: &str,
    (destination, tables): (&str, &str),
) -> (String, DownPort) {
    let down = DownPort::new();
    let d = dir.display();
    write(dir, "e1.key", &privgate::crypto::generate_key());
    let text = segment_config(&format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{}/v1/batch"
delivery = "{delivery}"
connect_timeout = "200ms"
retry = {{ max_retries = 100, initial_backoff = "10s", max_backoff = "60s" }}
{destination}
[keys]
encryption = [{{ id = "e1", key = "file:{d}/e1.key" }}]
[spool]
dir = "{d}/spool"
{tables}
"#,
        down.addr()
    ));
    (write(dir, "proxy.toml", &text), down)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_a_memory_queue_hold_their_bytes_not_their_read_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _down) = config(dir.path(), "memory", ("", ""));
    let proc = spawn(&config);
    let growth = growth_holding_events(&proc, Shape::LargeHead, QUEUED).await;
    assert!(
        growth <= MAX_GROWTH_MIB,
        "holding {EVENTS} events of ~200 bytes grew privgate by {growth} MiB \
         (want at most {MAX_GROWTH_MIB} MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_a_spool_tail_hold_their_bytes_not_their_read_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _down) = config(dir.path(), "durable", ("", ""));
    let proc = spawn(&config);
    let growth = growth_holding_events(&proc, Shape::LargeHead, RECEIVED).await;
    assert!(
        growth <= MAX_GROWTH_MIB,
        "holding {EVENTS} events of ~200 bytes grew privgate by {growth} MiB \
         (want at most {MAX_GROWTH_MIB} MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzipped_event_holds_its_bytes_not_its_decompression_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _down) = config(dir.path(), "memory", ("", ""));
    let proc = spawn(&config);
    let growth = growth_holding_events(&proc, Shape::PaddedGzip, QUEUED).await;
    assert!(
        growth <= MAX_GROWTH_MIB,
        "holding {EVENTS} gzipped events of ~200 bytes grew privgate by {growth} MiB \
         (want at most {MAX_GROWTH_MIB} MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_rule_shrank_holds_its_bytes_not_the_buffer_it_was_written_for() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _down) = config(dir.path(), "memory", ("", DROP_JUNK));
    let proc = spawn(&config);
    let growth = growth_holding_events(&proc, Shape::DroppedProperty, QUEUED).await;
    assert!(
        growth <= MAX_GROWTH_MIB,
        "holding {EVENTS} events of ~200 bytes, once {PAD} bytes a rule dropped, \
         grew privgate by {growth} MiB (want at most {MAX_GROWTH_MIB} MiB)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_among_many_denied_is_queued_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _down) = config(dir.path(), "memory", NEEDS_CONSENT);
    let proc = spawn(&config);
    let events = 300;
    let growth = growth_holding(&proc, Shape::AmongDenied, QUEUED, events).await;
    // Twice the others' bound: decoding batches of 10,000 leaves the
    // allocator more slack (measured 5 to 10 MiB, against 88 to 92 MiB
    // held for room).
    let bound = 2 * MAX_GROWTH_MIB;
    assert!(
        growth <= bound,
        "holding {events} events of ~200 bytes, each the one of its batch of \
         10,000 with consent, grew privgate by {growth} MiB (want at most {bound} MiB)"
    );
}
