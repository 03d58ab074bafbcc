//! The destinations' side: a rustls client configuration that trusts
//! either the webpki roots (Mozilla's list, built in) or exactly the
//! configured CA bundle, and optionally presents a client certificate
//! (mTLS).
//!
//! Never disables or loosens server verification: a bundle replaces the
//! roots, it never adds a way around them.

use super::{provider, Error, Identity, BOTH};
use rustls::pki_types::CertificateDer;
use rustls::sign::SingleCertAndKey;
use rustls::RootCertStore;
use std::fmt;
use std::sync::Arc;

/// An HTTP destination's TLS settings (`tls = { ... }`), validated and
/// loaded. ALPN is left to the HTTP client, which offers what it speaks.
#[derive(Clone)]
pub struct ClientTls(Arc<Inner>);

struct Inner {
    config: rustls::ClientConfig,
    /// Certificates in the configured bundle; `None`: the webpki roots.
    ca: Option<usize>,
    client_cert: bool,
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientTls({})", self.describe())
    }
}

impl Default for ClientTls {
    /// The webpki roots, no client certificate.
    fn default() -> ClientTls {
        ClientTls::new(None, None).expect("the webpki roots are valid trust anchors")
    }
}

impl ClientTls {
    /// Trusts `ca` only (or the webpki roots when `None`) and presents
    /// `client` when the server asks for a certificate.
    pub fn new(
        ca: Option<Vec<CertificateDer<'static>>>,
        client: Option<Identity>,
    ) -> Result<ClientTls, Error> {
        let mut roots = RootCertStore::empty();
        let bundle = ca.as_ref().map(Vec::len);
        match ca {
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(certs) => {
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| Error::BadCertificate(e.to_string()))?;
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(BOTH)
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_root_certificates(roots);
        let client_cert = client.is_some();
        let config = match client {
            None => builder.with_no_client_auth(),
            Some(identity) => {
                builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(identity.0)))
            }
        };
        Ok(ClientTls(Arc::new(Inner {
            config,
            ca: bundle,
            client_cert,
        })))
    }

    /// For `privgate check`: whom it trusts, whether it presents a certificate.
    pub fn describe(&self) -> String {
        let roots = match self.0.ca {
            None => "webpki roots".to_owned(),
            Some(n) => format!("CA bundle ({n} certificate(s))"),
        };
        if self.0.client_cert {
            format!("{roots}, client certificate")
        } else {
            roots
        }
    }

    /// The rustls configuration (no ALPN set).
    pub fn rustls(&self) -> &rustls::ClientConfig {
        &self.0.config
    }
}
