//! The SOAP 1.1 service over HTTP: operations, and faults for bad calls.

use junction_mock::{Mock, MockConfig};

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:crm="urn:mock-crm"><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

async fn call(mock: &Mock, action: &str, body: &str) -> (u16, String) {
    let res = reqwest::Client::new()
        .post(format!("{}/soap", mock.url()))
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", format!("urn:{action}"))
        .body(envelope(body))
        .send()
        .await
        .unwrap();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn operations_answer_and_errors_are_soap_faults() {
    let mock = Mock::start(
        MockConfig {
            customers: 30,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let expected = mock
        .state
        .data
        .read()
        .unwrap()
        .customer("cus_000007")
        .unwrap()
        .clone();

    let (status, xml) = call(
        &mock,
        "GetCustomer",
        "<crm:GetCustomer><crm:id>cus_000007</crm:id></crm:GetCustomer>",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        xml.contains("<crm:GetCustomerResponse><crm:customer><crm:id>cus_000007</crm:id>"),
        "{xml}"
    );
    assert!(
        xml.contains(&format!("<crm:email>{}</crm:email>", expected.email)),
        "{xml}"
    );

    let owner = mock.state.data.read().unwrap().orders[0]
        .customer_id
        .clone();
    let count = mock
        .state
        .data
        .read()
        .unwrap()
        .orders
        .iter()
        .filter(|o| o.customer_id == owner)
        .count();
    let (status, xml) = call(
        &mock,
        "ListOrders",
        &format!("<crm:ListOrders><crm:customerId>{owner}</crm:customerId></crm:ListOrders>"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(xml.matches("<crm:order>").count(), count, "{xml}");

    let (status, xml) = call(
        &mock,
        "GetCustomer",
        "<crm:GetCustomer><crm:id>cus_999999</crm:id></crm:GetCustomer>",
    )
    .await;
    assert_eq!(status, 500);
    assert!(xml.contains("<soap:Fault><faultcode>soap:Client</faultcode><faultstring>no customer `cus_999999`</faultstring>"), "{xml}");

    let (status, xml) = call(&mock, "Explode", "<crm:Explode/>").await;
    assert_eq!(status, 500);
    assert!(xml.contains("unknown operation `Explode`"), "{xml}");

    let res = reqwest::Client::new()
        .post(format!("{}/soap", mock.url()))
        .body("<soap:Envelope><soap:Body>")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.text().await.unwrap().contains("<soap:Fault>"));
}
