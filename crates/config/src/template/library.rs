//! Where templates come from: the built-in library (compiled in, each proved against a persona
//! of `junction mock`) or a file next to the config.

use std::path::Path;

/// The built-in templates, sorted by name.
pub(super) const BUILTIN: &[(&str, &str)] = &[
    ("github", include_str!("../../templates/github.yaml")),
    (
        "google-directory",
        include_str!("../../templates/google-directory.yaml"),
    ),
    ("hubspot", include_str!("../../templates/hubspot.yaml")),
    ("intercom", include_str!("../../templates/intercom.yaml")),
    ("jira", include_str!("../../templates/jira.yaml")),
    (
        "microsoft-graph",
        include_str!("../../templates/microsoft-graph.yaml"),
    ),
    (
        "salesforce",
        include_str!("../../templates/salesforce.yaml"),
    ),
    ("shopify", include_str!("../../templates/shopify.yaml")),
    (
        "shopify-graphql",
        include_str!("../../templates/shopify-graphql.yaml"),
    ),
    ("slack", include_str!("../../templates/slack.yaml")),
    ("stripe", include_str!("../../templates/stripe.yaml")),
    ("twilio", include_str!("../../templates/twilio.yaml")),
    ("xero", include_str!("../../templates/xero.yaml")),
    ("zendesk", include_str!("../../templates/zendesk.yaml")),
];

/// The largest template file read.
const MAX_FILE: u64 = 1 << 20;

/// Whether `reference` names a file rather than a built-in template.
pub(super) fn is_path(reference: &str) -> bool {
    reference.contains('/') || reference.ends_with(".yaml") || reference.ends_with(".yml")
}

/// The template's display name and text: a built-in one by name, or a file (relative to
/// `base`, the config's folder). Errors are a message and a hint.
pub(super) fn load(reference: &str, base: &Path) -> Result<(String, String), (String, String)> {
    if !is_path(reference) {
        return BUILTIN
            .iter()
            .find(|(n, _)| *n == reference)
            .map(|(n, text)| (format!("templates/{n}.yaml (built in)"), (*text).to_owned()))
            .ok_or_else(|| {
                let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
                (
                    format!("there is no built-in template `{reference}`"),
                    crate::check::suggest(reference, &names)
                        .replace("valid keys here", "built-in templates")
                        + "; or name a template file (`./templates/acme.yaml`)",
                )
            });
    }
    let path = base.join(reference);
    let shown = path.display().to_string();
    let len = std::fs::metadata(&path)
        .map_err(|e| {
            (
                format!("cannot read the template file `{shown}`: {e}"),
                "a template path is relative to the config file's folder".to_owned(),
            )
        })?
        .len();
    if len > MAX_FILE {
        return Err((
            format!("the template file `{shown}` is larger than 1 MiB"),
            "a template describes one API; split it".to_owned(),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        (
            format!("cannot read the template file `{shown}`: {e}"),
            "the file must be UTF-8 YAML".to_owned(),
        )
    })?;
    Ok((shown, text))
}
