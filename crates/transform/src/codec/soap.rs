//! SOAP 1.1 and 1.2 envelopes: wrap a body element written as JSON, unwrap a response into the
//! JSON of its body element, and turn a SOAP Fault into an error that says whose fault it is.

use serde_json::{Map, Value};

/// The SOAP version, which decides the envelope's namespace and the content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    #[default]
    V11,
    V12,
}

impl Version {
    pub fn namespace(self) -> &'static str {
        match self {
            Version::V11 => "http://schemas.xmlsoap.org/soap/envelope/",
            Version::V12 => "http://www.w3.org/2003/05/soap-envelope",
        }
    }

    /// The request's content type; SOAP 1.2 carries the action in it, 1.1 in `SOAPAction`.
    pub fn content_type(self, action: &str) -> String {
        match self {
            Version::V11 => "text/xml; charset=utf-8".into(),
            Version::V12 => format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
        }
    }
}

/// A SOAP Fault: the service refused or failed the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `Client`/`Sender` (the request is wrong: do not retry) or `Server`/`Receiver`.
    pub code: String,
    pub message: String,
    /// The fault's `detail`, as JSON.
    pub detail: Value,
}

impl Fault {
    /// True when the caller is at fault (`Client` in 1.1, `Sender` in 1.2): retrying the same
    /// request cannot succeed.
    pub fn is_client(&self) -> bool {
        let local = self.code.rsplit(':').next().unwrap_or(&self.code);
        matches!(
            local,
            "Client" | "Sender" | "VersionMismatch" | "MustUnderstand"
        ) || local.starts_with("Client.")
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SOAP fault {}: {}", self.code, self.message)
    }
}

/// What unwrapping a response can give besides a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapError {
    /// The document is not a SOAP envelope (or not XML).
    Malformed(String),
    Fault(Fault),
}

impl std::fmt::Display for SoapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SoapError::Malformed(e) => write!(f, "not a SOAP envelope: {e}"),
            SoapError::Fault(fault) => fault.fmt(f),
        }
    }
}

/// An envelope around `body`: an object with one key, the body element (`{"GetCustomer": {"id":
/// "c1"}}`), written with the XML convention of [`super::xml`]. `namespace` (the service's) is
/// declared on the body element as its default namespace.
pub fn wrap(body: &Value, version: Version, namespace: Option<&str>) -> Result<String, String> {
    let map = body
        .as_object()
        .filter(|m| m.len() == 1)
        .ok_or("a SOAP body needs an object with exactly one key: the operation's element")?;
    let (name, value) = map.iter().next().ok_or("no body element")?;
    let value = match (namespace, value) {
        (Some(ns), Value::Object(m)) => {
            let mut m = m.clone();
            m.insert("@xmlns".into(), Value::String(ns.into()));
            Value::Object(m)
        }
        (Some(ns), Value::Null) => {
            let mut m = Map::new();
            m.insert("@xmlns".into(), Value::String(ns.into()));
            Value::Object(m)
        }
        (Some(ns), scalar) => {
            let mut m = Map::new();
            m.insert("@xmlns".into(), Value::String(ns.into()));
            m.insert("#text".into(), scalar.clone());
            Value::Object(m)
        }
        (None, v) => v.clone(),
    };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope xmlns:soap=\"{}\"><soap:Body>",
        version.namespace()
    );
    super::xml::element(&mut out, name, &value, 2)?;
    out.push_str("</soap:Body></soap:Envelope>");
    Ok(out)
}

/// The body element of a response envelope, as `{"Name": …}`; a Fault is an error.
pub fn unwrap(xml: &[u8]) -> Result<Value, SoapError> {
    let doc = super::xml::decode(xml).map_err(SoapError::Malformed)?;
    let envelope = doc
        .get("Envelope")
        .ok_or_else(|| SoapError::Malformed("the root element is not Envelope".into()))?;
    let body = envelope
        .get("Body")
        .ok_or_else(|| SoapError::Malformed("the envelope has no Body".into()))?;
    let Value::Object(children) = body else {
        return Err(SoapError::Malformed("the Body is empty".into()));
    };
    let (name, value) = children
        .iter()
        .find(|(k, _)| !k.starts_with('@') && *k != "#text")
        .ok_or_else(|| SoapError::Malformed("the Body has no element".into()))?;
    if name == "Fault" {
        return Err(SoapError::Fault(fault(value)));
    }
    let mut out = Map::new();
    out.insert(name.clone(), value.clone());
    Ok(Value::Object(out))
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Object(m)) => m
            .get("#text")
            .or_else(|| m.get("Value"))
            .or_else(|| m.get("Text"))
            .map(|v| text(Some(v)))
            .unwrap_or_default(),
        Some(Value::Array(items)) => text(items.first()),
        _ => String::new(),
    }
}

/// SOAP 1.1 (`faultcode`, `faultstring`, `detail`) or 1.2 (`Code/Value`, `Reason/Text`, `Detail`).
fn fault(v: &Value) -> Fault {
    let code = text(v.get("faultcode")).to_string();
    if !code.is_empty() {
        return Fault {
            code,
            message: text(v.get("faultstring")),
            detail: v.get("detail").cloned().unwrap_or(Value::Null),
        };
    }
    Fault {
        code: text(v.get("Code")),
        message: text(v.get("Reason")),
        detail: v.get("Detail").cloned().unwrap_or(Value::Null),
    }
}
