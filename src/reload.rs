//! Hot reload (SIGHUP, `POST /admin/reload`): read and fully validate the
//! config file again, with its keys, certificates and opt-out registry;
//! on any error keep serving the old config and say why. On success swap,
//! in this order, what requests see: destinations (kept ones get new sink
//! and batching settings, new ones start, removed ones stop, a spool staying
//! on disk), then the ingest handler (sources, write keys, consent, rules,
//! limits), then TLS certificates. No connection is dropped and no accepted
//! event is lost: requests in flight finish with the handler they started
//! with, batches in flight with the sink they started with.
//!
//! Some settings only a restart can change. Those that would silently weaken
//! a promise if ignored (a destination's `delivery`, `[spool]`, TLS on or
//! off) fail the reload; the rest (listen addresses, connection limits) are
//! reported as warnings and take effect at the next start (so does
//! `[consent.suppression_sync]`: its task keeps polling as it started, so
//! a mistyped url in a reload cannot stop a replica's sync; as do new
//! encryption keys for spool segments: a spool keeps the keys it was opened
//! with; payload and field encryption use the new ones at once).
//!
//! Never logs secrets: config errors name files, lines and keys, not values.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

use crate::audit::AuditLog;
use crate::config::{Config, ConfigError, Secret};
use crate::consent::suppression::Suppressions;
use crate::consent::{Consent, OptOutRegistry as Registry};
use crate::forward::{Changes, Forwarder, ReloadError as ForwardError};
use crate::ingest::server::Swappable;
use crate::ingest::stack::Handler;
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::tls::Acceptor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file does not load or validate.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The opt-out registry cannot be read.
    #[error("cannot read the opt-out registry: {0}")]
    OptOutRegistry(std::io::ErrorKind),
    /// Something only a restart can change, or a destination that cannot start.
    #[error(transparent)]
    Forward(#[from] ForwardError),
    /// TLS turned on or off on a listener.
    #[error("the new config turns TLS {} on the {listener} listener; that needs a restart", if *.on { "on" } else { "off" })]
    TlsToggled {
        /// `server` or `admin`.
        listener: &'static str,
        /// Whether the new config has TLS there.
        on: bool,
    },
    /// The process is shutting down.
    #[error("privgate is shutting down")]
    ShuttingDown,
}

/// The files a running privgate keeps open across reloads.
pub(crate) struct Logs {
    /// The admin API's suppressions.
    pub suppressions: Option<Arc<Suppressions>>,
    /// The audit log.
    pub audit: Option<Arc<AuditLog>>,
    /// The erasure marks (beside the suppressions).
    pub erasures: Option<Arc<crate::consent::erasure::Erasures>>,
    /// The deletion requests (beside the suppressions).
    pub requests: Option<Arc<crate::forward::requests::Requests>>,
}

/// What a successful reload did.
#[derive(Debug, serde::Serialize)]
pub struct Reloaded {
    /// Destinations added, updated and removed.
    pub destinations: Changes,
    /// Changed settings that take effect only after a restart.
    pub restart_needed: Vec<String>,
    /// The new config's SHA-256 (for the audit log).
    #[serde(skip)]
    pub digest: String,
    /// Its active key ids (for the audit log).
    #[serde(skip)]
    pub keys: serde_json::Value,
}

/// What the audit log records of a config: its SHA-256, the outcome, and
/// the active key ids (ids only).
pub(crate) fn config_detail(config: &Config, outcome: &str) -> serde_json::Value {
    serde_json::json!({
        "config_sha256": config.digest,
        "outcome": outcome,
        "keys": active_keys(config),
    })
}

fn active_keys(config: &Config) -> serde_json::Value {
    serde_json::json!({
        "hmac": config.keyring.active_hmac().map(|k| k.id()),
        "encryption": config.keyring.active_encryption().map(|k| k.id()),
    })
}

impl ReloadError {
    /// A fixed name for the audit log.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ReloadError::Config(_) => "config",
            ReloadError::OptOutRegistry(_) => "opt_out_registry",
            ReloadError::Forward(_) => "destinations",
            ReloadError::TlsToggled { .. } => "tls_toggled",
            ReloadError::ShuttingDown => "shutting_down",
        }
    }
}

/// Settings read once at start.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AtStart {
    listen: SocketAddr,
    admin_listen: SocketAddr,
    connections: [u128; 8],
    /// Encryption key ids and the active one, when some destination is
    /// durable: a spool seals and opens segments with the keys it was
    /// opened with.
    spool_keys: Option<(Vec<String>, Option<String>)>,
    /// `[consent.suppression_sync]`'s url and timings (its task runs
    /// for the life of the process).
    suppression_sync: Option<String>,
}

impl AtStart {
    fn of(config: &Config) -> AtStart {
        let s = &config.server;
        AtStart {
            suppression_sync: config
                .consent
                .suppression_sync
                .as_ref()
                .map(|sync| format!("{} {:?} {:?}", sync.url, sync.interval, sync.timeout)),
            listen: s.listen,
            admin_listen: config.admin_listen,
            connections: [
                s.header_read_timeout.as_millis(),
                s.idle_timeout.as_millis(),
                s.max_headers as u128,
                s.max_header_bytes as u128,
                s.max_connections as u128,
                u128::from(s.max_concurrent_streams),
                s.send_timeout.as_millis(),
                s.worker_threads.map_or(0, |n| n as u128),
            ],
            spool_keys: config
                .destinations
                .iter()
                .any(|d| d.delivery == crate::config::Delivery::Durable)
                .then(|| {
                    let keys = &config.keyring;
                    (
                        keys.encryption_keys()
                            .iter()
                            .map(|k| k.id().to_owned())
                            .collect(),
                        keys.active_encryption().map(|k| k.id().to_owned()),
                    )
                }),
        }
    }

    fn differences(&self, new: &AtStart) -> Vec<String> {
        let mut out = Vec::new();
        if self.listen != new.listen {
            out.push("server.listen".to_owned());
        }
        if self.admin_listen != new.admin_listen {
            out.push("admin.listen".to_owned());
        }
        let names = [
            "server.header_read_timeout",
            "server.idle_timeout",
            "server.max_headers",
            "server.max_header_bytes",
            "server.max_connections",
            "server.max_concurrent_streams",
            "server.send_timeout",
            "server.worker_threads",
        ];
        for ((name, old), new) in names.iter().zip(self.connections).zip(new.connections) {
            if old != new {
                out.push((*name).to_owned());
            }
        }
        if self.suppression_sync != new.suppression_sync {
            out.push("consent.suppression_sync".to_owned());
        }
        if self.spool_keys.is_some()
            && new.spool_keys.is_some()
            && self.spool_keys != new.spool_keys
        {
            out.push("keys.encryption (for spool segments)".to_owned());
        }
        out
    }
}

/// What a reload replaces; one reload runs at a time.
struct Live {
    /// `None` once shut down.
    forwarder: Option<Forwarder>,
    registry: Option<JoinHandle<()>>,
}

/// Reloads a running privgate from its config file.
pub(crate) struct Reloader {
    path: PathBuf,
    metrics: Metrics,
    ingest: Arc<Swappable<Handler>>,
    ingest_tls: Option<Acceptor>,
    admin_tls: Option<Acceptor>,
    admin_token: RwLock<Option<Secret>>,
    admin_read_token: RwLock<Option<Secret>>,
    /// The admin API's suppressions, shared by every config.
    suppressions: Option<Arc<Suppressions>>,
    /// The audit log, shared by every config.
    audit: Option<Arc<AuditLog>>,
    /// The erasure marks, shared by every config.
    erasures: Option<Arc<crate::consent::erasure::Erasures>>,
    /// The deletion requests, shared by every config.
    requests: Option<Arc<crate::forward::requests::Requests>>,
    at_start: AtStart,
    live: tokio::sync::Mutex<Live>,
}

impl Reloader {
    /// What `app::start` built from `config`.
    pub(crate) fn new(
        config: &Config,
        metrics: Metrics,
        ingest: Arc<Swappable<Handler>>,
        forwarder: Forwarder,
        registry: Option<Arc<Registry>>,
        logs: Logs,
        tls: (Option<Acceptor>, Option<Acceptor>),
    ) -> Reloader {
        Reloader {
            path: config.path.clone(),
            metrics,
            ingest,
            ingest_tls: tls.0,
            admin_tls: tls.1,
            admin_token: RwLock::new(config.admin_token.clone()),
            admin_read_token: RwLock::new(config.admin_read_token.clone()),
            suppressions: logs.suppressions,
            audit: logs.audit,
            erasures: logs.erasures,
            requests: logs.requests,
            at_start: AtStart::of(config),
            live: tokio::sync::Mutex::new(Live {
                forwarder: Some(forwarder),
                registry: registry
                    .map(|r| watch_registry(r, config.consent.opt_out_reload_interval)),
            }),
        }
    }

    /// The admin API's suppressions (`None`: `consent.suppressions` is not
    /// set).
    pub(crate) fn suppressions(&self) -> Option<&Arc<Suppressions>> {
        self.suppressions.as_ref()
    }

    /// The erasure marks (with `consent.suppressions`).
    pub(crate) fn erasures(&self) -> Option<&Arc<crate::consent::erasure::Erasures>> {
        self.erasures.as_ref()
    }

    /// The deletion requests (with `consent.suppressions`).
    pub(crate) fn requests(&self) -> Option<&Arc<crate::forward::requests::Requests>> {
        self.requests.as_ref()
    }

    /// Records `kind` with `detail` in the audit log, if one is kept. A
    /// failure to write is logged (never the detail) and does not undo
    /// what was done.
    pub(crate) fn audit(&self, kind: &str, detail: serde_json::Value) {
        if let Some(log) = &self.audit {
            if let Err(e) = log.record(kind, detail) {
                tracing::error!(error = %e, kind, "audit record not written");
            }
        }
    }

    /// Whether an admin token is configured.
    pub(crate) fn has_admin_token(&self) -> bool {
        self.admin_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Whether `candidate` is the admin token (constant time); `true`
    /// when no token is configured.
    pub(crate) fn admin_allows(&self, candidate: Option<&[u8]>) -> bool {
        match &*self.admin_token.read().unwrap_or_else(|p| p.into_inner()) {
            None => true,
            Some(token) => candidate.is_some_and(|c| token.ct_eq(c)),
        }
    }

    /// Whether `candidate` is `[admin] read_token` (constant time);
    /// `false` when none is configured.
    pub(crate) fn read_allows(&self, candidate: Option<&[u8]>) -> bool {
        match &*self
            .admin_read_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
        {
            None => false,
            Some(token) => candidate.is_some_and(|c| token.ct_eq(c)),
        }
    }

    /// Reloads from the config file; on error nothing changed.
    pub(crate) async fn reload(&self) -> Result<Reloaded, ReloadError> {
        let result = self.try_reload().await;
        let label = if result.is_ok() { "success" } else { "failure" };
        if self.audit.is_some() {
            let detail = match &result {
                Ok(r) => serde_json::json!({
                    "config_sha256": r.digest,
                    "outcome": "success",
                    "keys": r.keys,
                }),
                Err(e) => serde_json::json!({ "outcome": "failure", "error": e.kind_name() }),
            };
            self.audit("config_reload", detail);
        }
        self.metrics
            .config_reloads
            .with_label_values(&[label])
            .inc();
        self.metrics
            .config_last_reload_successful
            .set(i64::from(result.is_ok()));
        match &result {
            Ok(r) => tracing::info!(
                added = ?r.destinations.added,
                removed = ?r.destinations.removed,
                restart_needed = ?r.restart_needed,
                "config reloaded"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "config not reloaded; the running config stays in force")
            }
        }
        result
    }

    async fn try_reload(&self) -> Result<Reloaded, ReloadError> {
        let path = self.path.clone();
        let config = tokio::task::spawn_blocking(move || Config::load(&path))
            .await
            .expect("loading a config does not panic")?;
        for (listener, running, new) in [
            ("server", &self.ingest_tls, &config.server.tls),
            ("admin", &self.admin_tls, &config.admin_tls),
        ] {
            if running.is_some() != new.is_some() {
                return Err(ReloadError::TlsToggled {
                    listener,
                    on: new.is_some(),
                });
            }
        }
        let (consent, registry) = Consent::from_config_with(&config, self.suppressions.clone())
            .map_err(|e| ReloadError::OptOutRegistry(e.kind()))?;

        let mut live = self.live.lock().await;
        let forwarder = live.forwarder.as_mut().ok_or(ReloadError::ShuttingDown)?;
        let (queues, destinations) = forwarder.apply(config.forward()).await?;
        // Nothing below fails.
        let pipeline = Pipeline::new(&config, consent, &self.metrics);
        let next = Ingest::new(config.ingest(), pipeline, queues, self.metrics.clone());
        let next = next.sharing_inflight(self.ingest.get().ingest());
        self.ingest.replace(Handler::new(next));
        for (acceptor, tls) in [
            (&self.ingest_tls, &config.server.tls),
            (&self.admin_tls, &config.admin_tls),
        ] {
            if let (Some(acceptor), Some(tls)) = (acceptor, tls) {
                acceptor.reload(tls.clone());
            }
        }
        *self.admin_token.write().unwrap_or_else(|p| p.into_inner()) = config.admin_token.clone();
        *self
            .admin_read_token
            .write()
            .unwrap_or_else(|p| p.into_inner()) = config.admin_read_token.clone();
        if let Some(old) = live.registry.take() {
            old.abort();
        }
        live.registry = registry.map(|r| watch_registry(r, config.consent.opt_out_reload_interval));
        Ok(Reloaded {
            destinations,
            restart_needed: self.at_start.differences(&AtStart::of(&config)),
            digest: config.digest.clone(),
            keys: active_keys(&config),
        })
    }

    /// Takes delivery out for shutdown; later reloads fail.
    pub(crate) async fn take_forwarder(&self) -> Option<Forwarder> {
        let mut live = self.live.lock().await;
        if let Some(registry) = live.registry.take() {
            registry.abort();
        }
        live.forwarder.take()
    }
}

/// Re-reads the opt-out registry every `every`.
fn watch_registry(registry: Arc<Registry>, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match registry.reload() {
                Ok(true) => tracing::info!(ids = registry.len(), "opt-out registry reloaded"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e.kind(), "opt-out registry not reloaded; the previous list stays in force")
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::AtStart;
    use crate::config::tests::MINIMAL;
    use crate::config::Config;

    fn load(server: &str) -> Result<Config, crate::config::ConfigError> {
        crate::config::tests::load(&format!("[server]\n{server}\n{MINIMAL}"))
    }

    #[test]
    fn worker_threads_default_to_the_cores_are_bounded_and_need_a_restart() {
        let config = load("").unwrap();
        assert_eq!(config.server.worker_threads, None);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = crate::app::runtime(&config).unwrap();
        assert_eq!(runtime.metrics().num_workers(), cores);

        for n in [1, 3] {
            let config = load(&format!("worker_threads = {n}")).unwrap();
            assert_eq!(config.server.worker_threads, Some(n));
            let runtime = crate::app::runtime(&config).unwrap();
            assert_eq!(runtime.metrics().num_workers(), n);
        }

        for bad in ["worker_threads = 0", "worker_threads = 5000"] {
            let err = load(bad).unwrap_err();
            let p = &err.problems[0];
            assert_eq!(p.key, "server.worker_threads", "{bad}");
            assert_eq!(p.line, Some(2), "{bad}: the problem names its line");
        }

        // The runtime is built once: a reload that changes it says so.
        let before = AtStart::of(&load("").unwrap());
        let after = AtStart::of(&load("worker_threads = 1").unwrap());
        assert_eq!(before.differences(&after), ["server.worker_threads"]);
        assert!(before
            .differences(&AtStart::of(&load("").unwrap()))
            .is_empty());
    }
}
