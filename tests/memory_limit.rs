//! `server.memory_limit`: the real binary, a memory destination that is
//! down, and queue bounds far above the limit, so that accepted events
//! pile up in memory as they would behind bounds that add up to more than
//! the memory privgate was given. Past the limit, new requests must be
//! refused (503 `overloaded`, counted) while the admin listener answers;
//! once the backend is back and the queue drained, requests must be
//! accepted again, and every event accepted before must arrive.

mod common;

use bytes::Bytes;
use common::*;
use std::time::{Duration, Instant};

/// The limit under test: the smallest `check` takes.
const LIMIT_MIB: u64 = 32;

/// Events per request, each about [`PAD`] bytes: ~400 KB a request,
/// within the default `max_body_bytes` (512 KiB).
const PER_REQUEST: usize = 400;
const PAD: usize = 900;

/// Requests sent at most before the limit must have refused one: 200 ×
/// 400 KB is 80 MB of events, 2.5 times the limit.
const MAX_REQUESTS: usize = 200;

/// Request `r`'s body: a Segment batch of unique events.
fn batch(r: usize) -> String {
    let events: Vec<String> = (0..PER_REQUEST)
        .map(|i| {
            format!(
                r#"{{"type":"track","event":"e","messageId":"m-{r}-{i}","properties":{{"pad":"{}"}}}}"#,
                "p".repeat(PAD)
            )
        })
        .collect();
    format!(r#"{{"batch":[{}]}}"#, events.join(","))
}

/// The child's anonymous resident memory (`RssAnon`), in MiB.
fn heap_mib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon") / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_memory_limit_new_requests_are_refused_until_memory_is_freed() {
    let down = DownPort::new();
    let dir = tempfile::tempdir().unwrap();
    let text = segment_config(&format!(
        r#"
[[destinations]]
name = "backend"
kind = "http"
url = "http://{}/v1/batch"
delivery = "memory"
connect_timeout = "200ms"
queue_max_events = 1000000
batch = {{ max_events = 500, max_bytes = "4MiB", max_wait = "20ms" }}
retry = {{ max_retries = 1000, initial_backoff = "50ms", max_backoff = "200ms" }}
"#,
        down.addr()
    ))
    .replace(
        "shutdown_timeout = \"5s\"\n",
        &format!("shutdown_timeout = \"5s\"\nmemory_limit = \"{LIMIT_MIB}MiB\"\n"),
    );
    let config = write(dir.path(), "proxy.toml", &text);
    let proc = spawn(&config);
    let pid = proc.child.id();

    // Fill the queue until the limit refuses with the heap over it at
    // rest. A request's own buffers lift the heap past the limit for a
    // moment, so the first refusals can come while what the queue holds
    // is still under it: once those buffers are given back, requests are
    // taken again. Only a queue that holds more than the limit refuses
    // every request after.
    let mut accepted = 0;
    let mut refused = None;
    for r in 0..MAX_REQUESTS {
        let answer = post(proc.ingest, "/v1/batch", batch(r)).await;
        match answer.status {
            200 => accepted += 1,
            _ => {
                assert_error(&answer, 503, "overloaded");
                assert!(answer.headers.contains_key("retry-after"));
                // Past the allocator's pacing (10 ms over 16 MiB).
                tokio::time::sleep(Duration::from_millis(50)).await;
                if status_kib(pid, "RssAnon") > LIMIT_MIB << 10 {
                    refused = Some(heap_mib(pid));
                    break;
                }
            }
        }
    }
    let heap = refused.unwrap_or_else(|| {
        panic!(
            "after {MAX_REQUESTS} requests of {PER_REQUEST} events ({accepted} \
             accepted), the heap is not over a {LIMIT_MIB} MiB limit: {} MiB",
            heap_mib(pid)
        )
    });
    eprintln!("refused after {accepted} requests, heap {heap} MiB");
    // Refused near the limit, not far past it: what one reading's
    // interval lets in (one request at a time here) and what the last
    // accepted requests still made.
    assert!(
        heap <= LIMIT_MIB + 16,
        "refused only at a heap of {heap} MiB"
    );
    // Not refused far under it either: the events held are a good part of
    // the heap (privgate holds about 10 MiB at rest, and each queued
    // event costs more than its bytes).
    assert!(
        accepted * PER_REQUEST * PAD >= (LIMIT_MIB as usize / 3) << 20,
        "refused after only {accepted} requests"
    );
    // Every request now is refused, the admin listener still answers.
    let again = post(proc.ingest, "/v1/batch", batch(MAX_REQUESTS)).await;
    assert_error(&again, 503, "overloaded");
    let counted = metric(proc.admin, "privgate_memory_refused_total").await;
    assert!(counted >= Some(2.0), "{counted:?}");

    // A reload that raises the limit takes requests at once; one that
    // sets it back refuses them again.
    let raised = text.replace(&format!("\"{LIMIT_MIB}MiB\""), "\"4GiB\"");
    for (toml, status) in [(&raised, 200), (&text, 503)] {
        std::fs::write(&config, toml).unwrap();
        let reloaded = send("POST", proc.admin, "/admin/reload", &[], Bytes::new()).await;
        assert_eq!(reloaded.status, 200, "{:?}", reloaded.body);
        let answer = post(proc.ingest, "/v1/batch", batch(MAX_REQUESTS + 1)).await;
        assert_eq!(answer.status, status, "after a reload to {toml}");
        accepted += usize::from(status == 200);
    }

    // The backend comes back: the queue drains, the memory is given back,
    // and requests are taken again.
    let upstream = Upstream::start_on(down).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let retried = loop {
        let answer = post(proc.ingest, "/v1/batch", batch(MAX_REQUESTS + 2)).await;
        if answer.status == 200 {
            break true;
        }
        assert_error(&answer, 503, "overloaded");
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        retried,
        "still refused 30 s after the backend came back; heap {} MiB\n{}",
        heap_mib(pid),
        proc.log_tail()
    );
    // Nothing accepted was lost: the batches before the refusal, the one
    // under the raised limit, and the one after.
    let want = (accepted + 1) * PER_REQUEST;
    let ids = upstream
        .wait_for_delivered(want, Duration::from_secs(30))
        .await;
    assert_eq!(ids.len(), want, "every accepted event arrives once");
}
