//! Clients that load a privgate for the fault tests (`tests/fault.rs`):
//! four at once, alternating single events and batches, tallying what was
//! sent, acknowledged and refused; for a time, or until the scenario has
//! what it needs of the load.

use super::{track, try_send, AUTH};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What clients sent and privgate answered.
#[derive(Default)]
pub struct Tally {
    /// Events sent.
    pub sent: usize,
    /// The ids of the events answered 200.
    pub acked: Vec<String>,
    /// Answered 503 (with `Retry-After`, checked): the client keeps them.
    pub refused: usize,
}

impl Tally {
    /// Adds what `other` counted.
    pub fn add(&mut self, other: Tally) {
        self.sent += other.sent;
        self.acked.extend(other.acked);
        self.refused += other.refused;
    }
}

/// Four clients send until `until`, alternating single events and batches
/// of ten; ids start with `prefix`. Each sends at least once, even if a
/// busy machine starts it after `until`.
pub async fn load(addr: SocketAddr, prefix: &str, until: Instant) -> Tally {
    let clients = (0..4).map(|c| {
        let prefix = format!("{prefix}-c{c}");
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0;
            while n == 0 || Instant::now() < until {
                let size = if n % 2 == 0 { 1 } else { 10 };
                let ids: Vec<String> = (n..n + size).map(|i| format!("{prefix}-{i}")).collect();
                n += size;
                let body = if size == 1 {
                    track(&ids[0])
                } else {
                    let events: Vec<String> = ids.iter().map(|id| track(id)).collect();
                    format!(r#"{{"batch":[{}]}}"#, events.join(","))
                };
                let path = if size == 1 { "/v1/track" } else { "/v1/batch" };
                tally.sent += size;
                let headers = [AUTH, ("content-type", "application/json")];
                match try_send("POST", addr, path, &headers, Bytes::from(body)).await {
                    Ok(a) if a.status == 200 => tally.acked.extend(ids),
                    Ok(a) if a.status == 503 => {
                        assert!(
                            a.headers.contains_key("retry-after"),
                            "503 without Retry-After"
                        );
                        assert!(a.json()["error"].is_string(), "503 without a JSON error");
                        tally.refused += size;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Ok(a) => panic!("unexpected {} {:?}", a.status, a.body),
                    // The server died under the request (SIGKILL): not acknowledged.
                    Err(_) => return tally,
                }
            }
            tally
        })
    });
    let mut tally = Tally::default();
    for c in clients.collect::<Vec<_>>() {
        tally.add(c.await.unwrap());
    }
    tally
}

/// [`load`] for `first`, then on in rounds of 300 ms until `done` holds of
/// what all rounds sent (panics after 30 s): what a scenario needs of its
/// load, whatever a busy machine manages in a fixed time. Round `r`'s ids
/// start with `{prefix}{r}`.
pub async fn load_until(
    addr: SocketAddr,
    prefix: &str,
    first: Duration,
    done: impl Fn(&Tally) -> bool,
) -> Tally {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut tally = Tally::default();
    let mut lasting = first;
    for round in 0.. {
        let until = Instant::now() + lasting;
        tally.add(load(addr, &format!("{prefix}{round}"), until).await);
        if done(&tally) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{prefix}: the load did not do what it is for within 30 s"
        );
        lasting = Duration::from_millis(300);
    }
    tally
}
