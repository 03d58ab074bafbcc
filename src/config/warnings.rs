//! What a valid config does that weakens a promise, said out loud:
//! `privgate check` prints these and `privgate run` logs them at start.
//! They are not errors (the operator may mean it), but nobody should get
//! them by accident. Never names a secret, only keys and addresses.

use super::Config;
use std::fmt;

/// One thing to warn about: the key it is about, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The config key (`admin.token`, `sources[0].relay_personal_data`).
    pub key: String,
    /// What it means and how to change it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Config {
    /// Everything [`Warning`]-worthy in this config, in key order.
    pub fn warnings(&self) -> Vec<Warning> {
        let mut out = Vec::new();
        if self.admin_token.is_none() && !self.admin_listen.ip().is_loopback() {
            out.push(Warning {
                key: "admin.token".into(),
                message: format!(
                    "the admin listener {} is not loopback and has no token: anyone who can reach it can reload the config (POST /admin/reload; browsers are refused); set admin.token = \"file:...\" or listen on 127.0.0.1",
                    self.admin_listen
                ),
            });
        }
        for (i, source) in self.sources.iter().enumerate() {
            if source.relay.personal_data {
                out.push(Warning {
                    key: format!("sources[{i}].relay_personal_data"),
                    message: format!(
                        "source `{}` relays feature-flag requests with their user ids even without a consent signal; Sec-GPC and opted-out ids still withhold them",
                        source.name
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn warnings(admin: &str, source: &str) -> Vec<String> {
        let text = format!(
            "[admin]\n{admin}\n[[sources]]\nname = \"ph\"\nprotocol = \"posthog\"\nwrite_keys = [\"k\"]\n{source}\n[[destinations]]\nname = \"d\"\nkind = \"stdout\"\n"
        );
        let config = Config::from_str(&text, Path::new("t.toml")).unwrap();
        config.warnings().iter().map(|w| w.key.clone()).collect()
    }

    #[test]
    fn an_open_admin_listener_and_relayed_ids_are_warned_about() {
        assert!(warnings("listen = \"127.0.0.1:9090\"", "").is_empty());
        assert!(warnings("listen = \"[::1]:9090\"", "").is_empty());
        assert_eq!(warnings("listen = \"0.0.0.0:9090\"", ""), ["admin.token"]);
        assert_eq!(warnings("listen = \"10.0.0.5:9090\"", ""), ["admin.token"]);
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("admin.token");
        std::fs::write(&token, "a-token-of-32-characters-or-so-x").unwrap();
        let with_token = format!(
            "listen = \"0.0.0.0:9090\"\ntoken = \"file:{}\"",
            token.display()
        );
        assert!(warnings(&with_token, "").is_empty());
        assert_eq!(
            warnings("listen = \"127.0.0.1:9090\"", "relay_personal_data = true"),
            ["sources[0].relay_personal_data"]
        );
    }
}
