//! Validation of a source's rule for relayed requests that carry user ids
//! (`relay_purposes`, `relay_personal_data`): PostHog's feature-flag
//! requests name the user (`distinct_id`, person properties), so they are
//! relayed with those ids only as consent allows (see
//! [`crate::ingest::passthrough`]). The other relays (settings, remote
//! configs, assets) carry no ids, so these keys belong to PostHog sources
//! only; elsewhere they are errors, not silently ignored.

use super::Validator;
use crate::config::schema::{self, Protocol};
use crate::ingest::settings::RelayConfig;

/// Whether sources of `protocol` relay requests that carry user ids.
pub(crate) fn relays_user_ids(protocol: Protocol) -> bool {
    protocol == Protocol::Posthog
}

impl Validator<'_> {
    /// The relay rule of source `s`; `key` names its keys in errors.
    pub(super) fn relay(
        &mut self,
        s: &schema::Source,
        key: &dyn Fn(&str) -> String,
    ) -> RelayConfig {
        let mut relay = RelayConfig::default();
        let applies = relays_user_ids(s.protocol);
        if let Some(purposes) = &s.relay_purposes {
            if !applies {
                self.not_here(purposes.span(), key("relay_purposes"), s.protocol);
            } else if purposes.get_ref().is_empty() {
                self.problem(
                    purposes.span(),
                    key("relay_purposes"),
                    "relay_purposes cannot be empty".into(),
                    "name the purposes feature flags serve (default [\"analytics\"]); to relay user ids without a consent signal, set relay_personal_data = true",
                );
            } else if let Some(blank) = purposes.get_ref().iter().find(|p| p.trim().is_empty()) {
                self.problem(
                    purposes.span(),
                    key("relay_purposes"),
                    format!("{blank:?} is not a purpose"),
                    "write purpose names as in require_consent, e.g. [\"analytics\"]",
                );
            } else {
                relay.purposes = purposes.get_ref().clone();
            }
        }
        if let Some(personal) = &s.relay_personal_data {
            if !applies {
                self.not_here(personal.span(), key("relay_personal_data"), s.protocol);
            } else {
                relay.personal_data = *personal.get_ref();
            }
        }
        relay
    }

    fn not_here(&mut self, span: std::ops::Range<usize>, key: String, protocol: Protocol) {
        self.problem(
            span,
            key,
            format!(
                "a {} source relays no request that carries user ids",
                protocol.as_str()
            ),
            "remove it: only posthog sources relay requests that name the user (feature flags)",
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn source(extra: &str, protocol: &str) -> String {
        format!(
            "[[sources]]\nname = \"s\"\nprotocol = \"{protocol}\"\nwrite_keys = [\"k\"]\n{extra}\n[[destinations]]\nname = \"d\"\nkind = \"stdout\"\n"
        )
    }

    #[test]
    fn relay_keys_are_validated_where_they_apply() {
        let ok = Config::from_str(&source("", "posthog"), Path::new("t.toml")).unwrap();
        assert_eq!(ok.sources[0].relay.purposes, ["analytics"]);
        assert!(!ok.sources[0].relay.personal_data);
        let set = Config::from_str(
            &source(
                "relay_purposes = [\"product\", \"analytics\"]\nrelay_personal_data = true",
                "posthog",
            ),
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(set.sources[0].relay.purposes, ["product", "analytics"]);
        assert!(set.sources[0].relay.personal_data);

        for (extra, protocol, want) in [
            ("relay_purposes = []", "posthog", "cannot be empty"),
            ("relay_purposes = [\" \"]", "posthog", "is not a purpose"),
            ("relay_personal_data = true", "segment", "relays no request"),
            ("relay_purposes = [\"a\"]", "amplitude", "relays no request"),
        ] {
            let err = Config::from_str(&source(extra, protocol), Path::new("t.toml")).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(want), "{extra}: {text}");
            assert!(text.contains("t.toml:5"), "points at the line: {text}");
        }
    }
}
