//! Reading a request body within limits: the declared and actual size on the
//! wire, the content type, and gzip decompression with a cap on the output
//! (a gzip bomb stops at the cap, not when memory runs out).

use super::error::IngestError;
use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};
use std::io::Read;

/// Size limits of one body.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes on the wire.
    pub max_body: usize,
    /// Bytes after decompression.
    pub max_decompressed: usize,
}

/// What an endpoint's bodies are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// JSON (also sent as `text/plain` and NDJSON).
    Json,
    /// Query strings, one per line (GA4's gtag.js hits): `text/plain`, or
    /// `application/x-www-form-urlencoded` as other clients may send them.
    Hits,
}

/// Reads the whole body of an event request and returns the decoded bytes.
pub async fn read<B>(
    headers: &HeaderMap,
    body: B,
    limits: Limits,
    media: Media,
) -> Result<Bytes, IngestError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    check_content_type(headers, media)?;
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"identity") => false,
        Some(v) if v.eq_ignore_ascii_case(b"gzip") || v.eq_ignore_ascii_case(b"x-gzip") => true,
        Some(_) => return Err(IngestError::UnsupportedEncoding),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(IngestError::TooLarge(limits.max_body));
    }
    let collected = Limited::new(body, limits.max_body)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                IngestError::TooLarge(limits.max_body)
            } else {
                IngestError::BodyRead
            }
        })?
        .to_bytes();
    if gzip {
        gunzip(&collected, limits.max_decompressed)
    } else {
        Ok(collected)
    }
}

/// Event bodies are JSON; browsers send `text/plain` (sendBeacon, and
/// analytics.js to avoid preflights). GA4 hits are query strings. Anything
/// else is refused.
fn check_content_type(headers: &HeaderMap, media: Media) -> Result<(), IngestError> {
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
        "application/x-www-form-urlencoded" if media == Media::Hits => Ok(()),
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(()),
        _ => Err(IngestError::UnsupportedMediaType),
    }
}

/// Decompresses gzip, refusing output beyond `max` bytes.
pub fn gunzip(compressed: &[u8], max: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(max));
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| IngestError::BadGzip)?;
    if out.len() > max {
        return Err(IngestError::TooLarge(max));
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_roundtrips_and_caps_output() {
        assert_eq!(&gunzip(&gz(b"{\"a\":1}"), 100).unwrap()[..], b"{\"a\":1}");
        let bomb = gz(&vec![b' '; 1 << 20]);
        assert!(matches!(
            gunzip(&bomb, 1000),
            Err(IngestError::TooLarge(1000))
        ));
        assert!(matches!(
            gunzip(b"not gzip", 1000),
            Err(IngestError::BadGzip)
        ));
    }

    #[test]
    fn content_types() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h, Media::Json).is_ok());
        for ok in [
            "application/json",
            "text/plain;charset=UTF-8",
            "application/vnd.x+json",
        ] {
            h.insert(header::CONTENT_TYPE, ok.parse().unwrap());
            assert!(check_content_type(&h, Media::Json).is_ok(), "{ok}");
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "image/png",
        ] {
            h.insert(header::CONTENT_TYPE, bad.parse().unwrap());
            assert!(check_content_type(&h, Media::Json).is_err(), "{bad}");
        }
        // Query strings may come form-encoded to the GA4 hit endpoint only.
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded;charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert!(check_content_type(&h, Media::Hits).is_ok());
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(check_content_type(&h, Media::Hits).is_ok());
    }
}
