//! The public privacy notice: what privgate does with people's data, as
//! the running config says, served at `GET /privacy` on the tracker
//! listener in two forms (JSON and an HTML page, [`html`]).
//!
//! Owns the [`Notice`] model (the documented, versioned JSON schema
//! `privgate.privacy/1`, see docs/privacy.md), its wording in plain
//! words, its rendering, and the answer to a request for it ([`Page`]).
//! Config builds the notice from what it compiled (`config/compile/
//! privacy.rs`) and hands it to ingest with the rest of ingest's settings;
//! this module never imports `config`, so it cannot see a secret: a
//! notice holds only what its builder put in, and its builder puts in no
//! key, write key, URL, host, header or file path (SECURITY.md).
//!
//! A page is rendered once per config (ingest is rebuilt on reload), so a
//! request costs a header comparison and a copy of shared bytes.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub(crate) mod html;
mod page;
mod words;

pub(crate) use page::{Page, PATH};
pub(crate) use words::field_label;

use serde::Serialize;
use std::collections::BTreeMap;

/// The schema name and version every notice carries. A change that
/// removes or renames a key, or changes a value's meaning, is a new
/// version.
pub(crate) const SCHEMA: &str = "privgate.privacy/1";

/// What privgate does with the data of the people whose trackers send to
/// it, for one config.
#[derive(Clone, Debug, Serialize)]
pub struct Notice {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// SHA-256 (hex) of the config file's text this notice describes.
    pub config_version: String,
    /// Who runs this privgate, as the operator says (`[privacy]`).
    pub operator: Operator,
    /// Where events come from, in config order.
    pub sources: Vec<Source>,
    /// Where events go, in config order.
    pub destinations: Vec<Destination>,
    /// How a person opts out.
    pub opt_out: OptOut,
    /// What privgate keeps besides events (the requests people made, the
    /// audit log), and for how long.
    pub records: Vec<Record>,
}

/// A place privgate keeps something other than events.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// What is kept, in words.
    pub what: String,
    /// For how long, in words.
    pub kept: String,
}

/// `[privacy]`: the operator's own words; every part optional.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Operator {
    /// The data controller's name.
    pub controller: Option<String>,
    /// Where to ask about privacy: a URL or an email address.
    pub contact: Option<String>,
    /// The site's own privacy policy.
    pub policy_url: Option<String>,
}

/// A source: one kind of tracker privgate accepts.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    /// The operator's name for it.
    pub name: String,
    /// The wire protocol (config name, e.g. `segment`).
    pub protocol: String,
    /// The trackers that speak it, in words.
    pub trackers: Vec<String>,
    /// What of the sender's IP address its events carry:
    /// `truncated`, `full` or `none`.
    pub client_ip: String,
    /// The display names of the destinations it feeds.
    pub destinations: Vec<String>,
    /// The consent signals read from its events and requests.
    pub consent_signals: Vec<Signal>,
    /// What an event with no consent signal at all means.
    pub no_signal: NoSignal,
}

/// A consent signal privgate honours.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// A consent object inside the event (a CMP's categories).
    InEvent {
        /// Where in the event, in words (`context.consent.categoryPreferences`).
        objects: Vec<String>,
        /// CMP category id -> purpose.
        categories: BTreeMap<String, String>,
    },
    /// The browser's Global Privacy Control (`Sec-GPC: 1`).
    Gpc {
        /// The purposes it withdraws.
        denies: Vec<String>,
    },
    /// An IAB TCF v2 TC string.
    Tcf {
        /// Where it is read.
        places: Vec<String>,
        /// Purpose -> the TCF purposes that must all have consent.
        purposes: BTreeMap<String, Vec<u8>>,
        /// Strings last updated longer ago (seconds) grant nothing.
        max_age_seconds: Option<u64>,
    },
    /// Google consent mode (`gcs`, `gcd`, the Measurement Protocol's
    /// `consent`).
    ConsentMode {
        /// Consent mode signal -> purpose.
        signals: BTreeMap<String, String>,
    },
    /// US privacy opt-outs: IAB GPP strings (US National and state
    /// sections) and the IAB US Privacy string.
    UsOptOuts {
        /// Where they are read.
        places: Vec<String>,
        /// Opt-out (`sale`, `sharing`, `targeted_advertising`,
        /// `sensitive_data`, `known_child`) -> the purposes it withdraws.
        opt_outs: BTreeMap<String, Vec<String>>,
    },
    /// The operator's list of people who opted out.
    OptOutRegistry,
}

/// What no consent signal at all means.
#[derive(Clone, Debug, Serialize)]
pub struct NoSignal {
    /// `deny` (no consent) or `allow`.
    pub default: String,
    /// Different defaults by the country (or region) the operator's CDN
    /// reports, when configured.
    pub by_jurisdiction: Option<Jurisdictions>,
}

/// Defaults by jurisdiction.
#[derive(Clone, Debug, Serialize)]
pub struct Jurisdictions {
    /// Place (`EEA`, `GB`, `US-CA`) -> `deny` or `allow`.
    pub places: BTreeMap<String, String>,
    /// Where the place is not known: `deny` or `allow`.
    pub unknown: String,
}

/// A destination, by the name the operator gives it for people.
#[derive(Clone, Debug, Serialize)]
pub struct Destination {
    /// The operator's name for people (`display_name`).
    pub display_name: String,
    /// The operator's description of what it is for.
    pub description: Option<String>,
    /// `external_service`, `local_file` or `server_log`.
    pub delivered_to: String,
    /// The purposes an event needs consent for to reach it.
    pub purposes: Vec<String>,
    /// `all` of them or `any` one.
    pub purposes_match: String,
    /// Its IAB Global Vendor List id, whose consent a TC string must give.
    pub tcf_vendor: Option<u16>,
    /// Whether opted-out people's events are kept from it.
    pub honours_opt_out: bool,
    /// What is done to which fields before it receives an event, global
    /// rules first, in the order they run.
    pub fields: Vec<FieldRule>,
    /// When set, only these fields reach it; everything else is removed.
    pub allow_list: Option<Vec<Field>>,
    /// Whether every batch it receives is encrypted (JWE).
    pub encrypted: bool,
    /// How long undelivered data may wait.
    pub retention: Retention,
}

/// One rule: what happens to some fields.
#[derive(Clone, Debug, Serialize)]
pub struct FieldRule {
    /// `global` (every destination) or `destination` (this one only).
    pub scope: String,
    /// The fields it selects.
    pub fields: Vec<Field>,
    /// What it does to them.
    pub treatment: Treatment,
}

/// A field as the config selects it, and in words.
#[derive(Clone, Debug, Serialize)]
pub struct Field {
    /// The selector as written (`@email`, `context.ip`, `properties.*`).
    pub selector: String,
    /// In words (`email address`).
    pub label: String,
}

impl Field {
    /// `selector` with its label.
    pub fn new(selector: &str) -> Field {
        Field {
            selector: selector.to_owned(),
            label: field_label(selector),
        }
    }
}

/// What a rule does to a field.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Treatment {
    /// Removed.
    Removed,
    /// Replaced by a keyed pseudonym (HMAC-SHA256).
    Hashed,
    /// Personal data found in it replaced by a placeholder.
    PiiRedacted {
        /// The kinds looked for (`email`, `phone`, ...).
        detectors: Vec<String>,
    },
    /// IP addresses cut to a network prefix.
    IpTruncated {
        /// IPv4 prefix kept, in bits.
        ipv4_prefix: u8,
        /// IPv6 prefix kept, in bits.
        ipv6_prefix: u8,
    },
    /// URLs cleaned: query parameters removed but those listed, no
    /// credentials or fragment, personal data in the path replaced.
    UrlScrubbed {
        /// Query parameters kept (`*` matches any characters).
        kept_query_parameters: Vec<String>,
        /// The kinds of personal data looked for.
        detectors: Vec<String>,
    },
    /// User agents reduced to browser family, major version and OS.
    UserAgentGeneralized,
    /// Replaced by ciphertext (JWE) only the key holder can read.
    Encrypted,
}

/// How long undelivered data may wait for a destination.
#[derive(Clone, Debug, Serialize)]
pub struct Retention {
    /// `durable` (on disk, encrypted) or `memory`.
    pub delivery: String,
    /// `durable`: undelivered events older than this (seconds) are
    /// deleted.
    pub max_age_seconds: Option<u64>,
    /// A `local_file` destination: how long (seconds) a rotated file is
    /// kept before it is deleted; `None` when it is kept until the operator
    /// removes it.
    pub file_kept_seconds: Option<u64>,
}

/// How a person opts out.
#[derive(Clone, Debug, Serialize)]
pub struct OptOut {
    /// The purposes the browser's Global Privacy Control withdraws (empty:
    /// GPC is not read).
    pub gpc_denies: Vec<String>,
    /// Whether the operator keeps a registry of opted-out ids.
    pub registry: bool,
    /// Whether the operator can suppress and erase a person on request
    /// (the admin subjects API).
    pub on_request: bool,
}

#[cfg(test)]
mod tests;
