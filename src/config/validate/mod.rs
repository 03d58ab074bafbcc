//! Validation: every section of the parsed [`schema::File`] checked at its
//! key, and built into the validated [`Config`] (and, through the methods
//! in `../compile/`, the runtime values its owners define: policy's
//! compiled rules, crypto's keyring) in the same pass.
//!
//! **Every problem, at once.** A check that fails records a [`Problem`]
//! (with the position of the value it is about, when known, and how to fix
//! it) and carries on with a placeholder, so one run reports everything
//! wrong; [`validate`]'s caller fails when any problem was recorded. A value
//! that fails to compile (a selector, a rule set too complex to match) is a
//! problem at its key, never a panic later.
//!
//! **Order.** Problems are reported in the order the sections are checked
//! in [`Validator::config`] (server, admin, keys, destinations, sources,
//! rules, spool, consent, privacy), which `privgate check` prints as is.
//!
//! One file per section, each with the validated type it makes:
//! `server.rs` (`[server]`, `[admin]`), `rate_limit.rs`, `tls.rs` (every
//! TLS table), `destinations.rs`, `formats.rs` (a destination's batch
//! format, settled once its sources are known), `sources.rs`, `relay.rs`,
//! `spool.rs`, `consent.rs`, `privacy.rs` (`[privacy]` and the texts
//! destinations show on the privacy page); `[keys]` and the rules are checked where they
//! are compiled (`../compile/keys.rs`, `../compile/rules.rs`).

pub(super) mod consent;
mod deletion;
pub(super) mod destinations;
mod formats;
mod privacy;
pub(super) mod rate_limit;
pub(super) mod relay;
pub(super) mod server;
pub(super) mod sources;
pub(super) mod spool;
mod tls;

use super::problem::{line_col, Problem};
use super::schema;
use super::secret::{Secret, SecretError, SecretRef};
use super::Config;
use crate::forward::settings::DestinationConfig;
use crate::ingest::settings::SourceConfig;
use http::Uri;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Checks `file` (read from `path`, whose text is `text`): the config it
/// describes, and every problem found. The config is complete only when
/// there is none.
pub(super) fn validate(text: &str, path: &Path, file: schema::File) -> (Config, Vec<Problem>) {
    let mut v = Validator {
        text,
        base: path.parent().unwrap_or(Path::new("")).to_owned(),
        problems: Vec::new(),
    };
    let config = v.config(file, path);
    (config, v.problems)
}

/// Collects problems while the sections are checked.
pub(super) struct Validator<'a> {
    /// The file's text, for positions.
    text: &'a str,
    /// The config file's directory: relative paths start there.
    base: PathBuf,
    pub(super) problems: Vec<Problem>,
}

impl Validator<'_> {
    /// The whole config, section by section (the order problems are
    /// reported in).
    fn config(&mut self, file: schema::File, path: &Path) -> Config {
        let server = self.server(&file.server);
        let (admin_listen, admin_tls, admin_token) = self.admin(&file.admin, &server);
        let admin_rate = match &file.admin.rate_limit {
            Some(r) => self.request_rate(r.get_ref(), "admin.rate_limit"),
            None => rate_limit::rate(ADMIN_RATE.0, ADMIN_RATE.1),
        };
        let admin_read_token = self.admin_read_token(&file.admin);

        let keyring = self.keys(&file.keys);
        let mut names = HashSet::new();
        let mut destinations: Vec<DestinationConfig> = file
            .destinations
            .iter()
            .enumerate()
            .map(|(i, d)| self.destination(i, d, &mut names, &keyring))
            .collect();
        self.purposes(&file.consent, &file.destinations);
        if file.destinations.is_empty() {
            self.problem(
                0..0,
                "destinations".into(),
                "no destination is configured".into(),
                "add a [[destinations]] table, e.g. kind = \"stdout\"",
            );
        }

        let mut source_names = HashSet::new();
        let mut sources: Vec<SourceConfig> = file
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.source(i, s, &mut source_names, &destinations))
            .collect();
        self.source_rate_limits(&mut sources, &file.sources, &server);
        self.formats(&mut destinations, &file.destinations, &sources);
        if file.sources.is_empty() {
            self.problem(
                0..0,
                "sources".into(),
                "no source is configured".into(),
                "add a [[sources]] table, e.g. protocol = \"segment\"",
            );
        }

        let policy = self.policies(&file.rules, None, "rules", &keyring);
        let spool = self.spool(&file.spool);
        let consent = self.consent(file.consent, &server);
        let audit = file.audit.as_ref().map(|a| self.audit(a, &file.keys));
        let privacy = self.privacy(&file.privacy);

        Config {
            spool,
            path: path.to_owned(),
            server,
            admin_listen,
            admin_tls,
            admin_token,
            admin_rate,
            admin_read_token,
            sources,
            destinations,
            consent,
            keyring: std::sync::Arc::new(keyring),
            policy,
            audit,
            digest: String::new(),
            privacy,
        }
    }

    /// Records a problem at `span` (`0..0`: a default, or a value serde
    /// gives no position; printed without line and column). An empty `hint`
    /// is none.
    pub(super) fn problem(&mut self, span: Range<usize>, key: String, message: String, hint: &str) {
        let (line, column) = if span == (0..0) {
            (None, None)
        } else {
            let (l, c) = line_col(self.text, span.start);
            (Some(l), Some(c))
        };
        self.problems.push(Problem {
            line,
            column,
            key,
            message,
            hint: (!hint.is_empty()).then(|| hint.to_owned()),
        });
    }

    /// A socket address (never a host name: nothing is resolved).
    fn addr(&mut self, value: &Spanned<String>, key: &str) -> SocketAddr {
        match value.get_ref().parse() {
            Ok(addr) => addr,
            Err(_) => {
                self.problem(
                    value.span(),
                    key.into(),
                    format!("`{}` is not an IP address with a port", value.get_ref()),
                    "write e.g. \"127.0.0.1:8080\" or \"[::]:8080\" (host names are not resolved)",
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }
        }
    }

    /// A source's or destination's name: usable as a metric label, and not
    /// in `seen` yet.
    fn name(&mut self, value: &Spanned<String>, key: &str, seen: &mut HashSet<String>) {
        let name = value.get_ref();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            self.problem(
                value.span(),
                key.into(),
                format!("`{name}` is not a valid name"),
                "use 1-64 characters from a-z, A-Z, 0-9, '-' and '_' (names become metric labels)",
            );
        } else if !seen.insert(name.clone()) {
            self.problem(
                value.span(),
                key.into(),
                format!("the name `{name}` is used twice"),
                "give every source and every destination its own name",
            );
        }
    }

    /// A duration that must not be zero.
    fn positive(&mut self, value: Duration, key: &str) -> Duration {
        if value.is_zero() {
            self.problem(
                0..0,
                key.into(),
                "must be longer than zero".into(),
                "write e.g. \"10s\"",
            );
        }
        value
    }

    /// `value` if within `range`; otherwise a problem, and the range's end.
    fn in_range(
        &mut self,
        value: &Spanned<u64>,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> usize {
        let v = *value.get_ref();
        if !range.contains(&v) {
            self.problem(
                value.span(),
                key.into(),
                format!("{v} is out of range"),
                &format!("use {} to {}", range.start(), range.end()),
            );
            return *range.end() as usize;
        }
        v as usize
    }

    /// A secret that must be an `env:` or `file:` reference.
    fn reference(&self, text: &str) -> Result<Secret, SecretError> {
        SecretRef::parse(text).and_then(|r| match r {
            SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
            r => r.resolve(&self.base),
        })
    }

    /// [`Validator::reference`], or a problem at `key`.
    /// `[audit]` and `[keys] audit`.
    fn audit(&mut self, audit: &schema::Audit, keys: &schema::Keys) -> crate::audit::AuditConfig {
        let text = audit.log.get_ref();
        let path = self.base.join(text.strip_prefix("file:").unwrap_or(text));
        let every = *audit.checkpoint_every.get_ref();
        if every == 0 {
            self.problem(
                audit.checkpoint_every.span(),
                "audit.checkpoint_every".into(),
                "must be at least 1".into(),
                "e.g. checkpoint_every = 64",
            );
        }
        let signing_seed = keys.audit.as_ref().and_then(|reference| {
            let secret = self.key_secret(reference, "keys.audit")?;
            use base64::Engine;
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(secret.expose().trim())
                .ok()
                .filter(|b| b.len() == 32);
            let Some(bytes) = bytes else {
                self.problem(
                    reference.span(),
                    "keys.audit".into(),
                    "is not base64url of 32 bytes".into(),
                    "generate one with `privgate keygen`",
                );
                return None;
            };
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            seed.copy_from_slice(&bytes);
            Some(seed)
        });
        crate::audit::AuditConfig {
            path,
            checkpoint_every: every.max(1),
            signing_seed,
        }
    }

    pub(super) fn key_secret(&mut self, value: &Spanned<String>, key: &str) -> Option<Secret> {
        match self.reference(value.get_ref()) {
            Ok(secret) => Some(secret),
            Err(e) => {
                self.problem(value.span(), key.into(), e.to_string(), "");
                None
            }
        }
    }
}

/// Parses an absolute `http://` or `https://` URL with a host.
fn parse_http_url(text: &str) -> Result<Uri, String> {
    let uri: Uri = text.parse().map_err(|_| format!("`{text}` is not a URL"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(format!("`{text}` must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(uri)
}

/// `[admin] rate_limit` when not set: requests per second, burst.
const ADMIN_RATE: (usize, usize) = (20, 50);
