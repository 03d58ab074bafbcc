//! `[privacy]` and a destination's `display_name` and `description`:
//! texts people read on the public privacy page, checked so that the page
//! shows what the operator meant (bounded, printable, links that are
//! links).

use super::{parse_http_url, Validator};
use crate::config::schema;
use toml::Spanned;

/// Longest name on the page (`controller`, `display_name`).
const MAX_NAME: usize = 200;
/// Longest description.
const MAX_DESCRIPTION: usize = 2000;

impl Validator<'_> {
    /// `[privacy]`.
    pub(super) fn privacy(&mut self, p: &schema::Privacy) -> crate::privacy::Operator {
        let controller = p
            .controller
            .as_ref()
            .map(|v| self.page_text(v, "privacy.controller", MAX_NAME));
        let contact = p.contact.as_ref().map(|v| {
            let text = self.page_text(v, "privacy.contact", MAX_NAME);
            let valid = match text.contains("://") {
                true => parse_http_url(&text).is_ok(),
                false => is_email(&text),
            };
            if !valid {
                self.problem(
                    v.span(),
                    "privacy.contact".into(),
                    "is neither an http(s) URL nor an email address".into(),
                    "write e.g. \"privacy@example.com\" or \"https://example.com/contact\"",
                );
            }
            text
        });
        let policy_url = p.policy_url.as_ref().map(|v| {
            let text = self.page_text(v, "privacy.policy_url", MAX_NAME);
            if let Err(message) = parse_http_url(&text) {
                self.problem(
                    v.span(),
                    "privacy.policy_url".into(),
                    message,
                    "write e.g. \"https://example.com/privacy\"",
                );
            }
            text
        });
        crate::privacy::Operator {
            controller,
            contact,
            policy_url,
        }
    }

    /// A destination's `display_name` (default `name`) and `description`.
    pub(super) fn display(
        &mut self,
        i: usize,
        d: &schema::Destination,
    ) -> (String, Option<String>) {
        let key = |k: &str| format!("destinations[{i}].{k}");
        let name = match &d.display_name {
            Some(v) => self.page_text(v, &key("display_name"), MAX_NAME),
            None => d.name.get_ref().clone(),
        };
        let description = d
            .description
            .as_ref()
            .map(|v| self.page_text(v, &key("description"), MAX_DESCRIPTION));
        (name, description)
    }

    /// A text shown on the page: not blank, at most `max` characters, no
    /// control characters.
    fn page_text(&mut self, value: &Spanned<String>, key: &str, max: usize) -> String {
        let text = value.get_ref().trim();
        let problem = if text.is_empty() {
            Some("is empty".to_owned())
        } else if text.chars().count() > max {
            Some(format!("is longer than {max} characters"))
        } else if text.chars().any(char::is_control) {
            Some("contains control characters".to_owned())
        } else {
            None
        };
        if let Some(message) = problem {
            self.problem(
                value.span(),
                key.into(),
                message,
                &format!("write 1 to {max} printable characters, or remove the key"),
            );
        }
        text.to_owned()
    }
}

/// A plausible address: one `@`, something before it, a dotted domain
/// after it, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.contains(char::is_whitespace)
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{load, MINIMAL};

    #[test]
    fn page_texts_default_and_are_checked_at_their_keys() {
        let config = load(MINIMAL).unwrap();
        assert_eq!(config.destinations[0].display_name, "out");
        assert_eq!(config.destinations[0].description, None);
        assert!(config.privacy.contact.is_none());
        let good = format!(
            "{MINIMAL}display_name = \"Server log\"\ndescription = \"Kept for a day.\"\n\
             [privacy]\ncontroller = \"Shop\"\ncontact = \"privacy@shop.example\"\n\
             policy_url = \"https://shop.example/privacy\"\n"
        );
        let config = load(&good).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.destinations[0].display_name, "Server log");
        assert_eq!(config.privacy.controller.as_deref(), Some("Shop"));
        assert_eq!(config.digest.len(), 64);

        let bad = format!(
            "{MINIMAL}display_name = \"  \"\ndescription = \"a\\u0007b\"\n\
             [privacy]\ncontact = \"javascript:alert(1)\"\npolicy_url = \"ftp://x.example/\"\n"
        );
        let error = load(&bad).unwrap_err().to_string();
        for key in [
            "destinations[0].display_name`: is empty",
            "destinations[0].description`: contains control characters",
            "privacy.contact`: is neither an http(s) URL nor an email address",
            "privacy.policy_url`",
        ] {
            assert!(error.contains(key), "{key} not in:\n{error}");
        }
        let unknown = format!("{MINIMAL}[privacy]\ncontroler = \"typo\"\n");
        assert!(load(&unknown).is_err(), "unknown keys are refused");
    }
}
