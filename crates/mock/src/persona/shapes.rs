//! The data set as each vendor shows it: a customer becomes a Stripe customer, a GitHub issue,
//! a HubSpot contact, a Shopify customer, a Slack user or a Zendesk user, with the vendor's ids
//! (numbers where the vendor uses numbers) and times (Unix seconds, ISO 8601 or milliseconds).

use serde_json::{json, Value};

use super::Persona;
use crate::data::Customer;

/// Where a vendor's numeric ids start (so they look like the vendor's, and map back).
const SHOPIFY_BASE: u64 = 7_000_000_000;
const ZENDESK_BASE: u64 = 360_000_000;
const JIRA_BASE: u64 = 10_000;

/// The Jira key of the customer's issue: `ACME-42`.
pub fn jira_key(c: &Customer) -> String {
    format!("ACME-{}", number(c))
}

/// The customer's number: `cus_000042` → 42.
pub fn number(c: &Customer) -> u64 {
    c.id.trim_start_matches("cus_").parse().unwrap_or(0)
}

/// The vendor's id of the customer.
pub fn vendor_id(p: Persona, c: &Customer) -> Value {
    let n = number(c);
    match p {
        Persona::Stripe => json!(c.id),
        Persona::Github => json!(n),
        Persona::Hubspot => json!(n.to_string()),
        Persona::Shopify => json!(SHOPIFY_BASE + n),
        Persona::Slack => json!(format!("U{n:08}")),
        Persona::Zendesk => json!(ZENDESK_BASE + n),
        Persona::Jira => json!((JIRA_BASE + n).to_string()),
        Persona::Intercom => json!(format!("6512{n:020x}")),
        Persona::GoogleDirectory => json!(format!("1{n:020}")),
        Persona::Salesforce => json!(format!("003{n:012}AAA")),
        Persona::Xero => json!(format!("{n:08x}-5e1f-4d2c-9a3b-{n:012x}")),
        Persona::Twilio => json!(format!("SM{n:032x}")),
        Persona::MicrosoftGraph => json!(format!("{n:08x}-0000-4000-8000-{n:012x}")),
    }
}

/// The mock's customer id behind a vendor's id (as text in a path or parameter).
pub fn customer_id(p: Persona, vendor: &str) -> Option<String> {
    let vendor = vendor.trim_end_matches(".json");
    let n: u64 = match p {
        Persona::Stripe => return Some(vendor.to_owned()),
        Persona::Github | Persona::Hubspot => vendor.parse().ok()?,
        Persona::Shopify => vendor.parse::<u64>().ok()?.checked_sub(SHOPIFY_BASE)?,
        Persona::Slack => vendor.strip_prefix('U')?.parse().ok()?,
        Persona::Zendesk => vendor.parse::<u64>().ok()?.checked_sub(ZENDESK_BASE)?,
        Persona::Intercom => u64::from_str_radix(vendor.strip_prefix("6512")?, 16).ok()?,
        Persona::GoogleDirectory => vendor.strip_prefix('1')?.parse().ok()?,
        Persona::Salesforce => vendor.strip_prefix("003")?.get(..12)?.parse().ok()?,
        Persona::Xero => u64::from_str_radix(vendor.get(..8)?, 16).ok()?,
        Persona::Twilio => u64::from_str_radix(vendor.strip_prefix("SM")?, 16).ok()?,
        // An issue is named by its key (`ACME-3`) or its id (`10003`).
        Persona::Jira => match vendor.strip_prefix("ACME-") {
            Some(n) => n.parse().ok()?,
            None => vendor.parse::<u64>().ok()?.checked_sub(JIRA_BASE)?,
        },
        Persona::MicrosoftGraph => u64::from_str_radix(vendor.get(..8)?, 16).ok()?,
    };
    Some(format!("cus_{n:06}"))
}

fn iso(unix: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
    )
    .to_string()
}

/// `Mon, 01 Jan 2024 00:00:00 +0000`, as Twilio writes times.
fn rfc2822(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let unix = unix.max(0);
    let iso = iso(unix);
    let (date, time) = iso
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or(("1970-01-01", "00:00:00"));
    let mut parts = date.split('-');
    let (y, m, d) = (
        parts.next().unwrap_or("1970"),
        parts.next().unwrap_or("01"),
        parts.next().unwrap_or("01"),
    );
    let month = m.parse::<usize>().unwrap_or(1).clamp(1, 12);
    format!(
        "{}, {d} {} {y} {time} +0000",
        DAYS[(unix / 86_400 % 7) as usize],
        MONTHS[month - 1]
    )
}

fn split(name: &str) -> (&str, &str) {
    name.split_once(' ').unwrap_or((name, ""))
}

/// The record as the vendor renders it.
pub fn render(p: Persona, c: &Customer) -> Value {
    let id = vendor_id(p, c);
    let (first, last) = split(&c.name);
    match p {
        Persona::Stripe => json!({
            "id": id, "object": "customer", "email": c.email, "name": c.name,
            "created": c.created, "livemode": false, "metadata": {},
            "address": { "line1": c.line1, "city": c.city, "postal_code": c.postcode, "country": c.country },
            "delinquent": c.status == "delinquent",
        }),
        Persona::Github => json!({
            "id": id, "number": id, "title": c.name,
            "body": format!("Contact: {}", c.email),
            "state": if c.status == "closed" { "closed" } else { "open" },
            "user": { "login": c.email.split('@').next().unwrap_or_default() },
            "labels": [], "comments": 0,
            "created_at": iso(c.created), "updated_at": iso(c.updated),
            "url": format!("https://api.github.com/repos/acme/widgets/issues/{id}"),
        }),
        Persona::Hubspot => json!({
            "id": id,
            "properties": {
                "email": c.email, "firstname": first, "lastname": last,
                "createdate": format!("{}.000Z", iso(c.created).trim_end_matches('Z')),
                "lastmodifieddate": format!("{}.000Z", iso(c.updated).trim_end_matches('Z')),
                "hs_object_id": id,
            },
            "createdAt": format!("{}.000Z", iso(c.created).trim_end_matches('Z')),
            "updatedAt": format!("{}.000Z", iso(c.updated).trim_end_matches('Z')),
            "archived": false,
        }),
        Persona::Shopify => json!({
            "id": id, "email": c.email, "first_name": first, "last_name": last,
            "state": if c.status == "closed" { "disabled" } else { "enabled" },
            "created_at": iso(c.created), "updated_at": iso(c.updated),
            "default_address": { "address1": c.line1, "city": c.city, "zip": c.postcode, "country_code": c.country },
            "admin_graphql_api_id": format!("gid://shopify/Customer/{id}"),
        }),
        Persona::Slack => json!({
            "id": id, "team_id": "T00000001", "name": c.email.split('@').next().unwrap_or_default(),
            "real_name": c.name, "deleted": c.status == "closed", "is_bot": false,
            "profile": { "email": c.email, "real_name": c.name, "first_name": first, "last_name": last },
            "updated": c.updated,
        }),
        Persona::MicrosoftGraph => json!({
            "id": id, "displayName": c.name, "givenName": first, "surname": last,
            "mail": c.email, "userPrincipalName": c.email.replace("@example.com", "@contoso.onmicrosoft.com"),
            "accountEnabled": c.status != "closed", "createdDateTime": iso(c.created),
        }),
        Persona::Twilio => {
            let sid = id.as_str().unwrap_or_default();
            let account = "AC00000000000000000000000000000001";
            // A created message keeps its recipient in the record's email field.
            let to = if c.email.starts_with('+') {
                c.email.clone()
            } else {
                format!("+1555{:07}", number(c))
            };
            json!({
                "sid": sid, "account_sid": account, "from": "+15005550006", "to": to,
                "body": c.name, "status": if c.status == "closed" { "failed" } else { "delivered" },
                "direction": "outbound-api", "num_segments": "1", "num_media": "0",
                "price": "-0.00790", "price_unit": "USD", "api_version": "2010-04-01",
                "date_created": rfc2822(c.created), "date_updated": rfc2822(c.updated),
                "date_sent": rfc2822(c.created), "error_code": null, "error_message": null,
                "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json"),
            })
        }
        Persona::Xero => json!({
            "ContactID": id, "ContactStatus": if c.status == "closed" { "ARCHIVED" } else { "ACTIVE" },
            "Name": c.name, "FirstName": first, "LastName": last, "EmailAddress": c.email,
            "UpdatedDateUTC": format!("/Date({}+0000)/", c.updated.max(0) * 1000),
            "IsSupplier": false, "IsCustomer": true, "HasAttachments": false,
            "Addresses": [{ "AddressType": "STREET", "City": c.city, "PostalCode": c.postcode, "Country": c.country }],
        }),
        Persona::Salesforce => {
            let time = |t: i64| format!("{}.000+0000", iso(t).trim_end_matches('Z'));
            json!({
                "attributes": { "type": "Contact",
                    "url": format!("/services/data/v61.0/sobjects/Contact/{}", id.as_str().unwrap_or_default()) },
                "Id": id, "Email": c.email, "FirstName": first, "LastName": last, "Name": c.name,
                "CreatedDate": time(c.created), "LastModifiedDate": time(c.updated),
            })
        }
        Persona::GoogleDirectory => json!({
            "kind": "admin#directory#user", "id": id, "etag": "\"mock\"",
            "primaryEmail": c.email.replace("@example.com", "@acme.com"),
            "name": { "givenName": first, "familyName": last, "fullName": c.name },
            "isAdmin": false, "isDelegatedAdmin": false, "suspended": c.status == "closed",
            "archived": false, "orgUnitPath": "/", "customerId": "C01abcd23",
            "creationTime": format!("{}.000Z", iso(c.created).trim_end_matches('Z')),
            "lastLoginTime": format!("{}.000Z", iso(c.updated).trim_end_matches('Z')),
        }),
        Persona::Intercom => json!({
            "type": "contact", "id": id, "workspace_id": "ecahpwf5", "external_id": null,
            "role": "user", "email": c.email, "name": c.name, "phone": null,
            "created_at": c.created, "updated_at": c.updated, "signed_up_at": c.created,
            "last_seen_at": null, "unsubscribed_from_emails": false,
            "location": { "type": "location", "city": c.city, "country": c.country },
        }),
        Persona::Jira => {
            let time = |t: i64| format!("{}.000+0000", iso(t).trim_end_matches('Z'));
            let done = c.status == "closed";
            json!({
                "id": id, "key": jira_key(c),
                "self": format!("https://acme.atlassian.net/rest/api/3/issue/{}", id.as_str().unwrap_or_default()),
                "fields": {
                    "summary": c.name,
                    "status": { "name": if done { "Done" } else { "To Do" },
                                "statusCategory": { "key": if done { "done" } else { "new" } } },
                    "reporter": { "accountId": format!("5b10ac8d82e05b22cc7d{:04}", number(c)),
                                  "displayName": c.email.split('@').next().unwrap_or_default() },
                    "issuetype": { "name": "Task" }, "project": { "key": "ACME" },
                    "created": time(c.created), "updated": time(c.updated),
                },
            })
        }
        Persona::Zendesk => json!({
            "id": id, "url": format!("https://acme.zendesk.com/api/v2/users/{id}.json"),
            "name": c.name, "email": c.email, "role": "end-user",
            "active": c.status != "closed", "suspended": c.status == "delinquent",
            "created_at": iso(c.created), "updated_at": iso(c.updated),
        }),
    }
}

/// A new customer from the body of the vendor's create call, or why it is refused.
pub fn parse_new(p: Persona, body: &Value) -> Result<(String, String), String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let (name, email) = match p {
        Persona::Github => (text(&body["title"]), String::new()),
        Persona::Jira => (text(&body["fields"]["summary"]), String::new()),
        Persona::Hubspot => {
            let props = &body["properties"];
            let name = format!("{} {}", text(&props["firstname"]), text(&props["lastname"]));
            (name.trim().to_owned(), text(&props["email"]))
        }
        Persona::Shopify => {
            let c = &body["customer"];
            let name = format!("{} {}", text(&c["first_name"]), text(&c["last_name"]));
            (name.trim().to_owned(), text(&c["email"]))
        }
        Persona::Zendesk => (text(&body["user"]["name"]), text(&body["user"]["email"])),
        Persona::Intercom => (text(&body["name"]), text(&body["email"])),
        Persona::Twilio => {
            if text(&body["From"]).is_empty() {
                return Err("A 'From' phone number is required.".into());
            }
            (text(&body["Body"]), text(&body["To"]))
        }
        Persona::Xero => {
            let c = &body["Contacts"][0];
            (text(&c["Name"]), text(&c["EmailAddress"]))
        }
        Persona::Salesforce => {
            let name = format!("{} {}", text(&body["FirstName"]), text(&body["LastName"]));
            (name.trim().to_owned(), text(&body["Email"]))
        }
        Persona::Stripe | Persona::Slack | Persona::MicrosoftGraph | Persona::GoogleDirectory => {
            return Err("not created through this persona".into())
        }
    };
    let needs_email = !matches!(p, Persona::Github | Persona::Jira);
    match (name.is_empty(), email.is_empty() && needs_email) {
        (true, _) if p == Persona::Github => Err("`title` is required".into()),
        (true, _) if p == Persona::Jira => {
            Err("summary: You must specify a summary of the issue.".into())
        }
        (_, true) => Err("`email` is required".into()),
        _ => Ok((name, email)),
    }
}
