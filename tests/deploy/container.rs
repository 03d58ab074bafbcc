//! The container's configs as the image runs them: `privgate check` passes,
//! and they serve as uid 65532 with the config and secrets read-only, only
//! the spool writable, spooling while the upstream fails and draining
//! after a SIGTERM.

use super::*;

/// The uid this test runs as (the owner of a file it creates).
fn own_uid() -> u32 {
    let file = tempfile::NamedTempFile::new().unwrap();
    file.as_file().metadata().unwrap().uid()
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A file tree laid out as the image's filesystem, under a temporary root:
/// `usr/local/bin/privgate`, `etc/privgate/config/proxy.toml` (a deploy
/// config with its absolute paths moved under the root), the secrets it
/// names under `etc/privgate/secrets/`, and, for a durable config,
/// `var/lib/privgate` (the volume) owned by the user privgate runs as.
struct ImageRoot {
    root: tempfile::TempDir,
    bin: PathBuf,
    config: PathBuf,
    /// The uid and gid privgate runs as: 65532 when the test is root.
    user: (u32, u32),
}

impl ImageRoot {
    /// `deploy_config` (a path in the repository) with its listeners on
    /// ephemeral loopback ports, its destination's url at `url`, and a
    /// 2 s `shutdown_timeout` (the drain budget is the pod's business,
    /// checked against the manifests below; a test waits for it when the
    /// upstream is down).
    fn new(deploy_config: &str, url: &str) -> ImageRoot {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        let is_root = own_uid() == 0;
        let user = if is_root {
            (NONROOT, NONROOT)
        } else {
            let m = r.metadata().unwrap();
            (m.uid(), m.gid())
        };
        chmod(r, 0o755);

        let text = read(deploy_config);
        let durable = toml::from_str::<toml::Value>(&text)
            .unwrap()
            .get("spool")
            .is_some();
        let text = replace_all(&text, "\"0.0.0.0:8080\"", "\"127.0.0.1:0\"");
        let text = replace_all(&text, "\"0.0.0.0:9090\"", "\"127.0.0.1:0\"");
        let text = replace_all(
            &text,
            "\"https://collector.example.com/v1/batch\"",
            &format!("\"{url}\""),
        );
        let text = replace_all(
            &text,
            "shutdown_timeout = \"20s\"",
            "shutdown_timeout = \"2s\"",
        );
        let text = replace_all(
            &text,
            "/etc/privgate/",
            &format!("{}/etc/privgate/", r.display()),
        );
        let text = if durable {
            replace_all(
                &text,
                "/var/lib/privgate/",
                &format!("{}/var/lib/privgate/", r.display()),
            )
        } else {
            assert!(
                !text.contains("/var/lib/privgate"),
                "a memory-only config writes nothing"
            );
            text
        };

        // The binary, root's and read-only, like the image's.
        let bin_dir = r.join("usr/local/bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let bin = bin_dir.join("privgate");
        if std::fs::hard_link(BIN, &bin).is_err() {
            std::fs::copy(BIN, &bin).unwrap();
        }
        chmod(&bin, 0o755);

        // The config: a ConfigMap volume is read-only to everyone.
        let config_dir = r.join("etc/privgate/config");
        std::fs::create_dir_all(&config_dir).unwrap();
        let config = config_dir.join("proxy.toml");
        std::fs::write(&config, text.as_bytes()).unwrap();
        chmod(&config, 0o444);
        chmod(&config_dir, 0o555);
        chmod(&r.join("etc/privgate"), 0o755);
        chmod(&r.join("etc"), 0o755);

        // The secrets, as a Secret volume with defaultMode 0440 and the
        // pod's fsGroup: root's files, readable by the group.
        let secrets = r.join("etc/privgate/secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        let names = secret_files(&text);
        assert!(!names.is_empty(), "the config names no secret file");
        for name in &names {
            let value = match name.as_str() {
                "admin-token" => "test-admin-token-of-some-length".to_owned(),
                "write-key" => "test-key".to_owned(),
                "backend-authorization" => "Basic YmFja2VuZC1rZXk6".to_owned(),
                key if key.ends_with(".key") => {
                    privgate::crypto::generate_key().as_str().to_owned()
                }
                other => panic!("the test does not know what secret {other} holds"),
            };
            let path = secrets.join(name);
            std::fs::write(&path, format!("{value}\n")).unwrap();
            if is_root {
                std::os::unix::fs::chown(&path, Some(0), Some(NONROOT)).unwrap();
            }
            chmod(&path, 0o440);
        }
        if is_root {
            std::os::unix::fs::chown(&secrets, Some(0), Some(NONROOT)).unwrap();
        }
        chmod(&secrets, 0o550);

        // The volume: the image's /var/lib/privgate is the user's (COPY
        // --chown), a pod's volume is the fsGroup's.
        if durable {
            let volume = r.join("var/lib/privgate");
            std::fs::create_dir_all(&volume).unwrap();
            chmod(&r.join("var/lib"), 0o755);
            chmod(&r.join("var"), 0o755);
            if is_root {
                std::os::unix::fs::chown(&volume, Some(NONROOT), Some(NONROOT)).unwrap();
            }
            chmod(&volume, 0o700);
        }
        ImageRoot {
            root,
            bin,
            config,
            user,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// The command the image's entrypoint runs, as its user, in a directory
    /// it cannot write (so a relative write would fail, not go unnoticed).
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(self.path("etc/privgate/config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if own_uid() == 0 {
            // std drops the supplementary groups too (setgroups(0)) when it
            // changes the uid of a root process.
            command.uid(self.user.0).gid(self.user.1);
        }
        command
    }

    fn serve(&self) -> Proc {
        let config = self.config.display().to_string();
        spawn_command(self.command(&["run", "--config", &config]))
    }

    /// Every path under the root, with its owner, except the spool's.
    fn files_outside_the_spool(&self) -> BTreeMap<PathBuf, (u32, u64)> {
        let mut out = BTreeMap::new();
        let spool = self.path("var/lib/privgate/spool");
        let mut stack = vec![self.root.path().to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.starts_with(&spool) {
                    continue;
                }
                let m = std::fs::symlink_metadata(&path).unwrap();
                if m.is_dir() {
                    stack.push(path.clone());
                }
                out.insert(path, (m.uid(), m.len()));
            }
        }
        out
    }
}

impl Drop for ImageRoot {
    fn drop(&mut self) {
        // Writable again, so that a non-root run can delete it.
        for dir in [
            "etc/privgate/config",
            "etc/privgate/secrets",
            "var/lib/privgate",
        ] {
            let path = self.path(dir);
            if path.exists() {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
}

fn check(root: &ImageRoot) {
    let config = root.config.display().to_string();
    let out = root
        .command(&["check", "--config", &config])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "privgate check refused the deploy config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_deploy_configs_pass_check() {
    for config in [
        "deploy/kubernetes/base/proxy.toml",
        "deploy/kubernetes/components/memory-only/proxy.toml",
    ] {
        let root = ImageRoot::new(config, "http://127.0.0.1:9/v1/batch");
        check(&root);
    }
    // Both listen on every interface, and read their secrets from files.
    for config in [
        "deploy/kubernetes/base/proxy.toml",
        "deploy/kubernetes/components/memory-only/proxy.toml",
    ] {
        let text = read(config);
        assert!(text.contains("listen = \"0.0.0.0:8080\""), "{config}");
        assert!(text.contains("listen = \"0.0.0.0:9090\""), "{config}");
        assert!(
            !text.contains("\"env:"),
            "{config}: secrets are files in the pod"
        );
    }
}

/// messageIds of events in the upstream's 2xx answered requests (gzip
/// bodies opened: the deploy config compresses).
fn delivered(upstream: &Upstream) -> Vec<String> {
    let mut ids = Vec::new();
    for r in upstream
        .received()
        .iter()
        .filter(|r| (200..300).contains(&r.status))
    {
        let body = if r
            .headers
            .get("content-encoding")
            .is_some_and(|v| v == "gzip")
        {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut out)
                .unwrap();
            out
        } else {
            r.body.to_vec()
        };
        let value: Value = serde_json::from_slice(&body).expect("a Segment batch");
        for event in value["batch"].as_array().expect("a Segment batch") {
            ids.push(event["messageId"].as_str().unwrap().to_owned());
        }
    }
    ids
}

async fn wait_delivered(upstream: &Upstream, ids: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = delivered(upstream);
        if ids.iter().all(|id| got.iter().any(|g| g == id)) {
            return;
        }
        assert!(Instant::now() < deadline, "delivered {got:?}, want {ids:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An event with analytics consent (the deploy config requires it).
fn consented(id: &str) -> String {
    format!(
        r#"{{"type":"track","event":"Signed Up","messageId":"{id}","anonymousId":"a-1","context":{{"consent":{{"categoryPreferences":{{"Analytics":true}}}}}}}}"#
    )
}

/// Which user a process runs as: the Uid, Gid and Groups lines of its
/// /proc status.
fn credentials(pid: u32) -> (String, String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    (line("Uid:"), line("Gid:"), line("Groups:"))
}

/// SIGTERM, then the exit status (within 15 s).
async fn terminate(mut proc: Proc) -> (std::process::ExitStatus, String) {
    let pid = proc.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = proc.child.try_wait().unwrap() {
                // The log reader may still be catching up on the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, proc.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "no exit within 15s:\n{}",
                proc.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap()
}

const AUTH_TEST_KEY: (&str, &str) = ("authorization", "Basic dGVzdC1rZXk6");

async fn ingest(proc: &Proc, id: &str) -> u16 {
    send(
        "POST",
        proc.ingest,
        "/v1/t",
        &[AUTH_TEST_KEY, ("content-type", "application/json")],
        consented(id),
    )
    .await
    .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_config_serves_spools_and_drains_as_nonroot_with_read_only_config() {
    let upstream = Upstream::start().await;
    let root = ImageRoot::new(
        "deploy/kubernetes/base/proxy.toml",
        &upstream.url("/v1/batch"),
    );
    if own_uid() != 0 {
        note(&format!(
            "skipped: running as uid {}, not root, so privgate runs as this user rather than \
             uid {NONROOT}; the config and secrets are read-only by their permissions",
            own_uid()
        ));
    }
    let before = root.files_outside_the_spool();

    // It serves, as the image's user, and reads its secrets.
    let proc = root.serve();
    let (uid, gid, groups) = credentials(proc.child.id());
    let (u, g) = root.user;
    assert_eq!(uid, format!("{u} {u} {u} {u}"), "uid");
    assert_eq!(gid, format!("{g} {g} {g} {g}"), "gid");
    if own_uid() == 0 {
        assert_eq!(groups, "", "no supplementary groups");
    }
    assert_eq!(
        send("GET", proc.admin, "/readyz", &[], "").await.status,
        200
    );
    // What the alerts read exists from the start: the spool's bound, the
    // loss series at 0 (a series born at 1 hides its first increase),
    // the last reload's result.
    let max = metric(
        proc.admin,
        "privgate_spool_max_bytes{destination=\"backend\"}",
    )
    .await;
    assert_eq!(max, Some(8.0 * 1024.0 * 1024.0 * 1024.0));
    for reason in ["rejected", "retries_exhausted", "expired", "shutdown"] {
        let series =
            format!("privgate_events_dropped_total{{destination=\"backend\",reason=\"{reason}\"}}");
        assert_eq!(metric(proc.admin, &series).await, Some(0.0), "{series}");
    }
    let reloaded = metric(proc.admin, "privgate_config_last_reload_successful").await;
    assert_eq!(reloaded, Some(1.0));
    assert_eq!(ingest(&proc, "img-1").await, 200);
    wait_delivered(&upstream, &["img-1"]).await;
    let seen = upstream.received();
    assert_eq!(
        seen[0].headers.get("authorization").unwrap(),
        "Basic YmFja2VuZC1rZXk6",
        "the secret header comes from its file"
    );
    // A reload re-reads the read-only config and secrets.
    let reload = send(
        "POST",
        proc.admin,
        "/admin/reload",
        &[("authorization", "Bearer test-admin-token-of-some-length")],
        "",
    )
    .await;
    assert_eq!(reload.status, 200, "{:?}", reload.body);

    // The spool is on the volume, the user's.
    let spool = root.path("var/lib/privgate/spool/backend");
    assert!(
        spool.join("LOCK").exists(),
        "no spool in {}",
        spool.display()
    );
    assert_eq!(spool.metadata().unwrap().uid(), u);
    assert!(!spool_segments(&spool).is_empty(), "no spool segment");

    // The upstream fails: acknowledged events wait in the spool, and a
    // SIGTERM leaves them there and exits 0.
    upstream.fail_with(Reply::Status(503));
    for id in ["img-2", "img-3"] {
        assert_eq!(ingest(&proc, id).await, 200);
    }
    let series = "privgate_queue_depth_events{destination=\"backend\"}";
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(proc.admin, series).await.unwrap_or(0.0) < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the spool did not hold the 2 events"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, log) = terminate(proc).await;
    assert!(status.success(), "exit status {status}:\n{log}");
    assert!(
        log.contains("undelivered events stay in the spool"),
        "{log}"
    );
    assert!(!delivered(&upstream).iter().any(|id| id == "img-2"));

    // The next start replays them.
    upstream.heal();
    let proc = root.serve();
    wait_delivered(&upstream, &["img-2", "img-3"]).await;
    let replayed = metric(
        proc.admin,
        "privgate_spool_replayed_total{destination=\"backend\"}",
    )
    .await;
    assert_eq!(replayed, Some(2.0));
    let (status, log) = terminate(proc).await;
    assert!(status.success(), "exit status {status}:\n{log}");

    // Nothing was written anywhere but the spool.
    let mut after = root.files_outside_the_spool();
    // The volume's own entry may change size as the spool directory appears.
    after.retain(|p, _| !p.ends_with("var/lib/privgate"));
    let mut before = before;
    before.retain(|p, _| !p.ends_with("var/lib/privgate"));
    let spool_dir = root.path("var/lib/privgate/spool");
    after.remove(&spool_dir);
    assert_eq!(before, after, "privgate wrote outside its spool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_only_config_serves_with_nothing_writable() {
    let upstream = Upstream::start().await;
    let root = ImageRoot::new(
        "deploy/kubernetes/components/memory-only/proxy.toml",
        &upstream.url("/v1/batch"),
    );
    let before = root.files_outside_the_spool();
    let proc = root.serve();
    assert_eq!(ingest(&proc, "mem-1").await, 200);
    wait_delivered(&upstream, &["mem-1"]).await;
    let (status, log) = terminate(proc).await;
    assert!(status.success(), "exit status {status}:\n{log}");
    assert_eq!(
        before,
        root.files_outside_the_spool(),
        "privgate wrote a file"
    );
}
