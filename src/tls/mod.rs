//! TLS with rustls (ring provider): turning PEM into certificates, private
//! keys and trust anchors, and building the rustls configurations of the
//! listeners ([`server`]) and of the HTTP destinations ([`client`]).
//!
//! Invariants: TLS 1.2 and 1.3 only, rustls' safe defaults, nothing
//! dangerous (no disabled verification, no early data). A private key is
//! parsed from a buffer the caller zeroizes, its DER is zeroized as soon as
//! the signing key is built, and no error, `Debug` or log line ever carries
//! key material. This module reads no files and never logs: the caller
//! (config validation) reads the files and names them in its errors.
//!
//! Where this module sits in the whole, and what the others own:
//! `docs/architecture.md`.

pub(crate) mod client;
pub(crate) mod server;

pub(crate) use client::ClientTls;
pub(crate) use server::{Acceptor, ServerTls};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::fmt;
use std::sync::Arc;
use zeroize::Zeroizing;

/// Why PEM could not be used. Messages never quote key material.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A certificate file is not well-formed PEM.
    #[error("is not well-formed PEM ({0})")]
    CertificateNotPem(String),
    /// No `CERTIFICATE` block.
    #[error("holds no certificate (no `-----BEGIN CERTIFICATE-----` block)")]
    NoCertificate,
    /// A certificate that cannot be parsed as X.509.
    #[error("holds a certificate that cannot be used: {0}")]
    BadCertificate(String),
    /// A key file is not well-formed PEM (the parser's detail is left out:
    /// it could quote the file).
    #[error("is not a well-formed PEM private key")]
    KeyNotPem,
    /// No private key block.
    #[error("holds no private key (no `-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)")]
    NoKey,
    /// A key of a type or size rustls cannot sign with.
    #[error("holds a private key that cannot be used: {0}")]
    UnusableKey(String),
    /// The key is not the one the certificate certifies.
    #[error("holds a private key that does not belong to the certificate")]
    KeyMismatch,
}

/// The crypto provider of every configuration built here.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3, or 1.3 only.
const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// The oldest TLS version a listener accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

impl MinVersion {
    fn versions(self) -> &'static [&'static rustls::SupportedProtocolVersion] {
        match self {
            MinVersion::Tls12 => BOTH,
            MinVersion::Tls13 => TLS13_ONLY,
        }
    }
}

/// Every certificate in a PEM buffer, in order (a chain: leaf first).
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::CertificateNotPem(e.to_string()))?;
    if certs.is_empty() {
        return Err(Error::NoCertificate);
    }
    Ok(certs)
}

/// A private key, zeroized on drop and never printed.
pub struct PrivateKey(Zeroizing<PrivateKeyDer<'static>>);

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey([redacted])")
    }
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM buffer.
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKey, Error> {
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(key) => Ok(PrivateKey(Zeroizing::new(key))),
        Err(pem::Error::NoItemsFound) => Err(Error::NoKey),
        Err(_) => Err(Error::KeyNotPem),
    }
}

/// A certificate chain with the key it certifies: what a listener presents,
/// or a destination's client certificate.
#[derive(Clone)]
pub struct Identity(Arc<CertifiedKey>);

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Identity({} certificate(s), key redacted)",
            self.0.cert.len()
        )
    }
}

impl Identity {
    /// Pairs `chain` (leaf first) with `key`, checking the key is the
    /// leaf's. The key's DER is not kept: only the signing key built from it.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: &PrivateKey) -> Result<Identity, Error> {
        // By reference: a copy of the DER handed to rustls would be dropped
        // without being zeroized.
        let signing = rustls::crypto::ring::sign::any_supported_type(&key.0)
            .map_err(|e| Error::UnusableKey(e.to_string()))?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(_)) => return Err(Error::KeyMismatch),
            Err(e) => return Err(Error::BadCertificate(e.to_string())),
        }
        Ok(Identity(Arc::new(certified)))
    }
}
