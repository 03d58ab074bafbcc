//! The end user's IP address through the real server: forwarding headers
//! believed only from `server.trusted_proxies`, and what of the address a
//! source's events carry on (`client_ip`: truncated by default, full, or
//! none), as the upstream receives it.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// Sends one event per `(id, X-Forwarded-For)` to a privgate whose source
/// has `source_extra` and whose server has `server_extra`; returns the
/// `context` each event arrived with.
async fn contexts(server_extra: &str, source_extra: &str, sends: &[(&str, &str)]) -> Vec<Value> {
    let upstream = Upstream::start().await;
    let config = config_with(
        &format!(
            "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"test-key\"]\n{source_extra}"
        ),
        &http_destination("backend", &upstream, r#"batch = { max_wait = "10ms" }"#),
    )
    .replace("[admin]", &format!("{server_extra}\n[admin]"));
    let pg = start_privgate(&config).await;
    for (id, xff) in sends {
        let mut headers = vec![AUTH, ("content-type", "application/json")];
        if !xff.is_empty() {
            headers.push(("x-forwarded-for", xff));
        }
        let answer = send("POST", pg.ingest_addr(), "/v1/t", &headers, track(id)).await;
        assert_eq!(answer.status, 200);
    }
    upstream
        .wait_for_delivered(sends.len(), Duration::from_secs(5))
        .await;
    let events: Vec<Value> = upstream
        .received()
        .iter()
        .flat_map(|r| r.events())
        .collect();
    pg.shutdown().await;
    sends
        .iter()
        .map(|(id, _)| {
            let event = events.iter().find(|e| e["messageId"] == *id).unwrap();
            event.get("context").cloned().unwrap_or(Value::Null)
        })
        .collect()
}

#[tokio::test]
async fn forwarding_headers_count_only_from_trusted_proxies() {
    let sends = [("direct", ""), ("claimed", "198.51.100.77")];
    // Nobody trusted: the header is the client's claim, and ignored.
    let got = contexts("", "", &sends).await;
    assert_eq!(got[0]["ip"], "127.0.0.0");
    assert_eq!(
        got[1]["ip"], "127.0.0.0",
        "a client cannot pick its address"
    );
    // The loopback peer is a trusted proxy: the address it reports counts.
    let got = contexts("trusted_proxies = [\"127.0.0.0/8\"]", "", &sends).await;
    assert_eq!(got[0]["ip"], "127.0.0.0");
    assert_eq!(got[1]["ip"], "198.51.100.0", "truncated to its /24");
}

#[tokio::test]
async fn a_source_passes_on_the_full_address_or_none() {
    let trusted = "trusted_proxies = [\"127.0.0.1\"]";
    let sends = [("v4", "198.51.100.77"), ("v6", "2001:db8:1:2::9")];
    let got = contexts(trusted, "client_ip = \"full\"", &sends).await;
    assert_eq!(got[0]["ip"], "198.51.100.77");
    assert_eq!(got[1]["ip"], "2001:db8:1:2::9");
    let got = contexts(trusted, "", &sends).await;
    assert_eq!(got[1]["ip"], "2001:db8:1::", "IPv6 truncated to its /48");
    let got = contexts(trusted, "client_ip = \"none\"", &sends).await;
    assert!(got.iter().all(|c| c.get("ip").is_none()), "{got:?}");
}

#[tokio::test]
async fn the_rate_limit_counts_the_client_behind_a_trusted_proxy() {
    let upstream = Upstream::start().await;
    let config = segment_config(&http_destination("backend", &upstream, ""))
        .replace(
            "[admin]",
            "trusted_proxies = [\"127.0.0.1\"]\n[server.rate_limit]\nper_ip = { requests_per_second = 1, burst = 1 }\n[admin]",
        );
    let pg = start_privgate(&config).await;
    let json = ("content-type", "application/json");
    let from = |client: &'static str| [AUTH, json, ("x-forwarded-for", client)];
    let addr = pg.ingest_addr();
    assert_eq!(
        send("POST", addr, "/v1/t", &from("198.51.100.1"), track("a1"))
            .await
            .status,
        200
    );
    // Another client behind the same proxy has its own budget...
    assert_eq!(
        send("POST", addr, "/v1/t", &from("198.51.100.2"), track("b1"))
            .await
            .status,
        200
    );
    // ... and the first one's is spent.
    let refused = send("POST", addr, "/v1/t", &from("198.51.100.1"), track("a2")).await;
    assert_error(&refused, 429, "rate_limited");
    pg.shutdown().await;
}
