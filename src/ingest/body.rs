//! Reading a request body within limits: the declared and actual size on the
//! wire, the content type, and gzip decompression with a cap on the output
//! (a gzip bomb stops at the cap, not when memory runs out). What the body
//! holds is charged to the request's in-flight budget as it grows (see
//! [`super::inflight`]): each frame as it arrives, and the decompression
//! limit before gunzipping.

use super::error::IngestError;
use super::inflight::Charge;
pub(crate) use crate::tracker_http::body::{gunzip, Limits};
use bytes::{Bytes, BytesMut};
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
    let collected = collect(body, limits.max_body, charge).await?;
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

/// The body's frames, at most `max` bytes, each charged as it arrives,
/// joined into one buffer.
async fn collect<B>(body: B, max: usize, charge: &Charge) -> Result<Bytes, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let mut body = std::pin::pin!(body);
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        // Trailers carry no events.
        let Ok(data) = frame.map_err(|_| IngestError::BodyRead)?.into_data() else {
            continue;
        };
        len += data.len();
        if len > max {
            return Err(IngestError::TooLarge(max));
        }
        charge.add(data.len())?;
        chunks.push(data);
    }
    if chunks.len() <= 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    // Room for the joined copy while the frames are held; once they are
    // gone, the copy stands in their charge.
    let room = charge.reserve(len)?;
    let mut joined = BytesMut::with_capacity(len);
    for chunk in chunks {
        joined.extend_from_slice(&chunk);
    }
    drop(room);
    Ok(joined.freeze())
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
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "text/plain" | "application/x-ndjson" | "" => Ok(()),
        "application/x-www-form-urlencoded" if forms == Forms::Accepted => Ok(()),
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(()),
        _ => Err(IngestError::UnsupportedMediaType),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h, Forms::Refused).is_ok());
        for ok in [
            "application/json",
            "text/plain;charset=UTF-8",
            "application/vnd.x+json",
        ] {
            h.insert(header::CONTENT_TYPE, ok.parse().unwrap());
            assert!(check_content_type(&h, Forms::Refused).is_ok(), "{ok}");
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "image/png",
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
        h.insert(header::CONTENT_TYPE, "image/png".parse().unwrap());
        assert!(check_content_type(&h, Forms::Accepted).is_err());
    }
}
