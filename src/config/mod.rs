//! Configuration: reading `proxy.toml`, resolving secrets, validating
//! everything, and producing the compiled [`Config`] the rest of the program
//! runs on.
//!
//! Validation collects every problem before failing, and each problem names
//! the file, line, column and key, says what is wrong and how to fix it.
//! This module performs no I/O beyond reading the config file and the secret
//! files it names.
//!
//! ## Stages, one file each
//!
//! 1. **Schema** (`schema/`, with `units.rs` and `secret.rs` for the
//!    values it reads): the file format as serde types with
//!    `deny_unknown_fields`; their doc comments are the config reference.
//!    A TOML or serde error becomes a positioned [`Problem`] (`problem.rs`,
//!    which owns what a problem is and how positions are found).
//! 2. **Validation** (`validate/`, one file per section): each value checked
//!    at its key, every problem collected before failing, and the section
//!    built into its validated type, which the module that runs it owns:
//!    ingest's [`ServerConfig`] (`validate/server.rs`) and [`SourceConfig`]
//!    (`validate/sources.rs`), forward's [`DestinationConfig`]
//!    (`validate/destinations.rs`), consent's [`ConsentConfig`]
//!    (`validate/consent.rs`), the spool's [`SpoolConfig`], tls's listener
//!    and client configurations (`validate/tls.rs`) and so on. Each owner
//!    gets its part: [`Config::ingest`], [`Config::forward`].
//! 3. **Compilation** (`compile/`): the runtime types other modules own,
//!    built from what validation checked, in the same pass, so that failing
//!    to build is a problem at the key: policy's
//!    [`Policies`](crate::policy::Policies) (`compile/rules.rs`), crypto's
//!    [`Keyring`](crate::crypto::Keyring) (`compile/keys.rs`), and consent's
//!    engine from its settings (`compile/mod.rs`). Config depends on those
//!    owners; none of them imports [`Config`].
//! 4. **Summary** (`summary.rs`): what `privgate check` prints, and
//!    (`warnings.rs`) what a valid config does that weakens a promise.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

mod compile;
mod problem;
mod schema;
mod secret;
mod summary;
pub mod units;
mod validate;
mod warnings;

pub use crate::consent::ConsentConfig;
pub use crate::forward::settings::{
    BatchConfig, BreakerConfig, DestinationConfig, HttpSinkConfig, RetryConfig, SinkConfig,
};
pub use crate::ingest::settings::{Rate, RateLimitConfig, RelayConfig, ServerConfig, SourceConfig};
pub use crate::spool::SpoolConfig;
pub use problem::{ConfigError, Problem};
pub use schema::ClientIp;
pub use schema::Compression;
pub use schema::{
    BatchFormat, ConsentDefault, Delivery, DestinationKind, Encrypt, Fsync, Protocol,
};
pub use secret::{matches_any, Secret, SecretError, SecretRef};
pub use warnings::Warning;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The validated, compiled configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The tracker-facing listener.
    pub server: ServerConfig,
    /// The admin listener.
    pub admin_listen: SocketAddr,
    /// `[admin.tls]`: HTTPS on the admin listener; plaintext when `None`.
    pub admin_tls: Option<crate::tls::ServerTls>,
    /// The bearer token `/admin/*` requires, when set.
    pub admin_token: Option<Secret>,
    /// How many `/admin/*` calls per second the admin listener takes.
    pub admin_rate: crate::ingest::settings::Rate,
    /// `[admin] read_token`: may only read the subjects API.
    pub admin_read_token: Option<Secret>,
    /// Sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// Destinations, in file order.
    pub destinations: Vec<DestinationConfig>,
    /// Consent defaults.
    pub consent: ConsentConfig,
    /// Hashing and encryption keys.
    pub keyring: std::sync::Arc<crate::crypto::Keyring>,
    /// Global rules, in order, compiled for each protocol.
    pub policy: crate::policy::Policies,
    /// The spool of durable destinations.
    pub spool: SpoolConfig,
    /// `[audit]`: the audit log, when kept.
    pub audit: Option<crate::audit::AuditConfig>,
    /// SHA-256 (hex) of the config file's text: which config is running.
    pub digest: String,
    /// `[privacy]`: the operator, as the privacy page names it.
    pub privacy: crate::privacy::Operator,
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![Problem {
                line: None,
                column: None,
                key: "(file)".into(),
                message: format!("cannot read the config file: {e}"),
                hint: Some("pass an existing file with --config".into()),
            }],
        })?;
        Config::from_str(&text, path)
    }

    /// Parses and validates config text; `path` names it in errors and is
    /// the base for relative paths.
    pub fn from_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file: schema::File = toml::from_str(text).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![problem::parse_problem(text, &e)],
        })?;
        let (mut config, problems) = validate::validate(text, path, file);
        config.digest = crate::audit::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()));
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError {
                file: path.to_owned(),
                problems,
            })
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
