//! The size limits of one request body and capped gzip decompression,
//! shared by ingest (which reads bodies) and the codecs that unwrap gzip
//! inside a body (PostHog). A gzip bomb stops at the cap, not when memory
//! runs out.

use super::error::IngestError;
use bytes::Bytes;
use std::io::Read;

/// Size limits of one body.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes on the wire.
    pub max_body: usize,
    /// Bytes after decompression.
    pub max_decompressed: usize,
}

/// Decompresses gzip, refusing output beyond `max` bytes.
pub(crate) fn gunzip(compressed: &[u8], max: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(max));
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    decoder
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| IngestError::BadGzip)?;
    if out.len() > max {
        return Err(IngestError::TooLarge(max));
    }
    // About the output's size: an event may be all of it, and wait long
    // in a queue or a spool's tail, whose bounds count its bytes (a small
    // output of a large body padded with gzip comments kept four times
    // that body).
    crate::json::fit(&mut out);
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

    /// An event may be the whole output and wait long in a queue or a
    /// spool's tail, whose bounds count its bytes: the output's buffer
    /// must be about its size, not four times a compressed form padded
    /// with gzip comments.
    #[test]
    fn gunzip_output_holds_about_its_size() {
        let mut padded = Vec::new();
        for member in 0..4 {
            let mut e = flate2::GzBuilder::new()
                .comment(vec![b'c'; 65_000])
                .write(Vec::new(), Compression::fast());
            if member == 0 {
                e.write_all(b"{\"type\":\"track\"}").unwrap();
            }
            padded.extend(e.finish().unwrap());
        }
        let out = gunzip(&padded, 4 << 20).unwrap();
        assert_eq!(&out[..], b"{\"type\":\"track\"}");
        let capacity = Vec::from(out).capacity();
        assert!(capacity <= 32, "16 bytes in a buffer of {capacity}");
    }
}
