//! The summary `privgate check` prints: what the config will do, in a few
//! lines per section, never a secret.

use super::schema::{ConsentDefault, Delivery, Encrypt};
use super::{units, Config};
use crate::forward::settings::{Concurrency, SinkConfig};
use crate::tls::ServerTls;
use std::fmt;

impl Config {
    /// How long each place privgate keeps data keeps it, one line each
    /// (`check` prints them).
    pub fn retention(&self) -> Vec<String> {
        let d = |t: std::time::Duration| humantime::format_duration(t).to_string();
        let mut out = Vec::new();
        for dest in &self.destinations {
            match (&dest.sink, dest.delivery) {
                (SinkConfig::File(f), _) => out.push(match (f.rotate_bytes, f.rotate_every, f.retain) {
                    (None, None, _) => format!(
                        "{}: file {} grows until you remove it (set rotate_every or rotate_bytes, and retain)",
                        dest.name,
                        f.path.display()
                    ),
                    (bytes, every, retain) => format!(
                        "{}: file {} rotated{}{}; rotated files {}",
                        dest.name,
                        f.path.display(),
                        every.map_or(String::new(), |e| format!(" every {}", d(e))),
                        bytes.map_or(String::new(), |b| format!(" at {}", units::ByteSize(b))),
                        retain.map_or("kept until you remove them (set retain)".to_owned(), |r| {
                            format!("deleted {} after rotation", d(r))
                        })
                    ),
                }),
                (_, Delivery::Durable) => out.push(format!(
                    "{}: undelivered events wait in the spool at most {}, then are deleted and counted",
                    dest.name,
                    d(self.spool.max_age)
                )),
                (_, Delivery::Memory) => out.push(format!(
                    "{}: undelivered events wait in memory only (lost on a crash), at most {} events",
                    dest.name, dest.queue_max_events
                )),
            }
        }
        if let Some(path) = &self.consent.suppressions {
            out.push(format!(
                "suppression log {}: an id until it is unsuppressed",
                path.display()
            ));
        }
        if let Some(audit) = &self.audit {
            out.push(format!(
                "audit log {}: kept; privgate never deletes it (archive and remove it yourself)",
                audit.path.display()
            ));
        }
        out
    }
}

impl Config {
    /// A short human summary for `privgate check` (never prints secrets).
    pub fn summary(&self) -> String {
        use fmt::Write;
        let mut out = String::new();
        let s = &self.server;
        let _ = writeln!(
            out,
            "server: listen {} (max body {}, request timeout {}), admin {}",
            s.listen,
            units::ByteSize(s.max_body_bytes as u64),
            humantime::format_duration(s.request_timeout),
            self.admin_listen
        );
        let _ = writeln!(out, "sources ({}):", self.sources.len());
        for src in &self.sources {
            let dests: Vec<&str> = src
                .destinations
                .iter()
                .map(|&i| self.destinations[i].name.as_str())
                .collect();
            let _ = writeln!(
                out,
                "  {} [{}] {} write key(s), {} CORS origin(s), upstream {}, -> {}",
                src.name,
                src.protocol.as_str(),
                src.write_keys.len(),
                src.cors_origins.len(),
                src.upstream
                    .as_ref()
                    .map_or("none".to_owned(), |u| u.to_string()),
                dests.join(", ")
            );
        }
        let _ = writeln!(out, "destinations ({}):", self.destinations.len());
        for d in &self.destinations {
            let what = match &d.sink {
                SinkConfig::Http(h) => format!(
                    "http POST {} ({:?}, {} extra header(s), {} in flight, {} retries)",
                    h.url,
                    h.format,
                    h.headers.len(),
                    match h.concurrency {
                        Concurrency::Fixed(n) => format!("up to {n}"),
                        Concurrency::Adaptive { max } => format!("adaptively up to {max}"),
                    },
                    h.retry.max_retries
                ),
                SinkConfig::File(f) => format!("file {}", f.path.display()),
                SinkConfig::Stdout => "stdout".to_owned(),
            };
            let sealed = if d.encrypt == Encrypt::Payload {
                ", payload encrypted (JWE)"
            } else {
                ""
            };
            let delivery = match d.delivery {
                Delivery::Durable => format!(
                    "durable (spool {}, up to {})",
                    self.spool.dir.join(&d.name).display(),
                    units::ByteSize(self.spool.max_bytes)
                ),
                Delivery::Memory => format!("memory (queue {} events)", d.queue_max_events),
            };
            let _ = writeln!(
                out,
                "  {}: {what}{sealed}; batch {} events / {} / {}; {delivery}",
                d.name,
                d.batch.max_events,
                units::ByteSize(d.batch.max_bytes as u64),
                humantime::format_duration(d.batch.max_wait),
            );
        }
        let default = match self.consent.default {
            ConsentDefault::Deny => "deny",
            ConsentDefault::Allow => "allow",
        };
        let _ = writeln!(out, "retention:");
        for line in self.retention() {
            let _ = writeln!(out, "  {line}");
        }
        let (hmac, encryption) = self.keyring.counts();
        let active = |id: Option<&str>| id.map_or(String::new(), |id| format!(" (active {id})"));
        let _ = writeln!(
            out,
            "keys: {hmac} hmac{}, {encryption} encryption{}",
            active(self.keyring.active_hmac().map(|k| k.id())),
            active(self.keyring.active_encryption().map(|k| k.id()))
        );
        let _ = writeln!(out, "tls: {}", self.tls_summary());
        let _ = writeln!(out, "rate limit: {}", self.rate_limit_summary());
        let required: Vec<String> = self
            .destinations
            .iter()
            .filter(|d| !d.consent.purposes.is_empty())
            .map(|d| {
                let mode = match d.consent.mode {
                    crate::consent::Match::All => "all",
                    crate::consent::Match::Any => "any",
                };
                format!(
                    "{} needs {mode} of {}",
                    d.name,
                    d.consent.purposes.join("+")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "consent: default {default}; {}; opt-out registry {}",
            if required.is_empty() {
                "no destination requires consent".to_owned()
            } else {
                required.join(", ")
            },
            self.consent
                .opt_out_registry
                .as_ref()
                .map_or("none".to_owned(), |p| p.display().to_string())
        );
        let word = |d: ConsentDefault| match d {
            ConsentDefault::Deny => "deny",
            ConsentDefault::Allow => "allow",
        };
        if let Some(j) = &self.consent.jurisdiction {
            let places: Vec<String> = j
                .defaults
                .iter()
                .map(|(place, d)| format!("{place} {}", word(*d)))
                .collect();
            let _ = writeln!(
                out,
                "consent by jurisdiction (header {}{}, from server.trusted_proxies only): {}; elsewhere {default}; unknown {}",
                j.country_header,
                j.region_header
                    .as_ref()
                    .map_or(String::new(), |r| format!(", region {r}")),
                if places.is_empty() {
                    "no places".to_owned()
                } else {
                    places.join(", ")
                },
                word(j.unknown),
            );
        }
        if let Some(max_age) = self.consent.max_age {
            let _ = writeln!(
                out,
                "consent: TC strings last updated more than {} ago grant nothing",
                humantime::format_duration(max_age)
            );
        }
        let us = &self.consent.us_opt_outs;
        let opt_outs: Vec<String> = [
            ("sale", &us.sale),
            ("sharing", &us.sharing),
            ("targeted_advertising", &us.targeted_advertising),
            ("sensitive_data", &us.sensitive_data),
            ("known_child", &us.known_child),
        ]
        .into_iter()
        .filter(|(_, purposes)| !purposes.is_empty())
        .map(|(name, purposes)| format!("{name} denies {}", purposes.join("+")))
        .collect();
        if !opt_outs.is_empty() {
            let _ = writeln!(
                out,
                "consent: US opt-outs (GPP US sections, US Privacy strings): {}",
                opt_outs.join(", ")
            );
        }
        for d in self
            .destinations
            .iter()
            .filter(|d| !d.consent.honor_opt_out)
        {
            let _ = writeln!(
                out,
                "warning: destination {} has honor_opt_out = false: events of ids in the opt-out registry reach it",
                d.name
            );
        }
        let _ = writeln!(out, "rules ({} global):", self.policy.rules().len());
        let describe = |r: &crate::policy::rules::Rule| {
            format!("{} {} {}", r.id, r.action.name(), r.select.join(", "))
        };
        for r in self.policy.rules() {
            let _ = writeln!(out, "  {}", describe(r));
        }
        for d in &self.destinations {
            for r in d.policy.rules() {
                let _ = writeln!(out, "  {} only: {}", d.name, describe(r));
            }
            if let Some(allow) = d.policy.allow() {
                let _ = writeln!(
                    out,
                    "  {} only: allow {} field pattern(s), everything else removed",
                    d.name,
                    allow.len()
                );
            }
        }
        out
    }

    /// The `tls:` line of [`Config::summary`].
    fn tls_summary(&self) -> String {
        let listener =
            |tls: &Option<ServerTls>| tls.as_ref().map_or("plaintext", ServerTls::describe);
        let mut line = format!(
            "server {}, admin {}",
            listener(&self.server.tls),
            listener(&self.admin_tls)
        );
        for d in &self.destinations {
            if let SinkConfig::Http(h) = &d.sink {
                if h.url.scheme_str() == Some("https") {
                    line.push_str(&format!("; {} trusts {}", d.name, h.tls.describe()));
                }
            }
        }
        line
    }

    /// The rate limits in one line, for `privgate check`.
    fn rate_limit_summary(&self) -> String {
        if self.server.rate_limit.per_ip.is_none()
            && self.sources.iter().all(|s| s.rate_limit.is_none())
        {
            return "off".to_owned();
        }
        let per_ip = self
            .server
            .rate_limit
            .per_ip
            .map_or("no per-IP limit".to_owned(), |r| {
                format!("per IP {}/s (burst {})", r.per_second, r.burst)
            });
        let sources: Vec<String> = self
            .sources
            .iter()
            .map(|s| match s.rate_limit {
                Some(r) => format!("{} {} events/s (burst {})", s.name, r.per_second, r.burst),
                None => format!("{} unlimited", s.name),
            })
            .collect();
        format!("{per_ip}; per write key: {}", sources.join(", "))
    }
}
