//! TLS both ways, with certificates made in the test: privgate's listener
//! (TLS 1.2 and 1.3, ALPN h2 and http/1.1, untrusted and plaintext and
//! stalling clients refused, certificates reloaded for new connections),
//! and its HTTP destinations (a configured CA bundle instead of the webpki
//! roots, an untrusted upstream refused, client certificates for mTLS).

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::version::{TLS12, TLS13};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

/// A config whose listener serves TLS with `cert`/`key`, delivering to `upstream`.
fn tls_config(cert: &Path, key: &Path, upstream: &Upstream) -> String {
    format!(
        "{}\n[server.tls]\ncert = \"file:{}\"\nkey = \"file:{}\"\n",
        segment_config(&http_destination("backend", upstream, "")),
        cert.display(),
        key.display()
    )
    .replace(
        "shutdown_timeout",
        "header_read_timeout = \"1s\"\nshutdown_timeout",
    )
}

/// privgate serving TLS with a certificate from a new test CA (files in
/// `dir`), and the upstream it delivers to.
async fn privgate_with_tls(dir: &Path) -> (TestCa, Upstream, privgate::app::Running) {
    let ca = TestCa::new("privgate test CA");
    let (cert, key) = ca.server_leaf().write(dir, "server");
    let upstream = Upstream::start().await;
    let running = start_privgate(&tls_config(&cert, &key, &upstream)).await;
    (ca, upstream, running)
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

/// One TLS connection to privgate.
struct TlsClient {
    addr: SocketAddr,
    version: rustls::ProtocolVersion,
    alpn: Option<Vec<u8>>,
    sender: Sender,
}

impl TlsClient {
    /// Connects and handshakes; `Err` says why the handshake failed.
    async fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let handshake = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
        let tls = tokio::time::timeout(LIMIT, handshake)
            .await
            .map_err(|_| "handshake timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let (_, conn) = tls.get_ref();
        let version = conn.protocol_version().expect("handshake done");
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let io = TokioIo::new(tls);
        let sender = if alpn.as_deref() == Some(b"h2") {
            let (sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            Sender::H2(sender)
        } else {
            let (sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            Sender::H1(sender)
        };
        Ok(TlsClient {
            addr,
            version,
            alpn,
            sender,
        })
    }

    /// POSTs a track event with this messageId; the status.
    async fn post(&mut self, id: &str) -> u16 {
        let request = Request::post(format!("https://{}/v1/t", self.addr))
            .header("host", self.addr.to_string())
            .header(AUTH.0, AUTH.1)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(track(id))))
            .unwrap();
        let response = match &mut self.sender {
            Sender::H1(s) => tokio::time::timeout(LIMIT, s.send_request(request)).await,
            Sender::H2(s) => tokio::time::timeout(LIMIT, s.send_request(request)).await,
        };
        response
            .expect("answer within the limit")
            .expect("answered")
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn the_listener_serves_tls13_and_tls12_with_h2_and_http11() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, upstream, running) = privgate_with_tls(dir.path()).await;

    let mut ids = Vec::new();
    for (version, want) in [
        (&TLS13, rustls::ProtocolVersion::TLSv1_3),
        (&TLS12, rustls::ProtocolVersion::TLSv1_2),
    ] {
        for alpn in [&b"h2"[..], b"http/1.1"] {
            let config = client_config(&ca, version, alpn);
            let mut client = TlsClient::connect(running.ingest_addr(), config)
                .await
                .unwrap_or_else(|e| panic!("{want:?} {alpn:?}: {e}"));
            assert_eq!(client.version, want);
            assert_eq!(client.alpn.as_deref(), Some(alpn));
            let id = format!("tls-{:?}-{}", want, String::from_utf8_lossy(alpn));
            assert_eq!(client.post(&id).await, 200, "{id}");
            ids.push(id);
        }
    }
    let mut delivered = upstream.wait_for_delivered(ids.len(), LIMIT).await;
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids);
    running.shutdown().await;
}

#[tokio::test]
async fn the_listener_refuses_untrusting_plaintext_and_stalling_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, upstream, running) = privgate_with_tls(dir.path()).await;
    let addr = running.ingest_addr();

    // A client that trusts another CA.
    let stranger = TestCa::new("some other CA");
    let refused = TlsClient::connect(addr, client_config(&stranger, &TLS13, b"h2")).await;
    let error = refused
        .err()
        .expect("an untrusted certificate fails the handshake");
    assert!(error.contains("UnknownIssuer"), "{error}");

    // Plaintext HTTP to the TLS port gets no answer, let alone a 200.
    let plaintext = try_send("POST", addr, "/v1/t", &[AUTH], track("plain")).await;
    assert!(
        plaintext.is_err(),
        "plaintext was answered: {}",
        plaintext.ok().unwrap().status
    );

    // A client that never starts its handshake is dropped after
    // header_read_timeout (1s).
    let started = Instant::now();
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(LIMIT, silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let admin = running.admin_addr();
    let failures = "privgate_tls_handshake_failures_total{listener=\"server\",reason=";
    wait_for_metric(admin, &format!("{failures}\"timeout\"}}"), 1.0).await;
    wait_for_metric(admin, &format!("{failures}\"error\"}}"), 2.0).await;

    // Trusted clients are still served.
    let mut client = TlsClient::connect(addr, client_config(&ca, &TLS13, b"http/1.1"))
        .await
        .unwrap();
    assert_eq!(client.post("after").await, 200);
    assert!(!upstream.saw_message_id("plain"));
    running.shutdown().await;
}

#[tokio::test]
async fn a_reload_gives_new_connections_new_certificates_and_keeps_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let old_ca = TestCa::new("old CA");
    let new_ca = TestCa::new("new CA");
    let (old_cert, old_key) = old_ca.server_leaf().write(dir.path(), "old");
    let (new_cert, new_key) = new_ca.server_leaf().write(dir.path(), "new");
    let upstream = Upstream::start().await;
    let file = dir.path().join("proxy.toml");
    std::fs::write(&file, tls_config(&old_cert, &old_key, &upstream)).unwrap();
    let running = start_privgate_file(&file).await;
    let addr = running.ingest_addr();

    let mut open = TlsClient::connect(addr, client_config(&old_ca, &TLS13, b"http/1.1"))
        .await
        .unwrap();
    assert_eq!(open.post("before").await, 200);

    std::fs::write(&file, tls_config(&new_cert, &new_key, &upstream)).unwrap();
    running.reload().await.expect("TLS stays on");

    let stale = TlsClient::connect(addr, client_config(&old_ca, &TLS13, b"h2")).await;
    assert!(
        stale.is_err(),
        "a new connection still got the old certificate"
    );
    let mut fresh = TlsClient::connect(addr, client_config(&new_ca, &TLS13, b"h2"))
        .await
        .unwrap();
    assert_eq!(fresh.post("fresh").await, 200);
    assert_eq!(
        open.post("still-open").await,
        200,
        "the open connection was disturbed"
    );

    // Turning TLS off is not a reload.
    std::fs::write(
        &file,
        segment_config(&http_destination("backend", &upstream, "")),
    )
    .unwrap();
    let refused = running.reload().await.unwrap_err();
    assert!(refused.to_string().contains("needs a restart"), "{refused}");
    upstream.wait_for_delivered(3, LIMIT).await;
    running.shutdown().await;
}

/// Starts privgate with two destinations to `upstream`, `good` and `bad`
/// (name, extra keys), sends one event, and checks that only `good`
/// delivered it and `bad` gave it up after its retries.
async fn only_one_delivers(
    upstream: &Upstream,
    good: (&str, &str),
    bad: (&str, &str),
) -> privgate::app::Running {
    let config = segment_config(&format!(
        "{}{}",
        http_destination(good.0, upstream, good.1),
        http_destination(bad.0, upstream, bad.1)
    ));
    let running = start_privgate(&config).await;
    let id = format!("via-{}", good.0);
    let answer = post(running.ingest_addr(), "/v1/t", track(&id)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(upstream.wait_for_delivered(1, LIMIT).await, [id]);
    let exhausted = format!(
        "privgate_events_dropped_total{{destination=\"{}\",reason=\"retries_exhausted\"}}",
        bad.0
    );
    wait_for_metric(running.admin_addr(), &exhausted, 1.0).await;
    assert_eq!(upstream.received().len(), 1, "{} got through", bad.0);
    running
}

#[tokio::test]
async fn destinations_trust_their_ca_bundle_and_refuse_an_untrusted_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("backend CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let upstream = Upstream::start_tls(ca.server_leaf().server_config(None)).await;
    assert!(upstream.url("/").starts_with("https://"));
    let with_ca = format!("tls = {{ ca = \"file:{}\" }}", ca_file.display());
    // The webpki roots do not know the test CA.
    let running = only_one_delivers(&upstream, ("trusting", &with_ca), ("webpki", "")).await;
    let errors =
        "privgate_upstream_request_duration_seconds_count{destination=\"webpki\",status=\"error\"}";
    let attempts = metric(running.admin_addr(), errors).await;
    assert_eq!(attempts, Some(6.0), "the first attempt and 5 retries");
    running.shutdown().await;
}

#[tokio::test]
async fn destinations_present_their_client_certificate_for_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("mTLS CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let (client_cert, client_key) = ca.client_leaf().write(dir.path(), "client");
    let upstream = Upstream::start_tls(ca.server_leaf().server_config(Some(&ca))).await;
    let ca_only = format!("tls = {{ ca = \"file:{}\" }}", ca_file.display());
    let mtls = format!(
        "tls = {{ ca = \"file:{}\", client_cert = \"file:{}\", client_key = \"file:{}\" }}",
        ca_file.display(),
        client_cert.display(),
        client_key.display()
    );
    let running = only_one_delivers(&upstream, ("mtls", &mtls), ("anonymous", &ca_only)).await;
    running.shutdown().await;
}
