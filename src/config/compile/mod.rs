//! Compilation: building the runtime types other modules own, so that
//! config depends on those modules and never the other way round.
//!
//! - `rules.rs`: `[[rules]]` and a destination's `rules` and `allow`,
//!   checked and compiled for every protocol into policy's
//!   [`Policies`](crate::policy::Policies).
//! - `keys.rs`: `[keys]`, resolved and built into crypto's
//!   [`Keyring`](crate::crypto::Keyring).
//! - `privacy.rs`: the public notice ([`Notice`](crate::privacy::Notice))
//!   of what the config does, handed to ingest with its settings.
//! - here: consent's engine, from its own settings type
//!   ([`ConsentConfig`](crate::consent::ConsentConfig), which validation
//!   fills in), the purposes the destinations require and the keyring, for
//!   the code that starts or reloads privgate; and the
//!   [`Pipeline`](crate::pipeline::Pipeline) from the destinations' consent
//!   requirements and rules.
//!
//! The first two are methods of validation's `Validator` and run during
//! validation, so that a value failing to compile is a problem at its key.

mod keys;
mod privacy;
mod rules;

use super::Config;
use crate::consent::suppression::Suppressions;
use crate::consent::{Consent, OptOutRegistry};
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use std::sync::Arc;

impl Consent {
    /// The engine `config` describes: `[consent]`, for the purposes its
    /// destinations require, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it).
    pub fn from_config(config: &Config) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        Consent::from_config_with(config, None)
    }

    /// [`Consent::from_config`], also matching what the admin API
    /// suppressed (the one log the running process keeps open).
    pub fn from_config_with(
        config: &Config,
        suppressions: Option<Arc<Suppressions>>,
    ) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let required = config
            .destinations
            .iter()
            .flat_map(|d| d.consent.purposes.iter().map(String::as_str));
        Consent::from_settings(
            &config.consent,
            required,
            config.keyring.clone(),
            suppressions,
        )
    }
}

impl Config {
    /// What ingest is built from.
    pub fn ingest(&self) -> crate::ingest::settings::Settings<'_> {
        crate::ingest::settings::Settings {
            server: &self.server,
            sources: &self.sources,
            destinations: self.destinations.iter().map(|d| d.name.as_str()).collect(),
            privacy: self.notice(),
        }
    }

    /// What forward is built from.
    pub fn forward(&self) -> crate::forward::settings::Destinations<'_> {
        crate::forward::settings::Destinations {
            destinations: &self.destinations,
            spool: &self.spool,
            keyring: &self.keyring,
        }
    }
}

impl Pipeline {
    /// The pipeline `config` describes: its global rules, then each
    /// destination's consent requirement and rules, deciding with
    /// `consent`.
    pub fn new(config: &Config, consent: Consent, metrics: &Metrics) -> Pipeline {
        let destinations = config
            .destinations
            .iter()
            .map(|d| (d.name.as_str(), &d.consent, &d.policy));
        Pipeline::build(
            destinations,
            &config.policy,
            config.keyring.clone(),
            consent,
            metrics,
        )
    }
}
