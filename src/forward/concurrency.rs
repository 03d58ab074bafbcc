//! Adaptive request concurrency: the controller that decides how many
//! batches a destination may have in flight, from what its requests showed
//! (as Vector's ARC does: additive increase, multiplicative decrease, on
//! round-trip times).
//!
//! It owns the limit and the statistics it is derived from, nothing else:
//! it is pure (the caller hands it the time, the RTT and the outcome of
//! each attempt, and how many requests were in flight), never sleeps,
//! never sends, never reads a clock, and never lets the limit leave
//! `1..=max`. Holding requests back to the limit is
//! [`super::limiter::Limiter`]'s job.
//!
//! Observations are grouped in windows about one mean RTT long. When a
//! window closes:
//! - any backpressure in it (429, 503, a timeout, a connection error), or a
//!   mean RTT above the long-run mean by more than `RTT_DEVIATION_SCALE`
//!   deviations, multiplies the limit by `DECREASE_RATIO` (rounded down,
//!   at least 1);
//! - otherwise, if the limit was fully used during the window and its mean
//!   RTT was no higher than the long-run mean, it grows by one (up to
//!   `max`). A window a little slower than usual neither grows nor lowers
//!   it: a backend that answers slower the more it is sent (one that
//!   queues) stops the growth where its answers start to slow down,
//!   rather than drawing ever more batches, each a body held in memory,
//!   into its queue.
//!
//! The window's mean RTT then feeds the long-run mean and deviation
//! (exponentially weighted, `EWMA_ALPHA`); backpressure RTTs never do (a
//! timeout says nothing about how fast the backend answers).

use std::time::{Duration, Instant};

/// Factor the limit is multiplied by on backpressure.
pub(crate) const DECREASE_RATIO: f64 = 0.9;
/// Weight of the newest window in the long-run RTT mean and deviation.
pub(crate) const EWMA_ALPHA: f64 = 0.4;
/// How many deviations above the long-run mean a window's RTT may be
/// before it counts as the backend slowing down.
pub(crate) const RTT_DEVIATION_SCALE: f64 = 2.5;

/// What became of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The backend answered and was not asking to slow down (2xx, or an
    /// answer that is not about load, such as a 400): its RTT counts.
    Answered,
    /// The backend is overloaded or unreachable: 429, 503, a timeout, a
    /// connection error.
    Backpressure,
}

/// The adaptive limit of one destination.
#[derive(Clone, Debug)]
pub(crate) struct Controller {
    limit: usize,
    max: usize,
    /// Long-run RTT mean and mean absolute deviation, in seconds; `None`
    /// before the first window with an answer.
    past: Option<(f64, f64)>,
    window: Window,
}

#[derive(Clone, Debug, Default)]
struct Window {
    start: Option<Instant>,
    rtt_sum: f64,
    answered: u32,
    backpressure: bool,
    /// Whether in-flight requests reached the limit in this window.
    full: bool,
}

impl Controller {
    /// A controller starting at `start`, never above `max` (both clamped to
    /// at least 1, and `start` to `max`).
    pub(crate) fn new(start: usize, max: usize) -> Controller {
        let max = max.max(1);
        Controller {
            limit: start.clamp(1, max),
            max,
            past: None,
            window: Window::default(),
        }
    }

    /// Requests allowed in flight now: always in `1..=max`.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The ceiling.
    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// A request started with `in_flight` requests (itself included) out.
    pub(crate) fn started(&mut self, in_flight: usize) {
        if in_flight >= self.limit {
            self.window.full = true;
        }
    }

    /// One request finished at `now` after `rtt` with `outcome`; returns
    /// the limit from now on. Backpressure never raises it.
    pub(crate) fn observe(&mut self, now: Instant, rtt: Duration, outcome: Outcome) -> usize {
        let w = &mut self.window;
        let start = *w.start.get_or_insert(now);
        match outcome {
            Outcome::Answered => {
                w.rtt_sum += rtt.as_secs_f64();
                w.answered += 1;
            }
            Outcome::Backpressure => w.backpressure = true,
        }
        // A window lasts about one mean RTT (until there is a mean: one
        // answer).
        let length = self.past.map_or(0.0, |(mean, _)| mean);
        if now.saturating_duration_since(start).as_secs_f64() >= length {
            self.close_window(now);
        }
        self.limit
    }

    fn close_window(&mut self, now: Instant) {
        let w = std::mem::take(&mut self.window);
        let current = (w.answered > 0).then(|| w.rtt_sum / f64::from(w.answered));
        let (slower, as_fast) = match (current, self.past) {
            (Some(rtt), Some((mean, dev))) => (rtt > mean + dev * RTT_DEVIATION_SCALE, rtt <= mean),
            // The first window with an answer only sets the mean.
            _ => (false, false),
        };
        if w.backpressure || slower {
            self.limit = ((self.limit as f64 * DECREASE_RATIO).floor() as usize).max(1);
        } else if w.full && as_fast {
            self.limit = (self.limit + 1).min(self.max);
        }
        if let Some(rtt) = current {
            self.past = Some(match self.past {
                None => (rtt, 0.0),
                Some((mean, dev)) => {
                    let mean = mean + EWMA_ALPHA * (rtt - mean);
                    let dev = dev + EWMA_ALPHA * ((rtt - mean).abs() - dev);
                    (mean, dev)
                }
            });
        }
        self.window.start = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    struct Step {
        after_ms: u64,
        rtt_ms: u64,
        in_flight: usize,
        backpressure: bool,
    }

    fn step() -> impl Strategy<Value = Step> {
        (0u64..50, 0u64..200, 0usize..80, prop::bool::weighted(0.2)).prop_map(
            |(after_ms, rtt_ms, in_flight, backpressure)| Step {
                after_ms,
                rtt_ms,
                in_flight,
                backpressure,
            },
        )
    }

    proptest! {
        /// Whatever happens, the limit stays in 1..=max, and a backpressure
        /// signal never raises it.
        #[test]
        fn the_limit_stays_in_bounds_and_backpressure_never_raises_it(
            start in 0usize..80,
            max in 1usize..64,
            steps in prop::collection::vec(step(), 0..300),
        ) {
            let mut c = Controller::new(start, max);
            prop_assert!((1..=max).contains(&c.limit()));
            let mut now = Instant::now();
            for s in steps {
                now += Duration::from_millis(s.after_ms);
                c.started(s.in_flight);
                let before = c.limit();
                let outcome = if s.backpressure { Outcome::Backpressure } else { Outcome::Answered };
                let after = c.observe(now, Duration::from_millis(s.rtt_ms), outcome);
                prop_assert!((1..=max).contains(&after), "limit {after} outside 1..={max}");
                prop_assert_eq!(after, c.limit());
                if s.backpressure {
                    prop_assert!(after <= before, "backpressure raised {before} to {after}");
                }
            }
        }

        /// A backend that answers as fast with any load, the limit fully
        /// used: the limit reaches max and stays there.
        #[test]
        fn fast_fully_used_successes_reach_max(
            start in 1usize..16,
            max in 1usize..128,
            rtt_ms in 1u64..500,
        ) {
            let mut c = Controller::new(start, max);
            let mut now = Instant::now();
            let rtt = Duration::from_millis(rtt_ms);
            for _ in 0..(2 * max + 2) {
                now += rtt;
                c.started(c.limit());
                c.observe(now, rtt, Outcome::Answered);
            }
            prop_assert_eq!(c.limit(), max);
        }

        /// Backpressure in every window brings any limit down to 1.
        #[test]
        fn steady_backpressure_brings_the_limit_down_to_one(
            max in 1usize..1024,
        ) {
            let mut c = Controller::new(max, max);
            let mut now = Instant::now();
            for _ in 0..200 {
                now += Duration::from_millis(10);
                c.started(c.limit());
                c.observe(now, Duration::from_millis(10), Outcome::Backpressure);
            }
            prop_assert_eq!(c.limit(), 1);
        }
    }

    #[test]
    fn a_limit_not_fully_used_does_not_grow() {
        let mut c = Controller::new(4, 32);
        let mut now = Instant::now();
        for _ in 0..100 {
            now += Duration::from_millis(5);
            c.started(2);
            c.observe(now, Duration::from_millis(5), Outcome::Answered);
        }
        assert_eq!(c.limit(), 4);
    }

    /// A backend that answers in 10 ms up to 8 requests at once and
    /// queues beyond (each request over 8 adds 10 ms / 8), always sent as
    /// many as the limit allows.
    fn queueing_backend(windows: usize) -> Vec<usize> {
        let mut c = Controller::new(1, 64);
        let mut now = Instant::now();
        let mut limits = Vec::new();
        for _ in 0..windows {
            let n = c.limit();
            let rtt = Duration::from_micros(10_000 * n.max(8) as u64 / 8);
            now += rtt;
            c.started(n);
            c.observe(now, rtt, Outcome::Answered);
            limits.push(c.limit());
        }
        limits
    }

    #[test]
    fn a_backend_that_queues_does_not_draw_the_limit_to_max() {
        let limits = queueing_backend(2000);
        let top = *limits.iter().max().unwrap();
        // Up to 8 the answers stay as fast, and the limit grows to 8; one
        // more is slower than the mean, so it stops there (the mean itself
        // catches up in a few windows, letting it try one more, 9).
        assert!(limits.contains(&8), "{limits:?}");
        assert!(
            top <= 9,
            "the limit rose to {top} for a backend that queues past 8"
        );
        let last = &limits[1000..];
        assert!(last.iter().all(|&l| (7..=9).contains(&l)), "{last:?}");
    }

    #[test]
    fn rtt_rising_well_above_its_mean_lowers_the_limit() {
        let mut c = Controller::new(20, 32);
        let mut now = Instant::now();
        for _ in 0..20 {
            now += Duration::from_millis(10);
            c.observe(now, Duration::from_millis(10), Outcome::Answered);
        }
        assert_eq!(c.limit(), 20);
        now += Duration::from_millis(100);
        c.started(20);
        assert_eq!(
            c.observe(now, Duration::from_millis(100), Outcome::Answered),
            18
        );
    }
}
