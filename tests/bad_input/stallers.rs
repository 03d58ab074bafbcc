//! [`STALLERS`]: clients that hold a connection without finishing a
//! request, and what each must get before it is cut off.

use super::*;
use cases::{raw_head, raw_post};

/// A client that holds a connection without finishing a request.
pub(super) struct Staller {
    pub(super) name: &'static str,
    /// Sent at once.
    opening: fn() -> Vec<u8>,
    /// Then sent one byte every [`DRIP`]; after that, silence.
    drip: fn() -> Vec<u8>,
    /// The server must have closed the connection this soon after it opened.
    closed_within: Duration,
    /// The answer it must get before that: a status and, for an error, its code.
    answer: Option<(u16, Option<&'static str>)>,
}

/// How slowly a staller sends.
const DRIP: Duration = Duration::from_millis(200);
/// Timers fire late on a loaded machine; the idle check runs every quarter
/// of the idle timeout (`ingest::server`).
const SLACK: Duration = Duration::from_millis(1500);

pub(super) const STALLERS: &[Staller] = &[
    Staller {
        name: "slowloris headers",
        opening: Vec::new,
        drip: || {
            let head = "POST /v1/t HTTP/1.1\r\nhost: 127.0.0.1\r\n".to_owned();
            (head + &"x-slow: 1\r\n".repeat(100)).into_bytes()
        },
        closed_within: HEADER_READ_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        name: "silent connection",
        opening: Vec::new,
        drip: Vec::new,
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        // Before the HTTP version is known, only the idle timeout applies.
        name: "slow h2 preface",
        opening: Vec::new,
        drip: || b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: None,
    },
    Staller {
        name: "slow body",
        opening: || {
            let head = raw_head("content-length: 10000\r\n");
            [
                head,
                br#"{"type":"track","messageId":"slow-body","pad":""#.to_vec(),
            ]
            .concat()
        },
        drip: || vec![b'a'; 100],
        closed_within: REQUEST_TIMEOUT.saturating_add(SLACK),
        answer: Some((408, Some("timeout"))),
    },
    Staller {
        name: "idle keep-alive",
        opening: || raw_post("", track("idle-keep-alive").as_bytes()),
        drip: Vec::new,
        closed_within: IDLE_TIMEOUT.saturating_add(SLACK),
        answer: Some((200, None)),
    },
];

/// Runs `staller` against `addr`: how long until the server closed the
/// connection, and what it sent before.
pub(super) async fn stall(
    addr: SocketAddr,
    staller: &Staller,
) -> Result<(Duration, Vec<u8>), String> {
    let opened = Instant::now();
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(&(staller.opening)())
        .await
        .map_err(|e| e.to_string())?;
    let drip = (staller.drip)();
    let dripping = async move {
        for byte in drip {
            tokio::time::sleep(DRIP).await;
            if write.write_all(&[byte]).await.is_err() {
                break;
            }
        }
        // Hold the connection open: dropping `write` would end the request.
        std::future::pending::<()>().await
    };
    let reading = async {
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while let Ok(n @ 1..) = read.read(&mut buf).await {
            got.extend_from_slice(&buf[..n]);
        }
        got
    };
    let limit = staller.closed_within.saturating_mul(3);
    let got = tokio::time::timeout(limit, async {
        tokio::select! {
            got = reading => got,
            () = dripping => unreachable!(),
        }
    })
    .await
    .map_err(|_| format!("still open after {limit:?}"))?;
    Ok((opened.elapsed(), got))
}

/// What is wrong with how `staller` was treated, if anything.
pub(super) fn staller_verdict(
    staller: &Staller,
    closed_after: Duration,
    got: &[u8],
) -> Result<(), String> {
    if closed_after > staller.closed_within {
        return Err(format!(
            "closed after {closed_after:?}, want within {:?}",
            staller.closed_within
        ));
    }
    let Some((status, code)) = staller.answer else {
        return Ok(());
    };
    let answer = parse_response(got)?.ok_or_else(|| {
        format!(
            "no answer before the close: {:?}",
            String::from_utf8_lossy(got)
        )
    })?;
    match code {
        Some(code) => error_mismatch(&answer, status, code).map_or(Ok(()), Err),
        None if answer.status == status => Ok(()),
        None => Err(format!("status {}, want {status}", answer.status)),
    }
}
