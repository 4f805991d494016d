//! The configuration file exactly as written. These structs are the documentation of
//! `junction.yaml`: their doc comments become the JSON Schema that `junction config schema` prints.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::server::raw::{RawOtlp, RawServer, RawStore, RawTelemetry};

/// `junction.yaml`: one file describing the hub and every integration it runs.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// The HTTP server.
    #[serde(default)]
    pub server: RawServer,
    /// Where events, deliveries and attempts are stored.
    #[serde(default)]
    pub store: RawStore,
    /// Logs, traces and metrics.
    #[serde(default)]
    pub telemetry: RawTelemetry,
    /// Third-party APIs Junction calls for internal services, through `/proxy/{connector}/…`.
    #[serde(default)]
    pub connectors: BTreeMap<String, crate::connect::raw::RawConnector>,
    /// Where events come from: webhook endpoints at `/webhooks/{name}`.
    #[serde(default)]
    pub sources: BTreeMap<String, crate::flow::raw::RawSource>,
    /// Which events go to which destinations, in what order.
    #[serde(default)]
    pub routes: BTreeMap<String, crate::flow::raw::RawRoute>,
    /// Where routes deliver events: HTTP endpoints.
    #[serde(default)]
    pub destinations: BTreeMap<String, crate::flow::raw::RawDestination>,
    /// Runtime settings of delivery workers.
    #[serde(default)]
    pub delivery: crate::flow::raw::RawDelivery,
    /// Canonical models by `name@version` (`customer@2`): JSON Schema files, or inline schemas.
    #[serde(default)]
    pub models: BTreeMap<String, crate::data::raw::RawModel>,
    /// jq programs from one shape to another, with their tests.
    #[serde(default)]
    pub mappings: BTreeMap<String, crate::data::raw::RawMapping>,
    /// Alert rules (built-in ones run unless turned off) and where notifications go.
    #[serde(default)]
    pub alerts: crate::alerts::raw::RawAlerts,
    /// Work on a schedule: contract probes of connectors' operations.
    #[serde(default)]
    pub jobs: BTreeMap<String, crate::jobs::RawJob>,
}

// Written out, not derived: a derived default would give the empty filter (no log at all)
// where the section is absent, and the documented `info` only where it is present.

#[cfg(test)]
mod tests {
    //! A section's default (used when the section is absent or `null`) must be what an empty
    //! section parses to, which is what the field docs say.

    use serde::de::DeserializeOwned;

    fn absent_equals_empty<T: Default + DeserializeOwned + serde::Serialize>(name: &str) {
        let absent = serde_json::to_value(T::default()).unwrap();
        let empty = serde_json::to_value(serde_json::from_str::<T>("{}").unwrap()).unwrap();
        assert_eq!(absent, empty, "section `{name}`: absent and empty differ");
    }

    #[test]
    fn every_section_has_its_documented_defaults_whether_absent_empty_or_partial() {
        absent_equals_empty::<super::RawServer>("server");
        absent_equals_empty::<super::RawStore>("store");
        absent_equals_empty::<super::RawTelemetry>("telemetry");
        absent_equals_empty::<crate::flow::raw::RawDelivery>("delivery");
        absent_equals_empty::<crate::alerts::raw::RawAlerts>("alerts");
        absent_equals_empty::<crate::data::raw::RawLimits>("mappings.*.limits");
        absent_equals_empty::<crate::flow::raw::RawExtract>("sources.*.event");
        absent_equals_empty::<crate::resilience::RawRetry>("*.retry");
        absent_equals_empty::<crate::resilience::RawCircuit>("*.circuit");
        absent_equals_empty::<crate::connect::raw::RawTimeouts>("connectors.*.timeouts");
        absent_equals_empty::<crate::connect::raw::RawSoap>("connectors.*.soap");
        assert_eq!(super::RawTelemetry::default().log_level, "info");
        let partial: super::RawTelemetry =
            serde_json::from_str(r#"{"log_format":"json"}"#).unwrap();
        assert_eq!(partial.log_level, "info");
    }

    #[test]
    fn a_config_without_a_telemetry_section_logs_at_info() {
        for yaml in ["{}", "telemetry:\n", "telemetry: {}\n", "server: {}\n"] {
            let cfg = crate::load_str(yaml, "t.yaml", &Default::default(), &|_| None).unwrap();
            assert_eq!(cfg.telemetry.log_level, "info", "{yaml:?}");
        }
    }
}
