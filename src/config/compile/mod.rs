//! Building the engines other modules own from a validated [`Config`], for
//! the code that starts or reloads privgate. Config depends on those
//! modules, never the other way: each engine is built from its own
//! settings type (which validation filled in), and the glue that picks
//! those settings out of the whole config lives here.

mod keys;
mod rules;

use super::Config;
use crate::consent::{Consent, OptOutRegistry};
use std::sync::Arc;

impl Consent {
    /// The engine `config` describes: `[consent]`, for the purposes its
    /// destinations require, with its opt-out registry loaded (also
    /// returned, for the caller that reloads it).
    pub fn from_config(config: &Config) -> std::io::Result<(Consent, Option<Arc<OptOutRegistry>>)> {
        let required = config
            .destinations
            .iter()
            .flat_map(|d| d.consent.purposes.iter().map(String::as_str));
        Consent::from_settings(&config.consent, required, config.keyring.clone())
    }
}
