//! The listeners' side: a rustls server configuration offering ALPN `h2`
//! and `http/1.1`, and the swappable [`Acceptor`] through which a reload
//! hands new certificates to new connections while connections already
//! established keep the ones they were opened with.
//!
//! Never handshakes itself (the accept loop does it, in each connection's
//! task) and never requests client certificates.

use super::{provider, Identity, MinVersion};
use rustls::sign::SingleCertAndKey;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// A listener's TLS settings, ready to serve: `[server.tls]` or
/// `[admin.tls]`, validated and loaded.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    min_version: MinVersion,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerTls({}, key redacted)", self.describe())
    }
}

impl ServerTls {
    /// Presents `identity`, accepts `min_version` and newer, offers ALPN
    /// `h2` then `http/1.1`.
    pub fn new(identity: &Identity, min_version: MinVersion) -> ServerTls {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(min_version.versions())
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(identity.0.clone())));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        ServerTls {
            config: Arc::new(config),
            min_version,
        }
    }

    /// For `privgate check`: the versions accepted.
    pub fn describe(&self) -> &'static str {
        match self.min_version {
            MinVersion::Tls12 => "TLS 1.2+",
            MinVersion::Tls13 => "TLS 1.3",
        }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }
}

/// The TLS settings a listener hands to each new connection. Cloning
/// shares it: [`Acceptor::reload`] through any clone changes what every
/// later handshake uses, and nothing else.
#[derive(Clone)]
pub(crate) struct Acceptor {
    current: Arc<RwLock<ServerTls>>,
}

impl fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Acceptor")
    }
}

impl Acceptor {
    /// Starts with `tls`.
    pub(crate) fn new(tls: ServerTls) -> Acceptor {
        Acceptor {
            current: Arc::new(RwLock::new(tls)),
        }
    }

    /// New connections handshake with `tls` from now on; connections
    /// already open (or mid-handshake) keep what they started with.
    pub(crate) fn reload(&self, tls: ServerTls) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = tls;
    }

    /// What the next handshake uses.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        tokio_rustls::TlsAcceptor::from(current.rustls())
    }
}
