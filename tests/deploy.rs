//! What `deploy/` ships, held to the code and to the config it deploys.
//!
//! - The container's config (`deploy/kubernetes/base/proxy.toml`, also the
//!   image's default) and the memory-only one pass `privgate check`, and
//!   serve as the image runs them: as uid 65532 (when the test runs as
//!   root), the config and secrets read-only, only the spool writable; an
//!   event reaches a real upstream, waits in the spool while the upstream
//!   fails, survives a SIGTERM (exit 0) and is delivered by the next start.
//! - The Dockerfile and every Kubernetes manifest agree with that config:
//!   ports, probe paths, mounts, secret files, the spool's volume, the grace
//!   period against `shutdown_timeout`, the security context.
//! - kustomize renders every overlay and component, the result validates
//!   against Kubernetes' schemas (`kubernetes-validate`, offline; the
//!   Prometheus Operator's kinds have no bundled schema and are checked
//!   here by hand), and a changed `proxy.toml` renames the ConfigMap the
//!   pods mount, which rolls them.
//! - The Prometheus rules pass `promtool check rules` and their unit tests,
//!   every alert has a runbook section and a unit test, and the
//!   PrometheusRule carries exactly `alerts.yml`.
//!
//! Tests that need a tool (kubectl, kubernetes-validate, promtool) skip
//! without it unless `PRIVGATE_REQUIRE_TOOLS=1` (see `common::tool`).

mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The distroless `nonroot` user and group the image runs as.
const NONROOT: u32 = 65532;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `text` with every `from` replaced; `from` must be there.
fn replace_all(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the config no longer has {from:?}");
    text.replace(from, to)
}

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

/// The names of the files a config's `file:` references read under
/// `.../etc/privgate/secrets/`.
fn secret_files(config: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in config.split("\"file:").skip(1) {
        let path = &part[..part.find('"').unwrap()];
        let name = path
            .split("/etc/privgate/secrets/")
            .nth(1)
            .unwrap_or_else(|| panic!("secret {path} is not under /etc/privgate/secrets/"));
        names.insert(name.to_owned());
    }
    names
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

// ---------------------------------------------------------------------
// The Dockerfile and the manifests against the config.

/// `[server] listen` and `[admin] listen` ports, and the shutdown budget.
struct Listeners {
    server: u16,
    admin: u16,
    shutdown: Duration,
    spool_dir: Option<String>,
}

fn listeners(config: &str) -> Listeners {
    let toml: toml::Value = toml::from_str(&read(config)).unwrap();
    let port = |table: &str| {
        let listen = toml[table]["listen"].as_str().unwrap();
        listen.rsplit(':').next().unwrap().parse().unwrap()
    };
    Listeners {
        server: port("server"),
        admin: port("admin"),
        shutdown: humantime::parse_duration(toml["server"]["shutdown_timeout"].as_str().unwrap())
            .unwrap(),
        spool_dir: toml
            .get("spool")
            .map(|s| s["dir"].as_str().unwrap().to_owned()),
    }
}

#[test]
fn the_dockerfile_builds_and_runs_what_the_config_needs() {
    let dockerfile = read("deploy/Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 3, "multi-stage: {stages:?}");
    let runtime = &lines[*stages.last().unwrap()..];
    assert!(
        runtime[0].starts_with("FROM gcr.io/distroless/cc-debian12:nonroot"),
        "{}",
        runtime[0]
    );
    // The dependency layer comes before the sources.
    let builder = &lines[..*stages.last().unwrap()];
    let cook = builder
        .iter()
        .position(|l| l.contains("cargo chef cook"))
        .expect("cargo chef cook");
    let sources = builder
        .iter()
        .rposition(|l| *l == "COPY . .")
        .expect("COPY . .");
    assert!(
        cook < sources,
        "the dependencies are built before the sources are copied"
    );
    assert!(builder
        .iter()
        .any(|l| l.contains("cargo build --release --locked --bin privgate")));

    let has = |line: &str| runtime.contains(&line);
    assert!(has("USER 65532:65532"));
    assert!(
        has("RUN [\"/usr/local/bin/privgate\", \"--version\"]"),
        "the smoke step"
    );
    assert!(has(
        "COPY deploy/kubernetes/base/proxy.toml /etc/privgate/config/proxy.toml"
    ));
    assert!(has("ENTRYPOINT [\"/usr/local/bin/privgate\"]"));
    assert!(has(
        "CMD [\"run\", \"--config\", \"/etc/privgate/config/proxy.toml\"]"
    ));
    assert!(has("VOLUME [\"/var/lib/privgate\"]"));
    let config = listeners("deploy/kubernetes/base/proxy.toml");
    assert!(
        config.spool_dir.unwrap().starts_with("/var/lib/privgate/"),
        "the spool is on the volume"
    );
    assert!(has(&format!("EXPOSE {} {}", config.server, config.admin)));
    // Only the binary, the config and the volume's mount point go in.
    let copies: Vec<&&str> = runtime.iter().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(copies.len(), 3, "{copies:?}");
    for label in [
        "title",
        "description",
        "version",
        "revision",
        "created",
        "licenses",
        "source",
    ] {
        assert!(
            dockerfile.contains(&format!("org.opencontainers.image.{label}=")),
            "OCI label {label}"
        );
    }
    // The build context holds what the build reads.
    let ignore = read("deploy/Dockerfile.dockerignore");
    for kept in ignore.lines().filter_map(|l| l.strip_prefix('!')) {
        assert!(
            repo(kept.trim_end_matches('/')).exists(),
            "{kept} is not in the repository"
        );
    }
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "src/",
        "benches/",
        "deploy/kubernetes/base/proxy.toml",
    ] {
        assert!(
            ignore.lines().any(|l| l == format!("!{needed}")),
            "{needed} is not in the build context"
        );
    }
}

/// The documents of a manifest file in deploy/kubernetes.
fn manifest(path: &str) -> Vec<Value> {
    yaml_file(&repo(&format!("deploy/kubernetes/{path}")))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn str_list(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// A container port's number by name.
fn named_port(container: &Value, name: &str) -> u16 {
    container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no container port {name}"))["containerPort"]
        .as_u64()
        .unwrap() as u16
}

/// Checks one workload (StatefulSet or Deployment) against its config.
fn check_workload(workload: &Value, config_path: &str) {
    let config = listeners(config_path);
    let pod = &workload["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(
        str_list(&c["args"]),
        ["run", "--config", "/etc/privgate/config/proxy.toml"]
    );
    assert_eq!(
        named_port(c, "http"),
        config.server,
        "the tracker port is [server] listen's"
    );
    assert_eq!(
        named_port(c, "admin"),
        config.admin,
        "the admin port is [admin] listen's"
    );
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        let port = get["port"].as_str().map_or_else(
            || get["port"].as_u64().unwrap() as u16,
            |n| named_port(c, n),
        );
        assert_eq!(port, config.admin, "{probe} asks the admin listener");
    }
    // The drain fits in the grace period, after the preStop pause.
    let pause = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("a preStop sleep");
    assert!(pause >= 1);
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(
        Duration::from_secs(grace) > Duration::from_secs(pause) + config.shutdown,
        "terminationGracePeriodSeconds {grace} must exceed preStop {pause}s + shutdown_timeout {:?}",
        config.shutdown
    );
    // Locked down.
    let psc = &pod["securityContext"];
    assert_eq!(psc["runAsNonRoot"], true);
    assert_eq!(psc["runAsUser"], NONROOT);
    assert_eq!(psc["seccompProfile"]["type"], "RuntimeDefault");
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"], true);
    assert_eq!(csc["allowPrivilegeEscalation"], false);
    assert_eq!(csc["runAsNonRoot"], true);
    assert_eq!(str_list(&csc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(pod["automountServiceAccountToken"], false);
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                c["resources"][kind][resource].is_string(),
                "resources.{kind}.{resource}"
            );
        }
    }
    // Mounts: the config (read-only, from the generated ConfigMap), the
    // secrets its file: references read (read-only), and the spool's
    // volume, the only writable one.
    let mounts: BTreeMap<&str, &Value> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["mountPath"].as_str().unwrap(), m))
        .collect();
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    let config_mount = mounts["/etc/privgate/config"];
    assert_eq!(config_mount["readOnly"], true);
    assert_eq!(
        volumes[config_mount["name"].as_str().unwrap()]["configMap"]["name"],
        "privgate-config"
    );
    let secrets_mount = mounts["/etc/privgate/secrets"];
    assert_eq!(secrets_mount["readOnly"], true);
    let secret = &volumes[secrets_mount["name"].as_str().unwrap()]["secret"];
    assert_eq!(secret["secretName"], "privgate-secrets");
    assert!(!secret_files(&read(config_path)).is_empty());
    let writable: Vec<&&str> = mounts
        .iter()
        .filter(|(_, m)| m["readOnly"] != true)
        .map(|(p, _)| p)
        .collect();
    match (&config.spool_dir, workload["kind"].as_str().unwrap()) {
        (Some(dir), "StatefulSet") => {
            assert_eq!(writable, [&"/var/lib/privgate"]);
            assert!(
                dir.starts_with("/var/lib/privgate/"),
                "the spool {dir} is on the volume"
            );
            let claim = mounts["/var/lib/privgate"]["name"].as_str().unwrap();
            let templates = workload["spec"]["volumeClaimTemplates"].as_array().unwrap();
            assert!(
                templates.iter().any(|t| t["metadata"]["name"] == claim),
                "the spool is a volume claim per pod, not an emptyDir"
            );
            assert!(
                !volumes.contains_key(claim),
                "the spool volume comes from the claim template"
            );
        }
        (None, "Deployment") => assert!(writable.is_empty(), "nothing is writable: {writable:?}"),
        (spool, kind) => panic!("a {kind} with spool {spool:?}"),
    }
}

#[test]
fn kubernetes_manifests_agree_with_the_config() {
    let kustomization = &manifest("base/kustomization.yaml")[0];
    let generator = &kustomization["configMapGenerator"][0];
    assert_eq!(generator["name"], "privgate-config");
    assert_eq!(str_list(&generator["files"]), ["proxy.toml"]);
    assert!(
        generator.get("options").is_none(),
        "the name hash is what rolls the pods"
    );
    let mut base = Vec::new();
    for file in str_list(&kustomization["resources"]) {
        base.extend(manifest(&format!("base/{file}")));
    }

    let statefulset = find(&base, "StatefulSet", "privgate");
    check_workload(statefulset, "deploy/kubernetes/base/proxy.toml");
    let deployment = &manifest("components/memory-only/deployment.yaml")[0];
    check_workload(
        deployment,
        "deploy/kubernetes/components/memory-only/proxy.toml",
    );
    // The two run the same pod, but for the spool.
    let mut stateful_pod = statefulset["spec"]["template"].clone();
    let mounts = stateful_pod["spec"]["containers"][0]["volumeMounts"]
        .as_array_mut()
        .unwrap();
    mounts.retain(|m| m["mountPath"] != "/var/lib/privgate");
    assert_eq!(
        stateful_pod, deployment["spec"]["template"],
        "the Deployment's pod drifted"
    );

    // Selectors reach the pods; each Service port targets a container port.
    let pod_labels = &statefulset["spec"]["template"]["metadata"]["labels"];
    let selects = |selector: &Value| {
        selector
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| &pod_labels[k] == v)
    };
    assert!(selects(&statefulset["spec"]["selector"]["matchLabels"]));
    let container = &statefulset["spec"]["template"]["spec"]["containers"][0];
    let config = listeners("deploy/kubernetes/base/proxy.toml");
    let services: Vec<&Value> = base.iter().filter(|d| d["kind"] == "Service").collect();
    for service in &services {
        assert!(
            selects(&service["spec"]["selector"]),
            "{}",
            service["metadata"]["name"]
        );
        for port in service["spec"]["ports"].as_array().unwrap() {
            named_port(container, port["targetPort"].as_str().unwrap());
        }
    }
    let ingest = find(&base, "Service", "privgate");
    assert_eq!(ingest["spec"]["ports"][0]["targetPort"], "http");
    let admin = find(&base, "Service", "privgate-admin");
    assert_eq!(
        admin["spec"]["type"], "ClusterIP",
        "the admin listener stays in the cluster"
    );
    assert_eq!(admin["spec"]["ports"][0]["targetPort"], "admin");
    assert_eq!(admin["spec"]["ports"][0]["port"], config.admin);
    let headless = find(&base, "Service", "privgate-headless");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(statefulset["spec"]["serviceName"], "privgate-headless");
    for service in &services {
        let t = service["spec"]["type"].as_str().unwrap_or("ClusterIP");
        assert_eq!(
            t, "ClusterIP",
            "no listener is exposed outside the cluster by default"
        );
    }

    // The ServiceMonitor scrapes the admin Service's port at /metrics.
    let monitor = &manifest("components/prometheus-operator/servicemonitor.yaml")[0];
    let wanted = &monitor["spec"]["selector"]["matchLabels"];
    let scraped: Vec<&&Value> = services
        .iter()
        .filter(|s| {
            wanted
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][k] == v)
        })
        .collect();
    assert_eq!(scraped.len(), 1, "the ServiceMonitor selects one Service");
    assert_eq!(scraped[0]["metadata"]["name"], "privgate-admin");
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], scraped[0]["spec"]["ports"][0]["name"]);
    assert_eq!(endpoint["path"], "/metrics");
    // job="privgate", which the rules and the dashboard select.
    assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/name");
    assert_eq!(
        scraped[0]["metadata"]["labels"]["app.kubernetes.io/name"],
        "privgate"
    );

    // The autoscaler scales this workload; the budget covers its pods.
    let hpa = find(&base, "HorizontalPodAutoscaler", "privgate");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "privgate");
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 2);
    let pdb = find(&base, "PodDisruptionBudget", "privgate");
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]));
}

// ---------------------------------------------------------------------
// kustomize and the schemas.

fn kustomize(kubectl: &Path, dir: &Path) -> Vec<Value> {
    let out = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_documents(&String::from_utf8(out.stdout).unwrap())
}

/// An overlay `overlays/<name>` in `k8s` (a copy of deploy/kubernetes:
/// kustomize takes only relative paths) of the base and these components.
fn overlay(k8s: &Path, name: &str, components: &[&str]) -> PathBuf {
    let mut text = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\n",
    );
    if !components.is_empty() {
        text.push_str("components:\n");
        for c in components {
            text.push_str(&format!("  - ../../{c}\n"));
        }
    }
    let dir = k8s.join("overlays").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kustomization.yaml"), text).unwrap();
    dir
}

/// The name of the ConfigMap a rendered workload mounts its config from.
fn mounted_config(docs: &[Value], kind: &str) -> String {
    let workload = find(docs, kind, "privgate");
    let volumes = workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap();
    let config = volumes.iter().find(|v| v["name"] == "config").unwrap();
    config["configMap"]["name"].as_str().unwrap().to_owned()
}

#[test]
fn kustomize_renders_every_overlay_and_the_result_validates() {
    let (Some(kubectl), Some(validate)) = (
        tool(
            "kubectl",
            "your distribution's kubectl package (kubectl kustomize renders offline)",
        ),
        tool(
            "kubernetes-validate",
            "python3 -m pip install kubernetes-validate",
        ),
    ) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let k8s = scratch.path().join("kubernetes");
    copy_dir(&repo("deploy/kubernetes"), &k8s);
    let mut renders = vec![
        (
            "overlays/production".to_owned(),
            repo("deploy/kubernetes/overlays/production"),
        ),
        (
            "overlays/memory-only".to_owned(),
            repo("deploy/kubernetes/overlays/memory-only"),
        ),
    ];
    for (n, components) in [
        &["components/hpa-events-rate"][..],
        &["components/memory-only", "components/hpa-events-rate"],
    ]
    .into_iter()
    .enumerate()
    {
        let dir = overlay(&k8s, &format!("test-{n}"), components);
        renders.push((format!("base + {}", components.join(" + ")), dir));
    }
    for (name, dir) in &renders {
        let docs = kustomize(&kubectl, dir);
        let memory = name.contains("memory-only");
        let kind = if memory { "Deployment" } else { "StatefulSet" };
        let workload = find(&docs, kind, "privgate");
        assert!(
            !docs
                .iter()
                .any(|d| d["kind"] == if memory { "StatefulSet" } else { "Deployment" }),
            "{name}: one workload"
        );
        // The pods mount the generated, hash-named ConfigMap.
        let config = mounted_config(&docs, kind);
        assert!(config.starts_with("privgate-config-"), "{name}: {config}");
        let map = find(&docs, "ConfigMap", &config);
        let toml = map["data"]["proxy.toml"].as_str().unwrap();
        assert_eq!(toml.contains("delivery = \"durable\""), !memory, "{name}");
        let hpa = find(&docs, "HorizontalPodAutoscaler", "privgate");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], kind, "{name}");
        if name.contains("hpa-events-rate") {
            let metrics = hpa["spec"]["metrics"].as_array().unwrap();
            assert_eq!(metrics.len(), 2, "{name}: CPU and events/s");
            assert_eq!(
                metrics[1]["pods"]["metric"]["name"],
                "privgate_events_received_per_second"
            );
        }
        if name.starts_with("overlays/") {
            assert!(
                docs.iter()
                    .all(|d| d["metadata"]["namespace"] == "privgate"),
                "{name}"
            );
            let image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap();
            assert_eq!(image, "registry.example.com/privgate:0.1.0", "{name}");
            assert!(docs.iter().any(|d| d["kind"] == "ServiceMonitor"), "{name}");
            assert!(docs.iter().any(|d| d["kind"] == "PrometheusRule"), "{name}");
        }

        // Kubernetes' own schemas, strictly (unknown fields are errors),
        // for the oldest version the manifests need (preStop sleep: 1.30)
        // and the newest the validator knows.
        let file = scratch
            .path()
            .join(format!("{}.yaml", name.replace(['/', ' ', '+'], "_")));
        let out = Command::new(kubectl.as_path())
            .arg("kustomize")
            .arg(dir)
            .output()
            .unwrap();
        std::fs::write(&file, &out.stdout).unwrap();
        for version in ["1.30.0", "1.37.0"] {
            let out = Command::new(&validate)
                .args(["--strict", "--kubernetes-version", version])
                .arg(&file)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "{name} against {version}:\n{text}");
            let passed = text
                .lines()
                .filter(|l| l.starts_with("INFO") && l.contains("passed"))
                .count();
            let crds = docs
                .iter()
                .filter(|d| {
                    d["apiVersion"]
                        .as_str()
                        .unwrap()
                        .starts_with("monitoring.coreos.com/")
                })
                .count();
            assert_eq!(
                passed + crds,
                docs.len(),
                "{name}: every object validated but the CRDs:\n{text}"
            );
            // The only objects without a schema are the Prometheus
            // Operator's (checked by hand in kubernetes_manifests_agree_with_the_config).
            for line in text.lines().filter(|l| l.starts_with("WARN")) {
                assert!(
                    line.contains("kind ServiceMonitor") || line.contains("kind PrometheusRule"),
                    "{name}: {line}"
                );
            }
        }
    }

    // A changed proxy.toml is a new ConfigMap name in the pod template:
    // applying it rolls the pods.
    let copy = k8s;
    let before = mounted_config(
        &kustomize(&kubectl, &copy.join("overlays/production")),
        "StatefulSet",
    );
    let config = copy.join("base/proxy.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("max_age = \"7d\"", "max_age = \"3d\""),
    )
    .unwrap();
    let after = mounted_config(
        &kustomize(&kubectl, &copy.join("overlays/production")),
        "StatefulSet",
    );
    assert_ne!(
        before, after,
        "a config change must change the pod template"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// ---------------------------------------------------------------------
// Prometheus rules.

/// Every rule of alerts.yml: (alert or record name, rule).
fn rules() -> Vec<(String, Value)> {
    let doc = &yaml_file(&repo("deploy/prometheus/alerts.yml"))[0];
    let mut out = Vec::new();
    for group in doc["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().or(rule["record"].as_str()).unwrap();
            out.push((name.to_owned(), rule.clone()));
        }
    }
    out
}

/// GitHub's anchor of a Markdown heading.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_alert_has_a_runbook_section_and_a_unit_test() {
    let runbook = read("deploy/RUNBOOK.md");
    let anchors: BTreeSet<String> = runbook
        .lines()
        .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("### ")))
        .map(anchor)
        .collect();
    let tests = &yaml_file(&repo("deploy/prometheus/alerts_test.yml"))[0];
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for test in tests["tests"].as_array().unwrap() {
        for case in test["alert_rule_test"].as_array().unwrap_or(&Vec::new()) {
            let name = case["alertname"].as_str().unwrap().to_owned();
            if case["exp_alerts"].as_array().is_some_and(|a| a.is_empty()) {
                silent.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    let metrics_src = format!(
        "{}{}",
        read("src/metrics.rs"),
        read("src/metrics/process.rs")
    );
    let mut alerts = BTreeSet::new();
    for (name, rule) in rules() {
        // Every privgate metric an expression reads is one privgate exports.
        let expr = rule["expr"].as_str().unwrap();
        for metric in privgate_names(expr) {
            let base = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| metric.strip_suffix(s))
                .unwrap_or(&metric);
            assert!(
                metrics_src.contains(&format!("\"{base}\"")),
                "{name} reads {metric}, which src/metrics.rs does not export"
            );
        }
        if rule.get("alert").is_none() {
            continue;
        }
        alerts.insert(name.clone());
        let runbook_ref = rule["annotations"]["runbook"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no runbook"));
        let section = runbook_ref
            .strip_prefix("deploy/RUNBOOK.md#")
            .unwrap_or_else(|| panic!("{name}: runbook {runbook_ref} is not a RUNBOOK.md section"));
        assert!(
            anchors.contains(section),
            "{name}: RUNBOOK.md has no section #{section}"
        );
        assert_eq!(
            section,
            anchor(&name),
            "{name}: its section is named after it"
        );
        for key in ["summary", "description"] {
            assert!(rule["annotations"][key].is_string(), "{name}: no {key}");
        }
        assert!(
            rule["labels"]["severity"].is_string(),
            "{name}: no severity"
        );
        assert!(
            firing.contains(&name),
            "{name}: no unit test where it fires"
        );
        assert!(
            silent.contains(&name),
            "{name}: no unit test where it stays silent"
        );
    }
    // What issue 16 asks a team to be paged on, at least.
    for required in [
        "PrivgateInstanceDown",
        "PrivgateEventsDropped",
        "PrivgateBackpressure",
        "PrivgateSpoolGrowing",
        "PrivgateSpoolNearlyFull",
        "PrivgateCircuitOpen",
        "PrivgateUpstreamErrors",
        "PrivgateConfigReloadFailed",
        "PrivgateIngest5xx",
        "PrivgateIngestLatencyHigh",
    ] {
        assert!(alerts.contains(required), "no alert {required}");
    }
}

/// Metric names (`privgate_...` and `process_...`) in a PromQL expression;
/// recording rules (`privgate:...`) are not metrics.
fn privgate_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if word(bytes[i]) && (i == 0 || !word(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            let w = &expr[start..i];
            if (w.starts_with("privgate_") || w.starts_with("process_")) && !w.contains(':') {
                out.insert(w.to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// The PrometheusRule of components/prometheus-operator: alerts.yml's
/// groups under `spec`, generated from it.
fn prometheusrule_text() -> String {
    let alerts = read("deploy/prometheus/alerts.yml");
    let body = &alerts[alerts.find("\ngroups:").expect("groups:") + 1..];
    let mut out = String::from(
        "# Generated from deploy/prometheus/alerts.yml by tests/deploy.rs: edit\n\
         # that file, then PRIVGATE_BLESS=1 cargo test --test deploy prometheusrule\n\
         apiVersion: monitoring.coreos.com/v1\n\
         kind: PrometheusRule\n\
         metadata:\n  name: privgate\n  labels:\n    app.kubernetes.io/name: privgate\n\
         spec:\n",
    );
    for line in body.lines() {
        if !line.is_empty() {
            out.push_str("  ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_prometheusrule_carries_alerts_yml() {
    let path = repo("deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml");
    let want = prometheusrule_text();
    if std::env::var("PRIVGATE_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap();
    assert!(
        got == want,
        "{} is not alerts.yml's rules: run PRIVGATE_BLESS=1 cargo test --test deploy prometheusrule",
        path.display()
    );
    // And it is the same data, not only the same text.
    let rule = &yaml_documents(&got)[0];
    let alerts = &yaml_file(&repo("deploy/prometheus/alerts.yml"))[0];
    assert_eq!(rule["spec"]["groups"], alerts["groups"]);
}

#[test]
fn promtool_checks_the_rules_and_runs_their_unit_tests() {
    let Some(promtool) = tool(
        "promtool",
        "apt-get install prometheus (Debian ships promtool in it)",
    ) else {
        return;
    };
    let dir = repo("deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
