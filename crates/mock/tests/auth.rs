//! The mock's credentials over real HTTP: API keys, basic, OAuth2 client credentials, refresh
//! rotation, scopes, authorization code with PKCE.

use std::collections::HashMap;

use junction_mock::{AuthConfig, Mock, MockConfig, OAuthClient};
use serde_json::Value;

async fn start(auth: AuthConfig) -> Mock {
    let config = MockConfig {
        customers: 20,
        auth,
        ..Default::default()
    };
    Mock::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn required() -> AuthConfig {
    let mut a = AuthConfig {
        required: true,
        ..Default::default()
    };
    a.clients.push(OAuthClient {
        id: "reader".into(),
        secret: "reader_secret".into(),
        scopes: vec!["orders:read".into()],
    });
    a
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn token(mock: &Mock, form: &[(&str, &str)]) -> (u16, Value) {
    let res = client()
        .post(format!("{}/oauth/token", mock.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn api_keys_and_basic_credentials_are_checked() {
    let mock = start(required()).await;
    let url = format!("{}/v1/customers/cus_000001", mock.url());
    let c = client();
    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        c.get(&url)
            .header("x-api-key", "mock_key_1")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{url}?api_key=mock_key_1"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&url)
            .header("x-api-key", "nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&url)
            .basic_auth("mock_user", Some("mock_pass"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&url)
            .basic_auth("mock_user", Some("wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        c.get(&url)
            .bearer_auth("at_unknown")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn client_credentials_tokens_carry_their_scopes() {
    let mock = start(required()).await;
    let (status, t) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    let at = t["access_token"].as_str().unwrap();
    let c = client();
    let res = c
        .get(format!("{}/v2/customers", mock.url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A narrower token: orders only.
    let (_, narrow) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "reader"),
            ("client_secret", "reader_secret"),
        ],
    )
    .await;
    let at = narrow["access_token"].as_str().unwrap();
    assert_eq!(
        c.get(format!("{}/v2/orders", mock.url()))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = c
        .get(format!("{}/v2/customers", mock.url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));

    let (status, err) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "reader"),
            ("client_secret", "reader_secret"),
            ("scope", "customers:write"),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, err) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let mock = start(required()).await;
    let (_, first) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
        ],
    )
    .await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let mock = &mock;
        async move {
            token(
                mock,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("client_id", "mock_client"),
                    ("client_secret", "mock_secret"),
                ],
            )
            .await
        }
    };
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, 200);
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "a new refresh token on every refresh");
    assert_ne!(first["access_token"], second["access_token"]);
    let (status, err) = refresh(rt1).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant")),
        "a rotated-out refresh token is refused"
    );
    assert_eq!(refresh(rt2).await.0, 200);
    let issued: Value = reqwest::get(format!("{}/_mock/tokens", mock.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(issued["issued"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn expires_in_can_be_omitted_like_some_providers_do() {
    let mock = start(AuthConfig {
        required: true,
        advertise_expires_in: false,
        ..Default::default()
    })
    .await;
    let (_, t) = token(
        &mock,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mock_client"),
            ("client_secret", "mock_secret"),
        ],
    )
    .await;
    assert!(t["access_token"].is_string());
    assert!(t.get("expires_in").is_none());
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let mock = start(required()).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = junction_mock::pkce_challenge(verifier);
    let c = client();
    let res = c
        .get(format!("{}/oauth/authorize", mock.url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", "mock_client"),
            ("redirect_uri", "http://127.0.0.1:1/callback"),
            ("scope", "customers:read"),
            ("state", "s-123"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let q: HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "s-123");
    let code = q["code"].clone();
    let exchange = |verifier: &'static str, code: String| {
        let mock = &mock;
        async move {
            token(
                mock,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "http://127.0.0.1:1/callback"),
                    ("client_id", "mock_client"),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let (status, err) =
        exchange("wrong-verifier-wrong-verifier-wrong-verifier", code.clone()).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A failed exchange burns the code, as providers do.
    let (status, _) = exchange(verifier, code).await;
    assert_eq!(status, 400);

    let res = c
        .get(format!("{}/oauth/authorize", mock.url()))
        .query(&[
            ("response_type", "code"),
            ("client_id", "mock_client"),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let (status, t) = token(
        &mock,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/cb"),
            ("client_id", "mock_client"),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        c.get(format!("{}/v1/customers", mock.url()))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
