//! Retry decisions for HTTP deliveries, as types: what an attempt's outcome
//! means ([`Attempt`]) and how long to wait before the next one ([`Backoff`]).

use http::{HeaderMap, StatusCode};
use rand::Rng;
use std::time::{Duration, SystemTime};

/// What one delivery attempt's outcome means.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The backend took the batch.
    Delivered,
    /// Worth another try, after at least `after` if the backend said so.
    Retry {
        /// From `Retry-After`.
        after: Option<Duration>,
    },
    /// The backend refused the batch for good (4xx other than 408/429).
    DontRetry,
}

impl Attempt {
    /// Classifies a response status (and its `Retry-After`).
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap) -> Attempt {
        match status.as_u16() {
            200..=299 => Attempt::Delivered,
            408 | 429 | 500..=599 => Attempt::Retry {
                after: retry_after(headers, SystemTime::now()),
            },
            _ => Attempt::DontRetry,
        }
    }
}

/// Parses `Retry-After` as delay-seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with full jitter, capped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// The largest wait, also the cap of an honoured `Retry-After`.
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry number `retry` (0-based): a random duration up to
    /// `initial * 2^retry` (capped at `max`), but at least what the backend asked.
    pub(crate) fn delay(&self, retry: u32, asked: Option<Duration>) -> Duration {
        let ceiling = self
            .initial
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max);
        let jittered = rand::thread_rng().gen_range(Duration::ZERO..=ceiling);
        jittered.max(asked.unwrap_or(Duration::ZERO).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn statuses_map_to_retry_decisions() {
        let h = HeaderMap::new();
        let of = |s: u16| Attempt::from_response(StatusCode::from_u16(s).unwrap(), &h);
        assert_eq!(of(200), Attempt::Delivered);
        assert_eq!(of(204), Attempt::Delivered);
        assert_eq!(of(408), Attempt::Retry { after: None });
        assert_eq!(of(429), Attempt::Retry { after: None });
        assert_eq!(of(503), Attempt::Retry { after: None });
        assert_eq!(of(400), Attempt::DontRetry);
        assert_eq!(of(401), Attempt::DontRetry);
        assert_eq!(of(301), Attempt::DontRetry);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(
            retry_after(&h, SystemTime::now()),
            Some(Duration::from_secs(3))
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
        h.insert("retry-after", HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_honours_the_backend() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for retry in 0..40 {
            let d = b.delay(retry, None);
            assert!(d <= Duration::from_secs(1));
            assert!(d <= Duration::from_millis(100) * 2u32.saturating_pow(retry.min(20)));
        }
        assert_eq!(
            b.delay(0, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        // A Retry-After beyond the cap is capped.
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(60))),
            Duration::from_secs(1)
        );
    }
}
