//! The vendor's webhooks: each event's body and the headers that name it, signed as the vendor
//! signs (the scheme comes from [`Persona::scheme`]).

use serde_json::{json, Value};

use super::shapes::{render, vendor_id};
use super::Persona;
use crate::data::Customer;
use crate::sign::Scheme;

impl Persona {
    /// How the vendor signs its webhooks; `None` when its template has no webhook source.
    pub fn scheme(self) -> Option<Scheme> {
        match self {
            Persona::Stripe => Some(Scheme::Stripe),
            Persona::Github => Some(Scheme::Github),
            Persona::Shopify => Some(Scheme::Shopify),
            Persona::Slack => Some(Scheme::Slack),
            Persona::Zendesk => Some(Scheme::Zendesk),
            Persona::Jira => Some(Scheme::Jira),
            Persona::Intercom => Some(Scheme::Intercom),
            // HubSpot batches events in one array per request, signed over the full URL (v3):
            // not a shape a webhook source takes as one event.
            // Graph's change notifications carry a client state, not a signature.
            // Google's push notifications carry a channel token, not a signature.
            // Salesforce's outbound messages are SOAP, and its change events come over gRPC.
            Persona::Hubspot
            | Persona::MicrosoftGraph
            | Persona::GoogleDirectory
            | Persona::Salesforce
            // Xero batches events in one body (`events`, `entropy`): not one event per request.
            | Persona::Xero
            // Twilio's callbacks are forms signed over the URL they were sent to.
            | Persona::Twilio => None,
        }
    }

    /// The vendor's name for a change to one of its records.
    pub fn event_type(self) -> &'static str {
        match self {
            Persona::Stripe => "customer.updated",
            Persona::Github => "issues",
            Persona::Hubspot => "contact.propertyChange",
            Persona::Shopify => "customers/update",
            Persona::Slack => "user_change",
            Persona::Zendesk => "zen:event-type:user.updated",
            Persona::Jira => "jira:issue_updated",
            Persona::Intercom => "contact.user.updated",
            Persona::GoogleDirectory => "update",
            Persona::Salesforce => "ContactChangeEvent",
            Persona::Xero => "UPDATE",
            Persona::Twilio => "delivered",
            Persona::MicrosoftGraph => "updated",
        }
    }
}

/// Event `id` about customer `c` (`seq`: its number in the stream): its body and the headers
/// that carry its type and id beside the signature.
pub fn event(
    p: Persona,
    id: &str,
    c: &Customer,
    seq: u64,
    now: i64,
) -> (Value, Vec<(String, String)>) {
    let record = render(p, c);
    match p {
        Persona::Stripe
        | Persona::Hubspot
        | Persona::MicrosoftGraph
        | Persona::GoogleDirectory
        | Persona::Salesforce
        | Persona::Xero
        | Persona::Twilio => (
            json!({ "id": id, "object": "event", "type": p.event_type(), "created": now, "sequence": seq,
                    "data": { "object": record } }),
            Vec::new(),
        ),
        Persona::Github => (
            json!({ "action": "edited", "issue": record,
                    "repository": { "id": 1296269, "full_name": "acme/widgets" },
                    "sender": { "login": "octocat" } }),
            vec![
                ("x-github-event".into(), p.event_type().into()),
                ("x-github-hook-id".into(), "42".into()),
            ],
        ),
        Persona::Shopify => (
            record,
            vec![
                ("x-shopify-topic".into(), p.event_type().into()),
                ("x-shopify-shop-domain".into(), "acme.myshopify.com".into()),
                ("x-shopify-api-version".into(), "2024-07".into()),
            ],
        ),
        Persona::Slack => (
            json!({ "token": "verification-token", "team_id": "T00000001", "api_app_id": "A00000001",
                    "type": "event_callback", "event_id": id, "event_time": now,
                    "event": { "type": p.event_type(), "user": record, "event_ts": format!("{now}.000100") } }),
            Vec::new(),
        ),
        Persona::Intercom => (
            json!({ "type": "notification_event", "app_id": "ecahpwf5", "id": id,
                    "topic": p.event_type(), "delivery_status": "pending", "delivery_attempts": 1,
                    "created_at": now, "data": { "type": "notification_event_data", "item": record } }),
            Vec::new(),
        ),
        Persona::Jira => (
            json!({ "timestamp": now * 1000, "webhookEvent": p.event_type(),
                    "issue_event_type_name": "issue_generic", "issue": record,
                    "user": { "accountId": "5b10ac8d82e05b22cc7d0000", "displayName": "automation" },
                    "changelog": { "id": seq.to_string(), "items": [] } }),
            Vec::new(),
        ),
        Persona::Zendesk => (
            json!({ "type": p.event_type(), "account_id": 1, "id": id, "time": now,
                    "zendesk_event_version": "2022-11-06",
                    "subject": format!("zen:user:{}", vendor_id(p, c)),
                    "detail": record, "event": {} }),
            Vec::new(),
        ),
    }
}
