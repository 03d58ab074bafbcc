//! The server-side SDKs' alias and identify calls (`tests/fixtures/sdk/`),
//! replayed to a destination that requires consent, granted by
//! `default = "allow"` and by a TC string.

use super::*;
use amplitude::AMPLITUDE;
use ga4::GA4_TC_STRING;
use posthog::POSTHOG;
use segment::{RUDDERSTACK, SEGMENT};

/// How a consent-gated replay grants the destination's purpose.
#[derive(Clone, Copy, Debug)]
enum Grant {
    /// No signal in the events; `[consent] default = "allow"`.
    DefaultAllow,
    /// `default = "deny"`, and every request carries a TC string that
    /// consents to the purpose (`?gdpr_consent=`, which privgate reads for
    /// every protocol).
    TcString,
}

/// Replays `tracker`'s captures to a destination that requires consent
/// (`require_consent = ["analytics"]`), granted as `grant` says: every
/// answer is the SDK's success and every event arrives, exactly once.
async fn replay_gated(tracker: &Tracker, grant: Grant) {
    let upstream = Upstream::start().await;
    let source = format!(
        "[[sources]]\n{}\ncors_origins = [\"http://localhost:18091\"]\nupstream = \"{}\"",
        tracker.source,
        upstream.url("")
    );
    let destination = http_destination_at(
        "vendor",
        &upstream,
        tracker.forward_to,
        &format!(
            "batch = {{ max_wait = \"20ms\" }}\nrequire_consent = [\"analytics\"]\n{}",
            tracker.destination
        ),
    );
    let consent = match grant {
        Grant::DefaultAllow => "[consent]\ndefault = \"allow\"\n",
        Grant::TcString => "[consent]\ndefault = \"deny\"\ntcf_purposes = { analytics = [1] }\n",
    };
    let pg = start_privgate(&config_with(&source, &format!("{destination}\n{consent}"))).await;
    let mut sent = Vec::new();
    for from in tracker.captures {
        for c in from.load() {
            let headers: Vec<(&str, &str)> = c
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let target = match grant {
                Grant::DefaultAllow => c.target.clone(),
                Grant::TcString => {
                    let glue = if c.target.contains('?') { '&' } else { '?' };
                    format!("{}{glue}gdpr_consent={GA4_TC_STRING}", c.target)
                }
            };
            let answer = send(
                &c.method,
                pg.ingest_addr(),
                &target,
                &headers,
                c.body.clone(),
            )
            .await;
            let what = format!("{}: {} {target}", from.name(), c.method);
            if let Err(why) = (tracker.success)(&c, &answer) {
                panic!("{what}: {why}; got {} {:?}", answer.status, answer.body);
            }
            if c.method != "OPTIONS" && !(tracker.relays)(&c) {
                sent.extend((tracker.events)(&c));
            }
        }
    }
    let mut want: Vec<String> = sent.iter().map(tracker.id).collect();
    want.sort();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let got = loop {
        let mut got: Vec<String> = upstream
            .received()
            .iter()
            .filter(|r| r.path.starts_with(tracker.forward_to))
            .flat_map(tracker.received)
            .map(|e| (tracker.id)(&e))
            .collect();
        got.sort();
        if got.len() >= want.len() || tokio::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        got,
        want,
        "{} with {grant:?}: every event arrives",
        names(tracker.captures)
    );
    println!(
        "{} with {grant:?}: all {} events reached a consent-gated destination",
        names(tracker.captures),
        want.len()
    );
    pg.shutdown().await;
}

/// posthog-node's `alias()` and `identify()`, captured for this repository.
const POSTHOG_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("posthog-node-alias")],
    ..POSTHOG
};

const SEGMENT_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("segment-node-alias")],
    ..SEGMENT
};

const RUDDERSTACK_NODE_ALIAS: Tracker = Tracker {
    captures: &[Captures::Own("rudderstack-node-alias")],
    ..RUDDERSTACK
};

const AMPLITUDE_NODE_IDENTIFY: Tracker = Tracker {
    captures: &[Captures::Own("amplitude-node-identify")],
    ..AMPLITUDE
};

/// A field an SDK repeats with the same value (posthog-node's `alias()`
/// sends `distinct_id` at the top level and in `properties`) is not
/// ambiguous: every alias and identify event reaches a destination that
/// requires consent, with `default = "allow"` and with consent granted.
#[tokio::test]
async fn alias_and_identify_events_reach_consent_gated_destinations() {
    for tracker in [
        &POSTHOG_NODE_ALIAS,
        &SEGMENT_NODE_ALIAS,
        &RUDDERSTACK_NODE_ALIAS,
        &AMPLITUDE_NODE_IDENTIFY,
    ] {
        for grant in [Grant::DefaultAllow, Grant::TcString] {
            replay_gated(tracker, grant).await;
        }
    }
}

/// The new captures replay like the shared ones: unchanged without rules.
#[tokio::test]
async fn alias_and_identify_captures_arrive_unchanged_without_rules() {
    for tracker in [
        &POSTHOG_NODE_ALIAS,
        &SEGMENT_NODE_ALIAS,
        &RUDDERSTACK_NODE_ALIAS,
        &AMPLITUDE_NODE_IDENTIFY,
    ] {
        replay(tracker, Rules::None).await;
    }
}

/// @rudderstack/rudder-sdk-node's default (`gzip: true`) sends its gzip
/// body as `application/x-www-form-urlencoded`; it does not retry a 4xx, so
/// a 415 for that label lost every event it sent.
#[tokio::test]
async fn rudderstack_node_default_gzip_uploads_are_accepted() {
    const GZIP: Tracker = Tracker {
        captures: &[Captures::Own("rudderstack-node-alias-gzip")],
        ..RUDDERSTACK
    };
    replay_gated(&GZIP, Grant::DefaultAllow).await;
}
