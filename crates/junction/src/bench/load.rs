//! The load generator's HTTP client: one plain HTTP/1.1 keep-alive connection per sending task,
//! no pool, no redirects, no per-request client machinery. The generator shares the machine with
//! the hub; every microsecond it spends is one the hub does not get, so it should cost as little
//! as a sender can (a general-purpose client cost about twice as much CPU per request).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

/// One keep-alive connection to `authority`, reconnected when it breaks.
pub struct Conn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// `url` is `http://host:port/...`; only its authority is used here.
    pub fn new(url: &str) -> Result<Self, String> {
        let uri: http::Uri = url.parse().map_err(|e| format!("bad target {url}: {e}"))?;
        let authority = uri
            .authority()
            .ok_or_else(|| format!("bad target {url}: no host"))?
            .to_string();
        Ok(Self {
            authority,
            sender: None,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.authority))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// POSTs `body` to `path` with `headers`; returns the status once the whole answer is read.
    /// A broken connection is reopened for the next request (this one counts as failed).
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<u16, String> {
        let sender = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s,
            _ => self.sender.insert(self.connect().await?),
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let mut req = http::Request::post(path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
        let result = async {
            let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            res.into_body().collect().await.map_err(|e| e.to_string())?;
            Ok(status)
        }
        .await;
        if result.is_err() {
            self.sender = None;
        }
        result
    }
}

/// The path and query of `url` (`http://host:port/a/b` → `/a/b`).
pub fn path_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| u.path_and_query().map(|p| p.to_string()))
        .unwrap_or_else(|| "/".into())
}
