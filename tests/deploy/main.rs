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
//!
//! This file holds the helpers the checks share; each group of checks is
//! in its module: `container`, `manifests`, `kustomize`, `prometheus`.

#[path = "../common/mod.rs"]
mod common;
mod container;
mod kustomize;
mod manifests;
mod prometheus;

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

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}
