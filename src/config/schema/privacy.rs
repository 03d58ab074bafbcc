//! `[privacy]`: what the public privacy page says about the operator.

use serde::Deserialize;
use toml::Spanned;

/// `[privacy]`: every key optional; the page says what the config does
/// either way.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Privacy {
    /// Who is responsible for the data (the controller), e.g. `"Example
    /// Shop Ltd"`.
    pub controller: Option<Spanned<String>>,
    /// Where people ask about their data: an `https://` URL or an email
    /// address.
    pub contact: Option<Spanned<String>>,
    /// The site's own privacy policy (`https://` URL), linked from the page.
    pub policy_url: Option<Spanned<String>>,
}
