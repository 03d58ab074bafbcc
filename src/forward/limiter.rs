//! How many batches of one destination are in flight at once: the permit
//! the dispatcher takes before a batch goes out, under a limit that is
//! either fixed (`concurrency = N`) or decided by a
//! [`Controller`](super::concurrency::Controller) from the attempts the
//! sink reports (`concurrency = "adaptive"`).
//!
//! It owns the in-flight count and the limit's gauges; it never exceeds the
//! limit when handing out a permit (a lowered limit is reached as permits
//! come back: nothing in flight is cancelled), and an adaptive limit never
//! goes above `max_concurrency` or below 1.

use super::concurrency::{Controller, Outcome};
use super::settings::Concurrency;
use prometheus::IntGauge;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A destination's in-flight limit.
pub(super) struct Limiter {
    state: Mutex<State>,
    /// Signalled whenever a permit comes back or the limit rises.
    freed: Notify,
    gauges: Gauges,
}

/// `privgate_forward_concurrency_limit` and `_in_flight` of a destination.
pub(super) struct Gauges {
    pub(super) limit: IntGauge,
    pub(super) in_flight: IntGauge,
}

struct State {
    in_flight: usize,
    /// What config asked for.
    concurrency: Concurrency,
    kind: Kind,
}

enum Kind {
    Fixed(usize),
    Adaptive(Controller),
}

impl Kind {
    fn of(concurrency: Concurrency) -> Kind {
        match concurrency {
            Concurrency::Fixed(n) => Kind::Fixed(n.max(1)),
            Concurrency::Adaptive { max } => Kind::Adaptive(Controller::new(ADAPTIVE_START, max)),
        }
    }
}

impl State {
    fn limit(&self) -> usize {
        match &self.kind {
            Kind::Fixed(n) => *n,
            Kind::Adaptive(c) => c.limit(),
        }
    }
}

/// Where an adaptive limit starts: the old fixed default, so a start or a
/// reload never sends slower than before; it grows from there within one
/// RTT per step when the backend keeps up.
const ADAPTIVE_START: usize = 4;

impl Limiter {
    /// A limiter as `concurrency` says.
    pub(super) fn new(concurrency: Concurrency, gauges: Gauges) -> Arc<Limiter> {
        let state = State {
            in_flight: 0,
            concurrency,
            kind: Kind::of(concurrency),
        };
        gauges.limit.set(state.limit() as i64);
        Arc::new(Limiter {
            state: Mutex::new(state),
            freed: Notify::new(),
            gauges,
        })
    }

    /// A reload's `concurrency`: the same keeps what the limit learned;
    /// another starts over, counting the batches already in flight, so
    /// that new ones wait until fewer than the new limit are out (a
    /// second limiter would let both sets add up past the maximum).
    pub(super) fn reconfigure(&self, concurrency: Concurrency) {
        let mut s = self.lock();
        if s.concurrency == concurrency {
            return;
        }
        s.concurrency = concurrency;
        s.kind = Kind::of(concurrency);
        self.gauges.limit.set(s.limit() as i64);
        drop(s);
        self.freed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests allowed in flight now.
    #[cfg(test)]
    pub(super) fn limit(&self) -> usize {
        self.lock().limit()
    }

    /// Waits until fewer than the limit are in flight and takes a slot.
    pub(super) async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit() {
                    s.in_flight += 1;
                    let in_flight = s.in_flight;
                    if let Kind::Adaptive(c) = &mut s.kind {
                        c.started(in_flight);
                    }
                    self.gauges.in_flight.inc();
                    return Permit {
                        limiter: self.clone(),
                    };
                }
            }
            freed.await;
        }
    }

    /// One attempt took `rtt` and ended as `outcome` (adaptive: feeds the
    /// controller; fixed: nothing).
    pub(super) fn observe(&self, rtt: Duration, outcome: Outcome) {
        let mut s = self.lock();
        let Kind::Adaptive(c) = &mut s.kind else {
            return;
        };
        let before = c.limit();
        let after = c.observe(Instant::now(), rtt, outcome);
        if after != before {
            self.gauges.limit.set(after as i64);
            tracing::debug!(
                limit = after,
                max = c.max(),
                "forward concurrency limit changed"
            );
        }
        drop(s);
        if after > before {
            self.freed.notify_one();
        }
    }
}

/// One batch's slot; given back when dropped.
pub(super) struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.limiter.lock();
        s.in_flight -= 1;
        self.limiter.gauges.in_flight.dec();
        drop(s);
        self.limiter.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauges() -> Gauges {
        Gauges {
            limit: IntGauge::new("l", "l").unwrap(),
            in_flight: IntGauge::new("i", "i").unwrap(),
        }
    }

    #[tokio::test]
    async fn a_fixed_limit_holds_the_next_permit_until_one_comes_back() {
        let limiter = Limiter::new(Concurrency::Fixed(2), gauges());
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        assert_eq!(limiter.gauges.in_flight.get(), 2);
        drop(a);
        let _c = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("a freed permit wakes the waiter")
            .unwrap();
        assert_eq!(limiter.gauges.limit.get(), 2);
    }

    /// A reload that lowers the limit counts the batches already out: a
    /// new one waits until fewer than the new limit are in flight, so
    /// old and new never add up past it.
    #[tokio::test]
    async fn a_lowered_limit_counts_the_batches_already_in_flight() {
        let limiter = Limiter::new(Concurrency::Fixed(4), gauges());
        let mut out: Vec<Permit> = Vec::new();
        for _ in 0..4 {
            out.push(limiter.acquire().await);
        }
        limiter.reconfigure(Concurrency::Fixed(2));
        assert_eq!(limiter.gauges.limit.get(), 2);
        let waiting = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        for left in [3, 2] {
            out.pop();
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiting.is_finished(), "{left} in flight, limit 2");
        }
        out.pop();
        let _next = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("one under the new limit: the waiter goes")
            .unwrap();
        assert_eq!(limiter.gauges.in_flight.get(), 2);
        // The same setting again changes nothing; a higher one lets more go.
        limiter.reconfigure(Concurrency::Fixed(2));
        limiter.reconfigure(Concurrency::Adaptive { max: 8 });
        assert_eq!(limiter.limit(), ADAPTIVE_START);
        let _third = tokio::time::timeout(Duration::from_secs(5), limiter.acquire())
            .await
            .expect("a raised limit lets the next batch go");
    }

    #[tokio::test]
    async fn an_adaptive_limit_grows_with_fast_full_use_and_shrinks_on_backpressure() {
        let limiter = Limiter::new(Concurrency::Adaptive { max: 8 }, gauges());
        assert_eq!(limiter.limit(), ADAPTIVE_START);
        for _ in 0..20 {
            let permits: Vec<Permit> =
                futures_util::future::join_all((0..limiter.limit()).map(|_| limiter.acquire()))
                    .await;
            for _ in &permits {
                limiter.observe(Duration::ZERO, Outcome::Answered);
            }
        }
        assert_eq!(limiter.limit(), 8);
        assert_eq!(limiter.gauges.limit.get(), 8);
        for _ in 0..20 {
            limiter.observe(Duration::ZERO, Outcome::Backpressure);
        }
        assert_eq!(limiter.limit(), 1);
        assert_eq!(limiter.gauges.in_flight.get(), 0);
    }
}
