//! Reading a request body within limits: the declared and actual size on the
//! wire, the content type, and gzip decompression with a cap on the output
//! (a gzip bomb stops at the cap, not when memory runs out). What the body
//! holds is charged to the request's in-flight budget as it grows (see
//! [`super::inflight`]): the buffer the frames are copied into, before
//! each growth, and the decompression limit before gunzipping.

use super::error::IngestError;
use super::inflight::Charge;
pub(crate) use crate::tracker_http::body::{gunzip, Limits};
use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::BodyExt;

/// Reads the whole body of an event request and returns the decoded bytes,
/// charging them to `charge`.
pub(crate) async fn read<B>(
    headers: &HeaderMap,
    body: B,
    limits: Limits,
    charge: &Charge,
) -> Result<Bytes, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    read_as(headers, body, limits, Forms::Refused, charge).await
}

/// Whether a protocol takes `application/x-www-form-urlencoded` bodies
/// (beacons that wrap their payload in a form field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Forms {
    /// 415 for a form body.
    Refused,
    /// The protocol unwraps forms itself.
    Accepted,
}

/// [`read`], for a protocol that may take forms.
pub(crate) async fn read_as<B>(
    headers: &HeaderMap,
    body: B,
    limits: Limits,
    forms: Forms,
    charge: &Charge,
) -> Result<Bytes, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"identity") => false,
        Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => true,
        Some(_) => return Err(IngestError::UnsupportedEncoding),
    };
    // A gzipped body is never a form (forms are text): it is read for
    // what it holds. @rudderstack/rudder-sdk-node's default uploads are
    // gzipped JSON labelled `application/x-www-form-urlencoded` (axios's
    // label for a Buffer), which RudderStack's own server takes.
    let forms = if gzip { Forms::Accepted } else { forms };
    check_content_type(headers, forms)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(IngestError::TooLarge(limits.max_body));
    }
    let declared = declared.and_then(|n| usize::try_from(n).ok());
    let collected = collect(body, limits.max_body, declared, charge).await?;
    if !gzip {
        return Ok(collected);
    }
    let room = charge.reserve(limits.max_decompressed)?;
    let body = gunzip(&collected, limits.max_decompressed)?;
    room.settle(body.len());
    let compressed = collected.len();
    drop(collected);
    charge.release(compressed);
    Ok(body)
}

/// The most a refused request's body may declare and still be read
/// through and dropped ([`discard`]) rather than its connection closed.
pub(crate) const DISCARD_MAX_BYTES: u64 = 64 << 10;

/// How long the rest of a refused request's body may take to arrive
/// ([`discard`]); the answer does not wait for it.
pub(crate) const DISCARD_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Drops the body of a request refused before it was read (503 on a full
/// queue) so that its HTTP/1.1 connection can carry the next request: a
/// closed connection costs the client a new TCP (and TLS) handshake and
/// privgate an accept, on every refusal, when it can least afford them.
///
/// Only a small body is read through: one that declares a
/// `Content-Length` of at most [`DISCARD_MAX_BYTES`], over HTTP/1.x, and
/// not waiting for `100 Continue` (such a client sends nothing until told
/// to). What has arrived already is dropped at once; the rest, in a task
/// of its own, for at most [`DISCARD_WAIT`], so the answer goes out
/// without waiting. Frames are dropped as they come: nothing is held but
/// the connection's own read buffer, and nothing is charged. Any other
/// body is dropped unread, and hyper closes the connection after the
/// answer (HTTP/2 resets that one stream). Never decoded, never looked at.
pub(crate) fn discard<B>(parts: &http::request::Parts, body: B)
where
    B: http_body::Body + Send + Unpin + 'static,
{
    if parts.version > http::Version::HTTP_11 || parts.headers.contains_key(header::EXPECT) {
        return;
    }
    let declared = (parts.headers.get(header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_none_or(|n| n > DISCARD_MAX_BYTES) {
        return;
    }
    let mut body = body;
    // The common case: all of it came with the head.
    loop {
        match futures_util::FutureExt::now_or_never(body.frame()) {
            Some(Some(Ok(_))) => continue,
            Some(None | Some(Err(_))) => return,
            None => break,
        }
    }
    tokio::spawn(async move {
        let rest = async { while let Some(Ok(_)) = body.frame().await {} };
        let _ = tokio::time::timeout(DISCARD_WAIT, rest).await;
    });
}

/// The body, at most `max` bytes, in a buffer of its own: a frame is a
/// slice of the connection's read buffer (up to about twice `max_header_bytes`,
/// head and body as hyper read them), which nothing made of the body may
/// keep. A body that comes in one frame is that frame's copy. Otherwise
/// the frames are copied into one buffer as they arrive and dropped at
/// once, so the connection's read buffer is reused rather than held (and
/// another allocated) until the last frame is in. The
/// buffer holds at most twice what arrived, and no more than the
/// `declared` length (`Content-Length`), so a client is charged only for
/// bytes it sent; each growth is charged before it is made. (A body
/// larger than hyper's read buffer, which is most of it in its first
/// frame, is so copied once, into a buffer of its declared length.)
async fn collect<B>(
    body: B,
    max: usize,
    declared: Option<usize>,
    charge: &Charge,
) -> Result<Bytes, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut body = std::pin::pin!(body);
    let ceiling = declared.map_or(max, |d| d.min(max));
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = body.frame().await {
        // Trailers carry no events.
        let Ok(data) = frame.map_err(|_| IngestError::BodyRead)?.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        let len =
            first.as_ref().map_or(0, Bytes::len) + joined.as_ref().map_or(0, Vec::len) + data.len();
        if len > max {
            return Err(IngestError::TooLarge(max));
        }
        let buf = match (&mut joined, first.take()) {
            (Some(buf), _) => buf,
            // All of it, or so the length says: kept as it is.
            (None, None) if declared.is_none_or(|d| data.len() >= d) => {
                charge.add(data.len())?;
                first = Some(data);
                continue;
            }
            (None, held) => {
                let held_len = held.as_ref().map_or(0, Bytes::len);
                let capacity = grown(len, len, ceiling);
                charge.add(capacity)?;
                let mut buf = Vec::with_capacity(capacity);
                if let Some(held) = held {
                    buf.extend_from_slice(&held);
                    charge.release(held_len);
                }
                joined.insert(buf)
            }
        };
        if len > buf.capacity() {
            let capacity = grown(buf.capacity(), len, ceiling);
            charge.add(capacity - buf.capacity())?;
            buf.reserve_exact(capacity - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    Ok(match joined {
        Some(buf) => Bytes::from(buf),
        // A copy: the frame is a slice of the connection's read buffer,
        // which an event sharing the body would keep whole while it waits
        // in a queue or a spool's tail, counted for its own bytes only.
        None => first.map_or_else(Bytes::new, |frame| Bytes::copy_from_slice(&frame)),
    })
}

/// The capacity a body buffer of `capacity` grows to, to hold `needed`
/// bytes: twice what it had, at least `needed`, at most `ceiling` (unless
/// `needed` is more: a body longer than it said).
fn grown(capacity: usize, needed: usize, ceiling: usize) -> usize {
    capacity.saturating_mul(2).min(ceiling).max(needed)
}

/// Event bodies are JSON; browsers send `text/plain` (sendBeacon, and
/// analytics.js to avoid preflights). Anything else is refused.
fn check_content_type(headers: &HeaderMap, forms: Forms) -> Result<(), IngestError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .map_err(|_| IngestError::UnsupportedMediaType)?
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .as_bytes();
    // Media types are case-insensitive; compared as they are, without a
    // lowercased copy per request.
    let is = |name: &str| essence.eq_ignore_ascii_case(name.as_bytes());
    let structured_json = essence.len() > "application/+json".len()
        && essence[.."application/".len()].eq_ignore_ascii_case(b"application/")
        && essence[essence.len() - "+json".len()..].eq_ignore_ascii_case(b"+json");
    if essence.is_empty()
        || is("application/json")
        || is("text/plain")
        || is("application/x-ndjson")
        || (forms == Forms::Accepted && is("application/x-www-form-urlencoded"))
        || structured_json
    {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::inflight::Inflight;
    use crate::metrics::Metrics;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that yields these frames.
    struct Frames(VecDeque<Bytes>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    fn frames(sizes: &[usize]) -> (Frames, Vec<u8>) {
        let mut all = Vec::new();
        let frames = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let frame = vec![b'a' + i as u8; n];
                all.extend_from_slice(&frame);
                Bytes::from(frame)
            })
            .collect();
        (Frames(frames), all)
    }

    /// Collects `sizes` (declaring `declared`): the body, and what its
    /// request was charged for it.
    fn collected(sizes: &[usize], declared: Option<usize>, max: usize) -> (Bytes, usize) {
        let budget = Inflight::new(1 << 30, &Metrics::new());
        let charge = budget.charge(0).unwrap();
        let (body, all) = frames(sizes);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = runtime
            .block_on(collect(body, max, declared, &charge))
            .unwrap();
        assert_eq!(&got[..], &all[..]);
        (got, charge.bytes())
    }

    #[test]
    fn a_body_in_frames_is_joined_once_and_charged_for_what_arrived() {
        // One frame: that frame, charged its length.
        assert_eq!(collected(&[1000], Some(1000), 4096).1, 1000);
        assert_eq!(collected(&[1000], None, 4096).1, 1000);
        // Several frames, the length declared: one buffer of that length.
        let (body, charged) = collected(&[100, 1000, 2000, 900], Some(4000), 8192);
        assert_eq!(charged, 4000);
        assert_eq!(body.len(), 4000);
        // Most of it in the first frame (a body past hyper's read buffer):
        // that buffer is the first one made.
        assert_eq!(collected(&[3000, 1000], Some(4000), 8192).1, 4000);
        // Without a declared length: charged what the buffer holds, at
        // most twice what arrived.
        let (body, charged) = collected(&[100, 1000, 2000, 900], None, 8192);
        assert!((4000..=8000).contains(&charged), "{charged}");
        assert_eq!(body.len(), 4000);
        // A client that declares much and sends little is charged for what
        // it sent (at most twice), not for what it declared.
        let (_, charged) = collected(&[10, 10, 10], Some(1 << 20), 1 << 20);
        assert!(charged <= 60, "{charged}");
    }

    /// A frame is a slice of the connection's read buffer (head and body
    /// as hyper read them). A body that is one frame must not share it: an
    /// event that is the body, kept in a queue or a spool's tail, would
    /// keep the whole buffer (up to twice `max_header_bytes`), while the
    /// budget and the queue's bounds count only the event's bytes.
    #[test]
    fn a_body_in_one_frame_shares_nothing_with_the_read_buffer() {
        let read_buffer = Bytes::from(vec![b'h'; 64 << 10]);
        let frame = read_buffer.slice(60_000..60_200);
        let budget = Inflight::new(1 << 30, &Metrics::new());
        let charge = budget.charge(0).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for declared in [Some(200), None] {
            let body = Frames([frame.clone()].into());
            let got = runtime
                .block_on(collect(body, 1000, declared, &charge))
                .unwrap();
            assert_eq!(got, frame);
            let buffer = read_buffer.as_ptr_range();
            assert!(
                !buffer.contains(&got.as_ptr()),
                "the body is a slice of the read buffer ({declared:?})"
            );
        }
    }

    #[test]
    fn a_body_past_the_limit_is_refused_whatever_its_frames() {
        let budget = Inflight::new(1 << 30, &Metrics::new());
        let charge = budget.charge(0).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for declared in [None, Some(1000), Some(5000)] {
            let (body, _) = frames(&[600, 600]);
            let got = runtime.block_on(collect(body, 1000, declared, &charge));
            assert!(
                matches!(got, Err(IngestError::TooLarge(1000))),
                "{declared:?}"
            );
        }
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h, Forms::Refused).is_ok());
        for ok in [
            "application/json",
            "Application/JSON ; charset=utf-8",
            "text/plain;charset=UTF-8",
            "TEXT/Plain",
            "application/x-ndjson",
            "application/vnd.x+json",
            "APPLICATION/VND.X+JSON",
            " ",
        ] {
            h.insert(header::CONTENT_TYPE, ok.parse().unwrap());
            assert!(check_content_type(&h, Forms::Refused).is_ok(), "{ok}");
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "image/png",
            // Not `application/<subtype>+json`: no subtype, or a prefix only.
            "application/+json",
            "application+json",
            "text/json+json",
            "application/jsonx",
            "application/json-seq",
        ] {
            h.insert(header::CONTENT_TYPE, bad.parse().unwrap());
            assert!(check_content_type(&h, Forms::Refused).is_err(), "{bad}");
        }
        // Protocols that unwrap forms take them; nothing else changes.
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert!(check_content_type(&h, Forms::Accepted).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "Application/X-WWW-Form-URLEncoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(check_content_type(&h, Forms::Accepted).is_ok());
        assert!(check_content_type(&h, Forms::Refused).is_err());
        h.insert(header::CONTENT_TYPE, "image/png".parse().unwrap());
        assert!(check_content_type(&h, Forms::Accepted).is_err());
    }
}
