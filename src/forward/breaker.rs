//! A circuit breaker per HTTP destination: after `failures` consecutive
//! failed attempts (5xx, 408, 429, timeouts, connection errors) it opens and
//! no request is sent for `cooldown`; then one attempt is let through as a
//! probe (half-open). A successful probe closes it; a failed one opens it
//! again for twice as long, up to `max_cooldown`. A backend that answers at
//! all, even 4xx, is up.
//!
//! While it is open, batches wait here instead of failing: nothing is
//! dropped for the backend being down, the batcher stops cutting (its
//! permits are held), the queue or spool fills, and ingest answers 503.
//! Its state is the gauge `privgate_circuit_state` (0 closed, 1 open, 2
//! half-open) and every change is counted.

use super::settings::BreakerConfig;
use prometheus::{IntCounter, IntGauge};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How often a waiting attempt looks again while a probe is out.
const PROBE_POLL: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

struct Inner {
    mode: Mode,
    consecutive: u32,
    /// The cooldown the breaker last opened for.
    cooldown: Duration,
    /// Counts probes let through, so that a probe given up only frees
    /// its own half-open state.
    probes: u64,
}

/// The metric handles of one breaker.
pub(crate) struct BreakerMetrics {
    /// 0 closed, 1 open, 2 half-open.
    pub state: IntGauge,
    /// Times it opened.
    pub opened: IntCounter,
    /// Times it closed again.
    pub closed: IntCounter,
}

/// One destination's breaker.
pub(crate) struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
    metrics: BreakerMetrics,
}

impl Breaker {
    /// A closed breaker.
    pub(crate) fn new(config: BreakerConfig, metrics: BreakerMetrics) -> Breaker {
        metrics.state.set(0);
        Breaker {
            inner: Mutex::new(Inner {
                mode: Mode::Closed,
                consecutive: 0,
                cooldown: config.cooldown,
                probes: 0,
            }),
            config,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until an attempt may be sent: at once while closed; after the
    /// cooldown, as the one probe, while open. The attempt's outcome goes
    /// to [`Admission::record`]; an admission dropped without one (the
    /// attempt given up before it was sent, or cancelled) lets the next
    /// waiting attempt be the probe, so the breaker is never left
    /// half-open with no probe out.
    pub(crate) async fn admit(&self) -> Admission<'_> {
        loop {
            let until = {
                let mut inner = self.lock();
                match inner.mode {
                    Mode::Closed => {
                        return Admission {
                            breaker: self,
                            probe: None,
                        }
                    }
                    Mode::Open { until } if Instant::now() >= until => {
                        inner.mode = Mode::HalfOpen;
                        inner.probes += 1;
                        self.metrics.state.set(2);
                        return Admission {
                            breaker: self,
                            probe: Some(inner.probes),
                        };
                    }
                    Mode::Open { until } => until,
                    Mode::HalfOpen => Instant::now() + PROBE_POLL,
                }
            };
            tokio::time::sleep_until(until).await;
        }
    }

    /// Records how an admitted attempt went: `up` when the backend answered
    /// other than 5xx, 408 or 429.
    fn record(&self, up: bool) {
        let mut inner = self.lock();
        if up {
            inner.consecutive = 0;
            if inner.mode != Mode::Closed {
                inner.mode = Mode::Closed;
                inner.cooldown = self.config.cooldown;
                self.metrics.state.set(0);
                self.metrics.closed.inc();
            }
            return;
        }
        inner.consecutive = inner.consecutive.saturating_add(1);
        let cooldown = match inner.mode {
            Mode::HalfOpen => (inner.cooldown * 2).min(self.config.max_cooldown),
            Mode::Closed if inner.consecutive >= self.config.failures => self.config.cooldown,
            // Still closed below the threshold, or already open (an attempt
            // admitted before it opened).
            _ => return,
        };
        inner.cooldown = cooldown;
        inner.mode = Mode::Open {
            until: Instant::now() + cooldown,
        };
        self.metrics.state.set(1);
        self.metrics.opened.inc();
    }
}

/// An attempt let through by [`Breaker::admit`].
#[must_use = "an admitted attempt records how it went"]
pub(crate) struct Admission<'a> {
    breaker: &'a Breaker,
    /// The probe's number, when it is the half-open breaker's probe.
    probe: Option<u64>,
}

impl Admission<'_> {
    /// Records how the attempt went: `up` when the backend answered other
    /// than 5xx, 408 or 429.
    pub(crate) fn record(mut self, up: bool) {
        self.probe = None;
        self.breaker.record(up);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let Some(probe) = self.probe else { return };
        let mut inner = self.breaker.lock();
        // Still waiting for this probe: open, with the cooldown over, so
        // the next attempt is let through as the probe.
        if inner.mode == Mode::HalfOpen && inner.probes == probe {
            inner.mode = Mode::Open {
                until: Instant::now(),
            };
            self.breaker.metrics.state.set(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        let gauge = || IntGauge::new("g", "g").unwrap();
        let counter = || IntCounter::new("c", "c").unwrap();
        Breaker::new(
            BreakerConfig {
                failures: 3,
                cooldown: Duration::from_secs(1),
                max_cooldown: Duration::from_secs(3),
            },
            BreakerMetrics {
                state: gauge(),
                opened: counter(),
                closed: counter(),
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_probes_after_the_cooldown_and_backs_off() {
        let b = breaker();
        // Failures must be consecutive.
        b.record(false);
        b.record(false);
        b.record(true);
        b.record(false);
        b.record(false);
        b.admit().await.record(false);
        assert_eq!(b.metrics.state.get(), 1);

        let started = Instant::now();
        let probe = b.admit().await;
        assert_eq!(b.metrics.state.get(), 2, "admitted as the probe");
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(b.metrics.state.get(), 2);
        // While the probe is out, others wait.
        let waiting = tokio::time::timeout(Duration::from_millis(500), b.admit()).await;
        assert!(waiting.is_err());
        // A failed probe doubles the cooldown, capped.
        probe.record(false);
        let started = Instant::now();
        let probe = b.admit().await;
        assert_eq!(b.metrics.state.get(), 2, "admitted as the probe");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        probe.record(false);
        let started = Instant::now();
        let probe = b.admit().await;
        assert_eq!(b.metrics.state.get(), 2, "admitted as the probe");
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        // A good probe closes it, and the next opening starts short again.
        probe.record(true);
        assert_eq!(b.metrics.state.get(), 0);
        b.admit().await.record(true);
        assert_eq!(b.metrics.state.get(), 0);
        for _ in 0..3 {
            b.record(false);
        }
        let started = Instant::now();
        let _probe = b.admit().await;
        assert_eq!(b.metrics.state.get(), 2, "admitted as the probe");
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!((b.metrics.opened.get(), b.metrics.closed.get()), (4, 1));
    }

    /// A probe given up before it was sent (or cancelled) lets the next
    /// attempt be the probe at once; without that the breaker stayed
    /// half-open with no probe out, and every attempt waited for good.
    #[tokio::test(start_paused = true)]
    async fn a_probe_given_up_lets_the_next_attempt_probe() {
        let b = breaker();
        for _ in 0..3 {
            b.record(false);
        }
        let started = Instant::now();
        let probe = b.admit().await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        drop(probe);
        assert_eq!(b.metrics.state.get(), 1);
        let next = tokio::time::timeout(Duration::from_millis(1), b.admit())
            .await
            .expect("the next attempt is the probe at once");
        assert_eq!(b.metrics.state.get(), 2);
        // A probe of an earlier opening, given up late, frees nothing of
        // the current one.
        let stale = Admission {
            breaker: &b,
            probe: Some(0),
        };
        drop(stale);
        assert_eq!(b.metrics.state.get(), 2);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), b.admit())
                .await
                .is_err(),
            "one probe at a time"
        );
        next.record(true);
        assert_eq!(b.metrics.state.get(), 0);
        assert_eq!((b.metrics.opened.get(), b.metrics.closed.get()), (1, 1));
    }
}
