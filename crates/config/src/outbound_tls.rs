//! `tls:` of a connector or a destination: which authorities to trust instead of the platform's
//! (a file: a vendor behind a private CA) and which client certificate to present (references:
//! the key is a secret, from the vault or the environment) to a vendor that requires mutual TLS.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::secrets::{defer, secret, Env, SecretShape};
use crate::yaml::Document;
use crate::Secret;

/// TLS towards this vendor (the platform's verifier and no client certificate by default).
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOutboundTls {
    /// A PEM file of the authorities to trust instead of the platform's (relative to the
    /// config file's folder): the vendor's private CA.
    #[serde(default)]
    pub ca: Option<String>,
    /// The client certificate (PEM chain) for mutual TLS: `secret:NAME` or `env:NAME`.
    #[serde(default)]
    pub client_cert: Option<String>,
    /// Its private key (PEM): `secret:NAME` or `env:NAME`.
    #[serde(default)]
    pub client_key: Option<String>,
}

/// TLS towards a vendor, resolved: the CA bundle read, the client certificate's references
/// bound (vault ones at start-up).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundTls {
    /// PEM text of the authorities to trust instead of the platform's.
    pub ca: Option<String>,
    /// (certificate chain, private key), PEM.
    pub identity: Option<(Secret, Secret)>,
}

impl OutboundTls {
    pub fn is_default(&self) -> bool {
        self.ca.is_none() && self.identity.is_none()
    }

    /// The client certificate chain and key as PEM text.
    pub fn identity_pem(&self) -> Option<(&str, &str)> {
        self.identity
            .as_ref()
            .map(|(c, k)| (c.expose(), k.expose()))
    }
}

pub(crate) fn resolve(
    doc: &Document,
    ptr: &str,
    raw: &RawOutboundTls,
    env: Env,
    errs: &mut Vec<ConfigError>,
) -> Option<OutboundTls> {
    let before = errs.len();
    let at = |field: &str| format!("{ptr}/{field}");
    let ca = raw.ca.as_ref().and_then(|name| {
        let path = crate::data::resolve::base_dir(doc).join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) if SecretShape::PemCertificates.check(&text).is_ok() => Some(text),
            Ok(_) => {
                errs.push(doc.error_at(
                    &at("ca"),
                    format!("{} holds no PEM certificate", path.display()),
                    Some("a CA bundle holds blocks like -----BEGIN CERTIFICATE-----".into()),
                ));
                None
            }
            Err(e) => {
                errs.push(doc.error_at(
                    &at("ca"),
                    format!("cannot read {}: {e}", path.display()),
                    Some("paths are relative to the config file's folder".into()),
                ));
                None
            }
        }
    });
    let mut reference = |field: &str, text: &Option<String>, shape: SecretShape| {
        let s = secret(doc, &at(field), text.as_deref()?, env, errs)?;
        if !defer(env, &s, shape) {
            if let Err(e) = shape.check(s.expose()) {
                errs.push(doc.error_at(&at(field), e, None));
            }
        }
        Some(s)
    };
    let cert = reference(
        "client_cert",
        &raw.client_cert,
        SecretShape::PemCertificates,
    );
    let key = reference("client_key", &raw.client_key, SecretShape::PemKey);
    if raw.client_cert.is_some() != raw.client_key.is_some() {
        errs.push(
            doc.error_at(
                ptr,
                "client_cert and client_key go together",
                Some(
                    "set both (`client_cert: secret:NAME`, `client_key: secret:NAME`) or neither"
                        .into(),
                ),
            ),
        );
    }
    if errs.len() > before {
        return None;
    }
    Some(OutboundTls {
        ca,
        identity: cert.zip(key),
    })
}
