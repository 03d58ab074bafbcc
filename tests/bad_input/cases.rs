//! [`CASES`]: the table of bad requests and what each must get, and the
//! helpers that build them.

use super::*;

/// A request as it goes on the wire.
pub(super) enum Wire {
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
pub(super) fn raw_head(more: &str) -> Vec<u8> {
    format!(
        "POST /v1/t HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: {}\r\ncontent-type: application/json\r\n{more}\r\n",
        AUTH.1
    )
    .into_bytes()
}

/// A raw HTTP/1.1 POST of `body` to `/v1/t`, with `more` header lines.
pub(super) fn raw_post(more: &str, body: &[u8]) -> Vec<u8> {
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
pub(super) enum Expect {
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

pub(super) const CASES: &[Case] = &[
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
pub(super) const SNOWPLOW_APP: &str = "sp-app";

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
