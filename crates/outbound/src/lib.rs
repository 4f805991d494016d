//! The hub's outbound HTTP client, for vendor calls (`/proxy`) and webhook deliveries alike:
//! hyper's pooled client with rustls (the platform's certificate verifier, or a vendor's own CA
//! and client certificate: [`tls`]), without the layers a
//! general-purpose client adds (redirects, its own retries, URL re-parsing): the caller already
//! decides about each of those, and each request costs less CPU than through such a client.
#![forbid(unsafe_code)]

pub mod certificates;
pub mod tls;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An answer's body, read as it arrives.
pub type Body = Incoming;
pub type Response = http::Response<Body>;

pub struct Upstream {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// Why no answer came back.
#[derive(Debug)]
pub enum Failure {
    /// No connection could be made: the request never reached the vendor.
    Connect(String),
    /// No answer within the attempt's time.
    Timeout,
    /// The connection failed after the request may have been sent.
    Other(String),
}

/// Attached as the cause of an error whose request never reached the vendor (no connection
/// could be made): sending it again is safe whatever its method.
#[derive(Debug)]
pub struct NeverSent(pub String);

impl std::fmt::Display for NeverSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no connection could be made: {}", self.0)
    }
}

impl std::error::Error for NeverSent {}

impl Upstream {
    /// A pool that trusts and presents what `tls` says.
    pub fn new(
        connect_timeout: Duration,
        idle_per_host: usize,
        tls: &tls::Tls,
    ) -> Result<Self, String> {
        Ok(Self::with_config(
            connect_timeout,
            idle_per_host,
            tls.client_config()?,
        ))
    }

    /// A pool over a rustls configuration already built (one shared with another client).
    pub fn with_config(
        connect_timeout: Duration,
        idle_per_host: usize,
        config: rustls::ClientConfig,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(connect_timeout));
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(idle_per_host)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Self { client }
    }

    /// Sends one request and waits (at most `timeout`) for the answer's head.
    pub async fn send(
        &self,
        method: Method,
        url: &url::Url,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Response, Failure> {
        let uri: http::Uri = url
            .as_str()
            .parse()
            .map_err(|e| Failure::Other(format!("invalid upstream URL: {e}")))?;
        let mut req = http::Request::new(Full::new(body));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        match tokio::time::timeout(timeout, self.client.request(req)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(res)) => Ok(res),
            Ok(Err(e)) => {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = format!("{msg}: {s}");
                    src = s.source();
                }
                Err(if e.is_connect() {
                    Failure::Connect(msg)
                } else {
                    Failure::Other(msg)
                })
            }
        }
    }
}

/// The body's length when the answer declares it.
pub fn content_length(res: &Response) -> Option<u64> {
    http_body::Body::size_hint(res.body()).exact()
}
