//! The legacy system: a SOAP 1.1 service at `POST /soap` with `GetCustomer` and `ListOrders`, and
//! SOAP faults (HTTP 500, `soap:Client` / `soap:Server`) for errors.
//!
//! Requests are parsed with `quick-xml`, which does not read DTDs or expand external entities.

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::data::Dataset;

pub const ENVELOPE_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const CRM_NS: &str = "urn:mock-crm";

/// An operation call: its name and its parameters (child element → text).
#[derive(Debug, PartialEq)]
pub struct Call {
    pub operation: String,
    pub params: Vec<(String, String)>,
}

fn local(name: &str) -> String {
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

/// The five predefined entities and character references; anything else is refused.
fn resolve(entity: &str) -> Result<String, String> {
    Ok(match entity {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or(format!("bad reference &{e};"))?
            .into(),
        e if e.starts_with('#') => e[1..]
            .parse::<u32>()
            .ok()
            .and_then(char::from_u32)
            .ok_or(format!("bad reference &{e};"))?
            .into(),
        e => return Err(format!("unknown entity &{e};")),
    })
}

/// Finds the first element inside `Body` and its children's text.
pub fn parse(xml: &str) -> Result<Call, String> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut call: Option<Call> = None;
    let mut current: Option<String> = None;
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("malformed XML: {e}"))?
        {
            Event::DocType(_) => return Err("DTDs are not accepted".into()),
            Event::Start(e) => {
                let name = local(e.name().as_ref());
                let depth_in_body = path
                    .iter()
                    .position(|p| p == "Body")
                    .map(|i| path.len() - i);
                match depth_in_body {
                    Some(1) if call.is_none() => {
                        call = Some(Call {
                            operation: name.clone(),
                            params: Vec::new(),
                        })
                    }
                    Some(2) => current = Some(name.clone()),
                    _ => {}
                }
                path.push(name);
            }
            Event::Empty(e) => {
                let name = local(e.name().as_ref());
                let depth_in_body = path
                    .iter()
                    .position(|p| p == "Body")
                    .map(|i| path.len() - i);
                match (depth_in_body, call.as_mut()) {
                    (Some(1), None) => {
                        call = Some(Call {
                            operation: name,
                            params: Vec::new(),
                        })
                    }
                    (Some(2), Some(c)) => c.params.push((name, String::new())),
                    _ => {}
                }
            }
            Event::Text(t) => {
                if let (Some(param), Some(c)) = (current.as_ref(), call.as_mut()) {
                    push_text(c, param, &t.into_inner());
                }
            }
            Event::GeneralRef(r) => {
                let text = resolve(&r.into_inner())?;
                if let (Some(param), Some(c)) = (current.as_ref(), call.as_mut()) {
                    push_text(c, param, &text);
                }
            }
            Event::End(_) => {
                path.pop();
                current = None;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    call.ok_or_else(|| "no operation inside soap:Body".into())
}

/// Appends text to the parameter being read (text may arrive in several pieces around entities).
fn push_text(c: &mut Call, param: &str, text: &str) {
    match c.params.last_mut() {
        Some((k, v)) if k == param => v.push_str(text),
        _ => c.params.push((param.to_owned(), text.to_owned())),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{ENVELOPE_NS}\" xmlns:crm=\"{CRM_NS}\"><soap:Body>{body}</soap:Body></soap:Envelope>"
    )
}

/// A SOAP fault envelope; `client` says whose fault it is (`soap:Client` or `soap:Server`).
pub fn fault(client: bool, message: &str) -> String {
    let code = if client { "soap:Client" } else { "soap:Server" };
    envelope(&format!(
        "<soap:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></soap:Fault>",
        escape(message)
    ))
}

fn fields(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("<crm:{k}>{}</crm:{k}>", escape(v)))
        .collect()
}

/// Runs a call against the data. `Ok(xml)` is a response envelope; `Err((client, message))` a fault.
pub fn run(call: &Call, data: &Dataset) -> Result<String, (bool, String)> {
    let param = |name: &str| {
        call.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match call.operation.as_str() {
        "GetCustomer" => {
            let id = param("id").ok_or((true, "GetCustomer needs <id>".to_string()))?;
            let c = data
                .customer(id)
                .ok_or((true, format!("no customer `{id}`")))?;
            let body = fields(&[
                ("id", c.id.clone()),
                ("name", c.name.clone()),
                ("email", c.email.clone()),
                ("status", c.status.clone()),
                ("created", crate::versions::iso(c.created)),
                ("city", c.city.clone()),
                ("country", c.country.clone()),
            ]);
            Ok(envelope(&format!("<crm:GetCustomerResponse><crm:customer>{body}</crm:customer></crm:GetCustomerResponse>")))
        }
        "ListOrders" => {
            let customer = param("customerId");
            let orders: String = data
                .orders
                .iter()
                .filter(|o| customer.is_none_or(|c| o.customer_id == c))
                .map(|o| {
                    let body = fields(&[
                        ("id", o.id.clone()),
                        ("customerId", o.customer_id.clone()),
                        (
                            "amount",
                            format!("{}.{:02}", o.amount / 100, o.amount % 100),
                        ),
                        ("currency", o.currency.clone()),
                        ("status", o.status.clone()),
                    ]);
                    format!("<crm:order>{body}</crm:order>")
                })
                .collect();
            Ok(envelope(&format!("<crm:ListOrdersResponse><crm:orders>{orders}</crm:orders></crm:ListOrdersResponse>")))
        }
        other => Err((
            true,
            format!("unknown operation `{other}`; this service offers GetCustomer and ListOrders"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_operation_and_its_parameters() {
        let xml = r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:crm="urn:mock-crm">
            <soap:Header/><soap:Body><crm:GetCustomer><crm:id>cus_000001</crm:id></crm:GetCustomer></soap:Body></soap:Envelope>"#;
        assert_eq!(
            parse(xml).unwrap(),
            Call {
                operation: "GetCustomer".into(),
                params: vec![("id".into(), "cus_000001".into())]
            }
        );
    }

    #[test]
    fn refuses_dtds_and_malformed_xml() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><soap:Envelope><soap:Body/></soap:Envelope>"#;
        assert!(parse(bomb).unwrap_err().contains("DTD"));
        let call = parse(
            "<Envelope><Body><GetCustomer><id>a&amp;b&#33;</id></GetCustomer></Body></Envelope>",
        )
        .unwrap();
        assert_eq!(call.params, vec![("id".to_string(), "a&b!".to_string())]);
        assert!(parse("<Envelope><Body><Op><id>&bogus;</id></Op></Body></Envelope>").is_err());
        assert!(parse("not xml at all <").is_err());
    }
}
