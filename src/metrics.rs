//! Every metric privgate exports: names, help texts and label sets, in one
//! registry owned by [`Metrics`].
//!
//! Names follow `privgate_<what>_<unit>`, counters end in `_total`. Labels
//! come only from bounded sets: source and destination names from the
//! config, reasons and status classes from this crate. Never a path, an id
//! or a field value.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod process;
pub(crate) use process::status_kib;

use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Why an event was not delivered (a label value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// An element of a batch was not a valid event; the rest were accepted.
    InvalidEvent,
    /// The backend rejected the batch with a non-retryable 4xx.
    Rejected,
    /// Every retry failed.
    RetriesExhausted,
    /// Still queued when the shutdown deadline passed.
    Shutdown,
    /// The file or stdout sink could not be written.
    WriteFailed,
    /// `encrypt = "payload"` could not seal the batch; never sent in the clear.
    EncryptFailed,
    /// Outlived `[spool] max_age` undelivered.
    Expired,
}

impl DropReason {
    /// Every reason an accepted event can be lost for at a destination:
    /// [`Metrics::init_destination`] creates their series at 0.
    pub const LOSSES: [DropReason; 6] = [
        DropReason::Rejected,
        DropReason::RetriesExhausted,
        DropReason::Shutdown,
        DropReason::WriteFailed,
        DropReason::EncryptFailed,
        DropReason::Expired,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::InvalidEvent => "invalid_event",
            DropReason::Rejected => "rejected",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Shutdown => "shutdown",
            DropReason::WriteFailed => "write_failed",
            DropReason::EncryptFailed => "encrypt_failed",
            DropReason::Expired => "expired",
        }
    }
}

/// The registry and every metric in it.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Events accepted from clients, per source.
    pub events_received: IntCounterVec,
    /// Events delivered, per destination.
    pub events_forwarded: IntCounterVec,
    /// Events not delivered, per destination and reason.
    pub events_dropped: IntCounterVec,
    /// Client request duration, per source and HTTP status.
    pub request_duration: HistogramVec,
    /// Backend request duration, per destination and status class.
    pub upstream_duration: HistogramVec,
    /// Retried backend attempts, per destination.
    pub upstream_retries: IntCounterVec,
    /// Events waiting (queued or in flight), per destination.
    pub queue_depth: IntGaugeVec,
    /// Events per delivered batch, per destination.
    pub batch_size: HistogramVec,
    /// Requests refused with 503 because a destination's queue was full.
    pub backpressure: IntCounterVec,
    /// Non-event requests relayed to a source's upstream, per source and status class.
    pub passthrough: IntCounterVec,
    /// Open client connections.
    pub connections: IntGauge,
    /// Consent decisions, per destination, decision and reason.
    pub consent_decisions: IntCounterVec,
    /// Values changed by each rule.
    pub rule_applied: IntCounterVec,
    /// PII matches replaced, per detector.
    pub pii_redacted: IntCounterVec,
    /// Values or batch bodies that could not be encrypted (and so were not
    /// sent in the clear: the field or batch is dropped instead).
    pub encrypt_errors: IntCounter,
    /// Bytes of spool segment files on disk, per destination.
    pub spool_bytes: IntGaugeVec,
    /// Events found undelivered in the spool on start, per destination.
    pub spool_replayed: IntCounterVec,
    /// Spool data skipped as unreadable, per destination and kind
    /// (`record`: a record; `tail`: a torn tail or unreadable segment;
    /// `segment`: a file that is not a segment, set aside).
    pub spool_corrupt: IntCounterVec,
    /// Appends that could not be written to the spool (answered 503).
    pub spool_write_errors: IntCounterVec,
    /// Files a failure left in a spool directory and the spool deleted, per
    /// destination and kind (`empty`: a segment without records; `corrupt`:
    /// a file set aside as not a segment, once `max_age` old).
    pub spool_files_removed: IntCounterVec,
    /// TLS handshakes that did not complete, per listener (`server`,
    /// `admin`) and reason (`timeout`, `error`).
    pub tls_handshake_failures: IntCounterVec,
    /// Config reloads, by result (`success`, `failure`).
    pub config_reloads: IntCounterVec,
    /// Admin subject calls, by action (`suppress`, `unsuppress`, `lookup`)
    /// and result (`ok`, `invalid`, `unauthorized`, `error`): never an id.
    pub subject_requests: IntCounterVec,
    /// Ids suppressed through the admin API.
    pub suppressed_subjects: IntGauge,
    /// Events skipped because they name an erased subject, by destination.
    pub erased_skipped: IntCounterVec,
    /// Deletion requests done, by destination and final status.
    pub deletion_requests: IntCounterVec,
    /// Polls of the primary's suppression list (`consent.suppression_sync`),
    /// by outcome (`ok`, `unreachable`, `status`, `invalid`, `too_large`,
    /// `not_recorded`): never an id.
    pub suppression_sync: IntCounterVec,
    /// Unix seconds of the last poll that brought the list up to date.
    pub suppression_sync_last_success: IntGauge,
    /// 1 when the last reload succeeded (or none was tried), 0 when it
    /// failed and the previous config is still in force.
    pub config_last_reload_successful: IntGauge,
    /// `[spool] max_bytes` of each durable destination (beyond it, 503).
    pub spool_max_bytes: IntGaugeVec,
    /// Circuit breaker state per destination: 0 closed, 1 open, 2 half-open.
    pub circuit_state: IntGaugeVec,
    /// Circuit breaker changes per destination, by the state changed to
    /// (`open`, `closed`).
    pub circuit_transitions: IntCounterVec,
    /// Batches a destination may have in flight now (fixed, or the
    /// adaptive limit).
    pub forward_concurrency_limit: IntGaugeVec,
    /// Batches a destination has in flight now.
    pub forward_in_flight: IntGaugeVec,
    /// Requests answered 429, per limit (`ip`, `write_key`) and source
    /// (`none` for the per-IP limit, checked before authentication).
    pub rate_limited: IntCounterVec,
    /// Client addresses (IPv6: /64 networks) the per-IP limiter holds
    /// state for, as of its last sweep.
    pub rate_limit_addresses: IntGauge,
    /// Requests refused because requests in flight held
    /// `server.max_inflight_bytes` (503, an HTTP/2 stream reset, or, for a
    /// head on its way, the connection closed).
    pub inflight_refused: IntCounter,
    /// Bytes requests in flight hold (`server.max_inflight_bytes`),
    /// their answers and the heads still arriving included.
    pub inflight_bytes: IntGauge,
    /// Requests refused because the process's heap was over
    /// `server.memory_limit` (503).
    pub memory_refused: IntCounter,
}

impl Metrics {
    /// Creates the registry with every metric registered.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let duration_buckets = exponential_buckets(0.000_05, 2.0, 18).expect("valid buckets");
        let m = Metrics {
            events_received: IntCounterVec::new(
                Opts::new(
                    "privgate_events_received_total",
                    "Events accepted from clients.",
                ),
                &["source"],
            )
            .expect("valid metric"),
            events_forwarded: IntCounterVec::new(
                Opts::new(
                    "privgate_events_forwarded_total",
                    "Events delivered to a destination.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            events_dropped: IntCounterVec::new(
                Opts::new(
                    "privgate_events_dropped_total",
                    "Events not delivered, by reason.",
                ),
                &["destination", "reason"],
            )
            .expect("valid metric"),
            request_duration: HistogramVec::new(
                HistogramOpts::new(
                    "privgate_http_request_duration_seconds",
                    "Time to answer a client request.",
                )
                .buckets(duration_buckets.clone()),
                &["source", "status"],
            )
            .expect("valid metric"),
            upstream_duration: HistogramVec::new(
                HistogramOpts::new(
                    "privgate_upstream_request_duration_seconds",
                    "Time of one request to a destination.",
                )
                .buckets(duration_buckets),
                &["destination", "status"],
            )
            .expect("valid metric"),
            upstream_retries: IntCounterVec::new(
                Opts::new(
                    "privgate_upstream_retries_total",
                    "Batch attempts that were retried.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            queue_depth: IntGaugeVec::new(
                Opts::new(
                    "privgate_queue_depth_events",
                    "Events queued or in flight for a destination.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            batch_size: HistogramVec::new(
                HistogramOpts::new("privgate_batch_size_events", "Events per batch sent.")
                    .buckets(exponential_buckets(1.0, 2.0, 15).expect("valid buckets")),
                &["destination"],
            )
            .expect("valid metric"),
            backpressure: IntCounterVec::new(
                Opts::new(
                    "privgate_backpressure_total",
                    "Requests answered 503 because a destination's queue was full.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            passthrough: IntCounterVec::new(
                Opts::new(
                    "privgate_passthrough_requests_total",
                    "Non-event requests relayed to a source's upstream.",
                ),
                &["source", "status"],
            )
            .expect("valid metric"),
            connections: IntGauge::new("privgate_open_connections", "Open client connections.")
                .expect("valid metric"),
            rule_applied: IntCounterVec::new(
                Opts::new(
                    "privgate_rule_applied_total",
                    "Values changed by a privacy rule.",
                ),
                &["rule"],
            )
            .expect("valid metric"),
            pii_redacted: IntCounterVec::new(
                Opts::new(
                    "privgate_pii_redacted_total",
                    "PII matches replaced, per detector.",
                ),
                &["detector"],
            )
            .expect("valid metric"),
            encrypt_errors: IntCounter::new(
                "privgate_encrypt_errors_total",
                "Fields or batch bodies that could not be encrypted and were dropped rather than sent in the clear.",
            )
            .expect("valid metric"),
            spool_bytes: IntGaugeVec::new(
                Opts::new(
                    "privgate_spool_bytes",
                    "Bytes of a durable destination's spool files on disk.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            spool_replayed: IntCounterVec::new(
                Opts::new(
                    "privgate_spool_replayed_total",
                    "Events found undelivered in the spool on start, to be delivered (again).",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            spool_corrupt: IntCounterVec::new(
                Opts::new(
                    "privgate_spool_corrupt_total",
                    "Spool data skipped as unreadable: a record that fails its checksum or authentication, or a torn tail.",
                ),
                &["destination", "kind"],
            )
            .expect("valid metric"),
            spool_write_errors: IntCounterVec::new(
                Opts::new(
                    "privgate_spool_write_errors_total",
                    "Appends that could not be written to the spool; their requests were answered 503.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            spool_files_removed: IntCounterVec::new(
                Opts::new(
                    "privgate_spool_files_removed_total",
                    "Files a failure left in a spool directory that the spool deleted: empty segments, and files set aside as corrupt once max_age old.",
                ),
                &["destination", "kind"],
            )
            .expect("valid metric"),
            circuit_state: IntGaugeVec::new(
                Opts::new(
                    "privgate_circuit_state",
                    "A destination's circuit breaker: 0 closed, 1 open (nothing sent), 2 half-open (one probe out).",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            circuit_transitions: IntCounterVec::new(
                Opts::new(
                    "privgate_circuit_transitions_total",
                    "Times a destination's circuit breaker opened or closed.",
                ),
                &["destination", "to"],
            )
            .expect("valid metric"),
            forward_concurrency_limit: IntGaugeVec::new(
                Opts::new(
                    "privgate_forward_concurrency_limit",
                    "Batches a destination may have in flight now: its fixed concurrency, or the adaptive limit (1 to max_concurrency).",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            forward_in_flight: IntGaugeVec::new(
                Opts::new(
                    "privgate_forward_in_flight_batches",
                    "Batches a destination has in flight now (being sent or retried).",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            subject_requests: IntCounterVec::new(
                Opts::new(
                    "privgate_admin_subject_requests_total",
                    "Admin API subject calls (suppress, unsuppress, lookup), by result.",
                ),
                &["action", "result"],
            )
            .expect("valid metric"),
            deletion_requests: IntCounterVec::new(
                Opts::new(
                    "privgate_deletion_requests_total",
                    "Deletion requests (POST /admin/subjects/erase) done, by destination and status.",
                ),
                &["destination", "status"],
            )
            .expect("valid metric"),
            erased_skipped: IntCounterVec::new(
                Opts::new(
                    "privgate_erased_events_skipped_total",
                    "Waiting events never sent because their subject was erased (POST /admin/subjects/erase).",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            suppression_sync: IntCounterVec::new(
                Opts::new(
                    "privgate_suppression_sync_total",
                    "Polls of the primary's suppression list, by outcome.",
                ),
                &["outcome"],
            )
            .expect("valid metric"),
            suppression_sync_last_success: IntGauge::new(
                "privgate_suppression_sync_last_success_timestamp_seconds",
                "Unix time of the last poll that brought the suppression list up to date.",
            )
            .expect("valid metric"),
            suppressed_subjects: IntGauge::new(
                "privgate_suppressed_subjects",
                "Ids suppressed through the admin API (consent.suppressions).",
            )
            .expect("valid metric"),
            config_reloads: IntCounterVec::new(
                Opts::new(
                    "privgate_config_reloads_total",
                    "Config reloads (SIGHUP, POST /admin/reload), by result.",
                ),
                &["result"],
            )
            .expect("valid metric"),
            config_last_reload_successful: IntGauge::new(
                "privgate_config_last_reload_successful",
                "1 if the last config reload succeeded (or none was tried), 0 if it failed and the previous config is in force.",
            )
            .expect("valid metric"),
            spool_max_bytes: IntGaugeVec::new(
                Opts::new(
                    "privgate_spool_max_bytes",
                    "[spool] max_bytes of a durable destination: beyond it ingest answers 503.",
                ),
                &["destination"],
            )
            .expect("valid metric"),
            consent_decisions: IntCounterVec::new(
                Opts::new(
                    "privgate_consent_decisions_total",
                    "Consent decisions per destination: forward or drop, and why.",
                ),
                &["destination", "decision", "reason"],
            )
            .expect("valid metric"),
            tls_handshake_failures: IntCounterVec::new(
                Opts::new(
                    "privgate_tls_handshake_failures_total",
                    "TLS handshakes on a listener that failed or did not finish within header_read_timeout.",
                ),
                &["listener", "reason"],
            )
            .expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "privgate_rate_limited_total",
                    "Requests answered 429 because a rate limit was exceeded; nothing of them was queued.",
                ),
                &["limit", "source"],
            )
            .expect("valid metric"),
            rate_limit_addresses: IntGauge::new(
                "privgate_rate_limit_tracked_addresses",
                "Client addresses (IPv6: /64 networks) the per-IP rate limiter holds state for, as of its last sweep.",
            )
            .expect("valid metric"),
            inflight_refused: IntCounter::new(
                "privgate_inflight_refused_total",
                "Requests refused because the requests in flight held server.max_inflight_bytes: answered 503, their HTTP/2 stream reset, or, for a request head still arriving, the connection closed.",
            )
            .expect("valid metric"),
            memory_refused: IntCounter::new(
                "privgate_memory_refused_total",
                "Requests refused (503) because privgate's heap (anonymous resident memory) was over server.memory_limit.",
            )
            .expect("valid metric"),
            inflight_bytes: IntGauge::new(
                "privgate_inflight_bytes",
                "Bytes the requests in flight hold: heads (those still arriving too), bodies, what they decompress and decode to, and their answers until sent.",
            )
            .expect("valid metric"),
            registry,
        };
        let build_info = IntGaugeVec::new(
            Opts::new(
                "privgate_build_info",
                "Always 1; labels describe the build.",
            ),
            &["version"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        for collector in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(m.events_received.clone()),
            Box::new(m.events_forwarded.clone()),
            Box::new(m.events_dropped.clone()),
            Box::new(m.request_duration.clone()),
            Box::new(m.upstream_duration.clone()),
            Box::new(m.upstream_retries.clone()),
            Box::new(m.queue_depth.clone()),
            Box::new(m.batch_size.clone()),
            Box::new(m.backpressure.clone()),
            Box::new(m.passthrough.clone()),
            Box::new(m.connections.clone()),
            Box::new(m.consent_decisions.clone()),
            Box::new(m.rule_applied.clone()),
            Box::new(m.pii_redacted.clone()),
            Box::new(m.encrypt_errors.clone()),
            Box::new(m.spool_bytes.clone()),
            Box::new(m.spool_replayed.clone()),
            Box::new(m.spool_corrupt.clone()),
            Box::new(m.spool_write_errors.clone()),
            Box::new(m.spool_files_removed.clone()),
            Box::new(m.config_reloads.clone()),
            Box::new(m.subject_requests.clone()),
            Box::new(m.suppressed_subjects.clone()),
            Box::new(m.erased_skipped.clone()),
            Box::new(m.deletion_requests.clone()),
            Box::new(m.suppression_sync.clone()),
            Box::new(m.suppression_sync_last_success.clone()),
            Box::new(m.config_last_reload_successful.clone()),
            Box::new(m.spool_max_bytes.clone()),
            Box::new(process::ProcessCollector::new()),
            Box::new(m.circuit_state.clone()),
            Box::new(m.circuit_transitions.clone()),
            Box::new(m.forward_concurrency_limit.clone()),
            Box::new(m.forward_in_flight.clone()),
            Box::new(m.tls_handshake_failures.clone()),
            Box::new(m.rate_limited.clone()),
            Box::new(m.rate_limit_addresses.clone()),
            Box::new(m.inflight_refused.clone()),
            Box::new(m.inflight_bytes.clone()),
            Box::new(m.memory_refused.clone()),
        ] {
            m.registry.register(collector).expect("unique metric names");
        }
        // Series that alerts take increases of exist from the start: a
        // series born at 1 has no earlier sample for increase() to see.
        for result in ["success", "failure"] {
            m.config_reloads.with_label_values(&[result]);
        }
        m.rate_limited.with_label_values(&["admin", "none"]);
        for action in ["suppress", "unsuppress", "lookup", "erase", "list"] {
            for result in ["ok", "invalid", "error"] {
                m.subject_requests.with_label_values(&[action, result]);
            }
        }
        for outcome in [
            "ok",
            "unreachable",
            "status",
            "invalid",
            "too_large",
            "not_recorded",
        ] {
            m.suppression_sync.with_label_values(&[outcome]);
        }
        m.config_last_reload_successful.set(1);
        m
    }

    /// Creates destination `name`'s loss series (every
    /// [`DropReason::LOSSES`]) at 0, for the same reason.
    pub fn init_destination(&self, name: &str) {
        for reason in DropReason::LOSSES {
            self.events_dropped
                .with_label_values(&[name, reason.as_str()]);
        }
        for status in ["FINISHED", "PARTIAL_SUCCESS", "FAILED", "NOT_SUPPORTED"] {
            self.deletion_requests.with_label_values(&[name, status]);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding into a Vec cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The status-class label of an upstream outcome.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
