//! What the consent engine is built from: `[consent]` as config validated
//! it. Consent owns these types and config constructs them, so consent
//! never reads the config itself.

use super::gcm;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// What applies when an event carries no consent signal at all.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ConsentDefault {
    /// No signal means no consent (the default).
    #[default]
    Deny,
    /// No signal means consent; only for first-party, consent-exempt setups.
    Allow,
}

/// `[consent]`, validated.
#[derive(Clone, Debug)]
pub struct ConsentConfig {
    /// Decision with no signal.
    pub default: ConsentDefault,
    /// Purposes `Sec-GPC: 1` denies.
    pub gpc_denies: Vec<String>,
    /// CMP category id -> purpose.
    pub categories: BTreeMap<String, String>,
    /// Purpose -> the TCF purposes (1-24) that must all have consent.
    pub tcf_purposes: BTreeMap<String, Vec<u8>>,
    /// Object keys leading to a TC string in events.
    pub tcf_path: Vec<String>,
    /// Google consent mode signal -> purpose.
    pub consent_mode: Vec<(gcm::Kind, String)>,
    /// The opt-out registry file.
    pub opt_out_registry: Option<PathBuf>,
    /// How often it is checked for changes.
    pub opt_out_reload_interval: Duration,
    /// TC strings last updated longer ago grant nothing (`None`: no limit).
    pub max_age: Option<Duration>,
    /// Defaults by the jurisdiction the CDN states (`None`: `default`
    /// everywhere).
    pub jurisdiction: Option<super::jurisdiction::Jurisdictions>,
    /// The suppression log of the admin API (`None`: the API is off).
    pub suppressions: Option<PathBuf>,
    /// A primary whose suppression list this replica polls.
    pub suppression_sync: Option<super::suppression::sync::SyncConfig>,
}
