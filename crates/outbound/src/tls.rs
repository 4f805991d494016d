//! TLS towards one vendor or destination: the platform's verifier by default; a custom CA bundle
//! (`tls.ca`) trusted instead of the platform's authorities, for vendors behind a private CA; and
//! a client certificate (`tls.client_cert` / `tls.client_key`) presented to vendors that require
//! mutual TLS. When each of those certificates expires is recorded in [`crate::certificates`].

use std::sync::Arc;

use hyper_rustls::ConfigBuilderExt as _;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// What a client trusts and presents, as PEM text. The default is the platform's verifier and no
/// client certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// Authorities trusted instead of the platform's (PEM certificates).
    pub ca: Option<String>,
    /// A client certificate chain and its private key (PEM).
    pub identity: Option<(String, String)>,
}

impl Tls {
    pub fn new(ca: Option<&str>, identity: Option<(&str, &str)>) -> Self {
        Self {
            ca: ca.map(str::to_owned),
            identity: identity.map(|(c, k)| (c.to_owned(), k.to_owned())),
        }
    }

    pub fn is_default(&self) -> bool {
        self.ca.is_none() && self.identity.is_none()
    }

    /// The rustls configuration, without ALPN (the client sets it). An error says which part is
    /// unusable and never quotes the key.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS settings: {e}"))?;
        let builder = match &self.ca {
            None => builder
                .try_with_platform_verifier()
                .map_err(|e| format!("cannot set up the platform's certificate verifier: {e}"))?,
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(pem, "ca")? {
                    roots
                        .add(cert)
                        .map_err(|e| format!("ca: not a usable CA certificate: {e}"))?;
                }
                builder.with_root_certificates(roots)
            }
        };
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some((cert, key)) => {
                let chain = certificates(cert, "client_cert")?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|_| {
                    "client_key: no usable private key (expected PEM: PKCS#8, PKCS#1 or SEC1)"
                        .to_owned()
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("client_cert and client_key do not fit together: {e}"))
            }
        }
    }

    /// When the configured certificates expire (Unix seconds), named `{owner}/ca` (the
    /// bundle's first to expire) and `{owner}/client` (the chain's first to expire), for
    /// [`crate::certificates::record`].
    pub fn expiries(&self, owner: &str) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        if let Some(at) = self.ca.as_deref().and_then(pem_not_after) {
            out.push((format!("{owner}/ca"), at));
        }
        if let Some(at) = self.identity.as_ref().and_then(|(c, _)| pem_not_after(c)) {
            out.push((format!("{owner}/client"), at));
        }
        out
    }
}

/// What to do about a TLS failure, from the error's text (rustls names the alert or the
/// verification failure): `None` when it is not one.
pub fn hint(error: &str) -> Option<&'static str> {
    const HINTS: [(&str, &str); 6] = [
        ("CertificateRequired", "the vendor asks for a client certificate: set tls.client_cert and tls.client_key (secret:NAME)"),
        ("UnknownIssuer", "the vendor's certificate is not from an authority trusted here: set tls.ca to the vendor's CA bundle (PEM)"),
        ("NotValidForName", "the vendor's certificate is not valid for the URL's host: check the host name"),
        ("certificate: Expired", "the vendor's certificate has expired: the vendor must renew it"),
        ("alert: CertificateExpired", "the vendor refused the client certificate as expired: renew tls.client_cert (junction secrets set …)"),
        ("alert: BadCertificate", "the vendor refused the client certificate: check that tls.client_cert is issued by an authority the vendor trusts"),
    ];
    HINTS
        .iter()
        .find(|(needle, _)| error.contains(needle))
        .map(|(_, hint)| *hint)
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certificates(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: cannot read the certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{what}: no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)"
        ));
    }
    Ok(certs)
}

fn pem_not_after(pem: &str) -> Option<i64> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    crate::certificates::not_after(&certs)
}
