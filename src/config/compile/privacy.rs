//! The public privacy notice ([`Notice`]) of a config: what each source
//! accepts and which consent signals it honours, what each destination
//! receives field by field, from the compiled rules. Config knows what
//! its values mean; the notice's words are the privacy module's.
//!
//! Nothing secret is read here: no write key, API key or secret, URL,
//! host, header, file path, key or TLS setting of the config goes into a
//! notice (SECURITY.md; `tests/privacy.rs` loads a config full of them and
//! looks for each in both forms of the page).

use super::Config;
use crate::consent::gcm::Kind;
use crate::consent::{ConsentDefault, Match};
use crate::forward::settings::{Delivery, DestinationConfig, Encrypt, SinkConfig};
use crate::ingest::settings::ClientIp;
use crate::policy::pii::Scanner;
use crate::policy::rules::{Action, Glob, Rule};
use crate::privacy::{
    self, Field, FieldRule, Jurisdictions, NoSignal, Notice, OptOut, Record, Retention, Signal,
    Treatment,
};
use crate::protocol::Protocol;
use std::collections::BTreeMap;

impl Config {
    /// The notice `GET /privacy` serves for this config.
    pub fn notice(&self) -> Notice {
        Notice {
            schema: privacy::SCHEMA,
            config_version: self.digest.clone(),
            operator: self.privacy.clone(),
            sources: self.sources.iter().map(|s| self.source_notice(s)).collect(),
            destinations: self
                .destinations
                .iter()
                .map(|d| self.destination_notice(d))
                .collect(),
            opt_out: OptOut {
                gpc_denies: self.consent.gpc_denies.clone(),
                registry: self.consent.opt_out_registry.is_some(),
                on_request: self.consent.suppressions.is_some(),
            },
            records: self.records(),
        }
    }

    /// What is kept besides events, as `check`'s retention says it.
    fn records(&self) -> Vec<Record> {
        let mut records = Vec::new();
        if self.consent.suppressions.is_some() {
            records.push(Record {
                what: "Requests to be left out or erased: the ids named (or their pseudonyms)"
                    .to_owned(),
                kept: "until the person asks to be included again; erasure marks for as long \
                       as undelivered events may wait, plus a day"
                    .to_owned(),
            });
        }
        if self.audit.is_some() {
            records.push(Record {
                what: "An audit log of configuration changes and of these requests, with ids \
                       only as keyed pseudonyms"
                    .to_owned(),
                kept: "until the operator archives and removes it".to_owned(),
            });
        }
        records
    }

    fn source_notice(&self, s: &crate::ingest::settings::SourceConfig) -> privacy::Source {
        privacy::Source {
            name: s.name.clone(),
            protocol: s.protocol.as_str().to_owned(),
            trackers: trackers(s.protocol)
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
            client_ip: match s.client_ip {
                ClientIp::Truncated => "truncated",
                ClientIp::Full => "full",
                ClientIp::None => "none",
            }
            .to_owned(),
            destinations: s
                .destinations
                .iter()
                .map(|&i| self.destinations[i].display_name.clone())
                .collect(),
            consent_signals: self.signals(s.protocol),
            no_signal: NoSignal {
                default: word(self.consent.default).to_owned(),
                by_jurisdiction: self.consent.jurisdiction.as_ref().map(|j| Jurisdictions {
                    places: j
                        .defaults
                        .iter()
                        .map(|(place, d)| (place.to_string(), word(*d).to_owned()))
                        .collect(),
                    unknown: word(j.unknown).to_owned(),
                }),
            },
        }
    }

    /// The signals read from `protocol`'s events and requests.
    fn signals(&self, protocol: Protocol) -> Vec<Signal> {
        let c = &self.consent;
        let mut signals = Vec::new();
        if c.opt_out_registry.is_some() {
            signals.push(Signal::OptOutRegistry);
        }
        if !c.gpc_denies.is_empty() {
            signals.push(Signal::Gpc {
                denies: c.gpc_denies.clone(),
            });
        }
        let objects: &[&str] = match protocol {
            Protocol::Segment | Protocol::Json => &[
                "the event's context.consent (categoryPreferences)",
                "context.consentManagement",
            ],
            Protocol::Rudderstack => &[
                "the event's context.consentManagement",
                "context.consent (categoryPreferences)",
            ],
            Protocol::Snowplow => &[
                "Snowplow's gdpr context",
                "consent_granted and consent_withdrawn events",
            ],
            _ => &[],
        };
        if !objects.is_empty() {
            signals.push(Signal::InEvent {
                objects: objects.iter().map(|o| (*o).to_owned()).collect(),
                categories: c.categories.clone().into_iter().collect(),
            });
        }
        if !c.tcf_purposes.is_empty() {
            let mut places = vec!["the request's gdpr_consent parameter".to_owned()];
            if protocol == Protocol::Ga4 {
                places.push("the hit's gdpr_consent".to_owned());
            }
            if !c.tcf_path.is_empty() {
                places.push(format!("the event's {}", c.tcf_path.join(".")));
            }
            signals.push(Signal::Tcf {
                places,
                purposes: c.tcf_purposes.clone().into_iter().collect(),
                max_age_seconds: c.max_age.map(|a| a.as_secs()),
            });
        }
        let us = &c.us_opt_outs;
        let opt_outs: BTreeMap<String, Vec<String>> = [
            ("sale", &us.sale),
            ("sharing", &us.sharing),
            ("targeted_advertising", &us.targeted_advertising),
            ("sensitive_data", &us.sensitive_data),
            ("known_child", &us.known_child),
        ]
        .into_iter()
        .filter(|(_, purposes)| !purposes.is_empty())
        .map(|(name, purposes)| (name.to_owned(), purposes.clone()))
        .collect();
        if !opt_outs.is_empty() {
            let mut places = vec!["the request's gpp and us_privacy parameters".to_owned()];
            if protocol == Protocol::Ga4 {
                places.push("the hit's gpp and us_privacy".to_owned());
            }
            for path in [&c.gpp_path, &c.us_privacy_path] {
                if !path.is_empty() {
                    places.push(format!("the event's {}", path.join(".")));
                }
            }
            signals.push(Signal::UsOptOuts { places, opt_outs });
        }
        if !c.consent_mode.is_empty() && matches!(protocol, Protocol::Ga4 | Protocol::Ga4Mp) {
            signals.push(Signal::ConsentMode {
                signals: c
                    .consent_mode
                    .iter()
                    .map(|(kind, purpose)| (gcm_name(*kind).to_owned(), purpose.clone()))
                    .collect(),
            });
        }
        signals
    }

    fn destination_notice(&self, d: &DestinationConfig) -> privacy::Destination {
        let global = self.policy.rules().iter().map(|r| field_rule(r, "global"));
        let own = d
            .policy
            .rules()
            .iter()
            .map(|r| field_rule(r, "destination"));
        privacy::Destination {
            display_name: d.display_name.clone(),
            description: d.description.clone(),
            delivered_to: match d.sink {
                SinkConfig::Http(_) => "external_service",
                SinkConfig::File(_) => "local_file",
                SinkConfig::Stdout => "server_log",
            }
            .to_owned(),
            purposes: d.consent.purposes.clone(),
            purposes_match: match d.consent.mode {
                Match::All => "all",
                Match::Any => "any",
            }
            .to_owned(),
            tcf_vendor: d.consent.tcf_vendor,
            honours_opt_out: d.consent.honor_opt_out,
            fields: global.chain(own).collect(),
            allow_list: d
                .allow
                .as_ref()
                .map(|list| list.iter().map(|s| Field::new(s)).collect()),
            encrypted: d.encrypt == Encrypt::Payload,
            retention: Retention {
                delivery: match d.delivery {
                    Delivery::Durable => "durable",
                    Delivery::Memory => "memory",
                }
                .to_owned(),
                max_age_seconds: (d.delivery == Delivery::Durable)
                    .then_some(self.spool.max_age.as_secs()),
                file_kept_seconds: match &d.sink {
                    SinkConfig::File(f) => f.retain.map(|r| r.as_secs()),
                    _ => None,
                },
            },
        }
    }
}

/// A compiled rule as the notice states it.
fn field_rule(rule: &Rule, scope: &str) -> FieldRule {
    let detectors = |s: &Scanner| -> Vec<String> {
        s.detectors().iter().map(|d| d.name().to_owned()).collect()
    };
    let treatment = match &rule.action {
        Action::Drop => Treatment::Removed,
        Action::Hash { .. } => Treatment::Hashed,
        Action::RedactPii(scanner) => Treatment::PiiRedacted {
            detectors: detectors(scanner),
        },
        Action::TruncateIp { v4, v6 } => Treatment::IpTruncated {
            ipv4_prefix: *v4,
            ipv6_prefix: *v6,
        },
        Action::ScrubUrl { keep, scanner } => Treatment::UrlScrubbed {
            kept_query_parameters: keep
                .iter()
                .map(|g| match g {
                    Glob::Exact(name) | Glob::Pattern(name) => name.clone(),
                    Glob::Prefix(prefix) => format!("{prefix}*"),
                })
                .collect(),
            detectors: detectors(scanner),
        },
        Action::GeneralizeUa(_) => Treatment::UserAgentGeneralized,
        Action::EncryptField => Treatment::Encrypted,
    };
    FieldRule {
        scope: scope.to_owned(),
        fields: rule.select.iter().map(|s| Field::new(s)).collect(),
        treatment,
    }
}

/// The trackers that speak `protocol`.
fn trackers(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::Segment => &["Segment analytics.js and Segment's server libraries"],
        Protocol::Rudderstack => &["RudderStack's JavaScript SDK and server libraries"],
        Protocol::Amplitude => &["Amplitude's Browser SDK and HTTP API"],
        Protocol::Posthog => &["posthog-js and PostHog's server libraries"],
        Protocol::Snowplow => &["Snowplow's JavaScript tracker"],
        Protocol::Json => &["events posted as JSON by the site's own code"],
        Protocol::Ga4 => &["Google Analytics 4 (gtag.js, Google Tag Manager)"],
        Protocol::Ga4Mp => &["the Google Analytics 4 Measurement Protocol (server side)"],
    }
}

fn word(d: ConsentDefault) -> &'static str {
    match d {
        ConsentDefault::Deny => "deny",
        ConsentDefault::Allow => "allow",
    }
}

fn gcm_name(kind: Kind) -> &'static str {
    match kind {
        Kind::AdStorage => "ad_storage",
        Kind::AnalyticsStorage => "analytics_storage",
        Kind::AdUserData => "ad_user_data",
        Kind::AdPersonalization => "ad_personalization",
    }
}
