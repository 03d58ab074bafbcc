//! `[destinations.deletion]`: a destination's deletion call.

use super::{parse_http_url, Validator};
use crate::config::schema::Deletion;
use crate::config::secret::SecretRef;
use crate::forward::deletion::{DeletionConfig, PLACEHOLDER};
use http::{HeaderName, HeaderValue, Method};

impl Validator<'_> {
    /// Destination `i`'s deletion call.
    pub(super) fn deletion(&mut self, i: usize, d: &Deletion) -> DeletionConfig {
        let key = |k: &str| format!("destinations[{i}].deletion.{k}");
        let url = d.url.get_ref();
        if let Err(msg) = parse_http_url(&url.replace(PLACEHOLDER, "id")) {
            self.problem(
                d.url.span(),
                key("url"),
                msg,
                "write e.g. \"https://api.example.com/v1/users/{id}\"",
            );
        }
        let method = match d.method.as_ref().map(|m| m.get_ref().to_ascii_uppercase()) {
            None => Method::POST,
            Some(m) if m == "POST" => Method::POST,
            Some(m) if m == "PUT" => Method::PUT,
            Some(m) if m == "PATCH" => Method::PATCH,
            Some(m) if m == "DELETE" => Method::DELETE,
            Some(m) => {
                let span = d.method.as_ref().map_or(0..0, |s| s.span());
                self.problem(
                    span,
                    key("method"),
                    format!("`{m}` is not a method a deletion call can use"),
                    "use POST, PUT, PATCH or DELETE",
                );
                Method::POST
            }
        };
        let mut headers = Vec::new();
        for (name, value) in &d.headers {
            let lower = name.to_ascii_lowercase();
            let credential = ["authorization", "proxy-authorization", "cookie"]
                .contains(&lower.as_str())
                || ["key", "token", "secret", "auth", "password"]
                    .iter()
                    .any(|w| lower.contains(w));
            let resolved = SecretRef::parse(value.get_ref()).and_then(|r| match r {
                SecretRef::Literal(_) if credential => {
                    Err(crate::config::secret::SecretError::LiteralNotAllowed)
                }
                r => r.resolve(&self.base),
            });
            let secret = match resolved {
                Ok(secret) => secret,
                Err(e) => {
                    self.problem(
                        value.span(),
                        key(&format!("headers.{name}")),
                        e.to_string(),
                        "write \"env:NAME\" or \"file:PATH\"",
                    );
                    continue;
                }
            };
            match (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(secret.expose()),
            ) {
                (Ok(n), Ok(mut v)) => {
                    v.set_sensitive(true);
                    headers.push((n, v));
                }
                _ => self.problem(
                    value.span(),
                    key(&format!("headers.{name}")),
                    "not a valid header name and value".into(),
                    "use a token name and a printable ASCII value",
                ),
            }
        }
        let content_type =
            d.content_type
                .as_ref()
                .map_or(HeaderValue::from_static("application/json"), |c| {
                    HeaderValue::try_from(c.get_ref().as_str()).unwrap_or_else(|_| {
                        self.problem(
                            c.span(),
                            key("content_type"),
                            "not a valid header value".into(),
                            "write e.g. \"application/json\"",
                        );
                        HeaderValue::from_static("application/json")
                    })
                });
        let max_attempts = *d.max_attempts.get_ref();
        if !(1..=20).contains(&max_attempts) {
            self.problem(
                d.max_attempts.span(),
                key("max_attempts"),
                format!("{max_attempts} is out of range"),
                "use 1 to 20",
            );
        }
        let initial_backoff = self.positive(d.initial_backoff.0, &key("initial_backoff"));
        let max_backoff = self.positive(d.max_backoff.0, &key("max_backoff"));
        if initial_backoff > max_backoff {
            self.problem(
                0..0,
                key("initial_backoff"),
                "must be at most max_backoff".into(),
                "e.g. initial_backoff = \"1s\", max_backoff = \"1m\"",
            );
        }
        DeletionConfig {
            url: url.clone(),
            method,
            headers,
            body: d.body.as_ref().map(|b| b.get_ref().clone()),
            content_type,
            max_attempts,
            initial_backoff,
            max_backoff,
            request_timeout: self.positive(d.request_timeout.0, &key("request_timeout")),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load;

    fn config(deletion: &str) -> String {
        format!(
            r#"
[[sources]]
name = "web"
protocol = "segment"
write_keys = ["k"]
[[destinations]]
name = "out"
kind = "http"
url = "http://127.0.0.1:9/v1/batch"
delivery = "memory"
[destinations.deletion]
{deletion}
"#
        )
    }

    #[test]
    fn a_valid_deletion_call_is_kept() {
        let c = load(&config(
            "url = \"https://api.example.com/users/{id}\"\nmethod = \"delete\"\nbody = \"{\\\"userId\\\":\\\"{id}\\\"}\"\nheaders = { \"X-Team\" = \"privacy\" }",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let d = c.destinations[0].deletion.as_ref().unwrap();
        assert_eq!(d.method, http::Method::DELETE);
        assert_eq!(
            d.url_for("a b/ü"),
            "https://api.example.com/users/a%20b%2F%C3%BC"
        );
        assert_eq!(d.body_for("q\"x"), r#"{"userId":"q\"x"}"#);
        assert_eq!(d.max_attempts, 5);
    }

    #[test]
    fn mistakes_name_the_line_and_key() {
        let err = load(&config(
            "url = \"ftp://x/{id}\"\nmethod = \"GET\"\nheaders = { Authorization = \"Bearer literal\" }\nmax_attempts = 0\nbogus = 1",
        ))
        .unwrap_err();
        // Unknown keys fail parsing first.
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = load(&config(
            "url = \"ftp://x/{id}\"\nmethod = \"GET\"\nheaders = { Authorization = \"Bearer literal\" }\nmax_attempts = 0",
        ))
        .unwrap_err();
        for (key, line) in [
            ("destinations[0].deletion.url", 12),
            ("destinations[0].deletion.method", 13),
            ("destinations[0].deletion.headers.Authorization", 14),
            ("destinations[0].deletion.max_attempts", 15),
        ] {
            let p = err
                .problems
                .iter()
                .find(|p| p.key == key)
                .unwrap_or_else(|| panic!("no problem at `{key}` in:\n{err}"));
            assert_eq!(p.line, Some(line), "{key}");
        }
        let text = err.to_string();
        assert!(!text.contains("Bearer literal"), "{text}");
    }
}
