//! Rate limits of the tracker listener: requests per client address and
//! events per source (write key), each a GCRA token bucket from `governor`
//! (`burst` at once, refilled at the rate), refused with 429
//! `rate_limited` and `Retry-After` in whole seconds, at least 1.
//!
//! Both are tower layers (see [`super::stack`] for where they sit):
//! - **per IP** ([`RateLimits::check_request`]), a gate on the listener's
//!   request stack, before
//!   routing: before CORS preflights, the write key or a byte of the body.
//!   Every request on the listener counts (preflights, relayed settings
//!   fetches and 404s too), so a flood costs a map lookup per request and
//!   nothing more. It sits inside the CORS and metrics layers, so a browser
//!   tracker can read its 429 and the request metrics count it.
//! - [`PerKeyLayer`], **per write key**, on the accept stack that every
//!   protocol's decoded batch goes through, once the source is known and the
//!   body decoded (the event count is known only then), before the
//!   pipeline. A batch of 100 costs 100. `check_n` takes the whole batch or
//!   none of it, so a refused request queues nothing and spends none of the
//!   budget. The write keys of one source share its budget: rotating a key
//!   does not double it.
//!
//! Memory: one bucket per source, fixed. The per-IP state is a sharded map
//! keyed by address: an IPv4 address, or an IPv6 /64 (a subscriber usually
//! has a whole /64, and per-address keys would let one client rotate past
//! the limit and grow the map at will). A key whose bucket has refilled is
//! indistinguishable from a new one, so every [`SWEEP_EVERY`] those are
//! dropped (`retain_recent`) and the map shrunk (`shrink_to_fit`), off the
//! async workers. The map thus holds at most the addresses that sent a
//! request within the last `burst / requests_per_second` seconds plus one
//! sweep interval, each of which took a TCP handshake; about 64 bytes each.
//! Its size after each sweep is `privgate_rate_limit_tracked_addresses`.
//!
//! Never: an address or write key in a metric label or a log line; a
//! limit on the admin listener (it is not built from here).

use super::client_ip::ClientIp;
use super::error::IngestError;
use super::settings::{Rate, Settings};
use crate::metrics::Metrics;
use crate::pipeline::Batch;
use futures_util::future::{self, Either, Ready};
use governor::clock::{Clock, DefaultClock};
use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, InsufficientCapacity, NotUntil, Quota,
    RateLimiter,
};
use http::Request;
use prometheus::{IntCounter, IntGauge};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{Layer, Service};

/// How often the per-IP map forgets addresses whose bucket is full again.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// The limiters of one [`Ingest`](super::Ingest), built from its config.
pub(crate) struct RateLimits {
    per_ip: Option<Arc<PerIp>>,
    /// By source index; `None`: that source is not limited.
    per_source: Vec<Option<PerSource>>,
    /// The limiters' clock, to turn "not until" into a wait.
    clock: DefaultClock,
}

struct PerIp {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    refused: IntCounter,
    tracked: IntGauge,
}

struct PerSource {
    limiter: DefaultDirectRateLimiter,
    burst: NonZeroU32,
    refused: IntCounter,
}

impl RateLimits {
    /// The limits `config` sets (none when it sets none). Inside a tokio
    /// runtime, also starts the per-IP sweeper, which ends once these
    /// limits are dropped (a reload builds new ones).
    pub(crate) fn new(config: &Settings<'_>, metrics: &Metrics) -> RateLimits {
        let per_ip = config.server.rate_limit.per_ip.map(|rate| {
            Arc::new(PerIp {
                limiter: RateLimiter::keyed(quota(rate)),
                refused: metrics.rate_limited.with_label_values(&["ip", "none"]),
                tracked: metrics.rate_limit_addresses.clone(),
            })
        });
        if let Some(per_ip) = &per_ip {
            spawn_sweeper(Arc::downgrade(per_ip));
        }
        let per_source = config
            .sources
            .iter()
            .map(|source| {
                source.rate_limit.map(|rate| PerSource {
                    limiter: RateLimiter::direct(quota(rate)),
                    burst: rate.burst,
                    refused: metrics
                        .rate_limited
                        .with_label_values(&["write_key", &source.name]),
                })
            })
            .collect();
        RateLimits {
            per_ip,
            per_source,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from the budget of `peer`'s address.
    pub(crate) fn check_ip(&self, peer: IpAddr) -> Result<(), IngestError> {
        let Some(per_ip) = &self.per_ip else {
            return Ok(());
        };
        per_ip.limiter.check_key(&client_key(peer)).map_err(|not| {
            per_ip.refused.inc();
            self.limited(&not)
        })
    }

    /// Takes one request from the budget of the client `request` came from
    /// (its [`ClientIp`], which the stack resolves first; a request without
    /// one is not limited).
    pub(crate) fn check_request<B>(&self, request: &Request<B>) -> Result<(), IngestError> {
        match request.extensions().get::<ClientIp>() {
            Some(client) => self.check_ip(client.0),
            None => Ok(()),
        }
    }

    /// Takes `events` from the budget of source `source`: all or none.
    pub(crate) fn check_events(&self, source: usize, events: usize) -> Result<(), IngestError> {
        let Some(Some(limit)) = self.per_source.get(source) else {
            return Ok(());
        };
        let Some(n) = NonZeroU32::new(u32::try_from(events).unwrap_or(u32::MAX)) else {
            return Ok(());
        };
        match limit.limiter.check_n(n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not)) => {
                limit.refused.inc();
                Err(self.limited(&not))
            }
            // More than the bucket holds could never pass. Validation keeps
            // `burst` at least `server.max_batch_events`, so only a
            // misbuilt config gets here; ask for smaller batches.
            Err(InsufficientCapacity(_)) => {
                Err(IngestError::TooManyEvents(limit.burst.get() as usize))
            }
        }
    }

    fn limited(&self, not: &NotUntil<<DefaultClock as Clock>::Instant>) -> IngestError {
        IngestError::RateLimited(retry_after(not.wait_time_from(self.clock.now())))
    }
}

impl PerIp {
    /// Forgets addresses whose bucket is full again and gives the memory
    /// back. O(addresses), shard by shard: callers run it off the async
    /// workers.
    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.tracked
            .set(i64::try_from(self.limiter.len()).unwrap_or(i64::MAX));
    }
}

/// Sweeps `per_ip` every [`SWEEP_EVERY`] while it lives. Outside a tokio
/// runtime (unit tests) there is no sweeper.
fn spawn_sweeper(per_ip: Weak<PerIp>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // The first tick is immediate.
        loop {
            tick.tick().await;
            // Dropped: the config was reloaded or privgate is stopping.
            let Some(per_ip) = per_ip.upgrade() else {
                return;
            };
            if tokio::task::spawn_blocking(move || per_ip.sweep())
                .await
                .is_err()
            {
                return;
            }
        }
    });
}

fn quota(rate: Rate) -> Quota {
    Quota::per_second(rate.per_second).allow_burst(rate.burst)
}

/// The key an address is limited by: IPv4 (also when IPv4-mapped, as on a
/// dual-stack listener) as is, IPv6 by its /64.
fn client_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

/// `Retry-After` for a wait: whole seconds rounded up, at least 1 (0 would
/// invite an immediate retry that is refused again).
fn retry_after(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The per-write-key limit as a layer of the accept stack.
#[derive(Clone)]
pub(crate) struct PerKeyLayer(pub Arc<RateLimits>);

impl<S> Layer<S> for PerKeyLayer {
    type Service = PerKeyLimit<S>;

    fn layer(&self, inner: S) -> PerKeyLimit<S> {
        PerKeyLimit {
            limits: self.0.clone(),
            inner,
        }
    }
}

/// See [`PerKeyLayer`].
#[derive(Clone)]
pub(crate) struct PerKeyLimit<S> {
    limits: Arc<RateLimits>,
    inner: S,
}

impl<S> Service<Batch> for PerKeyLimit<S>
where
    S: Service<Batch, Error = IngestError>,
{
    type Response = S::Response;
    type Error = IngestError;
    type Future = Either<Ready<Result<S::Response, IngestError>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), IngestError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, batch: Batch) -> Self::Future {
        // Every element sent counts, the invalid ones too.
        match self.limits.check_events(batch.source, batch.sent()) {
            Err(limited) => Either::Left(future::err(limited)),
            Ok(()) => Either::Right(self.inner.call(batch)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn limits(rate_limit: &str) -> (RateLimits, Metrics) {
        let text = format!(
            "[server]\nmax_batch_events = 10\n[server.rate_limit]\n{rate_limit}\n[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\n[[sources]]\nname = \"free\"\nprotocol = \"json\"\nwrite_keys = [\"f\"]\nrate_limit = {{ events_per_second = 1000000 }}\n[[destinations]]\nname = \"out\"\nkind = \"stdout\"\n"
        );
        let config = Config::from_str(&text, Path::new("t.toml")).unwrap_or_else(|e| panic!("{e}"));
        let metrics = Metrics::new();
        (RateLimits::new(&config.ingest(), &metrics), metrics)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_are_keyed_by_ipv4_or_ipv6_slash_64() {
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(client_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), 1);
        assert_eq!(retry_after(Duration::from_nanos(1)), 1);
        assert_eq!(retry_after(Duration::from_secs(1)), 1);
        assert_eq!(retry_after(Duration::from_millis(1200)), 2);
        assert_eq!(retry_after(Duration::from_secs(30)), 30);
    }

    #[test]
    fn per_ip_refuses_beyond_the_burst_per_address_and_counts() {
        let (limits, metrics) = limits("per_ip = { requests_per_second = 1, burst = 2 }");
        let a = ip("192.0.2.1");
        assert!(limits.check_ip(a).is_ok());
        assert!(limits.check_ip(a).is_ok());
        match limits.check_ip(a) {
            Err(IngestError::RateLimited(secs)) => assert_eq!(secs, 1),
            other => panic!("{other:?}"),
        }
        // Another address has its own budget; one /64 shares one.
        assert!(limits.check_ip(ip("192.0.2.2")).is_ok());
        assert!(limits.check_ip(ip("2001:db8::1")).is_ok());
        assert!(limits.check_ip(ip("2001:db8::2")).is_ok());
        assert!(limits.check_ip(ip("2001:db8::3")).is_err());
        let refused = metrics.rate_limited.with_label_values(&["ip", "none"]);
        assert_eq!(refused.get(), 2);
        // No per-write-key limit was set: only the source with its own.
        assert!(limits.check_events(0, 1_000).is_ok());
    }

    #[test]
    fn per_write_key_takes_a_batch_whole_or_not_at_all() {
        let (limits, metrics) = limits("per_write_key = { events_per_second = 1, burst = 10 }");
        assert!(limits.check_ip(ip("192.0.2.1")).is_ok(), "no per-IP limit");
        assert!(limits.check_events(0, 6).is_ok());
        // 4 left (plus what refilled meanwhile): 6 more are refused and
        // take nothing, so 4 still pass.
        match limits.check_events(0, 6) {
            Err(IngestError::RateLimited(secs)) => assert!((1..=2).contains(&secs), "{secs}"),
            other => panic!("{other:?}"),
        }
        assert!(limits.check_events(0, 4).is_ok());
        // The other source has its own (generous) limit; empty costs nothing.
        assert!(limits.check_events(1, 10).is_ok());
        assert!(limits.check_events(0, 0).is_ok());
        let count = |source| {
            metrics
                .rate_limited
                .with_label_values(&["write_key", source])
                .get()
        };
        assert_eq!((count("web"), count("free")), (1, 0));
    }

    #[test]
    fn a_sweep_forgets_addresses_whose_bucket_refilled() {
        // Refills a request every microsecond: idle keys age out at once.
        let (limits, metrics) = limits("per_ip = { requests_per_second = 1000000, burst = 1 }");
        let per_ip = limits.per_ip.as_ref().unwrap();
        for i in 0..200u32 {
            let _ = limits.check_ip(std::net::Ipv4Addr::from(0x0a00_0000 + i).into());
        }
        assert_eq!(per_ip.limiter.len(), 200);
        std::thread::sleep(Duration::from_millis(5));
        per_ip.sweep();
        assert_eq!(per_ip.limiter.len(), 0);
        assert_eq!(metrics.rate_limit_addresses.get(), 0);
    }
}
