//! Bad input against the real `privgate` binary (issue #4, point 8): the
//! binary runs as a child process on loopback ports, forwarding to a
//! recording upstream in this test.
//!
//! [`CASES`] is one table of requests and what each must get: malformed,
//! truncated and non-UTF-8 JSON, NUL bytes, lone surrogates, duplicate keys,
//! huge numbers, 100,000-deep nesting, 100,000 keys, a batch of 100,000
//! events, wrong content types and encodings, bodies over the wire limit, a
//! 1 GiB gzip bomb, bad and missing write keys, unknown paths, malformed
//! HTTP and oversized headers, and a batch where one event is bad and the
//! others good. A refused request gets its status and a short JSON error;
//! after every case a new client's good event still reaches the upstream.
//!
//! [`STALLERS`] are clients that hold a connection without finishing a
//! request (slowloris headers, a silent socket, a slow h2 preface, a slow
//! body, an idle keep-alive): each is cut off within its bound while a good
//! client keeps being served at full speed.
//!
//! Last, the child's peak RSS (`VmHWM`) must stay under [`MAX_PEAK_RSS_MIB`].
//!
//! Behaviour that needs a fix in `src/` is listed in [`KNOWN_GAPS`]: those
//! cases still run (their load counts towards memory and liveness) but their
//! answer is reported, not asserted. A gap that starts passing fails the
//! test, so the list stays true.

mod common;

use bytes::Bytes;
use common::*;
use http::HeaderMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short, so stalling clients are cut off quickly.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const IDLE_TIMEOUT: Duration = Duration::from_secs(3);
/// Large enough that the gzip bomb (~1 MiB) and 100,000 keys (~1.1 MiB)
/// get past the wire limit to the checks they are about.
const MAX_BODY: usize = 2 << 20;
const MAX_DECOMPRESSED: usize = 4 << 20;

/// Peak resident memory (`VmHWM`) of the child (a debug build, mimalloc)
/// over the whole suite. Measured: ~21 MiB after start, ~37 MiB at the end
/// (the 100,000-event batch is refused at its 10,001st element, before any
/// event is decoded). A gzip bomb or body read without its cap would need
/// 1 GiB. Bound: about twice the measured peak.
const MAX_PEAK_RSS_MIB: u64 = 80;

/// Cases whose current answer is wrong and needs a fix in `src/`, and why.
const KNOWN_GAPS: &[(&str, &str)] = &[
    ("malformed request line", HYPER_ANSWERS),
    ("a 512 KiB header", HYPER_ANSWERS),
];

const HYPER_ANSWERS: &str = "right status, but an empty body without a content type: hyper \
    answers a head it cannot parse, or one beyond its hard ceiling (server::HARD_BYTES_FACTOR \
    times max_header_bytes), itself (proto/h1/role.rs, Server::on_error), with no hook";

/// A request as it goes on the wire.
enum Wire {
    /// POSTed by an HTTP client.
    Http {
        path: &'static str,
        headers: Vec<(&'static str, &'static str)>,
        body: Vec<u8>,
    },
    /// Written as it is to a new TCP connection (HTTP a client would not send).
    Raw(Vec<u8>),
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// A Segment event POSTed with the test write key.
fn event_post(path: &'static str, body: impl Into<Vec<u8>>) -> Wire {
    Wire::Http {
        path,
        headers: vec![AUTH, JSON],
        body: body.into(),
    }
}

/// A track event with this messageId and `properties` (raw JSON text).
fn track_with(id: &str, properties: &str) -> String {
    format!(r#"{{"type":"track","event":"e","messageId":"{id}","properties":{properties}}}"#)
}

/// `track(id)` POSTed to `/v1/t` with these headers only.
fn track_sent_with(id: &str, headers: Vec<(&'static str, &'static str)>) -> Wire {
    Wire::Http {
        path: "/v1/t",
        headers,
        body: track(id).into_bytes(),
    }
}

/// The head of a raw HTTP/1.1 POST to `/v1/t` with the write key; `more`
/// is further header lines, each ending in CRLF.
fn raw_head(more: &str) -> Vec<u8> {
    format!(
        "POST /v1/t HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {}\r\ncontent-type: application/json\r\n{more}\r\n",
        AUTH.1
    )
    .into_bytes()
}

/// A raw HTTP/1.1 POST of `body` to `/v1/t`, with `more` header lines.
fn raw_post(more: &str, body: &[u8]) -> Vec<u8> {
    [
        raw_head(&format!("content-length: {}\r\n{more}", body.len())),
        body.to_vec(),
    ]
    .concat()
}

/// gzip members of `member` bytes of spaces each, `total` bytes in all.
/// Concatenated members are one valid gzip stream (RFC 1952 §2.2), so the
/// bomb is built from one small compressed piece, never holding `total`.
fn gzip_bomb(total: u64, member: usize) -> Vec<u8> {
    let piece = gzip(&vec![b' '; member]);
    let members = (total / member as u64) as usize;
    let mut out = Vec::with_capacity(piece.len() * members);
    for _ in 0..members {
        out.extend_from_slice(&piece);
    }
    out
}

/// `body`, for a case about a limit past the wire limit: it must get there.
fn within_wire_limit(body: impl Into<Vec<u8>>) -> Vec<u8> {
    let body = body.into();
    assert!(
        body.len() < MAX_BODY,
        "{} bytes would stop at the wire limit",
        body.len()
    );
    body
}

/// `n` distinct keys: `{"k0":0,"k1":0,...}`.
fn many_keys(n: usize) -> String {
    let mut out = String::with_capacity(n * 12);
    out.push('{');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"k{i}\":0"));
    }
    out.push('}');
    out
}

/// What a case must get.
enum Expect {
    /// This status and a JSON error with this `error` code; the event, if
    /// any, never reaches the upstream.
    Refused(u16, &'static str),
    /// 200; the events with these messageIds (the case's id plus each
    /// suffix) reach the upstream and `invalid` batch elements are counted.
    Accepted {
        delivered: &'static [&'static str],
        invalid: u64,
    },
}

use Expect::{Accepted, Refused};

/// One event accepted and delivered.
const DELIVERED: Expect = Accepted {
    delivered: &[""],
    invalid: 0,
};

/// A case: its name, the request (built from the messageId to use), and
/// what it must get.
type Case = (&'static str, fn(&str) -> Wire, Expect);

const CASES: &[Case] = &[
    // Malformed JSON.
    (
        "truncated JSON",
        |id| {
            event_post(
                "/v1/t",
                format!(r#"{{"type":"track","messageId":"{id}","properties":{{"a":"#),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "malformed JSON",
        |id| {
            event_post(
                "/v1/t",
                format!(r#"{{"type":"track",,"messageId":"{id}"}}"#),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "trailing garbage",
        |id| event_post("/v1/t", format!("{} x", track_with(id, "{}"))),
        Refused(400, "invalid_json"),
    ),
    (
        "empty body",
        |_| event_post("/v1/t", ""),
        Refused(400, "invalid_json"),
    ),
    (
        "invalid UTF-8",
        |id| {
            event_post(
                "/v1/t",
                [track_with(id, r#"{"s":""#).as_bytes(), b"\xff\xfe\"}}"].concat(),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "overlong UTF-8",
        |id| {
            event_post(
                "/v1/t",
                [track_with(id, r#"{"s":""#).as_bytes(), b"\xc0\xaf\"}}"].concat(),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "raw NUL byte in a string",
        |id| {
            event_post(
                "/v1/t",
                [track_with(id, r#"{"s":"a"#).as_bytes(), b"\0b\"}}"].concat(),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "raw NUL byte between tokens",
        |id| {
            event_post(
                "/v1/t",
                [b"\0".as_slice(), track_with(id, "{}").as_bytes()].concat(),
            )
        },
        Refused(400, "invalid_json"),
    ),
    // Valid JSON that a backend's parser would refuse: a refused event in a
    // batch makes the backend refuse the whole batch, other clients' events
    // with it.
    (
        "lone high surrogate",
        |id| event_post("/v1/t", track_with(id, r#"{"s":"\ud800"}"#)),
        Refused(400, "invalid_json"),
    ),
    (
        "lone low surrogate",
        |id| event_post("/v1/t", track_with(id, r#"{"s":"x\udc00y"}"#)),
        Refused(400, "invalid_json"),
    ),
    (
        "huge exponent",
        |id| event_post("/v1/t", track_with(id, r#"{"n":1e999999}"#)),
        Refused(400, "invalid_json"),
    ),
    (
        "huge integer (400,000 digits)",
        |id| {
            event_post(
                "/v1/t",
                track_with(id, &format!(r#"{{"n":{}}}"#, "9".repeat(400_000))),
            )
        },
        Refused(400, "invalid_json"),
    ),
    (
        "100,000-deep nesting",
        |id| {
            event_post(
                "/v1/t",
                track_with(
                    id,
                    &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
                ),
            )
        },
        Refused(400, "too_complex"),
    ),
    (
        "100,000 keys",
        |id| {
            event_post(
                "/v1/t",
                within_wire_limit(track_with(id, &many_keys(100_000))),
            )
        },
        Refused(400, "too_complex"),
    ),
    (
        "batch of 100,000 events",
        |_| {
            let events = vec![r#"{"type":"track"}"#; 100_000].join(",");
            event_post(
                "/v1/batch",
                within_wire_limit(format!(r#"{{"batch":[{events}]}}"#)),
            )
        },
        Refused(413, "too_many_events"),
    ),
    // Valid JSON, odd but harmless: accepted and passed on as sent.
    (
        "escaped NUL",
        |id| event_post("/v1/t", track_with(id, r#"{"s":"a\u0000b"}"#)),
        DELIVERED,
    ),
    (
        "escaped surrogate pair",
        |id| event_post("/v1/t", track_with(id, r#"{"s":"\ud83d\ude00"}"#)),
        DELIVERED,
    ),
    (
        "duplicate keys",
        |id| {
            event_post(
                "/v1/t",
                track_with(id, r#"{"a":1,"a":2,"b":{"c":1,"c":2}}"#),
            )
        },
        DELIVERED,
    ),
    (
        "large number within range",
        |id| {
            event_post(
                "/v1/t",
                track_with(
                    id,
                    r#"{"n":1.7976931348623157e308,"i":18446744073709551616}"#,
                ),
            )
        },
        DELIVERED,
    ),
    (
        "one bad event among good ones",
        |id| {
            let good = |n| track_with(&format!("{id}.{n}"), "{}");
            event_post(
                "/v1/batch",
                format!(
                    r#"{{"batch":[{},42,{{"event":"no type"}},{}]}}"#,
                    good(1),
                    good(2)
                ),
            )
        },
        Accepted {
            delivered: &[".1", ".2"],
            invalid: 2,
        },
    ),
    // Content types and encodings.
    (
        "form content type",
        |id| {
            track_sent_with(
                id,
                vec![AUTH, ("content-type", "application/x-www-form-urlencoded")],
            )
        },
        Refused(415, "unsupported_media_type"),
    ),
    (
        "image content type",
        |id| track_sent_with(id, vec![AUTH, ("content-type", "image/png")]),
        Refused(415, "unsupported_media_type"),
    ),
    (
        "brotli encoding",
        |id| track_sent_with(id, vec![AUTH, JSON, ("content-encoding", "br")]),
        Refused(415, "unsupported_encoding"),
    ),
    (
        "corrupt gzip",
        |_| Wire::Http {
            path: "/v1/t",
            headers: vec![AUTH, JSON, ("content-encoding", "gzip")],
            body: b"\x1f\x8b\x08\0\0\0\0\0\0\xffgarbage".to_vec(),
        },
        Refused(400, "invalid_gzip"),
    ),
    (
        "truncated gzip",
        |id| {
            let whole = gzip(track_with(id, &many_keys(100)).as_bytes());
            Wire::Http {
                path: "/v1/t",
                headers: vec![AUTH, JSON, ("content-encoding", "gzip")],
                body: whole[..whole.len() / 2].to_vec(),
            }
        },
        Refused(400, "invalid_gzip"),
    ),
    (
        "gzip bomb (1 GiB from ~1 MiB)",
        |_| Wire::Http {
            path: "/v1/t",
            headers: vec![AUTH, JSON, ("content-encoding", "gzip")],
            body: within_wire_limit(gzip_bomb(1 << 30, 1 << 20)),
        },
        Refused(413, "body_too_large"),
    ),
    // Sizes on the wire.
    (
        "body over the limit (Content-Length)",
        // Raw: the server answers 413 from the declared length and closes;
        // an HTTP client still writing the body may see the broken pipe
        // before the answer.
        |id| {
            let body = track_with(id, &format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY)));
            Wire::Raw(raw_post("", body.as_bytes()))
        },
        Refused(413, "body_too_large"),
    ),
    (
        "body over the limit (chunked)",
        |id| {
            let body = track_with(id, &format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY)));
            let mut out = raw_head("transfer-encoding: chunked\r\n");
            for chunk in body.as_bytes().chunks(64 * 1024) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            Wire::Raw(out)
        },
        Refused(413, "body_too_large"),
    ),
    // Write keys and routes.
    (
        "bad write key",
        |id| track_sent_with(id, vec![("authorization", "Basic d3Jvbmc6"), JSON]),
        Refused(401, "invalid_write_key"),
    ),
    (
        "bad write key in the body",
        |id| Wire::Http {
            path: "/v1/t",
            headers: vec![JSON],
            body: format!(r#"{{"type":"track","messageId":"{id}","writeKey":"wrong"}}"#)
                .into_bytes(),
        },
        Refused(401, "invalid_write_key"),
    ),
    (
        "missing write key",
        |id| track_sent_with(id, vec![JSON]),
        Refused(401, "missing_write_key"),
    ),
    (
        "unknown path",
        |id| event_post("/v1/nope", track(id)),
        Refused(404, "not_found"),
    ),
    // HTTP itself.
    (
        "malformed request line",
        |_| Wire::Raw(b"POST /v1/t HTTP/1.1 extra\r\nhost: x\r\n\r\n".to_vec()),
        Refused(400, "bad_request"),
    ),
    (
        "200 headers",
        |id| {
            let extra: String = (0..200).map(|i| format!("x-h{i}: v\r\n")).collect();
            Wire::Raw(raw_post(&extra, track(id).as_bytes()))
        },
        Refused(431, "headers_too_large"),
    ),
    (
        // Over max_header_bytes (64 KiB), under hyper's ceiling (twice that).
        "a 100 KiB header",
        |id| {
            let extra = format!("x-big: {}\r\n", "a".repeat(100 << 10));
            Wire::Raw(raw_post(&extra, track(id).as_bytes()))
        },
        Refused(431, "headers_too_large"),
    ),
    (
        "a 512 KiB header",
        |id| {
            let extra = format!("x-big: {}\r\n", "a".repeat(512 << 10));
            Wire::Raw(raw_post(&extra, track(id).as_bytes()))
        },
        Refused(431, "headers_too_large"),
    ),
    // Request data copied into every element (issue #15, point 4): the
    // User-Agent of 10,000 Snowplow elements would be 600 MB.
    (
        "snowplow: 10,000 elements of an unknown app id, 60 KiB User-Agent",
        |_| snowplow_flood("stranger"),
        Refused(401, "invalid_write_key"),
    ),
    (
        "snowplow: 10,000 elements of a known app id, 60 KiB User-Agent",
        |_| snowplow_flood(SNOWPLOW_APP),
        Refused(413, "body_too_large"),
    ),
    // Top-level arrays are bounded as they are read (point 6): refused at
    // the first element past the bound, so what follows is never read.
    (
        "collect: a top-level array of 500,000 elements, cut off",
        |_| Wire::Http {
            path: "/collect?writeKey=test-key",
            headers: vec![JSON],
            body: within_wire_limit(format!("[{}oops", "1,".repeat(500_000))),
        },
        Refused(413, "too_many_events"),
    ),
    (
        "posthog: a top-level array of 500,000 elements, cut off",
        |_| Wire::Http {
            path: "/batch/",
            headers: vec![JSON],
            body: within_wire_limit(format!("[{}oops", "1,".repeat(500_000))),
        },
        Refused(413, "too_many_events"),
    ),
];

/// The app id of the Snowplow source.
const SNOWPLOW_APP: &str = "sp-app";

/// The largest User-Agent `max_header_bytes` (64 KiB) lets through.
static LARGE_USER_AGENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| "M".repeat(60 << 10));

/// A Snowplow POST of 10,000 tiny elements naming `aid`, with
/// [`LARGE_USER_AGENT`]: each element lacks `ua`, so each would get a copy.
fn snowplow_flood(aid: &str) -> Wire {
    let element = format!(r#"{{"e":"pv","aid":"{aid}"}}"#);
    let body = format!(
        r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4","data":[{}]}}"#,
        vec![element; 10_000].join(",")
    );
    Wire::Http {
        path: "/com.snowplowanalytics.snowplow/tp2",
        headers: vec![JSON, ("user-agent", LARGE_USER_AGENT.as_str())],
        body: body.into_bytes(),
    }
}

/// A client that holds a connection without finishing a request.
struct Staller {
    name: &'static str,
    /// Sent at once.
    opening: fn() -> Vec<u8>,
    /// Then sent one byte every [`DRIP`]; after that, silence.
    drip: fn() -> Vec<u8>,
    /// The server must have closed the connection this soon after it opened.
    closed_within: Duration,
    /// The answer it must get before that: a status and, for an error, its code.
    answer: Option<(u16, Option<&'static str>)>,
}

/// How slowly a staller sends.
const DRIP: Duration = Duration::from_millis(200);
/// Timers fire late on a loaded machine; the idle check runs every quarter
/// of the idle timeout (`ingest::server`).
const SLACK: Duration = Duration::from_millis(1500);

const STALLERS: &[Staller] = &[
    Staller {
        name: "slowloris headers",
        opening: Vec::new,
        drip: || {
            let head = "POST /v1/t HTTP/1.1\r\nhost: 127.0.0.1\r\n".to_owned();
            (head + &"x-slow: 1\r\n".repeat(100)).into_bytes()
        },
        closed_within: HEADER_READ_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        name: "silent connection",
        opening: Vec::new,
        drip: Vec::new,
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        // Before the HTTP version is known, only the idle timeout applies.
        name: "slow h2 preface",
        opening: Vec::new,
        drip: || b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        name: "slow body",
        opening: || {
            let head = raw_head("content-length: 10000\r\n");
            [
                head,
                br#"{"type":"track","messageId":"slow-body","pad":""#.to_vec(),
            ]
            .concat()
        },
        drip: || vec![b'a'; 100],
        closed_within: REQUEST_TIMEOUT.saturating_add(SLACK),
        answer: Some((408, Some("timeout"))),
    },
    Staller {
        name: "idle keep-alive",
        opening: || raw_post("", track("idle-keep-alive").as_bytes()),
        drip: Vec::new,
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: Some((200, None)),
    },
];

/// Runs `staller` against `addr`: how long until the server closed the
/// connection, and what it sent before.
async fn stall(addr: SocketAddr, staller: &Staller) -> Result<(Duration, Vec<u8>), String> {
    let opened = Instant::now();
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(&(staller.opening)())
        .await
        .map_err(|e| e.to_string())?;
    let drip = (staller.drip)();
    let dripping = async move {
        for byte in drip {
            tokio::time::sleep(DRIP).await;
            if write.write_all(&[byte]).await.is_err() {
                break;
            }
        }
        // Hold the connection open: dropping `write` would end the request.
        std::future::pending::<()>().await
    };
    let reading = async {
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while let Ok(n @ 1..) = read.read(&mut buf).await {
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    let limit = staller.closed_within.saturating_mul(3);
    let got = tokio::time::timeout(limit, async {
        tokio::select! {
            got = reading => got,
            () = dripping => unreachable!(),
        }
    })
    .await
    .map_err(|_| format!("still open after {limit:?}"))?;
    Ok((opened.elapsed(), got))
}

/// What is wrong with how `staller` was treated, if anything.
fn staller_verdict(staller: &Staller, closed_after: Duration, got: &[u8]) -> Result<(), String> {
    if closed_after > staller.closed_within {
        return Err(format!(
            "closed after {closed_after:?}, want within {:?}",
            staller.closed_within
        ));
    }
    let Some((status, code)) = staller.answer else {
        return Ok(());
    };
    let answer = parse_response(got)?.ok_or_else(|| {
        format!(
            "no answer before the close: {:?}",
            String::from_utf8_lossy(got)
        )
    })?;
    match code {
        Some(code) => error_mismatch(&answer, status, code).map_or(Ok(()), Err),
        None if answer.status == status => Ok(()),
        None => Err(format!("status {}, want {status}", answer.status)),
    }
}

/// A good request, sent and delivered, takes tens of milliseconds; a
/// server held up by stalling clients would take seconds.
const GOOD_REQUEST_WITHIN: Duration = Duration::from_secs(1);

/// Longest a short JSON error may be.
const SHORT: usize = 512;

/// Sends `wire` to `addr` and returns the answer, or what went wrong.
async fn exchange(addr: SocketAddr, wire: Wire) -> Result<Answer, String> {
    match wire {
        Wire::Http {
            path,
            headers,
            body,
        } => try_send("POST", addr, path, &headers, body).await,
        Wire::Raw(bytes) => raw_exchange(addr, bytes).await,
    }
}

/// Writes `bytes` to a new connection while reading one response. Writing
/// runs on its own, so a server that answers before reading everything
/// (413 on Content-Length) is read, not deadlocked.
async fn raw_exchange(addr: SocketAddr, bytes: Vec<u8>) -> Result<Answer, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may stop reading and close: not this client's concern.
        let _ = write.write_all(&bytes).await;
        write
    });
    let mut got = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            if let Some(answer) = parse_response(&got)? {
                return Ok(answer);
            }
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        match parse_response(&got)? {
            Some(answer) => Ok(answer),
            None => Err(format!(
                "connection closed after {} bytes: {:?}",
                got.len(),
                String::from_utf8_lossy(&got[..got.len().min(200)])
            )),
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer within 10s".to_owned()));
    writer.abort();
    result
}

/// One complete HTTP/1.1 response at the start of `bytes`, if there is one.
fn parse_response(bytes: &[u8]) -> Result<Option<Answer>, String> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&bytes[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let name =
            http::HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| e.to_string())?;
        let value = value
            .trim()
            .parse()
            .map_err(|e: http::header::InvalidHeaderValue| e.to_string())?;
        headers.append(name, value);
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0);
    let body = &bytes[end + 4..];
    if body.len() < length {
        return Ok(None);
    }
    Ok(Some(Answer {
        status,
        headers,
        body: Bytes::copy_from_slice(&body[..length]),
    }))
}

/// `privgate_events_dropped_total` for invalid batch elements.
async fn invalid_events(admin: SocketAddr) -> u64 {
    let series = "privgate_events_dropped_total{destination=\"none\",reason=\"invalid_event\"}";
    metric(admin, series).await.unwrap_or(0.0) as u64
}

/// What is wrong with the outcome of a case, if anything.
async fn verdict(
    answer: Result<Answer, String>,
    expect: &Expect,
    id: &str,
    upstream: &Upstream,
    invalid: u64,
) -> Result<(), String> {
    let answer = answer?;
    match *expect {
        Refused(status, code) => {
            if let Some(wrong) = error_mismatch(&answer, status, code) {
                return Err(wrong);
            }
            if answer.body.len() > SHORT {
                return Err(format!("error body of {} bytes", answer.body.len()));
            }
            Ok(())
        }
        Accepted {
            delivered,
            invalid: want_invalid,
        } => {
            if answer.status != 200 || answer.body != r#"{"success":true}"# {
                return Err(format!(
                    "status {}, body {:?}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                ));
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            for suffix in delivered {
                let want = format!("{id}{suffix}");
                while !upstream.saw_message_id(&want) {
                    if Instant::now() > deadline {
                        return Err(format!("{want} did not reach the upstream"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            if invalid != want_invalid {
                return Err(format!(
                    "{invalid} invalid elements counted, want {want_invalid}"
                ));
            }
            Ok(())
        }
    }
}

/// Records a failure, or reports a known gap (and fails one that passes).
fn judge(name: &str, result: Result<(), String>, failures: &mut Vec<String>) {
    let gap = KNOWN_GAPS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| why);
    match (result, gap) {
        (Ok(()), None) => {}
        (Err(wrong), None) => failures.push(format!("{name}: {wrong}")),
        (Err(wrong), Some(why)) => eprintln!("KNOWN GAP {name}: {why}; got: {wrong}"),
        (Ok(()), Some(_)) => failures.push(format!("{name} now passes: remove it from KNOWN_GAPS")),
    }
}

/// The child's `VmHWM` and `VmRSS`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn config(upstream: &Upstream) -> String {
    let server = format!(
        "[server]\nmax_body_bytes = {MAX_BODY}\nmax_decompressed_bytes = {MAX_DECOMPRESSED}\nheader_read_timeout = \"{}ms\"\nrequest_timeout = \"{}ms\"\nidle_timeout = \"{}ms\"\n",
        HEADER_READ_TIMEOUT.as_millis(),
        REQUEST_TIMEOUT.as_millis(),
        IDLE_TIMEOUT.as_millis(),
    );
    // A Snowplow, a JSON and a PostHog source too; their events need NDJSON.
    let others = format!(
        "[[sources]]\nname = \"sp\"\nprotocol = \"snowplow\"\nwrite_keys = [\"{SNOWPLOW_APP}\"]\n\
         [[sources]]\nname = \"json\"\nprotocol = \"json\"\nwrite_keys = [\"test-key\"]\n\
         [[sources]]\nname = \"ph\"\nprotocol = \"posthog\"\nwrite_keys = [\"phc-key\"]\n"
    );
    segment_config(&http_destination(
        "backend",
        upstream,
        r#"batch = { max_events = 100, max_wait = "20ms" }
format = "ndjson""#,
    ))
    .replace("[server]\n", &server)
    .replace("[[destinations]]", &format!("{others}[[destinations]]"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_the_server_keeps_serving_in_bounded_memory() {
    let started = Instant::now();
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut proc = spawn(&write(dir.path(), "proxy.toml", &config(&upstream)));
    let (ingest, admin) = (proc.ingest, proc.admin);
    let mut failures = Vec::new();

    for (i, (name, request, expect)) in CASES.iter().enumerate() {
        let id = format!("case-{i}");
        let wire = tokio::task::block_in_place(|| request(&id));
        let invalid_before = invalid_events(admin).await;
        let answer = exchange(ingest, wire).await;
        // A good event from another client, after the bad one, arrives.
        still_serving(ingest, &upstream, &format!("after-{i}")).await;
        assert!(
            matches!(proc.child.try_wait(), Ok(None)),
            "privgate exited after {name:?}:\n{}",
            proc.log_tail()
        );
        let invalid = invalid_events(admin).await - invalid_before;
        let mut result = verdict(answer, expect, &id, &upstream, invalid).await;
        // Queues are first in, first out: the good event arrived, so a
        // refused one would have arrived before it.
        if matches!(expect, Refused(..)) && upstream.saw_message_id(&id) {
            let forwarded = "the event reached the upstream";
            result =
                Err(result.map_or_else(|e| format!("{e}; {forwarded}"), |()| forwarded.into()));
        }
        judge(name, result, &mut failures);
    }
    eprintln!("cases done after {:?}", started.elapsed());

    // The stallers all at once, while a good client keeps sending.
    let stalling = AtomicBool::new(true);
    let (stalled, (served, slowest)) = tokio::join!(
        async {
            let all = futures_util::future::join_all(STALLERS.iter().map(|s| stall(ingest, s)));
            let results = all.await;
            stalling.store(false, Ordering::Relaxed);
            results
        },
        async {
            let (mut served, mut slowest) = (0, Duration::ZERO);
            loop {
                let sent = Instant::now();
                still_serving(ingest, &upstream, &format!("during-stall-{served}")).await;
                slowest = slowest.max(sent.elapsed());
                served += 1;
                if !stalling.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (served, slowest)
        }
    );
    for (staller, result) in STALLERS.iter().zip(stalled) {
        let result = result.and_then(|(after, got)| {
            eprintln!(
                "{}: closed after {after:?}, {} bytes sent back",
                staller.name,
                got.len()
            );
            staller_verdict(staller, after, &got)
        });
        judge(staller.name, result, &mut failures);
    }
    eprintln!("{served} good requests during the stallers, the slowest took {slowest:?}");
    if slowest > GOOD_REQUEST_WITHIN {
        failures.push(format!(
            "a good request during the stallers took {slowest:?}, want within {GOOD_REQUEST_WITHIN:?}"
        ));
    }
    assert!(
        matches!(proc.child.try_wait(), Ok(None)),
        "privgate exited during the stallers:\n{}",
        proc.log_tail()
    );

    let (peak, now) = memory_kib(proc.child.id());
    eprintln!(
        "privgate VmHWM {} MiB, VmRSS {} MiB",
        peak / 1024,
        now / 1024
    );
    if peak / 1024 > MAX_PEAK_RSS_MIB {
        failures.push(format!(
            "peak RSS {} MiB, want at most {MAX_PEAK_RSS_MIB} MiB",
            peak / 1024
        ));
    }
    eprintln!("done after {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ----- error messages never quote the request (issue #15, point 12) ----------

/// An email and a long string: what a malformed body holds where reading
/// stops. serde_json's own messages quote such a value
/// (`invalid type: string "alice@example.com", expected ...`).
const MARKERS: [&str; 2] = [
    "alice@example.com",
    "Marker-4f1c-LONG-VALUE-THAT-MUST-NEVER-BE-ECHOED-0123456789abcdefghijklmnopqrstuvwxyz",
];

/// One source of every protocol, each with its own key.
fn every_protocol_config() -> String {
    config_with(
        r#"[[sources]]
name = "seg"
protocol = "segment"
write_keys = ["k-seg"]
[[sources]]
name = "rs"
protocol = "rudderstack"
write_keys = ["k-rs"]
[[sources]]
name = "amp"
protocol = "amplitude"
write_keys = ["k-amp"]
[[sources]]
name = "ph"
protocol = "posthog"
write_keys = ["k-ph"]
[[sources]]
name = "sp"
protocol = "snowplow"
write_keys = ["sp-app"]
[[sources]]
name = "gtag"
protocol = "ga4"
write_keys = ["G-1"]
[[sources]]
name = "mp"
protocol = "ga4_mp"
write_keys = ["G-2"]
api_secrets = ["file:tests/data/ga4-mp-api-secret"]
[[sources]]
name = "json"
protocol = "json"
write_keys = ["k-json"]"#,
        "[[destinations]]\nname = \"out\"\nkind = \"stdout\"\n",
    )
    // Few fields, so that a pixel query with too many stays a short URL.
    .replace("[server]\n", "[server]\nmax_event_fields = 50\n")
}

/// Request headers, owned.
type Headers = Vec<(&'static str, String)>;

/// A request of the marker table: what it is, method, path, headers, body.
type Marked = (String, &'static str, String, Headers, Vec<u8>);

/// Malformed bodies for every protocol endpoint, each with `m` (a
/// marker) where reading stops.
fn marked_bodies(m: &str) -> Vec<Marked> {
    let json = || vec![("content-type", "application/json".to_owned())];
    let text = || vec![("content-type", "text/plain".to_owned())];
    let form = || {
        vec![(
            "content-type",
            "application/x-www-form-urlencoded".to_owned(),
        )]
    };
    let basic = |key: &str| {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
        vec![
            ("content-type", "application/json".to_owned()),
            ("authorization", format!("Basic {token}")),
        ]
    };
    let sp = "/com.snowplowanalytics.snowplow/tp2";
    let sp_schema = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4";
    let mp = "/mp/collect?measurement_id=G-2&api_secret=HARNESS_MP_API_SECRET";
    let beacon = "/beacon/v1/batch?writeKey=k-rs";
    let collect = "/collect?writeKey=k-json";
    let string = format!(r#""{m}""#);
    let mut cases: Vec<(&str, &str, Headers, String)> = vec![
        (
            "segment: a string for the event",
            "/v1/t",
            basic("k-seg"),
            string.clone(),
        ),
        (
            "segment: a string for the batch body",
            "/v1/batch",
            basic("k-seg"),
            string.clone(),
        ),
        (
            "segment: a string for the batch",
            "/v1/batch",
            basic("k-seg"),
            format!(r#"{{"batch":"{m}"}}"#),
        ),
        (
            "segment: a bad escape",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}\q"}}"#),
        ),
        (
            "segment: a lone surrogate",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}\ud800"}}"#),
        ),
        (
            "segment: cut short",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","userId":"{m}"#),
        ),
        (
            "segment: the marker as a key",
            "/v1/t",
            basic("k-seg"),
            format!(r#"{{"type":"track","{m}":}}"#),
        ),
        (
            "rudderstack beacon: a string for the body",
            beacon,
            text(),
            string.clone(),
        ),
        (
            "rudderstack beacon: a string for the batch",
            beacon,
            text(),
            format!(r#"{{"batch":"{m}"}}"#),
        ),
        (
            "amplitude: a string for the body",
            "/2/httpapi",
            json(),
            string.clone(),
        ),
        (
            "amplitude: a string for the events",
            "/2/httpapi",
            json(),
            format!(r#"{{"api_key":"k-amp","events":"{m}"}}"#),
        ),
        (
            "posthog: a string for the body",
            "/batch/",
            json(),
            string.clone(),
        ),
        (
            "posthog: a string for the batch",
            "/batch/",
            json(),
            format!(r#"{{"api_key":"k-ph","batch":"{m}"}}"#),
        ),
        (
            "posthog: an array cut short",
            "/batch/",
            json(),
            format!(r#"[{{"event":"e","properties":{{"token":"k-ph","x":"{m}"#),
        ),
        (
            "posthog: a form that is not base64",
            "/e/",
            form(),
            format!("data={m}%21%21"),
        ),
        (
            "posthog: a form that is not lz64",
            "/e/?compression=lz64",
            form(),
            format!("data={m}%21%21"),
        ),
        (
            "snowplow: a string for the body",
            sp,
            json(),
            string.clone(),
        ),
        (
            "snowplow: a string for the data",
            sp,
            json(),
            format!(r#"{{"schema":"{sp_schema}","data":"{m}"}}"#),
        ),
        ("ga4 mp: a string for the body", mp, json(), string.clone()),
        (
            "ga4 mp: a string for the events",
            mp,
            json(),
            format!(r#"{{"client_id":"c","events":"{m}"}}"#),
        ),
        (
            "ga4 mp: cut short",
            mp,
            json(),
            format!(r#"{{"client_id":"{m}"#),
        ),
        (
            "collect: a string for the body",
            collect,
            json(),
            string.clone(),
        ),
        (
            "collect: an array cut short",
            collect,
            json(),
            format!(r#"[{{"type":"track","context":"{m}"}}"#),
        ),
        (
            "collect: malformed NDJSON",
            collect,
            json(),
            format!("{{\"a\":1}}\n{{\"b\":\"{m}\"]"),
        ),
    ];
    // Not UTF-8 right after the marker.
    let mut out: Vec<Marked> = cases
        .drain(..)
        .map(|(what, path, headers, body)| {
            (
                what.to_owned(),
                "POST",
                path.to_owned(),
                headers,
                body.into_bytes(),
            )
        })
        .collect();
    let mut bad_utf8 = format!(r#"{{"type":"track","userId":"{m}"#).into_bytes();
    bad_utf8.extend_from_slice(b"\xff\xfe\"}");
    out.push((
        "segment: not UTF-8".into(),
        "POST",
        "/v1/t".into(),
        basic("k-seg"),
        bad_utf8,
    ));
    // The marker in a pixel query with too many fields.
    let many: String = (0..60).map(|i| format!("&f{i}={m}")).collect();
    out.push((
        "snowplow pixel: too many fields".into(),
        "GET",
        format!("/i?aid=sp-app&e=pv{many}"),
        Vec::new(),
        Vec::new(),
    ));
    out
}

#[tokio::test]
async fn error_messages_never_quote_a_value_from_the_request() {
    let pg = start_privgate(&every_protocol_config()).await;
    let mut failures = Vec::new();
    for marker in MARKERS {
        for (what, method, path, headers, body) in marked_bodies(marker) {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = send(method, pg.ingest_addr(), &path, &headers, body).await;
            let text = String::from_utf8_lossy(&answer.body).into_owned();
            if !(400..500).contains(&answer.status) {
                failures.push(format!("{what}: status {} ({text})", answer.status));
                continue;
            }
            let code = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_default();
            if let Some(wrong) = error_mismatch(&answer, answer.status, &code) {
                failures.push(format!("{what}: {wrong}"));
            }
            // Not the marker, nor a recognisable piece of it.
            let pieces = [marker, &marker[..12], "alice", "example.com"];
            if let Some(piece) = pieces.iter().find(|p| text.contains(**p)) {
                failures.push(format!("{what}: the answer quotes {piece:?}: {text}"));
            }
        }
    }
    pg.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
