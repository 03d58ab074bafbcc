//! Load generator: N keep-alive HTTP/1.1 connections POSTing realistic
//! Segment events (event.json: the analytics.js track event captured in
//! track.json plus a client IP and PII in free text and in the page URL, with
//! Analytics consent granted; a unique messageId per event) for a fixed time;
//! records latencies and the ids of every event that got a 2xx.
//!
//! loadgen run <url> <single|batch> <conns> <seconds> <run-id> <acked-out-file>
//!   prints one JSON line: requests, ok, rejected (non-2xx), errors,
//!   events_ok, seconds, events_per_s, p50_us, p99_us (every answered
//!   request), ok_p50_us, ok_p99_us (the 2xx ones only; 0 if none)
//!
//! `LOADGEN_RATE=N` (requests a second, all connections together) sends on
//! a schedule instead of as fast as answers come: each connection sends
//! every `conns / N` seconds on average (what fell due while it waited for
//! an answer or a timer tick is sent at once, up to 50 ms of it), so what
//! is offered does not drop when the server refuses. Without it, a
//! connection sends again as soon as it has its answer, after a 5 ms pause
//! on a 503.
//! loadgen verify <sink-base-url> <acked-file> [wait-seconds]
//!   waits until the sink's event count is stable, then prints
//!   acked, delivered, missing, duplicates and pii_seen (PII of event.json
//!   the sink received, see sink.rs); exits 1 if any acked id is missing.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const TEMPLATE: &str = include_str!("../../event.json");
const BATCH: usize = 100;
/// base64("loadtest:")
const AUTH: &str = "Basic bG9hZHRlc3Q6";

struct Template {
    before: String,
    after: String,
}

impl Template {
    fn new() -> Template {
        let text = TEMPLATE.trim().replace("HARNESS_SEGMENT_WRITE_KEY", "loadtest");
        let key = "\"messageId\":\"";
        let start = text.find(key).expect("template has a messageId") + key.len();
        let end = start + text[start..].find('"').unwrap();
        Template {
            before: text[..start].to_owned(),
            after: text[end..].to_owned(),
        }
    }

    fn event(&self, out: &mut String, id: &str) {
        out.push_str(&self.before);
        out.push_str(id);
        out.push_str(&self.after);
    }
}

struct ConnResult {
    requests: u64,
    ok: u64,
    rejected: u64,
    errors: u64,
    acked: Vec<String>,
    latencies: hdrhistogram::Histogram<u64>,
    /// Of the accepted (2xx) requests only.
    ok_latencies: hdrhistogram::Histogram<u64>,
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

async fn connection(
    url: hyper::Uri,
    batch: bool,
    conn: usize,
    run: String,
    until: Instant,
    (every, phase): (Option<Duration>, f64),
) -> ConnResult {
    // On a schedule: the connections' first sends spread over one interval.
    let mut next = every.map(|every| tokio::time::Instant::now() + every.mul_f64(phase));
    let template = Template::new();
    let mut result = ConnResult {
        requests: 0,
        ok: 0,
        rejected: 0,
        errors: 0,
        acked: Vec::new(),
        latencies: histogram(),
        ok_latencies: histogram(),
    };
    let authority = url.authority().unwrap().clone();
    let mut seq = 0u64;
    'reconnect: while Instant::now() < until {
        let Ok(stream) = tokio::net::TcpStream::connect(authority.as_str()).await else {
            result.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, conn_task)) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await
        else {
            result.errors += 1;
            continue;
        };
        tokio::spawn(conn_task);
        while Instant::now() < until {
            if let (Some(at), Some(every)) = (next.as_mut(), every) {
                // Timers tick in milliseconds: what fell due meanwhile is
                // sent back to back, up to 50 ms of it.
                let now = tokio::time::Instant::now();
                if now < *at {
                    tokio::time::sleep_until(*at).await;
                }
                *at = (*at + every).max(now - Duration::from_millis(50));
            }
            let count = if batch { BATCH } else { 1 };
            let ids: Vec<String> = (0..count)
                .map(|i| {
                    seq += 1;
                    let _ = i;
                    format!("{run}-{conn}-{seq}")
                })
                .collect();
            let mut body = String::with_capacity(1600 * count + 64);
            if batch {
                body.push_str("{\"batch\":[");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    template.event(&mut body, id);
                }
                body.push_str("],\"writeKey\":\"loadtest\"}");
            } else {
                template.event(&mut body, &ids[0]);
            }
            let request = Request::post(url.clone())
                .header("host", authority.as_str())
                .header("authorization", AUTH)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            let started = Instant::now();
            result.requests += 1;
            let response = match sender.send_request(request).await {
                Ok(r) => r,
                Err(_) => {
                    result.errors += 1;
                    continue 'reconnect;
                }
            };
            let status = response.status();
            if response.into_body().collect().await.is_err() {
                result.errors += 1;
                continue 'reconnect;
            }
            let micros = started.elapsed().as_micros() as u64;
            let _ = result.latencies.record(micros.max(1));
            if status.is_success() {
                let _ = result.ok_latencies.record(micros.max(1));
                result.ok += 1;
                result.acked.extend(ids);
            } else {
                result.rejected += 1;
                if status == 503 && every.is_none() {
                    // Backpressure: honour it briefly instead of hammering.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }
    result
}

fn run(args: &[String]) {
    let [url, mode, conns, seconds, run_id, acked_out] = args else {
        panic!("usage: loadgen run <url> <single|batch> <conns> <seconds> <run-id> <acked-out>");
    };
    let url: hyper::Uri = url.parse().expect("url");
    let batch = mode == "batch";
    let conns: usize = conns.parse().expect("conns");
    let seconds: f64 = seconds.parse().expect("seconds");
    let every = std::env::var("LOADGEN_RATE")
        .ok()
        .filter(|r| !r.is_empty())
        .map(|r| r.parse::<f64>().expect("LOADGEN_RATE: requests a second"))
        .filter(|&r| r > 0.0)
        .map(|rate| Duration::from_secs_f64(conns as f64 / rate));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let results: Vec<ConnResult> = runtime.block_on(async {
        let tasks: Vec<_> = (0..conns)
            .map(|c| {
                let schedule = (every, c as f64 / conns as f64);
                tokio::spawn(connection(url.clone(), batch, c, run_id.clone(), until, schedule))
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = started.elapsed().as_secs_f64();
    let (mut latencies, mut ok_latencies) = (histogram(), histogram());
    let (mut requests, mut ok, mut rejected, mut errors) = (0, 0, 0, 0);
    let mut acked = String::new();
    let mut events_ok = 0usize;
    for r in &results {
        latencies.add(&r.latencies).unwrap();
        ok_latencies.add(&r.ok_latencies).unwrap();
        requests += r.requests;
        ok += r.ok;
        rejected += r.rejected;
        errors += r.errors;
        events_ok += r.acked.len();
        for id in &r.acked {
            acked.push_str(id);
            acked.push('\n');
        }
    }
    std::fs::write(acked_out, acked).expect("write acked ids");
    println!(
        "{{\"requests\":{requests},\"ok\":{ok},\"rejected\":{rejected},\"errors\":{errors},\"events_ok\":{events_ok},\"seconds\":{elapsed:.3},\"events_per_s\":{:.1},\"p50_us\":{},\"p99_us\":{},\"ok_p50_us\":{},\"ok_p99_us\":{}}}",
        events_ok as f64 / elapsed,
        latencies.value_at_quantile(0.5),
        latencies.value_at_quantile(0.99),
        ok_latencies.value_at_quantile(0.5),
        ok_latencies.value_at_quantile(0.99)
    );
}

async fn get(base: &hyper::Uri, path: &str) -> Bytes {
    let authority = base.authority().unwrap().clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let request = Request::get(path)
        .header("host", authority.as_str())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    response.into_body().collect().await.unwrap().to_bytes()
}

fn count_from_stats(stats: &[u8]) -> u64 {
    stat(stats, "events")
}

fn stat(stats: &[u8], name: &str) -> u64 {
    let text = String::from_utf8_lossy(stats);
    let key = format!("\"{name}\":");
    let at = text.find(&key).unwrap() + key.len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

fn verify(args: &[String]) -> bool {
    let (sink, acked_file) = match args {
        [sink, acked, ..] => (sink, acked),
        _ => panic!("usage: loadgen verify <sink-base-url> <acked-file> [wait-seconds]"),
    };
    let wait: f64 = args.get(2).map_or(15.0, |w| w.parse().unwrap());
    let base: hyper::Uri = sink.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let acked_text = std::fs::read_to_string(acked_file).unwrap();
    let acked: HashSet<&str> = acked_text.lines().collect();
    runtime.block_on(async {
        // Wait until the sink's count stops moving (privgate flushing), bounded.
        let deadline = Instant::now() + Duration::from_secs_f64(wait);
        let mut last = u64::MAX;
        loop {
            let now = count_from_stats(&get(&base, "/stats").await);
            if now == last && now as usize >= acked.len() || Instant::now() > deadline {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let stats = get(&base, "/stats").await;
        let ids = get(&base, "/ids").await;
        let delivered: HashSet<&str> = std::str::from_utf8(&ids).unwrap().lines().collect();
        let missing = acked.iter().filter(|id| !delivered.contains(*id)).count();
        let text = String::from_utf8_lossy(&stats);
        let dups = text
            .split("\"duplicates\":")
            .nth(1)
            .and_then(|r| r.trim_end_matches('}').parse::<u64>().ok())
            .unwrap_or(0);
        let pii = stat(&stats, "pii_seen");
        println!(
            "acked={} delivered={} missing={missing} duplicates={dups} pii_seen={pii}",
            acked.len(),
            delivered.len()
        );
        missing == 0
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("verify") => {
            if !verify(&args[1..]) {
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: loadgen run ... | loadgen verify ...");
            std::process::exit(2);
        }
    }
}
