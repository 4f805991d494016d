//! HTTPS on the listener (`server.tls`): rustls with TLS 1.2 and 1.3 only, the certificate and
//! key read from PEM files and read again when they change — a renewed certificate takes effect
//! for new connections without a restart, and open connections keep theirs. With `client_ca`,
//! every connection must present a client certificate issued by one of those authorities
//! (mutual TLS); an expired, unknown or missing one fails the handshake.
//!
//! A file that cannot be used at start is an error that names it; a renewed file that cannot be
//! used is logged and counted (`junction_tls_reload_failures_total`) and the working
//! certificate stays. When each certificate in use expires is exported
//! (`junction_tls_certificate_expiry_timestamp_seconds`) and alerted on
//! ([`junction_outbound::certificates`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use junction_config::Tls;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// In a request's extensions when it came over TLS (cookies are then marked `Secure`).
#[derive(Debug, Clone, Copy)]
pub struct OverTls;

/// The names the verified client certificate of the connection carries — its subject's common
/// name, DNS names and URIs (a SPIFFE id) — in a request's extensions; at most
/// [`MAX_NAMES`], each at most 255 bytes. `server.tls.clients` gives them scopes.
#[derive(Debug, Clone)]
pub struct ClientNames(pub Arc<[String]>);

/// Names kept of one client certificate: more are ignored.
pub const MAX_NAMES: usize = 16;

impl ClientNames {
    /// The names of the connection's client certificate (verified during the handshake), if it
    /// presented one that parses.
    pub fn of(conn: &rustls::ServerConnection) -> Option<Self> {
        let der = conn.peer_certificates()?.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let mut names: Vec<String> = cert
            .subject()
            .iter_common_name()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_owned)
            .collect();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => names.push((*d).to_owned()),
                    x509_parser::extensions::GeneralName::URI(u) => names.push((*u).to_owned()),
                    _ => {}
                }
            }
        }
        names.retain(|n| !n.is_empty() && n.len() <= 255);
        names.truncate(MAX_NAMES);
        (!names.is_empty()).then(|| Self(names.into()))
    }
}

/// How often the files' modification times are compared.
const WATCH_EVERY: Duration = Duration::from_secs(2);

use junction_outbound::certificates::not_after;

/// When the certificates of one working configuration expire.
struct Expiry(Vec<(&'static str, Option<i64>)>);

impl Expiry {
    /// Makes these the ones in use: the gauge and [`expiries`].
    fn record(&self) {
        let in_use = self
            .0
            .iter()
            .filter_map(|(which, at)| at.map(|at| ((*which).to_owned(), at)))
            .collect();
        junction_outbound::certificates::record("server", in_use);
    }
}

/// The acceptor in use, swapped whole when the files change.
#[derive(Clone)]
pub struct Acceptor {
    files: Tls,
    current: Arc<ArcSwap<TlsAcceptor>>,
}

impl Acceptor {
    /// Reads the files; an error names the file and what is wrong with it.
    pub fn load(files: &Tls) -> Result<Self, String> {
        let (config, expiry) = server_config(files)?;
        expiry.record();
        Ok(Self {
            files: files.clone(),
            current: Arc::new(ArcSwap::from_pointee(TlsAcceptor::from(config))),
        })
    }

    /// The acceptor for a new connection.
    pub fn get(&self) -> Arc<TlsAcceptor> {
        self.current.load_full()
    }

    /// Watches the files until `stop`; loads them again when one changes.
    pub fn watch(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let me = self.clone();
        let failures = metrics::counter!("junction_tls_reload_failures_total");
        tokio::spawn(async move {
            let mut seen = me.stamps();
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tokio::time::sleep(WATCH_EVERY) => {}
                }
                let now = me.stamps();
                if now == seen {
                    continue;
                }
                // A certificate and its key are often replaced one after the other: a pair
                // that does not match yet fails here (logged) and is tried again when the
                // other file changes.
                match server_config(&me.files) {
                    Ok((config, expiry)) => {
                        me.current.store(Arc::new(TlsAcceptor::from(config)));
                        expiry.record();
                        seen = now;
                        tracing::info!(cert = %me.files.cert.display(), "TLS certificate reloaded");
                    }
                    Err(e) => {
                        failures.increment(1);
                        tracing::error!(error = %e, "the changed TLS files cannot be used; serving with the previous certificate");
                        seen = now;
                    }
                }
            }
        });
    }

    fn stamps(&self) -> Vec<Option<SystemTime>> {
        let mut paths: Vec<&Path> = vec![&self.files.cert, &self.files.key];
        if let Some(ca) = &self.files.client_ca {
            paths.push(ca);
        }
        paths
            .into_iter()
            .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .collect()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_config(files: &Tls) -> Result<(Arc<ServerConfig>, Expiry), String> {
    let certs = certificates(&files.cert)?;
    let mut expiry = Expiry(vec![("server", not_after(&certs))]);
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        format!(
            "{}: no usable private key ({e}); write the key as PEM (PKCS#8, PKCS#1 or SEC1)",
            files.key.display()
        )
    })?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS settings: {e}"))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            let cas = certificates(ca)?;
            expiry.0.push(("client_ca", not_after(&cas)));
            for cert in cas {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: not a usable CA certificate: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("{}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "{} and {}: the key does not fit the certificate, or the certificate is unusable: {e}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), expiry))
}

fn certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: cannot read certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected -----BEGIN CERTIFICATE----- blocks)",
            path.display()
        ));
    }
    Ok(certs)
}
