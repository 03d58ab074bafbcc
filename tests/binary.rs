//! The real `privgate` binary: its command line, `check`'s error reports,
//! graceful shutdown on SIGTERM/SIGINT (queued batches are flushed before
//! exit 0), and a clear failure when the port is taken.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn privgate(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("binary runs")
}

#[test]
fn version_and_help() {
    let out = privgate(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("privgate {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8_lossy(&privgate(&["--help"]).stdout).to_string();
    for needle in [
        "run",
        "check",
        "Examples:",
        "privgate run --config proxy.toml",
    ] {
        assert!(help.contains(needle), "help lacks {needle}:\n{help}");
    }
}

#[test]
fn check_accepts_the_shipped_config_and_summarizes_it() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    let out = privgate(&["check", "--config", shipped]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("web [segment]"), "{stdout}");
    assert!(stdout.contains("local-file: file"), "{stdout}");
    assert!(stdout.contains("consent: default deny"), "{stdout}");
    assert!(
        stdout.contains("consent: US opt-outs (GPP US sections, US Privacy strings): sale denies advertising+sale"),
        "{stdout}"
    );
}

#[test]
fn check_points_at_file_line_column_and_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "bad.toml",
        "[server]\nlisten = \"127.0.0.1:8080\"\n\n[[sources]]\nname = \"web\"\nprotocl = \"segment\"\n",
    );
    let out = privgate(&["check", "--config", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{path}:6:1: `sources[0].protocl`")),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `protocl`"), "{stderr}");
    assert!(stderr.contains("help:"), "{stderr}");

    let path = write(
        dir.path(),
        "addr.toml",
        "[server]\nlisten = \"localhost\"\n[[sources]]\nname = \"w\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\n[[destinations]]\nname = \"o\"\nkind = \"stdout\"\n",
    );
    let out = privgate(&["check", "--config", &path]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{path}:2:10: `server.listen`")),
        "{stderr}"
    );
}

#[test]
fn check_resolves_secrets_without_printing_them() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "token", "TOPSECRET\n");
    let base = "[[sources]]\nname = \"w\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\n[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\ndelivery = \"memory\"\n";
    let ok = write(
        dir.path(),
        "ok.toml",
        &format!("{base}secret_headers = {{ Authorization = \"file:token\" }}\n"),
    );
    let out = privgate(&["check", "--config", &ok]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("TOPSECRET"), "{all}");

    let unset = write(
        dir.path(),
        "unset.toml",
        &format!(
            "{base}secret_headers = {{ Authorization = \"env:PRIVGATE_TEST_SURELY_UNSET_VAR\" }}\n"
        ),
    );
    let out = privgate(&["check", "--config", &unset]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("`PRIVGATE_TEST_SURELY_UNSET_VAR` is not set"));
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("privgate did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn shutdown_flushes(sig: &str) {
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Batches only leave on shutdown: nothing else would send them in time.
    let config = segment_config(&http_destination(
        "backend",
        &upstream,
        r#"batch = { max_events = 1000, max_wait = "60s" }"#,
    ));
    let path = write(dir.path(), "proxy.toml", &config);
    let mut proc = spawn(&path);
    let ready = send("GET", proc.admin, "/readyz", &[], "").await;
    assert_eq!(ready.status, 200);

    let ids: Vec<String> = (0..25).map(|i| format!("{sig}-{i}")).collect();
    for id in &ids {
        assert_eq!(post(proc.ingest, "/v1/t", track(id)).await.status, 200);
    }
    assert!(
        upstream.received().is_empty(),
        "nothing sent before shutdown"
    );
    signal(&proc.child, sig);
    let status =
        tokio::task::spawn_blocking(move || wait_exit(&mut proc.child, Duration::from_secs(10)))
            .await
            .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut got = upstream.delivered_ids();
    got.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn sigterm_flushes_queued_batches_then_exits_0() {
    shutdown_flushes("-TERM").await;
}

#[tokio::test]
async fn sigint_flushes_queued_batches_then_exits_0() {
    shutdown_flushes("-INT").await;
}

#[test]
fn a_taken_port_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[server]\nlisten = \"{addr}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[[sources]]\nname = \"w\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\n[[destinations]]\nname = \"o\"\nkind = \"stdout\"\n"
    );
    let path = write(dir.path(), "proxy.toml", &config);
    let out = Command::new(BIN)
        .args(["run", "--config", &path])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn stdout_destination_prints_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let config = segment_config(
        "[[destinations]]\nname = \"out\"\nkind = \"stdout\"\nbatch = { max_wait = \"10ms\" }\n",
    );
    let path = write(dir.path(), "proxy.toml", &config);
    let mut proc = spawn_with_stdout(&path, Stdio::piped());
    for id in ["o-1", "o-2", "o-3"] {
        assert_eq!(post(proc.ingest, "/v1/t", track(id)).await.status, 200);
    }
    signal(&proc.child, "-TERM");
    let output = tokio::task::spawn_blocking(move || {
        let status = wait_exit(&mut proc.child, Duration::from_secs(10));
        assert!(status.success());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut proc.child.stdout.take().unwrap(), &mut text).unwrap();
        text
    })
    .await
    .unwrap();
    let ids = ndjson_message_ids(&output);
    assert_eq!(ids, ["o-1", "o-2", "o-3"]);
}

#[test]
fn check_and_startup_warn_about_an_open_admin_listener_and_relayed_ids() {
    let dir = tempfile::tempdir().unwrap();
    let config = |admin: &str| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"{admin}\"\n[[sources]]\nname = \"ph\"\nprotocol = \"posthog\"\nwrite_keys = [\"k\"]\nrelay_personal_data = true\n[[destinations]]\nname = \"d\"\nkind = \"stdout\"\n"
        )
    };
    let open = write(dir.path(), "open.toml", &config("0.0.0.0:0"));
    let out = privgate(&["check", "--config", &open]);
    assert!(out.status.success(), "warnings are not errors");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "warning: admin.token: the admin listener 0.0.0.0:0 is not loopback and has no token"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: sources[0].relay_personal_data: source `ph` relays feature-flag requests with their user ids"),
        "{stderr}"
    );

    // On loopback, only the relay is worth a warning.
    let local = write(dir.path(), "local.toml", &config("127.0.0.1:0"));
    let stderr =
        String::from_utf8_lossy(&privgate(&["check", "--config", &local]).stderr).into_owned();
    assert!(!stderr.contains("admin.token"), "{stderr}");
    assert!(stderr.contains("relay_personal_data"), "{stderr}");

    // The same warnings at start.
    let proc = spawn(&open);
    let log = proc.log_tail();
    assert!(
        log.contains("admin.token") && log.contains("is not loopback and has no token"),
        "{log}"
    );
    assert!(log.contains("sources[0].relay_personal_data"), "{log}");
}
