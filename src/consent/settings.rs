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
    /// Object keys leading to a GPP string in events.
    pub gpp_path: Vec<String>,
    /// Object keys leading to a US Privacy string in events.
    pub us_privacy_path: Vec<String>,
    /// The purposes each US opt-out denies.
    pub us_opt_outs: UsOptOuts,
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

/// `[consent.us_opt_outs]`: the purposes each US opt-out denies when it is
/// exercised (and grants when the signal says it was not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsOptOuts {
    /// Sale: GPP `SaleOptOut` and its notice; US Privacy's opt-out of sale.
    pub sale: Vec<String>,
    /// Sharing: GPP `SharingOptOut` and its notice.
    pub sharing: Vec<String>,
    /// Targeted advertising: GPP `TargetedAdvertisingOptOut` and its notice.
    pub targeted_advertising: Vec<String>,
    /// GPP `SensitiveDataProcessing`.
    pub sensitive_data: Vec<String>,
    /// GPP `KnownChildSensitiveDataConsents`.
    pub known_child: Vec<String>,
}

impl UsOptOuts {
    /// Every purpose some opt-out denies, with the key it is under.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("sale", &self.sale),
            ("sharing", &self.sharing),
            ("targeted_advertising", &self.targeted_advertising),
            ("sensitive_data", &self.sensitive_data),
            ("known_child", &self.known_child),
        ]
        .into_iter()
        .flat_map(|(key, purposes)| purposes.iter().map(move |p| (key, p.as_str())))
    }
}
