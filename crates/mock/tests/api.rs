//! The mock provider over real HTTP on 127.0.0.1.

use std::collections::HashSet;

use junction_mock::{Mock, MockConfig};
use serde_json::{json, Value};

async fn start(customers: usize) -> Mock {
    let config = MockConfig {
        seed: 7,
        customers,
        ..Default::default()
    };
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

async fn get(url: &str) -> (reqwest::StatusCode, reqwest::header::HeaderMap, Value) {
    let res = reqwest::get(url).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.json().await.unwrap())
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_each_once(seen: Vec<String>, expected: usize) {
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a record was returned twice");
    assert_eq!(seen.len(), expected, "every record was returned");
}

#[tokio::test]
async fn cursor_pagination_walks_every_record_exactly_once() {
    let mock = start(1_234).await;
    let mut seen = Vec::new();
    let mut url = format!("{}/v2/customers?limit=100", mock.url());
    loop {
        let (status, _, body) = get(&url).await;
        assert_eq!(status, 200);
        seen.extend(ids(&body));
        if !body["has_more"].as_bool().unwrap() {
            break;
        }
        url = format!(
            "{}/v2/customers?limit=100&starting_after={}",
            mock.url(),
            body["next_cursor"].as_str().unwrap()
        );
    }
    assert_each_once(seen, 1_234);
}

#[tokio::test]
async fn offset_pagination_walks_every_record_exactly_once() {
    let mock = start(1_234).await;
    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (_, _, body) = get(&format!(
            "{}/v1/customers?offset={offset}&limit=250",
            mock.url()
        ))
        .await;
        assert_eq!(body["total"], 1_234);
        let page = ids(&body);
        if page.is_empty() {
            break;
        }
        offset += page.len();
        seen.extend(page);
    }
    assert_each_once(seen, 1_234);
}

#[tokio::test]
async fn link_header_pagination_walks_every_record_exactly_once() {
    let mock = start(1_234).await;
    let mut seen = Vec::new();
    let mut url = format!("{}/v2/customers?per_page=100", mock.url());
    loop {
        let (_, headers, body) = get(&url).await;
        seen.extend(ids(&body));
        let link = headers
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let Some(next) = link.split(", ").find(|l| l.ends_with("rel=\"next\"")) else {
            break;
        };
        let target = next.trim_start_matches('<').split('>').next().unwrap();
        url = format!("{}{target}", mock.url());
    }
    assert_each_once(seen, 1_234);
}

#[tokio::test]
async fn updated_since_filters_and_combines_with_pagination() {
    let mock = start(500).await;
    let all: Vec<i64> = mock
        .state
        .data
        .read()
        .unwrap()
        .customers
        .iter()
        .map(|c| c.updated)
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    let cut = sorted[250];
    let expected = all.iter().filter(|u| **u >= cut).count();
    let (_, _, body) = get(&format!(
        "{}/v1/customers?updated_since={cut}&offset=0&limit=1000",
        mock.url()
    ))
    .await;
    assert_eq!(body["total"], expected);
    let iso = iso(cut);
    let (_, _, body2) = get(&format!(
        "{}/v1/customers?updated_since={iso}&offset=0&limit=1000",
        mock.url()
    ))
    .await;
    assert_eq!(body2["total"], expected, "ISO 8601 and unix seconds agree");
}

/// Unix seconds → ISO 8601, written independently of the mock (Howard Hinnant's civil-from-days).
fn iso(unix: i64) -> String {
    let (days, rem) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[tokio::test]
async fn versions_differ_the_way_real_apis_do() {
    let mock = start(10).await;
    let (_, h1, v1) = get(&format!("{}/v1/customers/cus_000003", mock.url())).await;
    let (_, h2, v2) = get(&format!("{}/v2/customers/cus_000003", mock.url())).await;
    assert!(v1["email"].is_string() && v1.get("email_address").is_none());
    assert_eq!(v2["email_address"], v1["email"]);
    assert!(v1["created"].is_i64());
    assert_eq!(
        v2["created"].as_str().unwrap(),
        iso(v1["created"].as_i64().unwrap())
    );
    assert_eq!(v2["address"]["city"], v1["city"]);
    // v1 is deprecated (RFC 9745) with a sunset (RFC 8594); v2 is not.
    assert!(h1["deprecation"].to_str().unwrap().starts_with('@'));
    assert!(h1.contains_key("sunset"));
    assert!(h1["link"].to_str().unwrap().contains("successor-version"));
    assert!(!h2.contains_key("deprecation") && !h2.contains_key("sunset"));

    // Header-pinned: unversioned paths follow API-Version.
    let c = reqwest::Client::new();
    let pinned: Value = c
        .get(format!("{}/customers/cus_000003", mock.url()))
        .header("API-Version", "2024-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pinned, v2);
    let old = c
        .get(format!("{}/customers/cus_000003", mock.url()))
        .header("API-Version", "2023-01-01")
        .send()
        .await
        .unwrap();
    assert!(old.headers().contains_key("deprecation"));
    assert_eq!(old.json::<Value>().await.unwrap(), v1);
}

#[tokio::test]
async fn customers_can_be_created_read_updated_and_deleted() {
    let mock = start(5).await;
    let c = reqwest::Client::new();
    let base = mock.url();
    let res = c
        .post(format!("{base}/v2/customers"))
        .json(&json!({ "name": "Rosalind Franklin", "email_address": "rf@example.com", "address": { "city": "London" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "cus_000006");
    let (_, _, v1) = get(&format!("{base}/v1/customers/{id}")).await;
    assert_eq!(
        (v1["email"].as_str(), v1["city"].as_str()),
        (Some("rf@example.com"), Some("London"))
    );

    let res = c
        .patch(format!("{base}/v1/customers/{id}"))
        .json(&json!({ "status": "closed" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "closed");

    let res = c
        .patch(format!("{base}/v1/customers/{id}"))
        .json(&json!({ "email_address": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a v2 field is unknown to v1");
    let res = c
        .post(format!("{base}/v1/customers"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["type"],
        "invalid_request_error"
    );

    assert_eq!(
        c.delete(format!("{base}/v2/customers/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{base}/v2/customers/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(format!("{base}/v2/customers?limit=0"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn every_request_is_recorded_and_reset_restores_the_seed() {
    let mock = start(20).await;
    let c = reqwest::Client::new();
    let before = mock.state.data.read().unwrap().customers.clone();
    for i in 1..=5 {
        c.get(format!("{}/v1/customers/cus_{i:06}", mock.url()))
            .header("authorization", "Bearer t0k")
            .send()
            .await
            .unwrap();
    }
    c.delete(format!("{}/v1/customers/cus_000001", mock.url()))
        .send()
        .await
        .unwrap();
    let log: Value = reqwest::get(format!("{}/_mock/requests", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 6);
    let reqs = log["requests"].as_array().unwrap();
    assert_eq!(reqs[0]["path"], "/v1/customers/cus_000001");
    assert_eq!(reqs[0]["headers"]["authorization"], "Bearer t0k");
    assert!(
        reqs.windows(2)
            .all(|w| w[0]["at_us"].as_u64() <= w[1]["at_us"].as_u64()),
        "in arrival order"
    );
    assert_eq!(reqs[5]["method"], "DELETE");

    c.post(format!("{}/_mock/reset", mock.url()))
        .send()
        .await
        .unwrap();
    let log: Value = reqwest::get(format!("{}/_mock/requests", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["total"], 0);
    assert_eq!(
        mock.state.data.read().unwrap().customers,
        before,
        "the seeded data is back"
    );
    mock.stop().await.unwrap();
}

#[tokio::test]
async fn quotas_answer_429_with_headers_at_exactly_the_limit() {
    use junction_mock::{HeaderStyle, Limit, QuotaConfig};
    for style in [HeaderStyle::Draft, HeaderStyle::XRateLimit] {
        let quotas = QuotaConfig {
            limits: vec![Limit {
                limit: 5,
                window: std::time::Duration::from_secs(3600),
                per_key: true,
            }],
            headers: style,
            sliding: false,
        };
        let config = MockConfig {
            customers: 5,
            quotas,
            ..Default::default()
        };
        let mock = Mock::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let c = reqwest::Client::new();
        let url = format!("{}/v1/customers/cus_000001", mock.url());
        for remaining in (0..5).rev() {
            let res = c.get(&url).header("x-api-key", "k1").send().await.unwrap();
            assert_eq!(res.status(), 200);
            let h = res.headers();
            match style {
                HeaderStyle::Draft => {
                    assert_eq!(h["ratelimit-policy"], "\"3600s\";q=5;w=3600");
                    assert!(h["ratelimit"]
                        .to_str()
                        .unwrap()
                        .starts_with(&format!("\"3600s\";r={remaining};t=")));
                }
                _ => {
                    assert_eq!(h["x-ratelimit-limit"], "5");
                    assert_eq!(h["x-ratelimit-remaining"], remaining.to_string().as_str());
                    assert!(
                        h["x-ratelimit-reset"]
                            .to_str()
                            .unwrap()
                            .parse::<u64>()
                            .unwrap()
                            > 1_700_000_000
                    );
                }
            }
        }
        let res = c.get(&url).header("x-api-key", "k1").send().await.unwrap();
        assert_eq!(res.status(), 429);
        let wait: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((3500..=3600).contains(&wait), "{wait}");
        assert_eq!(
            res.json::<Value>().await.unwrap()["error"]["type"],
            "rate_limit_error"
        );
        // Per key: another credential still has its budget.
        assert_eq!(
            c.get(&url)
                .header("x-api-key", "k2")
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        mock.stop().await.unwrap();
    }
}

#[tokio::test]
async fn resources_come_as_xml_when_asked() {
    let mock = start(5).await;
    let c = reqwest::Client::new();
    let res = c
        .get(format!("{}/v2/customers/cus_000002", mock.url()))
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/xml"));
    assert!(res.headers().contains_key("content-type"));
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<customer>"),
        "{text}"
    );
    assert!(
        text.contains("<id>cus_000002</id>") && text.contains("<address><line1>"),
        "{text}"
    );

    let text = c
        .get(format!("{}/v1/customers?limit=2&format=xml", mock.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("<list>") && text.matches("<item>").count() == 2,
        "{text}"
    );
    let missing = c
        .get(format!("{}/v1/customers/nope?format=xml", mock.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let text = missing.text().await.unwrap();
    assert!(
        text.contains("<error>") && text.contains("<message>"),
        "errors come as XML too: {text}"
    );
}
