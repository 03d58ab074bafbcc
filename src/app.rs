//! Wiring: from a validated [`Config`] to running listeners and delivery
//! tasks, and back down again in order on shutdown.
//!
//! Shutdown order: readiness goes false (load balancers stop sending), the
//! listeners stop accepting and in-flight requests finish, then every
//! destination's queue is closed and flushed; whatever is still undelivered
//! when the deadline passes is counted and logged (lost from a memory
//! queue, kept on disk by a spool).
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

use crate::admin::Admin;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::consent::erasure::Erasures;
use crate::consent::suppression::Suppressions;
use crate::forward;
use crate::forward::requests::Requests;
use crate::ingest::server::{self, ConnLimits, Swappable};
use crate::ingest::stack::{Handler, IngestService};
use crate::ingest::Ingest;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::reload::{ReloadError, Reloaded, Reloader};
use crate::tls::{Acceptor, ServerTls};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why privgate could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// `server` or `admin`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A destination could not be opened (its file, or its spool).
    #[error("cannot open {0}")]
    Destination(forward::StartError),
    /// The audit log could not be opened or written.
    #[error("cannot write the audit log ([audit] log): {0}")]
    Audit(crate::audit::AuditError),
    /// The suppression log could not be opened or rewritten.
    #[error("cannot open the suppression log (consent.suppressions): {0}")]
    Suppressions(std::io::Error),
    /// The opt-out registry could not be read.
    #[error("cannot read the opt-out registry: {0}")]
    OptOutRegistry(std::io::Error),
}

/// What a shutdown left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events that were accepted into memory queues but not delivered
    /// before the deadline (lost, and counted as dropped).
    pub undelivered: usize,
    /// Events left in durable spools, delivered after the next start.
    pub spooled: u64,
}

/// Deletion requests kept for `GET /admin/requests/{id}`.
const REQUESTS_KEPT: usize = 1_000;

/// A running privgate.
pub struct Running {
    ingest_addr: SocketAddr,
    admin_addr: SocketAddr,
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    stop_ingest: CancellationToken,
    stop_admin: CancellationToken,
    ingest_task: JoinHandle<()>,
    admin_task: JoinHandle<()>,
    reloader: Arc<Reloader>,
    shutdown_timeout: Duration,
    /// Stops the suppression sync task, if one runs.
    stop_sync: CancellationToken,
}

/// The runtime [`start`] runs in: multi-threaded, with
/// `server.worker_threads` threads (one per CPU core when absent).
///
/// Fewer threads than cores can cost less per request: with two, an
/// idle worker is woken for work the other could do, and a request that
/// arrives alone pays for that wakeup (load-tests/README.md, "Worker
/// threads").
pub fn runtime(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.server.worker_threads {
        builder.worker_threads(threads);
    }
    builder.enable_all().build()
}

/// Starts everything `config` describes. Must be called inside a tokio runtime.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let metrics = Metrics::new();
    if config
        .keyring
        .active_hmac()
        .is_some_and(|k| k.id() == "demo")
    {
        tracing::warn!("hashing with the public demo key (id \"demo\"): hashes protect nothing; make your own key, see keys/README.md");
    }
    for warning in config.warnings() {
        tracing::warn!(key = %warning.key, "{}", warning.message);
    }
    let bind = |what, addr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { what, addr, source })
    };
    let ingest_listener = bind("server", config.server.listen).await?;
    let admin_listener = bind("admin", config.admin_listen).await?;
    let ingest_addr = ingest_listener
        .local_addr()
        .expect("bound socket has an address");
    let admin_addr = admin_listener
        .local_addr()
        .expect("bound socket has an address");

    // Erasure marks are read before delivery starts: nothing erased is
    // sent, not even what a spool replays on start. Kept as long as a
    // spooled event may wait, and a day more.
    let erasures = match &config.consent.suppressions {
        Some(path) => Some(Arc::new(
            Erasures::open(
                &Erasures::path_for(path),
                config.keyring.clone(),
                config.spool.max_age + Duration::from_secs(86_400),
            )
            .map_err(StartError::Suppressions)?,
        )),
        None => None,
    };
    let requests = match &config.consent.suppressions {
        Some(path) => Some(
            Requests::open(
                &Requests::path_for(path),
                config
                    .destinations
                    .iter()
                    .map(|d| (d.name.clone(), d.deletion.clone()))
                    .collect(),
                REQUESTS_KEPT,
                metrics.clone(),
            )
            .map_err(StartError::Suppressions)?,
        ),
        None => None,
    };
    let (queues, forwarder) = forward::start(config.forward(), &metrics, erasures.clone())
        .map_err(StartError::Destination)?;
    // The audit log, like the suppression log, stays open for the life of
    // the process.
    let audit = match &config.audit {
        Some(settings) => {
            let log = AuditLog::open(settings).map_err(StartError::Audit)?;
            log.record(
                "config_load",
                crate::reload::config_detail(&config, "success"),
            )
            .map_err(StartError::Audit)?;
            Some(Arc::new(log))
        }
        None => None,
    };
    // The suppression log stays open for the life of the process: reloads
    // share it, so no answered suppression is lost across one.
    let suppressions = match &config.consent.suppressions {
        Some(path) => Some(Arc::new(
            Suppressions::open(path, config.keyring.clone()).map_err(StartError::Suppressions)?,
        )),
        None => None,
    };
    // A replica polls its primary's list into its own log, for the life
    // of the process (a reload keeps it; see `reload`).
    let stop_sync = CancellationToken::new();
    if let (Some(sync), Some(log)) = (&config.consent.suppression_sync, &suppressions) {
        crate::consent::suppression::sync::start(
            sync.clone(),
            log.clone(),
            metrics.clone(),
            stop_sync.clone(),
        );
    }
    let (consent, registry) =
        crate::consent::Consent::from_config_with(&config, suppressions.clone())
            .map_err(StartError::OptOutRegistry)?;
    let pipeline = Pipeline::new(&config, consent, &metrics);
    let ingest = Arc::new(Swappable::new(Handler::new(Ingest::new(
        config.ingest(),
        pipeline,
        queues,
        metrics.clone(),
    ))));
    // The memory limit's reader runs whether or not one is set now: a
    // reload may set one.
    // It ends by itself once the limit is dropped.
    let _ = ingest.get().ingest().inflight().memory().watch();
    let ready = Arc::new(AtomicBool::new(false));

    let limits = ConnLimits {
        header_read_timeout: config.server.header_read_timeout,
        idle_timeout: config.server.idle_timeout,
        head: server::HeadLimits {
            max_headers: config.server.max_headers,
            max_bytes: config.server.max_header_bytes,
        },
        max_connections: config.server.max_connections,
        max_concurrent_streams: config.server.max_concurrent_streams,
        send_timeout: config.server.send_timeout,
        budget: ingest.get().ingest().inflight(),
    };
    // The admin listener's own budget (see `inflight::admin_budget`).
    let admin_limits = ConnLimits {
        budget: crate::ingest::inflight::Inflight::unexported(
            crate::ingest::inflight::admin_budget(&config.server),
        ),
        ..limits.clone()
    };
    let tls = |listener: &str, tls: &Option<ServerTls>| {
        let failures = |reason| {
            metrics
                .tls_handshake_failures
                .with_label_values(&[listener, reason])
        };
        tls.as_ref().map(|tls| server::Tls {
            acceptor: Acceptor::new(tls.clone()),
            timeouts: failures("timeout"),
            failures: failures("error"),
        })
    };
    let ingest_tls = tls("server", &config.server.tls);
    let admin_tls = tls("admin", &config.admin_tls);
    let reloader = Arc::new(Reloader::new(
        &config,
        metrics.clone(),
        ingest.clone(),
        forwarder,
        registry,
        crate::reload::Logs {
            suppressions,
            audit,
            erasures,
            requests,
        },
        (
            ingest_tls.as_ref().map(|t| t.acceptor.clone()),
            admin_tls.as_ref().map(|t| t.acceptor.clone()),
        ),
    ));
    let admin = Arc::new(Admin::new(
        metrics.clone(),
        ready.clone(),
        reloader.clone(),
        config.admin_rate,
    ));
    let stop_ingest = CancellationToken::new();
    let stop_admin = CancellationToken::new();
    let ingest_task = tokio::spawn(server::serve(
        ingest_listener,
        IngestService(ingest),
        limits,
        stop_ingest.clone(),
        Some(metrics.connections.clone()),
        ingest_tls.clone(),
    ));
    let admin_task = tokio::spawn(server::serve(
        admin_listener,
        admin.service(),
        admin_limits,
        stop_admin.clone(),
        None,
        admin_tls.clone(),
    ));
    ready.store(true, Ordering::Release);
    tracing::info!(ingest = %ingest_addr, admin = %admin_addr, "privgate listening");
    Ok(Running {
        ingest_addr,
        admin_addr,
        metrics,
        ready,
        stop_ingest,
        stop_admin,
        ingest_task,
        admin_task,
        reloader,
        shutdown_timeout: config.server.shutdown_timeout,
        stop_sync,
    })
}

impl Running {
    /// The bound tracker-facing address.
    pub fn ingest_addr(&self) -> SocketAddr {
        self.ingest_addr
    }

    /// The bound admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Reloads the config file (see [`crate::reload`]); on error the
    /// running config stays in force.
    pub async fn reload(&self) -> Result<Reloaded, ReloadError> {
        self.reloader.reload().await
    }

    /// Drains and stops everything within `server.shutdown_timeout`.
    pub async fn shutdown(self) -> ShutdownReport {
        let deadline = Instant::now() + self.shutdown_timeout;
        self.ready.store(false, Ordering::Release);
        self.stop_sync.cancel();
        self.stop_ingest.cancel();
        let mut ingest_task = self.ingest_task;
        if tokio::time::timeout(self.shutdown_timeout, &mut ingest_task)
            .await
            .is_err()
        {
            tracing::warn!("in-flight requests did not finish before the shutdown deadline");
            ingest_task.abort();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let forward::Undelivered { lost, spooled } = match self.reloader.take_forwarder().await {
            Some(forwarder) => forwarder.shutdown(left).await,
            None => forward::Undelivered::default(),
        };
        self.stop_admin.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.admin_task).await;
        if lost > 0 {
            tracing::warn!(events = lost, "shutdown finished with undelivered events");
        } else if spooled > 0 {
            tracing::info!(
                events = spooled,
                "shutdown complete; undelivered events stay in the spool"
            );
        } else {
            tracing::info!("shutdown complete; every accepted event was delivered");
        }
        ShutdownReport {
            undelivered: lost,
            spooled,
        }
    }
}
