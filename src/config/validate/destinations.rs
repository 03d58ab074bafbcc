//! `[[destinations]]`: where events go, how they are batched, delivered
//! and (for `http`) sent; the consent each requires and its own rules.

use super::{parse_http_url, Validator};
use crate::config::schema::{self, BatchFormat, Delivery, DestinationKind, Encrypt};
use crate::config::secret::{SecretError, SecretRef};
use crate::forward::settings::{
    BatchConfig, BreakerConfig, Concurrency, DestinationConfig, FileSinkConfig, HttpSinkConfig,
    RetryConfig, SinkConfig,
};
use http::{HeaderName, HeaderValue, Uri};
use std::collections::HashSet;
use std::ops::Range;

/// `max_concurrency` when unset.
const DEFAULT_MAX_CONCURRENCY: i64 = 32;

impl Validator<'_> {
    /// Destination `i`. Its batch format is settled later, with its sources
    /// (`formats.rs`).
    pub(super) fn destination(
        &mut self,
        i: usize,
        d: &schema::Destination,
        names: &mut HashSet<String>,
        keyring: &crate::crypto::Keyring,
    ) -> DestinationConfig {
        let key = |k: &str| format!("destinations[{i}].{k}");
        self.name(&d.name, &key("name"), names);
        let kind = *d.kind.get_ref();

        // Keys that only make sense for one kind are errors elsewhere: a
        // mistyped setup must not be half-applied.
        let misplaced = [
            (
                "url",
                d.url.as_ref().map(|v| v.span()),
                kind != DestinationKind::Http,
            ),
            (
                "path",
                d.path.as_ref().map(|v| v.span()),
                kind != DestinationKind::File,
            ),
            (
                "tls",
                d.tls.as_ref().map(|v| v.span()),
                kind != DestinationKind::Http,
            ),
            (
                "rotate_every",
                d.rotate_every.as_ref().map(|v| v.span()),
                kind != DestinationKind::File,
            ),
            (
                "retain",
                d.retain.as_ref().map(|v| v.span()),
                kind != DestinationKind::File,
            ),
        ];
        for (name, span, wrong) in misplaced {
            if let (Some(span), true) = (span, wrong) {
                self.problem(
                    span,
                    key(name),
                    format!("`{name}` does not apply to kind = \"{kind:?}\"").to_lowercase(),
                    "remove it, or change `kind`",
                );
            }
        }

        let sink = match kind {
            DestinationKind::Http => SinkConfig::Http(Box::new(self.http_sink(i, d))),
            DestinationKind::File => match &d.path {
                Some(p) if !p.get_ref().is_empty() => SinkConfig::File(FileSinkConfig {
                    path: self.base.join(p.get_ref()),
                    rotate_bytes: d.rotate_bytes.map(|b| b.0),
                    rotate_every: d
                        .rotate_every
                        .as_ref()
                        .map(|v| self.positive(v.get_ref().0, &key("rotate_every"))),
                    retain: d.retain.as_ref().map(|v| {
                        if d.rotate_bytes.is_none() && d.rotate_every.is_none() {
                            self.problem(
                                v.span(),
                                key("retain"),
                                "`retain` deletes rotated files, and this file is never rotated"
                                    .into(),
                                "add rotate_every (e.g. \"1d\") or rotate_bytes",
                            );
                        }
                        self.positive(v.get_ref().0, &key("retain"))
                    }),
                }),
                _ => {
                    self.problem(
                        d.kind.span(),
                        key("path"),
                        "a file destination needs `path`".into(),
                        "add path = \"./privgate-out/events.ndjson\"",
                    );
                    SinkConfig::Stdout
                }
            },
            DestinationKind::Stdout => SinkConfig::Stdout,
        };

        let max_events = *d.batch.max_events.get_ref();
        if !(1..=100_000).contains(&max_events) {
            self.problem(
                d.batch.max_events.span(),
                key("batch.max_events"),
                format!("{max_events} is out of range"),
                "use 1 to 100000",
            );
        }
        if d.batch.max_bytes.0 < 1024 {
            self.problem(
                0..0,
                key("batch.max_bytes"),
                "must be at least 1KiB".into(),
                "write e.g. \"1MiB\"",
            );
        }
        let queue = *d.queue_max_events.get_ref();
        if queue < max_events {
            self.problem(
                d.queue_max_events.span(),
                key("queue_max_events"),
                format!("{queue} is smaller than batch.max_events ({max_events})"),
                "the queue must hold at least one full batch",
            );
        }
        let delivery = match &d.delivery {
            Some(delivery) => *delivery.get_ref(),
            None if kind == DestinationKind::Http => Delivery::Durable,
            None => Delivery::Memory,
        };
        if delivery == Delivery::Durable && keyring.active_encryption().is_none() {
            self.problem(
                d.delivery.as_ref().map_or(d.kind.span(), |v| v.span()),
                key("delivery"),
                format!(
                    "durable delivery{} keeps events on disk encrypted at rest, which needs an active encryption key",
                    if d.delivery.is_none() { " (the default for kind = \"http\")" } else { "" }
                ),
                "add [keys] encryption = [{ id = \"e1\", key = \"file:keys/e1.key\" }] (make a key with `privgate keygen`), or set delivery = \"memory\" to accept losing queued events on a crash",
            );
        }
        let encrypt = *d.encrypt.get_ref();
        if encrypt == Encrypt::Payload && keyring.active_encryption().is_none() {
            self.problem(
                d.encrypt.span(),
                key("encrypt"),
                "payload encryption needs an active encryption key".into(),
                "add [keys] encryption = [{ id = \"e1\", key = \"file:keys/e1.key\" }] (make a key with `privgate keygen`)",
            );
        }
        let deletion = d.deletion.as_ref().map(|del| {
            if kind != DestinationKind::Http {
                self.problem(
                    del.span(),
                    key("deletion"),
                    "`deletion` only applies to kind = \"http\"".into(),
                    "remove it, or change `kind`",
                );
            }
            self.deletion(i, del.get_ref())
        });
        let scope = format!("destinations[{i}]");
        let policy = self.policies(&d.rules, d.allow.as_deref(), &scope, keyring);
        let (display_name, description) = self.display(i, d);
        DestinationConfig {
            display_name,
            description,
            allow: d
                .allow
                .as_ref()
                .map(|list| list.iter().map(|s| s.get_ref().clone()).collect()),
            policy,
            consent: crate::consent::Requirement {
                purposes: d.require_consent.clone(),
                mode: d.consent_match,
                tcf_vendor: d.tcf_vendor,
                honor_opt_out: d.honor_opt_out,
            },
            encrypt,
            deletion,
            name: d.name.get_ref().clone(),
            sink,
            delivery,
            queue_max_events: usize::try_from(queue).unwrap_or(usize::MAX),
            batch: BatchConfig {
                max_events: max_events as usize,
                max_bytes: d.batch.max_bytes.as_usize(),
                max_wait: self.positive(d.batch.max_wait.0, &key("batch.max_wait")),
            },
        }
    }

    /// A `kind = "http"` destination's url, headers, retries and breaker.
    fn http_sink(&mut self, i: usize, d: &schema::Destination) -> HttpSinkConfig {
        let key = |k: &str| format!("destinations[{i}].{k}");
        let url = match &d.url {
            None => {
                self.problem(
                    d.kind.span(),
                    key("url"),
                    "an http destination needs `url`".into(),
                    "add url = \"https://collector.example.com/v1/batch\"",
                );
                Uri::from_static("http://127.0.0.1/")
            }
            Some(u) => parse_http_url(u.get_ref()).unwrap_or_else(|msg| {
                self.problem(
                    u.span(),
                    key("url"),
                    msg,
                    "write e.g. \"https://collector.example.com/v1/batch\"",
                );
                Uri::from_static("http://127.0.0.1/")
            }),
        };

        let mut headers = Vec::new();
        for (name, value) in &d.headers {
            let lower = name.to_ascii_lowercase();
            if ["authorization", "proxy-authorization", "cookie"].contains(&lower.as_str())
                || ["key", "token", "secret", "auth", "password"]
                    .iter()
                    .any(|w| lower.contains(w))
            {
                self.problem(
                    value.span(),
                    key(&format!("headers.{name}")),
                    format!("`{name}` looks like a credential and cannot be written literally"),
                    "move it to secret_headers with a value of \"env:NAME\" or \"file:PATH\"",
                );
                continue;
            }
            if let Some(h) = self.header(name, value.get_ref(), value.span(), key("headers")) {
                headers.push(h);
            }
        }
        for (name, value) in &d.secret_headers {
            let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
                SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
                r => r.resolve(&self.base),
            });
            match resolved {
                Ok(secret) => {
                    if let Some((n, mut v)) =
                        self.header(name, secret.expose(), value.span(), key("secret_headers"))
                    {
                        v.set_sensitive(true);
                        headers.push((n, v));
                    }
                }
                Err(e) => self.problem(
                    value.span(),
                    key(&format!("secret_headers.{name}")),
                    e.to_string(),
                    "",
                ),
            }
        }

        let concurrency = self.concurrency(d, &key);
        if d.retry.initial_backoff.0 > d.retry.max_backoff.0 || d.retry.initial_backoff.0.is_zero()
        {
            self.problem(
                0..0,
                key("retry.initial_backoff"),
                "must be above zero and at most retry.max_backoff".into(),
                "e.g. retry = { initial_backoff = \"100ms\", max_backoff = \"10s\" }",
            );
        }
        let cb = &d.circuit_breaker;
        if cb.failures == 0 || cb.cooldown.0.is_zero() || cb.cooldown.0 > cb.max_cooldown.0 {
            self.problem(
                0..0,
                key("circuit_breaker"),
                "failures must be at least 1, and 0 < cooldown <= max_cooldown".into(),
                "e.g. circuit_breaker = { failures = 5, cooldown = \"5s\", max_cooldown = \"60s\" }",
            );
        }
        let tls = self.destination_tls(i, d, &url);
        HttpSinkConfig {
            breaker: BreakerConfig {
                failures: cb.failures.max(1),
                cooldown: cb.cooldown.0,
                max_cooldown: cb.max_cooldown.0.max(cb.cooldown.0),
            },
            tls,
            url,
            compression: d.compression,
            format: d
                .format
                .as_ref()
                .map_or(BatchFormat::Segment, |f| *f.get_ref()),
            api_key: d.api_key.as_ref().and_then(|text| {
                let resolved = SecretRef::parse(text.get_ref()).and_then(|r| r.resolve(&self.base));
                resolved
                    .map_err(|e| self.problem(text.span(), key("api_key"), e.to_string(), ""))
                    .ok()
            }),
            headers,
            connect_timeout: self.positive(d.connect_timeout.0, &key("connect_timeout")),
            request_timeout: self.positive(d.request_timeout.0, &key("request_timeout")),
            concurrency,
            retry: RetryConfig {
                max_retries: d.retry.max_retries,
                initial_backoff: d.retry.initial_backoff.0,
                max_backoff: d.retry.max_backoff.0,
            },
        }
    }

    /// `concurrency` and `max_concurrency`: a fixed number (1 to 256), or
    /// adaptive up to `max_concurrency` (1 to 1024, default 32).
    fn concurrency(
        &mut self,
        d: &schema::Destination,
        key: &dyn Fn(&str) -> String,
    ) -> Concurrency {
        let max = d.max_concurrency.as_ref();
        match *d.concurrency.get_ref() {
            schema::ConcurrencyKey::Fixed(n) => {
                if !(1..=256).contains(&n) {
                    self.problem(
                        d.concurrency.span(),
                        key("concurrency"),
                        format!("{n} is out of range"),
                        "use 1 to 256, or \"adaptive\"",
                    );
                }
                if let Some(max) = max {
                    self.problem(
                        max.span(),
                        key("max_concurrency"),
                        "applies only with concurrency = \"adaptive\"".into(),
                        "remove it, or set concurrency = \"adaptive\"",
                    );
                }
                Concurrency::Fixed(n.clamp(1, 256) as usize)
            }
            schema::ConcurrencyKey::Adaptive => {
                let n = max.map_or(DEFAULT_MAX_CONCURRENCY, |m| *m.get_ref());
                if !(1..=1024).contains(&n) {
                    self.problem(
                        max.map_or(0..0, |m| m.span()),
                        key("max_concurrency"),
                        format!("{n} is out of range"),
                        "use 1 to 1024",
                    );
                }
                Concurrency::Adaptive {
                    max: n.clamp(1, 1024) as usize,
                }
            }
        }
    }

    /// A header as written (`key` names the table for errors).
    fn header(
        &mut self,
        name: &str,
        value: &str,
        span: Range<usize>,
        key: String,
    ) -> Option<(HeaderName, HeaderValue)> {
        // Never echo the value: it may be a secret.
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => Some((n, v)),
            (Err(_), _) => {
                self.problem(
                    span,
                    key,
                    format!("`{name}` is not a valid header name"),
                    "use letters, digits and '-'",
                );
                None
            }
            (_, Err(_)) => {
                self.problem(
                    span,
                    key,
                    format!("the value of `{name}` is not a valid header value"),
                    "remove control characters and line breaks",
                );
                None
            }
        }
    }
}
