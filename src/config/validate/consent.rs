//! `[consent]`: the default, the signal mappings (CMP categories, TCF
//! purposes, consent mode) and the opt-out registry; and the bound on
//! distinct purposes across destinations.

use super::Validator;
use crate::config::schema;
use crate::config::secret::{SecretError, SecretRef};
use crate::consent::jurisdiction::{Jurisdictions, Place};
use crate::consent::ConsentConfig;
use crate::ingest::settings::ServerConfig;
use http::HeaderName;
use toml::Spanned;

impl Validator<'_> {
    /// `[consent]`, checked.
    pub(super) fn consent(
        &mut self,
        file: schema::Consent,
        server: &ServerConfig,
    ) -> ConsentConfig {
        let suppression_sync = file
            .suppression_sync
            .as_ref()
            .and_then(|sync| self.suppression_sync(sync, file.suppressions.is_some()));
        ConsentConfig {
            suppression_sync,
            suppressions: file.suppressions.as_ref().map(|p| {
                let text = p.get_ref();
                self.base.join(text.strip_prefix("file:").unwrap_or(text))
            }),
            max_age: file.max_age.as_ref().map(|age| {
                let age = age.get_ref().0;
                self.positive(age, "consent.max_age")
            }),
            jurisdiction: file
                .jurisdiction
                .as_ref()
                .and_then(|j| self.jurisdiction(j, server)),
            default: file.default,
            gpc_denies: file.gpc_denies,
            categories: file.categories,
            tcf_purposes: self.tcf_purposes(&file.tcf_purposes),
            tcf_path: file.tcf_path.as_ref().map_or(Vec::new(), |path| {
                let keys: Vec<String> = path.get_ref().split('.').map(str::to_owned).collect();
                if keys.iter().any(String::is_empty) {
                    self.problem(
                        path.span(),
                        "consent.tcf_path".into(),
                        format!("`{}` has an empty key", path.get_ref()),
                        "write object keys separated by dots, e.g. \"context.gdpr_consent\"",
                    );
                }
                keys
            }),
            gpp_path: self.path(file.gpp_path.as_ref(), "consent.gpp_path", "context.gpp"),
            us_privacy_path: self.path(
                file.us_privacy_path.as_ref(),
                "consent.us_privacy_path",
                "context.us_privacy",
            ),
            us_opt_outs: {
                let list = |l: &[Spanned<String>]| l.iter().map(|p| p.get_ref().clone()).collect();
                let us = &file.us_opt_outs;
                crate::consent::UsOptOuts {
                    sale: list(&us.sale),
                    sharing: list(&us.sharing),
                    targeted_advertising: list(&us.targeted_advertising),
                    sensitive_data: list(&us.sensitive_data),
                    known_child: list(&us.known_child),
                }
            },
            consent_mode: self.consent_mode(&file.consent_mode),
            opt_out_registry: file.opt_out_registry.as_ref().and_then(|p| {
                let text = p.get_ref();
                let path = text.strip_prefix("file:").unwrap_or(text);
                let path = self.base.join(path);
                if let Err(e) = std::fs::metadata(&path) {
                    self.problem(
                        p.span(),
                        "consent.opt_out_registry".into(),
                        format!("cannot read `{}`: {}", path.display(), e.kind()),
                        "create the file (one id per line; it may be empty) or remove the key",
                    );
                    return None;
                }
                Some(path)
            }),
            opt_out_reload_interval: self.positive(
                file.opt_out_reload_interval.0,
                "consent.opt_out_reload_interval",
            ),
        }
    }

    /// `[consent.suppression_sync]`: an http(s) url, a token by reference,
    /// positive durations, and a local log to keep what it brings.
    fn suppression_sync(
        &mut self,
        file: &schema::SuppressionSync,
        has_log: bool,
    ) -> Option<crate::consent::suppression::sync::SyncConfig> {
        if !has_log {
            self.problem(
                file.url.span(),
                "consent.suppression_sync".into(),
                "a replica keeps what it syncs in consent.suppressions, and none is set".into(),
                "set [consent] suppressions = \"file:/var/lib/privgate/suppressions.jsonl\"",
            );
        }
        let url = match file.url.get_ref().parse::<http::Uri>() {
            Ok(url)
                if matches!(url.scheme_str(), Some("http" | "https"))
                    && url.authority().is_some() =>
            {
                Some(url)
            }
            _ => {
                self.problem(
                    file.url.span(),
                    "consent.suppression_sync.url".into(),
                    format!("`{}` is not an http(s) url", file.url.get_ref()),
                    "write the primary's listing, e.g. \"https://primary.internal:9090/admin/subjects\"",
                );
                None
            }
        };
        let token = SecretRef::parse(file.token.get_ref()).and_then(|r| match r {
            SecretRef::Literal(_) => Err(SecretError::LiteralNotAllowed),
            r => r.resolve(&self.base),
        });
        let token = match token {
            Ok(token) => Some(token),
            Err(e) => {
                self.problem(
                    file.token.span(),
                    "consent.suppression_sync.token".into(),
                    e.to_string(),
                    "write token = \"env:PRIVGATE_PRIMARY_TOKEN\" or \"file:/path/to/token\" (the primary's [admin] token)",
                );
                None
            }
        };
        for (value, key) in [(&file.interval, "interval"), (&file.timeout, "timeout")] {
            if value.get_ref().0.is_zero() {
                self.problem(
                    value.span(),
                    format!("consent.suppression_sync.{key}"),
                    "must be longer than zero".into(),
                    "e.g. \"10s\"",
                );
            }
        }
        Some(crate::consent::suppression::sync::SyncConfig {
            url: url?,
            token: token?,
            interval: file.interval.get_ref().0,
            timeout: file.timeout.get_ref().0,
        })
        .filter(|_| has_log)
    }

    /// The purposes destinations require or GPC denies: at most
    /// [`MAX_PURPOSES`](crate::consent::MAX_PURPOSES) distinct ones.
    pub(super) fn purposes(
        &mut self,
        consent: &schema::Consent,
        destinations: &[schema::Destination],
    ) {
        let mut purposes: Vec<&str> = consent.gpc_denies.iter().map(String::as_str).collect();
        purposes.extend(
            destinations
                .iter()
                .flat_map(|d| d.require_consent.iter().map(String::as_str)),
        );
        purposes.sort_unstable();
        purposes.dedup();
        // A purpose an opt-out denies that nothing requires is a typo more
        // likely than a choice: it would deny nothing, silently.
        let us = &consent.us_opt_outs;
        for (key, list) in [
            ("sale", &us.sale),
            ("sharing", &us.sharing),
            ("targeted_advertising", &us.targeted_advertising),
            ("sensitive_data", &us.sensitive_data),
            ("known_child", &us.known_child),
        ] {
            for purpose in list {
                if purposes.binary_search(&purpose.get_ref().as_str()).is_err() {
                    self.problem(
                        purpose.span(),
                        format!("consent.us_opt_outs.{key}"),
                        format!(
                            "`{}` is not a purpose any destination requires or gpc_denies names",
                            purpose.get_ref()
                        ),
                        "use a purpose named in a destination's require_consent (e.g. \"advertising\"), or remove it",
                    );
                }
            }
        }
        if purposes.len() > crate::consent::MAX_PURPOSES {
            self.problem(
                0..0,
                "destinations[].require_consent".into(),
                format!(
                    "{} distinct consent purposes are required or denied by GPC; at most {} are supported",
                    purposes.len(),
                    crate::consent::MAX_PURPOSES
                ),
                "name fewer purposes: map CMP categories onto a few purposes in [consent] categories",
            );
        }
    }

    /// A dotted event path (`tcf_path`, `gpp_path`, ...) as object keys.
    fn path(&mut self, path: Option<&Spanned<String>>, key: &str, example: &str) -> Vec<String> {
        let Some(path) = path else {
            return Vec::new();
        };
        let keys: Vec<String> = path.get_ref().split('.').map(str::to_owned).collect();
        if keys.iter().any(String::is_empty) {
            self.problem(
                path.span(),
                key.into(),
                format!("`{}` has an empty key", path.get_ref()),
                &format!("write object keys separated by dots, e.g. \"{example}\""),
            );
        }
        keys
    }

    /// `[consent] tcf_purposes`, checked: TCF purposes are 1 to 24.
    fn tcf_purposes(
        &mut self,
        written: &std::collections::BTreeMap<String, Spanned<Vec<u8>>>,
    ) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut out = std::collections::BTreeMap::new();
        for (purpose, tcf) in written {
            if tcf.get_ref().is_empty() || tcf.get_ref().iter().any(|&p| !(1..=24).contains(&p)) {
                self.problem(
                    tcf.span(),
                    format!("consent.tcf_purposes.{purpose}"),
                    "TCF purposes are numbers from 1 to 24, at least one".into(),
                    "e.g. tcf_purposes = { analytics = [1, 8, 9, 10] }",
                );
                continue;
            }
            out.insert(purpose.clone(), tcf.get_ref().clone());
        }
        out
    }

    /// `[consent] consent_mode`, checked: the four signal names.
    fn consent_mode(
        &mut self,
        written: &std::collections::BTreeMap<String, Spanned<String>>,
    ) -> Vec<(crate::consent::gcm::Kind, String)> {
        let mut out = Vec::new();
        for (signal, purpose) in written {
            match crate::consent::gcm::Kind::from_name(signal) {
                Some(kind) => out.push((kind, purpose.get_ref().clone())),
                None => self.problem(
                    purpose.span(),
                    format!("consent.consent_mode.{signal}"),
                    format!("`{signal}` is not a consent mode signal"),
                    "use ad_storage, analytics_storage, ad_user_data or ad_personalization",
                ),
            }
        }
        out
    }

    /// `[consent.jurisdiction]`: header names, places, and the trusted
    /// proxies the headers are believed from.
    fn jurisdiction(
        &mut self,
        file: &schema::Jurisdiction,
        server: &ServerConfig,
    ) -> Option<Jurisdictions> {
        let header = |this: &mut Self, written: &Spanned<String>, key: &str| {
            HeaderName::try_from(written.get_ref().trim())
                .map_err(|_| {
                    this.problem(
                        written.span(),
                        format!("consent.jurisdiction.{key}"),
                        format!("`{}` is not a header name", written.get_ref()),
                        "name the header your CDN sets, e.g. \"CloudFront-Viewer-Country\"",
                    );
                })
                .ok()
        };
        let country_header = header(self, &file.country_header, "country_header");
        let region_header = match &file.region_header {
            Some(written) => Some(header(self, written, "region_header")?),
            None => None,
        };
        let mut defaults = Vec::new();
        for (place, default) in &file.defaults {
            match Place::parse(place) {
                Some(parsed) => defaults.push((parsed, *default.get_ref())),
                None => self.problem(
                    default.span(),
                    format!("consent.jurisdiction.defaults.{place}"),
                    format!("`{place}` is not a place privgate knows"),
                    "write a country code (\"DE\"), a subdivision (\"US-CA\"), or \"EEA\" or \"EU\"",
                ),
            }
        }
        if server.trusted_proxies.is_empty() {
            self.problem(
                file.country_header.span(),
                "consent.jurisdiction.country_header".into(),
                "the jurisdiction header is believed only from server.trusted_proxies, and none is set"
                    .into(),
                "add your CDN's addresses to server.trusted_proxies (anyone else could claim any country)",
            );
        }
        Some(Jurisdictions {
            country_header: country_header?,
            region_header,
            defaults,
            unknown: file.unknown,
        })
    }
}
