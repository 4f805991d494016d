//! A connector's API versions side by side: each pinned by a path prefix or a header, each with
//! its own operations' mappings and models, and a `rollout:` that moves calls from one to the
//! next (see [`crate::rollout`]).
//!
//! ```yaml
//! versions:
//!   v1: { path: /v1 }
//!   v2:
//!     path: /v2
//!     operations:
//!       get_customer: { response: { map: crm_v2_customer, model: customer } }
//! rollout: { stable: v1, candidate: v2, mode: canary, percent: 10% }
//! ```

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::connect::operation::{Operation, RawMessage};
use crate::connect::raw::RawVersion;
use crate::error::ConfigError;
use crate::rollout::{Arms, RawRollout, Rollout};
use crate::yaml::{push, Document};

/// One API version of a connector.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApiVersion {
    /// A header carrying the version (`API-Version`), with `value`.
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    /// Or a path prefix added before each operation's path (`/v2`).
    #[serde(default)]
    pub path: Option<String>,
    /// What changes in this version, per operation (the rest is the connector's operation).
    #[serde(default)]
    pub operations: BTreeMap<String, RawOperationPatch>,
}

/// An operation as one version differs from the connector's.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawOperationPatch {
    /// The path under the version's prefix, when the version renamed it.
    #[serde(default)]
    pub path: Option<String>,
    /// The request's mapping and model in this version.
    #[serde(default)]
    pub request: Option<RawMessage>,
    /// The answer's mapping and model in this version.
    #[serde(default)]
    pub response: Option<RawMessage>,
}

/// A resolved API version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion {
    pub name: String,
    /// The path prefix (`/v2`, or empty), already part of each operation's path.
    pub path: String,
    pub header: Option<(http::HeaderName, http::HeaderValue)>,
    /// Every operation of the connector as this version has it.
    pub operations: BTreeMap<String, Operation>,
}

/// A connector's versions and the rollout between them.
#[derive(Debug, Clone, PartialEq)]
pub struct Versions {
    pub list: BTreeMap<String, ApiVersion>,
    pub rollout: Rollout,
}

impl Versions {
    pub fn stable(&self) -> Option<&ApiVersion> {
        self.list.get(&self.rollout.stable)
    }

    pub fn candidate(&self) -> Option<&ApiVersion> {
        self.list.get(&self.rollout.candidate)
    }
}

/// Most versions of one connector.
const MAX_VERSIONS: usize = 16;

fn version_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `versions:` and `rollout:` of a connector, with its base operations resolved already.
#[allow(clippy::too_many_arguments)]
pub(crate) fn resolve(
    doc: &Document,
    ptr: &str,
    raw: BTreeMap<String, RawApiVersion>,
    rollout: Option<&RawRollout>,
    pinned: bool,
    soap: bool,
    operations: &BTreeMap<String, Operation>,
    errs: &mut Vec<ConfigError>,
) -> Option<Versions> {
    let vptr = push(ptr, "versions");
    if raw.is_empty() {
        if rollout.is_some() {
            errs.push(doc.error_at(
                &push(ptr, "rollout"),
                "a rollout moves calls between `versions:`, and this connector declares none",
                Some("declare them: versions: { v1: { path: /v1 }, v2: { path: /v2 } }".into()),
            ));
        }
        return None;
    }
    let before = errs.len();
    if soap {
        errs.push(doc.error_at(
            &vptr,
            "versions are for REST connectors",
            Some(
                "a SOAP service's version is its endpoint: declare a connector per version".into(),
            ),
        ));
    }
    if pinned {
        errs.push(doc.error_at(
            &push(ptr, "version"),
            "with `versions:`, each version carries its own pin",
            Some("move this pin into one of `versions:` and remove `version`".into()),
        ));
    }
    if raw.len() > MAX_VERSIONS {
        errs.push(doc.error_at(&vptr, format!("at most {MAX_VERSIONS} versions"), None));
    }
    let mut list = BTreeMap::new();
    for (name, v) in raw {
        let ptr = push(&vptr, &name);
        if !version_name(&name) {
            errs.push(doc.error_at(
                &ptr,
                format!("`{name}`: a version's name is 1 to 32 letters, digits, `.`, `-` or `_`"),
                None,
            ));
        }
        let pin = RawVersion {
            header: v.header,
            value: v.value,
            path: v.path,
        };
        let (header, path) = super::resolve::version(doc, &ptr, &pin, errs);
        let mut ops = BTreeMap::new();
        for (op, base) in operations {
            let patch = v.operations.get(op);
            let optr = push(&push(&ptr, "operations"), op);
            let mut out = match patch {
                Some(p) => super::operation::patched(doc, &optr, base, p, errs),
                None => base.clone(),
            };
            out.path = format!("{path}{}", out.path);
            ops.insert(op.clone(), out);
        }
        for op in v.operations.keys().filter(|o| !operations.contains_key(*o)) {
            let known: Vec<&str> = operations.keys().map(String::as_str).collect();
            errs.push(doc.error_at(
                &push(&push(&ptr, "operations"), op),
                format!("the connector has no operation `{op}`"),
                Some(format!("operations: {}", known.join(", "))),
            ));
        }
        list.insert(
            name.clone(),
            ApiVersion {
                name,
                path,
                header,
                operations: ops,
            },
        );
    }
    let rptr = push(ptr, "rollout");
    let Some(raw_rollout) = rollout else {
        errs.push(doc.error_at(
            ptr,
            "a connector with `versions:` says which one calls use in its `rollout:`",
            Some("e.g. rollout: { stable: v1, candidate: v2, mode: pin }".into()),
        ));
        return None;
    };
    let rollout = crate::rollout::rollout(doc, &rptr, raw_rollout, Arms::Versions, None, errs);
    if let Some(r) = &rollout {
        let names: Vec<&str> = list.keys().map(String::as_str).collect();
        for (field, v) in [("stable", &r.stable), ("candidate", &r.candidate)] {
            if !list.contains_key(v) {
                errs.push(doc.error_at(
                    &push(&rptr, field),
                    format!("no version named `{v}`"),
                    Some(format!("versions: {}", names.join(", "))),
                ));
            }
        }
    }
    if errs.len() > before {
        return None;
    }
    Some(Versions {
        list,
        rollout: rollout?,
    })
}
