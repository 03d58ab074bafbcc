//! Validation of the rate limits (`[server.rate_limit]` and a source's own
//! `rate_limit`): every value range-checked at its key, defaults filled in,
//! and the effective events-per-second limit of each source resolved.
//!
//! Builds no limiter: [`crate::ingest::ratelimit`] does, from the [`Rate`]s
//! made here.

use super::Validator;
use crate::config::schema::{self, EventRate, RequestRate};
use crate::ingest::settings::{Rate, RateLimitConfig, ServerConfig, SourceConfig};
use std::num::NonZeroU32;

/// Largest `requests_per_second` and per-IP `burst`.
const MAX_REQUESTS: u64 = 1_000_000;
/// Largest `events_per_second` and per-write-key `burst`.
const MAX_EVENTS: u64 = 10_000_000;

impl Validator<'_> {
    /// `[server.rate_limit]`; `max_batch` is `server.max_batch_events`.
    pub(super) fn rate_limit(
        &mut self,
        limits: Option<&schema::RateLimit>,
        max_batch: u64,
    ) -> RateLimitConfig {
        let Some(limits) = limits else {
            return RateLimitConfig::default();
        };
        RateLimitConfig {
            per_ip: limits
                .per_ip
                .as_ref()
                .map(|r| self.request_rate(r.get_ref(), "server.rate_limit.per_ip")),
            per_write_key: limits.per_write_key.as_ref().map(|r| {
                self.event_rate(r.get_ref(), "server.rate_limit.per_write_key", max_batch)
            }),
        }
    }

    /// Each source's effective limit: its own `rate_limit`, else the
    /// server's `per_write_key`.
    pub(super) fn source_rate_limits(
        &mut self,
        sources: &mut [SourceConfig],
        written: &[schema::Source],
        server: &ServerConfig,
    ) {
        let max_batch = server.json.max_batch as u64;
        for (i, (source, written)) in sources.iter_mut().zip(written).enumerate() {
            source.rate_limit = match &written.rate_limit {
                Some(r) => Some(self.event_rate(
                    r.get_ref(),
                    &format!("sources[{i}].rate_limit"),
                    max_batch,
                )),
                None => server.rate_limit.per_write_key,
            };
        }
    }

    pub(super) fn request_rate(&mut self, r: &RequestRate, key: &str) -> Rate {
        let per_second = self.in_range(
            &r.requests_per_second,
            &format!("{key}.requests_per_second"),
            1..=MAX_REQUESTS,
        );
        let burst = match &r.burst {
            Some(b) => self.in_range(b, &format!("{key}.burst"), 1..=MAX_REQUESTS),
            None => per_second,
        };
        rate(per_second, burst)
    }

    fn event_rate(&mut self, r: &EventRate, key: &str, max_batch: u64) -> Rate {
        let per_second = self.in_range(
            &r.events_per_second,
            &format!("{key}.events_per_second"),
            1..=MAX_EVENTS,
        );
        let burst = match &r.burst {
            Some(b) => {
                let burst = self.in_range(b, &format!("{key}.burst"), 1..=MAX_EVENTS);
                // A batch larger than the bucket could never pass, whatever
                // the client waits: refuse the config instead.
                if (burst as u64) < max_batch {
                    self.problem(
                        b.span(),
                        format!("{key}.burst"),
                        format!(
                            "{burst} is smaller than server.max_batch_events ({max_batch}): a full batch could never pass"
                        ),
                        "raise burst to at least server.max_batch_events, or lower server.max_batch_events",
                    );
                }
                burst
            }
            None => per_second.max(usize::try_from(max_batch).unwrap_or(usize::MAX)),
        };
        rate(per_second, burst)
    }
}

/// A [`Rate`] from range-checked values (`in_range` never returns zero).
pub(super) fn rate(per_second: usize, burst: usize) -> Rate {
    let non_zero =
        |n: usize| NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
    Rate {
        per_second: non_zero(per_second),
        burst: non_zero(burst),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{load, MINIMAL};
    use crate::config::{ConfigError, Problem};

    /// `web` without a limit of its own, `app` with one.
    fn sources() -> String {
        format!(
            "{MINIMAL}[[sources]]\nname = \"app\"\nprotocol = \"json\"\nwrite_keys = [\"k2\"]\nrate_limit = {{ events_per_second = 10, burst = 20000 }}\n"
        )
    }

    fn problem<'a>(err: &'a ConfigError, key: &str) -> &'a Problem {
        err.problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("no problem at `{key}` in:\n{err}"))
    }

    #[test]
    fn absent_means_no_limit() {
        let config = load(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.summary().contains("rate limit: off\n"));
        let config = load(&sources()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.server.rate_limit.per_ip, None);
        assert_eq!(config.sources[0].rate_limit, None);
        assert_eq!(config.sources[1].rate_limit.unwrap().per_second.get(), 10);
    }

    #[test]
    fn limits_resolve_with_defaults_and_overrides() {
        let text = format!(
            "[server]\nmax_batch_events = 100\n[server.rate_limit]\nper_ip = {{ requests_per_second = 50 }}\nper_write_key = {{ events_per_second = 20 }}\n{}",
            sources()
        );
        let config = load(&text).unwrap_or_else(|e| panic!("{e}"));
        let per_ip = config.server.rate_limit.per_ip.unwrap();
        assert_eq!((per_ip.per_second.get(), per_ip.burst.get()), (50, 50));
        // No burst: a full batch must fit, so it is max_batch_events.
        let web = config.sources[0].rate_limit.unwrap();
        assert_eq!((web.per_second.get(), web.burst.get()), (20, 100));
        // The source's own limit wins.
        let app = config.sources[1].rate_limit.unwrap();
        assert_eq!((app.per_second.get(), app.burst.get()), (10, 20000));
        assert!(
            config.summary().contains(
                "per IP 50/s (burst 50); per write key: web 20 events/s (burst 100), app 10 events/s (burst 20000)"
            ),
            "{}",
            config.summary()
        );
    }

    #[test]
    fn bad_values_point_at_their_key_and_line() {
        let text = format!(
            "[server]\nmax_batch_events = 100\n[server.rate_limit]\nper_ip = {{ requests_per_second = 0, burst = 5 }}\nper_write_key = {{ events_per_second = 5, burst = 50 }}\n{}",
            sources()
        )
        .replace("events_per_second = 10,", "events_per_second = 20000000,");
        let err = load(&text).unwrap_err();
        let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.rate_limit.per_ip.requests_per_second",
                "server.rate_limit.per_write_key.burst",
                "sources[1].rate_limit.events_per_second"
            ],
            "{err}"
        );
        let zero = problem(&err, "server.rate_limit.per_ip.requests_per_second");
        assert_eq!((zero.line, zero.column), (Some(4), Some(34)));
        assert_eq!(zero.message, "0 is out of range");
        assert_eq!(zero.hint.as_deref(), Some("use 1 to 1000000"));
        let burst = problem(&err, "server.rate_limit.per_write_key.burst");
        assert_eq!(burst.line, Some(5));
        assert!(
            burst
                .message
                .contains("smaller than server.max_batch_events (100)"),
            "{}",
            burst.message
        );
        assert!(burst.hint.as_deref().unwrap().contains("raise burst"));
        assert_eq!(
            problem(&err, "sources[1].rate_limit.events_per_second").line,
            Some(18)
        );
        assert!(err
            .to_string()
            .contains("proxy.toml:4:34: `server.rate_limit.per_ip.requests_per_second`"));
    }

    #[test]
    fn a_per_ip_limit_counts_requests_not_events() {
        let text = format!(
            "[server.rate_limit]\nper_ip = {{ events_per_second = 5 }}\n{}",
            sources()
        );
        let err = load(&text).unwrap_err();
        let p = &err.problems[0];
        assert!(
            p.message.contains("unknown field `events_per_second`"),
            "{}",
            p.message
        );
        assert_eq!(p.line, Some(2));
    }
}
