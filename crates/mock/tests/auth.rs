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

/// A client-credentials token request.
async fn client_credentials(
    mock: &Mock,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    form.extend(scope.map(|s| ("scope", s)));
    token(mock, &form).await
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
    let (status, t) = client_credentials(&mock, "mock_client", "mock_secret", None).await;
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
    let (_, narrow) = client_credentials(&mock, "reader", "reader_secret", None).await;
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

    let (status, err) =
        client_credentials(&mock, "reader", "reader_secret", Some("customers:write")).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    let (status, err) = client_credentials(&mock, "mock_client", "wrong", None).await;
    assert_eq!(
        (status, err["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let mock = start(required()).await;
    let (_, first) = client_credentials(&mock, "mock_client", "mock_secret", None).await;
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
    let (_, t) = client_credentials(&mock, "mock_client", "mock_secret", None).await;
    assert!(t["access_token"].is_string());
    assert!(t.get("expires_in").is_none());
}

/// Asks `/oauth/authorize` for a code (PKCE S256) and returns the redirect's query parameters.
async fn authorize(
    mock: &Mock,
    challenge: &str,
    redirect: &str,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", "mock_client"),
        ("redirect_uri", redirect),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    query.extend_from_slice(extra);
    let res = client()
        .get(format!("{}/oauth/authorize", mock.url()))
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().into_owned().collect()
}

/// Exchanges an authorization code with its PKCE verifier.
async fn exchange(mock: &Mock, code: &str, redirect: &str, verifier: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", "mock_client"),
        ("code_verifier", verifier),
    ];
    token(mock, &form).await
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let mock = start(required()).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = junction_mock::pkce_challenge(verifier);
    let callback = "http://127.0.0.1:1/callback";
    let q = authorize(
        &mock,
        &challenge,
        callback,
        &[("scope", "customers:read"), ("state", "s-123")],
    )
    .await;
    assert_eq!(q["state"], "s-123");
    let (status, err) = exchange(
        &mock,
        &q["code"],
        callback,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await;
    assert_eq!(
        (status, err["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // A failed exchange burns the code, as providers do.
    assert_eq!(exchange(&mock, &q["code"], callback, verifier).await.0, 400);

    let q = authorize(&mock, &challenge, "http://127.0.0.1:1/cb", &[]).await;
    let (status, t) = exchange(&mock, &q["code"], "http://127.0.0.1:1/cb", verifier).await;
    assert_eq!(status, 200, "{t}");
    let at = t["access_token"].as_str().unwrap();
    let res = client()
        .get(format!("{}/v1/customers", mock.url()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
