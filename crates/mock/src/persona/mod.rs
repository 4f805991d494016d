//! Personas: the mock speaking as a given vendor (`junction mock --persona hubspot`), with that
//! vendor's documented credentials, paths, record shapes, pagination, rate-limit headers, error
//! bodies and webhook signatures, over the same seeded data set (customers become the vendor's
//! contacts, users, customers or issues). Each of Junction's provider templates is proved against
//! the persona of its vendor.
//!
//! What a persona reproduces is what a client depends on; what it leaves out (most endpoints,
//! most fields) is what no template operation uses.

mod events;
mod graphql;
mod routes;
mod shapes;

use std::sync::Arc;

use axum::http::HeaderMap;
use serde::Serialize;

pub use events::event;
pub(crate) use graphql::Buckets;
pub(crate) use routes::router;

use crate::quota::{HeaderStyle, Limit};

/// A vendor the mock can speak as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Persona {
    /// Stripe: secret key as bearer, `starting_after` cursor over `data`, no rate-limit
    /// headers, `Stripe-Signature` webhooks.
    Stripe,
    /// GitHub REST: token as bearer, `page`/`per_page` with `Link`, `X-RateLimit-*` (Unix
    /// reset), `X-Hub-Signature-256` webhooks with `X-GitHub-Event`.
    Github,
    /// HubSpot CRM v3: OAuth2 (authorization code, rotating refresh tokens) at
    /// `/oauth/v1/token`, `after` cursor in `paging.next`, `X-HubSpot-RateLimit-*`.
    Hubspot,
    /// Salesforce REST v61.0: OAuth2 (authorization code, refresh tokens) at
    /// `/services/oauth2/token`, SOQL `query` answered in batches (`Sforce-Query-Options:
    /// batchSize=N`) followed by `nextRecordsUrl`, 18-character ids, `Sforce-Limit-Info`, errors as
    /// a JSON array.
    Salesforce,
    /// Shopify Admin REST 2024-07: `X-Shopify-Access-Token`, `page_info` in `Link`,
    /// `X-Shopify-Shop-Api-Call-Limit`, `X-Shopify-Hmac-Sha256` webhooks.
    Shopify,
    /// Slack Web API: bot token as bearer, `cursor` in `response_metadata.next_cursor`, errors
    /// as `200 {ok: false}`, 429 with `Retry-After`, `X-Slack-Signature` v0 events.
    Slack,
    /// Microsoft Graph v1.0: OAuth2 client credentials at `/{tenant}/oauth2/v2.0/token`
    /// (scope `https://graph.microsoft.com/.default`), `@odata.nextLink` with `$top` and
    /// `$skiptoken`, GUID ids, 429 with `Retry-After` and no other rate-limit headers.
    MicrosoftGraph,
    /// Google Workspace Admin SDK Directory v1: a service account's RS256 JWT assertion (with
    /// the administrator it acts as in `sub`) exchanged at `/token`, users paged by
    /// `pageToken`/`nextPageToken` with `maxResults`, numeric ids, Google's error bodies.
    GoogleDirectory,
    /// Intercom 2.11: access token as bearer, `Intercom-Version`, contacts listed and searched
    /// (`POST /contacts/search`, paged in the body) with `pages.next.starting_after`,
    /// `X-RateLimit-*` (Unix reset), `X-Hub-Signature` (sha1) webhooks.
    Intercom,
    /// Jira Cloud REST v3: `{email}:{api_token}` basic, issues searched with JQL by `POST
    /// /search/jql` paged by `nextPageToken` in the body, keys like `ACME-3`, 429 with
    /// `Retry-After`, `X-Hub-Signature` (sha256) webhooks with `X-Atlassian-Webhook-Identifier`.
    Jira,
    /// Twilio Programmable Messaging 2010-04-01: `{AccountSid}:{AuthToken}` basic, messages
    /// sent as a form (`To`, `From`, `Body`), pages followed by `next_page_uri`, RFC 2822
    /// times, errors with Twilio's codes.
    Twilio,
    /// Xero Accounting 2.0: OAuth2 (authorization code, refresh tokens, client auth by HTTP
    /// basic) at `/connect/token`, every call naming its organisation in `xero-tenant-id`,
    /// contacts paged by `page`/`pageSize` with `pagination.itemCount`, `/Date(ms+0000)/` times,
    /// `X-MinLimit-Remaining`, 429 with `Retry-After`.
    Xero,
    /// Zendesk Support: `{email}/token:{api_token}` basic, `page[after]` cursor with
    /// `meta.has_more`, `X-Rate-Limit-Remaining`, `X-Zendesk-Webhook-Signature` webhooks.
    Zendesk,
}

impl Persona {
    pub const ALL: [Persona; 13] = [
        Persona::Github,
        Persona::GoogleDirectory,
        Persona::Hubspot,
        Persona::Intercom,
        Persona::Jira,
        Persona::MicrosoftGraph,
        Persona::Salesforce,
        Persona::Shopify,
        Persona::Slack,
        Persona::Stripe,
        Persona::Twilio,
        Persona::Xero,
        Persona::Zendesk,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Persona::Stripe => "stripe",
            Persona::Github => "github",
            Persona::Hubspot => "hubspot",
            Persona::Shopify => "shopify",
            Persona::Slack => "slack",
            Persona::Zendesk => "zendesk",
            Persona::Jira => "jira",
            Persona::Intercom => "intercom",
            Persona::GoogleDirectory => "google-directory",
            Persona::Salesforce => "salesforce",
            Persona::Xero => "xero",
            Persona::Twilio => "twilio",
            Persona::MicrosoftGraph => "microsoft-graph",
        }
    }

    /// The rate-limit headers the vendor sends.
    pub fn header_style(self) -> HeaderStyle {
        match self {
            Persona::Stripe
            | Persona::Slack
            | Persona::MicrosoftGraph
            | Persona::Jira
            | Persona::GoogleDirectory
            | Persona::Twilio => HeaderStyle::None,
            Persona::Github => HeaderStyle::Github,
            Persona::Intercom => HeaderStyle::XRateLimit,
            Persona::Salesforce => HeaderStyle::Salesforce,
            Persona::Xero => HeaderStyle::Xero,
            Persona::Hubspot => HeaderStyle::Hubspot,
            Persona::Shopify => HeaderStyle::Shopify,
            Persona::Zendesk => HeaderStyle::Zendesk,
        }
    }

    /// The vendor's documented default limits (per credential), used when none are configured.
    pub fn default_limits(self) -> Vec<Limit> {
        let text: &[&str] = match self {
            Persona::Stripe => &["100/s"],
            Persona::Github => &["5000/h"],
            Persona::Hubspot => &["100/10s"],
            Persona::Shopify => &["40/20s"],
            Persona::Jira => &["100/10s"],
            Persona::Intercom => &["1666/10s"],
            Persona::GoogleDirectory => &["2400/min"],
            Persona::Salesforce => &["15000/day"],
            Persona::Xero => &["60/min"],
            Persona::Twilio => &["100/s"],
            Persona::Slack => &["20/min"],
            Persona::Zendesk => &["700/min"],
            Persona::MicrosoftGraph => &["10000/10min"],
        };
        text.iter().filter_map(|t| Limit::parse(t).ok()).collect()
    }

    /// OAuth scopes the vendor's routes need, granted to the mock's clients (HubSpot).
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Persona::Hubspot => &["crm.objects.contacts.read", "crm.objects.contacts.write"],
            Persona::MicrosoftGraph => &["https://graph.microsoft.com/.default"],
            Persona::GoogleDirectory => {
                &["https://www.googleapis.com/auth/admin.directory.user.readonly"]
            }
            Persona::Salesforce => &["api", "refresh_token"],
            Persona::Xero => &["accounting.contacts", "offline_access"],
            _ => &[],
        }
    }

    /// The credential a request carries, as the vendor reads it, or why it is refused.
    pub(crate) fn credential(
        self,
        state: &crate::http::State,
        headers: &HeaderMap,
        write: bool,
    ) -> Result<String, &'static str> {
        let auth = &state.config.auth;
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let bearer = header("authorization").and_then(|a| {
            a.strip_prefix("Bearer ")
                .or_else(|| a.strip_prefix("bearer "))
                .or_else(|| a.strip_prefix("token "))
        });
        let key_ok = |k: &str| auth.api_keys.iter().any(|known| known == k.trim());
        match self {
            Persona::Stripe | Persona::Github | Persona::Slack | Persona::Intercom => {
                match bearer {
                    Some(k) if key_ok(k) => Ok(k.trim().to_owned()),
                    Some(_) => Err("unknown token"),
                    None => Err("no credentials"),
                }
            }
            Persona::Shopify => match header("x-shopify-access-token") {
                Some(k) if key_ok(k) => Ok(k.to_owned()),
                Some(_) => Err("unknown token"),
                None => Err("no credentials"),
            },
            Persona::Zendesk | Persona::Jira | Persona::Twilio => {
                let basic = header("authorization")
                    .and_then(|a| a.strip_prefix("Basic "))
                    .and_then(|b| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(b.trim())
                            .ok()
                    })
                    .and_then(|d| String::from_utf8(d).ok());
                let Some(pair) = basic else {
                    return Err("no credentials");
                };
                match (pair.split_once(':'), &auth.basic) {
                    (Some((u, p)), Some((eu, ep))) if u == eu && p == ep => Ok(u.to_owned()),
                    _ => Err("wrong username or token"),
                }
            }
            Persona::Hubspot
            | Persona::MicrosoftGraph
            | Persona::GoogleDirectory
            | Persona::Salesforce
            | Persona::Xero => {
                if self == Persona::Xero && header("xero-tenant-id").is_none_or(str::is_empty) {
                    return Err("missing scope");
                }
                let scope = match (self, write) {
                    (Persona::Salesforce, _) => "api",
                    (Persona::Xero, _) => "accounting.contacts",
                    (Persona::MicrosoftGraph, _) => "https://graph.microsoft.com/.default",
                    (Persona::GoogleDirectory, _) => {
                        "https://www.googleapis.com/auth/admin.directory.user.readonly"
                    }
                    (_, true) => "crm.objects.contacts.write",
                    _ => "crm.objects.contacts.read",
                };
                let mut only_bearer = HeaderMap::new();
                if let Some(v) = headers.get("authorization") {
                    only_bearer.insert("authorization", v.clone());
                }
                let required = crate::AuthConfig {
                    required: true,
                    api_keys: Vec::new(),
                    basic: None,
                    ..auth.clone()
                };
                state
                    .tokens
                    .check(&required, &only_bearer, None, scope)
                    .map(|()| bearer.unwrap_or_default().to_owned())
                    .map_err(|d| match d {
                        crate::auth::Denied::Unauthenticated(why) => why,
                        crate::auth::Denied::Forbidden(_) => "missing scope",
                    })
            }
        }
    }
}

impl std::str::FromStr for Persona {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Persona::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Persona::ALL.iter().map(|p| p.as_str()).collect();
                format!("no persona `{s}`; the personas: {}", names.join(", "))
            })
    }
}

/// The mock's state as a persona's routes see it.
pub(crate) type Shared = Arc<crate::http::State>;
