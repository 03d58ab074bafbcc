//! `[[rules]]` (and a destination's `rules`): what is done to which fields.

use serde::Deserialize;
use toml::Spanned;

/// `select = "path"` or `select = ["path", "@field"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Select {
    /// One selector.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Select {
    /// The selectors as written.
    pub(crate) fn list(&self) -> Vec<String> {
        match self {
            Select::One(s) => vec![s.clone()],
            Select::Many(v) => v.clone(),
        }
    }
}

/// What a rule does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuleAction {
    /// Remove the selected values.
    Drop,
    /// Keyed hash (HMAC-SHA256) of the selected values.
    Hash,
    /// Replace PII in the selected strings by typed tokens.
    RedactPii,
    /// Zero the host part of selected IP addresses.
    TruncateIp,
    /// Clean selected URLs.
    ScrubUrl,
    /// User agents to browser family, major version and OS family.
    GeneralizeUa,
    /// Replace selected values by JWE compact strings (active encryption key).
    EncryptField,
}

/// `[[rules]]`: one privacy rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rule {
    /// A name for metrics and `explain` (default: its position).
    pub name: Option<Spanned<String>>,
    /// What it applies to.
    pub select: Spanned<Select>,
    /// What it does.
    pub action: Spanned<RuleAction>,
    /// `hash`: `auto` (default), `email`, `phone` or `none`.
    pub normalize: Option<Spanned<crate::policy::rules::Normalize>>,
    /// `hash`: ISO 3166 region national phone numbers are written in
    /// (`"GB"`), so they normalize to E.164 like international ones.
    pub phone_region: Option<Spanned<String>>,
    /// `redact_pii`, `scrub_url`: detectors to run (default: all).
    pub detectors: Option<Spanned<Vec<String>>>,
    /// `redact_pii`, `scrub_url`: ISO 3166 regions national phone numbers
    /// (written without `+`) are read in (default: a list of 60 major
    /// markets, docs/config.md).
    pub phone_regions: Option<Spanned<Vec<String>>>,
    /// `scrub_url`: query parameters kept (globs with `*`).
    pub keep_params: Option<Spanned<Vec<String>>>,
    /// `truncate_ip`: IPv4 prefix kept (default 24).
    pub ipv4_prefix: Option<Spanned<u8>>,
    /// `truncate_ip`: IPv6 prefix kept (default 48).
    pub ipv6_prefix: Option<Spanned<u8>>,
}
