//! Codecs: round-trips, the documented XML convention, SOAP envelopes and faults, and hostile
//! input refused with a clear error.

use junction_transform::codec::{csv, form, soap, xml, Format};
use serde_json::json;

#[test]
fn xml_follows_the_documented_convention() {
    let doc = br#"<?xml version="1.0"?>
<!-- a comment -->
<crm:customer xmlns:crm="urn:crm" id="c1" tier="gold">
  <name>Ada &amp; Co</name>
  <email/>
  <tag>a</tag>
  <tag>b</tag>
  <address><city>Lyon</city><zip> 69001 </zip></address>
  <note lang="en">hello<![CDATA[ <world> ]]></note>
  <n>&#65;&#x42;</n>
</crm:customer>"#;
    let v = xml::decode(doc).unwrap();
    assert_eq!(
        v,
        json!({"customer": {
            "@id": "c1", "@tier": "gold",
            "name": "Ada & Co",
            "email": null,
            "tag": ["a", "b"],
            "address": {"city": "Lyon", "zip": " 69001 "},
            "note": {"@lang": "en", "#text": "hello <world> "},
            "n": "AB"
        }})
    );
}

#[test]
fn xml_round_trips_through_json() {
    let v = json!({"order": {"@id": "o1", "line": [{"sku": "a", "qty": "2"}, {"sku": "b", "qty": "1"}], "note": null, "total": {"@currency": "EUR", "#text": "12.50"}}});
    let text = xml::encode(&v).unwrap();
    assert!(text.contains(r#"<order id="o1">"#), "{text}");
    assert_eq!(xml::decode(text.as_bytes()).unwrap(), v);
    let escaped = json!({"a": {"@q": "x\"<y>&", "#text": "1 < 2 & 3"}});
    let text = xml::encode(&escaped).unwrap();
    assert_eq!(xml::decode(text.as_bytes()).unwrap(), escaped);
    assert!(xml::encode(&json!({"a": 1, "b": 2})).is_err(), "two roots");
    assert!(xml::encode(&json!({"1bad": 1})).is_err(), "not a name");
}

#[test]
fn hostile_xml_is_refused_with_a_reason() {
    let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>"#;
    let e = xml::decode(billion_laughs).unwrap_err();
    assert!(e.contains("DTD"), "{e}");
    let xxe =
        br#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    assert!(xml::decode(xxe).unwrap_err().contains("DTD"));
    let undefined = b"<r>&x;</r>";
    assert!(xml::decode(undefined).unwrap_err().contains("not defined"));
    let deep = "<a>".repeat(10_000) + &"</a>".repeat(10_000);
    assert!(xml::decode(deep.as_bytes()).unwrap_err().contains("deeper"));
    let e = xml::decode(b"<r>\xff\xfe</r>").unwrap_err();
    assert!(e.contains("UTF-8"), "{e}");
    assert!(xml::decode(b"<a><b></a>").is_err(), "mismatched tags");
    assert!(xml::decode(b"<a></a><b></b>")
        .unwrap_err()
        .contains("more than one root"));
    assert!(xml::decode(b"").unwrap_err().contains("no root"));
    assert!(xml::decode(b"<a>").unwrap_err().contains("not closed"));
}

#[test]
fn soap_envelopes_wrap_and_unwrap() {
    let env = soap::wrap(
        &json!({"GetCustomer": {"id": "c1"}}),
        soap::Version::V11,
        Some("urn:mock-crm"),
    )
    .unwrap();
    assert!(
        env.contains("http://schemas.xmlsoap.org/soap/envelope/"),
        "{env}"
    );
    assert!(
        env.contains(r#"<GetCustomer xmlns="urn:mock-crm"><id>c1</id></GetCustomer>"#),
        "{env}"
    );
    let v12 = soap::wrap(&json!({"Ping": null}), soap::Version::V12, None).unwrap();
    assert!(v12.contains("http://www.w3.org/2003/05/soap-envelope") && v12.contains("<Ping/>"));
    assert!(soap::Version::V12
        .content_type("urn:Ping")
        .contains("action=\"urn:Ping\""));

    let response = br#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><m:GetCustomerResponse xmlns:m="urn:crm"><m:id>c1</m:id><m:name>Ada</m:name></m:GetCustomerResponse></soap:Body></soap:Envelope>"#;
    assert_eq!(
        soap::unwrap(response).unwrap(),
        json!({"GetCustomerResponse": {"id": "c1", "name": "Ada"}})
    );
}

#[test]
fn soap_faults_say_whose_fault_it_is() {
    let f11 = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>no customer c9</faultstring><detail><id>c9</id></detail></soap:Fault></soap:Body></soap:Envelope>"#;
    match soap::unwrap(f11) {
        Err(soap::SoapError::Fault(f)) => {
            assert!(f.is_client(), "{f:?}");
            assert_eq!(f.message, "no customer c9");
            assert_eq!(f.detail, json!({"id": "c9"}));
        }
        other => panic!("{other:?}"),
    }
    let f12 = br#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code><env:Reason><env:Text xml:lang="en">database down</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
    match soap::unwrap(f12) {
        Err(soap::SoapError::Fault(f)) => {
            assert!(!f.is_client(), "{f:?}");
            assert_eq!(f.code, "env:Receiver");
            assert_eq!(f.message, "database down");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        soap::unwrap(b"<html/>"),
        Err(soap::SoapError::Malformed(_))
    ));
}

#[test]
fn csv_rows_become_objects_typed_by_a_model() {
    let body = b"id,qty,price,active,note\nA1,2,9.5,true,\nA2,,10,0,hi\n";
    let rows = csv::decode(body, None).unwrap();
    assert_eq!(
        rows[0],
        json!({"id": "A1", "qty": "2", "price": "9.5", "active": "true", "note": ""})
    );
    let schema = json!({"properties": {
        "qty": {"type": ["integer", "null"]}, "price": {"type": "number"},
        "active": {"type": "boolean"}, "note": {"type": ["string", "null"]}
    }});
    let types = csv::column_types(&schema);
    let rows = csv::decode(body, Some(&types)).unwrap();
    assert_eq!(
        rows[0],
        json!({"id": "A1", "qty": 2, "price": 9.5, "active": true, "note": null})
    );
    assert_eq!(
        rows[1],
        json!({"id": "A2", "qty": null, "price": 10.0, "active": false, "note": "hi"})
    );
    let e = csv::decode(b"qty\nmany\n", Some(&types)).unwrap_err();
    assert!(e.contains("row 2, column qty"), "{e}");
    assert!(csv::decode(b"a,b\n1,2,3\n", None).is_err(), "ragged rows");
    let text = csv::encode(&rows).unwrap();
    assert!(
        text.starts_with("id,qty,price,active,note\nA1,2,9.5,true,\n"),
        "{text}"
    );
}

#[test]
fn forms_decode_and_encode() {
    let v = form::decode(b"name=Ada+L&tag=a&tag=b&empty=&x=%26%3D").unwrap();
    assert_eq!(
        v,
        json!({"name": "Ada L", "tag": ["a", "b"], "empty": "", "x": "&="})
    );
    let text = form::encode(&json!({"a": "x y", "n": 2, "t": ["1", "2"], "skip": null})).unwrap();
    assert_eq!(text, "a=x+y&n=2&t=1&t=2");
    assert!(form::decode(b"a=\xff").is_err());
}

#[test]
fn content_types_name_their_format() {
    assert_eq!(
        Format::from_content_type("application/json; charset=utf-8"),
        Some(Format::Json)
    );
    assert_eq!(
        Format::from_content_type("application/vnd.api+json"),
        Some(Format::Json)
    );
    assert_eq!(Format::from_content_type("text/xml"), Some(Format::Xml));
    assert_eq!(
        Format::from_content_type("application/soap+xml; action=x"),
        Some(Format::Xml)
    );
    assert_eq!(
        Format::from_content_type("application/x-www-form-urlencoded"),
        Some(Format::Form)
    );
    assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
    assert_eq!(Format::from_content_type("image/png"), None);
}
