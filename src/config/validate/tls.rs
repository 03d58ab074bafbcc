//! Validation of the TLS keys (`[server.tls]`, `[admin.tls]` and an http
//! destination's `tls`): reads the certificate and key files they name,
//! builds the rustls configurations through [`crate::tls`], and reports
//! each failure at its key with a fix.
//!
//! Never quotes a key file's contents; a key is a secret reference
//! (`file:`/`env:`), resolved into a zeroized buffer.

use super::Validator;
use crate::config::schema::{Destination, DestinationTls, ListenerTls};
use crate::tls::{self, ClientTls, Identity, PrivateKey, ServerTls};
use http::Uri;
use rustls::pki_types::CertificateDer;
use toml::Spanned;

/// How to fix a [`tls::Error`].
fn hint(e: &tls::Error) -> &'static str {
    use tls::Error as E;
    match e {
        E::CertificateNotPem(_) | E::NoCertificate => "give a PEM file of `-----BEGIN CERTIFICATE-----` blocks, leaf first (from DER: `openssl x509 -inform der -in cert.der -out cert.pem`)",
        E::BadCertificate(_) => "give X.509 certificates as your CA issued them",
        E::KeyNotPem | E::NoKey => "give the PEM private key (from DER: `openssl pkey -inform der -in key.der -out key.pem`)",
        E::UnusableKey(_) => "use an RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519 key",
        E::KeyMismatch => "give the key the certificate was issued for: `openssl x509 -noout -pubkey -in CERT` and `openssl pkey -pubout -in KEY` must print the same",
    }
}

impl Validator<'_> {
    /// `[server.tls]` or `[admin.tls]` (`key` is that table's name).
    pub(super) fn listener_tls(
        &mut self,
        tls: Option<&ListenerTls>,
        key: &str,
    ) -> Option<ServerTls> {
        let tls = tls?;
        let identity = self.identity(&tls.cert, &tls.key, key, "cert", "key")?;
        Some(ServerTls::new(&identity, tls.min_version))
    }

    /// A destination's `tls`; the webpki roots without a client
    /// certificate when it has none.
    pub(super) fn destination_tls(&mut self, i: usize, d: &Destination, url: &Uri) -> ClientTls {
        let Some(spanned) = &d.tls else {
            return ClientTls::default();
        };
        let key = format!("destinations[{i}].tls");
        let before = self.problems.len();
        if url.scheme_str() != Some("https") {
            self.problem(
                spanned.span(),
                key.clone(),
                "`tls` applies to https:// urls only, and `url` is not one".into(),
                "use an https:// url, or remove `tls`",
            );
        }
        let tls: &DestinationTls = spanned.get_ref();
        let ca = tls
            .ca
            .as_ref()
            .and_then(|ca| self.certificates(ca, &format!("{key}.ca")));
        let identity = match (&tls.client_cert, &tls.client_key) {
            (None, None) => None,
            (Some(cert), Some(private)) => {
                self.identity(cert, private, &key, "client_cert", "client_key")
            }
            (Some(given), None) | (None, Some(given)) => {
                let (has, lacks) = if tls.client_cert.is_some() {
                    ("client_cert", "client_key")
                } else {
                    ("client_key", "client_cert")
                };
                self.problem(
                    given.span(),
                    format!("{key}.{lacks}"),
                    format!("`{has}` is set but `{lacks}` is not; mTLS needs both"),
                    "set client_cert and client_key together (the certificate and its key), or neither",
                );
                None
            }
        };
        if self.problems.len() > before {
            return ClientTls::default();
        }
        ClientTls::new(ca, identity).unwrap_or_else(|e| {
            self.problem(
                tls.ca.as_ref().map_or(spanned.span(), Spanned::span),
                format!("{key}.ca"),
                format!("the CA bundle {e}"),
                hint(&e),
            );
            ClientTls::default()
        })
    }

    /// A certificate chain and its key, checked to belong together; a
    /// mismatch is reported at the key.
    fn identity(
        &mut self,
        cert: &Spanned<String>,
        key: &Spanned<String>,
        table: &str,
        cert_name: &str,
        key_name: &str,
    ) -> Option<Identity> {
        let chain = self.certificates(cert, &format!("{table}.{cert_name}"));
        let private = self.private_key(key, &format!("{table}.{key_name}"));
        match Identity::new(chain?, &private?) {
            Ok(identity) => Some(identity),
            Err(e) => {
                let (span, at) = match e {
                    tls::Error::BadCertificate(_) => (cert.span(), cert_name),
                    _ => (key.span(), key_name),
                };
                self.problem(
                    span,
                    format!("{table}.{at}"),
                    format!("`{}` {e}", key.get_ref()),
                    hint(&e),
                );
                None
            }
        }
    }

    /// The PEM certificates of a file named as a path or `file:PATH`.
    fn certificates(
        &mut self,
        value: &Spanned<String>,
        key: &str,
    ) -> Option<Vec<CertificateDer<'static>>> {
        let text = value.get_ref();
        let path = self.base.join(text.strip_prefix("file:").unwrap_or(text));
        let read = std::fs::read(&path).map_err(|e| {
            (
                format!("cannot read `{}`: {}", path.display(), e.kind()),
                "check the path (relative paths start at the config file's directory) and its permissions",
            )
        });
        let parsed = read.and_then(|pem| {
            tls::certificates(&pem).map_err(|e| (format!("`{}` {e}", path.display()), hint(&e)))
        });
        parsed
            .map_err(|(message, fix)| self.problem(value.span(), key.into(), message, fix))
            .ok()
    }

    /// A PEM private key named by a secret reference.
    fn private_key(&mut self, value: &Spanned<String>, key: &str) -> Option<PrivateKey> {
        let secret = self.key_secret(value, key)?;
        tls::private_key(secret.expose().as_bytes())
            .map_err(|e| {
                self.problem(
                    value.span(),
                    key.into(),
                    format!("`{}` {e}", value.get_ref()),
                    hint(&e),
                )
            })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::{Path, PathBuf};

    const BASE: &str = "[[sources]]\nname = \"web\"\nprotocol = \"segment\"\nwrite_keys = [\"k\"]\n[[destinations]]\nname = \"out\"\nkind = \"stdout\"\n";

    fn load(tail: &str) -> Result<Config, ConfigError> {
        Config::from_str(&format!("{BASE}{tail}"), Path::new("proxy.toml"))
    }

    fn keys(err: &ConfigError) -> Vec<&str> {
        err.problems.iter().map(|p| p.key.as_str()).collect()
    }

    /// `dir` with a CA (`ca.pem`), a leaf it signed (`leaf.pem`, `leaf.key`),
    /// a key of nothing (`other.key`) and a file that is not PEM.
    fn files(dir: &Path) -> impl Fn(&str) -> PathBuf + '_ {
        let mut ca = rcgen::CertificateParams::new(Vec::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        for (name, text) in [
            ("ca.pem", ca_cert.pem()),
            ("leaf.pem", leaf.pem()),
            ("leaf.key", leaf_key.serialize_pem()),
            ("other.key", other.serialize_pem()),
            ("notes.txt", "not a certificate\n".to_owned()),
        ] {
            std::fs::write(dir.join(name), text).unwrap();
        }
        move |name| dir.join(name)
    }

    #[test]
    fn listener_tls_problems_name_the_key_and_never_the_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(dir.path());
        let (leaf, key, other) = (f("leaf.pem"), f("leaf.key"), f("other.key"));

        let ok = format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"file:{}\"\nmin_version = \"1.3\"\n[admin.tls]\ncert = \"file:{}\"\nkey = \"file:{}\"\n",
            leaf.display(),
            key.display(),
            leaf.display(),
            key.display()
        );
        let config = load(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert!(config
            .summary()
            .contains("tls: server TLS 1.3, admin TLS 1.2+\n"));
        assert!(config.server.tls.is_some());

        let bad = format!(
            "[server.tls]\ncert = \"file:{}\"\nkey = \"file:{}/missing.key\"\n[admin.tls]\ncert = \"{}\"\nkey = \"file:{}\"\n",
            f("notes.txt").display(),
            dir.path().display(),
            leaf.display(),
            other.display()
        );
        let err = load(&bad).unwrap_err();
        assert_eq!(
            keys(&err),
            ["server.tls.cert", "server.tls.key", "admin.tls.key"]
        );
        let text = err.to_string();
        assert!(text.contains("proxy.toml:9:8: `server.tls.cert`"), "{text}");
        assert!(text.contains("holds no certificate"), "{text}");
        assert!(text.contains("cannot read secret file"), "{text}");
        assert!(
            text.contains("does not belong to the certificate"),
            "{text}"
        );
        assert!(text.contains("openssl pkey -pubout"), "{text}");
        let other_pem = std::fs::read_to_string(&other).unwrap();
        let body = other_pem.lines().nth(1).unwrap();
        assert!(!text.contains(body), "key material in an error");

        // A key is a secret: never a plain path, never a value.
        let literal = format!(
            "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            leaf.display(),
            key.display()
        );
        let err = load(&literal).unwrap_err();
        assert_eq!(keys(&err), ["server.tls.key"]);
        assert!(err.to_string().contains("cannot be written literally"));
        let no_key = format!("[server.tls]\ncert = \"{}\"\n", leaf.display());
        assert!(load(&no_key)
            .unwrap_err()
            .to_string()
            .contains("missing field `key`"));
        let old = ok.replace("\"1.3\"", "\"1.1\"");
        assert!(load(&old)
            .unwrap_err()
            .to_string()
            .contains("unknown variant `1.1`"));
    }

    #[test]
    fn destination_tls_needs_https_and_both_halves_of_a_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let f = files(dir.path());
        let dest = |url: &str, tls: String| {
            format!("[[destinations]]\nname = \"b\"\nkind = \"http\"\nurl = \"{url}\"\ndelivery = \"memory\"\ntls = {tls}\n")
        };
        let mtls = format!(
            "{{ ca = \"file:{}\", client_cert = \"file:{}\", client_key = \"file:{}\" }}",
            f("ca.pem").display(),
            f("leaf.pem").display(),
            f("leaf.key").display()
        );
        let config = load(&dest("https://127.0.0.1:1/", mtls)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            config
                .summary()
                .contains("b trusts CA bundle (1 certificate(s)), client certificate"),
            "{}",
            config.summary()
        );

        let half = format!("{{ client_cert = \"file:{}\" }}", f("leaf.pem").display());
        let err = load(&dest("https://127.0.0.1:1/", half)).unwrap_err();
        assert_eq!(keys(&err), ["destinations[1].tls.client_key"]);
        assert!(err.problems[0]
            .message
            .contains("`client_cert` is set but `client_key` is not"));
        assert_eq!(err.problems[0].line, Some(13));

        let not_pem = format!("{{ ca = \"{}\" }}", f("notes.txt").display());
        let err = load(&dest("http://127.0.0.1:1/", not_pem)).unwrap_err();
        assert_eq!(
            keys(&err),
            ["destinations[1].tls", "destinations[1].tls.ca"]
        );

        let stdout = BASE.replace("kind = \"stdout\"\n", "kind = \"stdout\"\ntls = {}\n");
        let err = Config::from_str(&stdout, Path::new("proxy.toml")).unwrap_err();
        assert_eq!(keys(&err), ["destinations[0].tls"]);
    }
}
