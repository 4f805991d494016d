//! The server over real HTTP on 127.0.0.1, with a real store.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use junction_config::Overrides;
use junction_server::AppState;
use junction_testkit::postgres::TestDb;
use tokio::sync::oneshot;

struct Running {
    base: String,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    async fn stop(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().map(|s| s.send(()));
        self.task.await.unwrap()
    }
}

async fn start_with(
    yaml: &str,
    database_url: Option<String>,
    extra: Option<Router<AppState>>,
) -> Running {
    let (url, dir) = match database_url {
        Some(u) => (u, None),
        None => {
            let (u, d) = junction_testkit::sqlite_url();
            (u, Some(d))
        }
    };
    let overrides = Overrides {
        database_url: Some(url),
        ..Default::default()
    };
    let config = junction_config::load_str(yaml, "test.yaml", &overrides, &|_| None).unwrap();
    let store = junction_store::open(&config.store).await.unwrap();
    let state = AppState::new(config, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(junction_server::serve(
        listener,
        state.clone(),
        extra,
        async {
            let _ = rx.await;
        },
    ));
    Running {
        base,
        state,
        stop: Some(tx),
        task,
        _dir: dir,
    }
}

async fn start() -> Running {
    start_with("{}", None, None).await
}

/// An event with one delivery per destination in `to`, due now.
fn event(id: &str, to: &[&str]) -> junction_store::NewEvent {
    let now = junction_core::time::now_ms();
    junction_store::NewEvent {
        source: "s".into(),
        external_id: id.into(),
        event_type: "t".into(),
        entity_key: None,
        sequence: None,
        received_at: now,
        payload: b"{}".to_vec(),
        context: Default::default(),
        deliveries: to
            .iter()
            .map(|d| junction_store::NewDelivery {
                route: "r".into(),
                destination: (*d).into(),
                due_at: now,
                ordering: Default::default(),
            })
            .collect(),
        tracked: false,
        subjects: Vec::new(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn json(res: reqwest::Response) -> serde_json::Value {
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_ready_and_metrics_answer() {
    let s = start().await;
    let c = client();
    let res = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["status"], "ok");

    let res = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"], "ok");
    assert_eq!(body["backend"], "sqlite");

    // A store operation, so its latency shows up.
    s.state.store.queue_stats(0).await.unwrap();
    s.state.store.append(event("e", &[])).await.unwrap();
    let res = c.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    assert!(text.contains("junction_build_info{version=\""), "{text}");
    assert!(
        text.contains(
            "junction_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "junction_http_request_duration_seconds_bucket{method=\"GET\",route=\"/readyz\""
        ),
        "{text}"
    );
    assert!(
        text.contains("junction_store_op_seconds_bucket{backend=\"sqlite\",op=\"append\""),
        "{text}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_answered_413_with_a_json_error() {
    let s = start_with("server:\n  body_limit: 64KiB\n", None, None).await;
    let c = client();
    let res = c
        .post(format!("{}/webhooks/stripe", s.base))
        .body(vec![b'x'; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // The unread body leaves the connection unusable: the client is told not to reuse it, so
    // its next request goes on a fresh one instead of failing.
    assert_eq!(res.headers()["connection"], "close");
    let body = json(res).await;
    for _ in 0..5 {
        let next = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
        assert_eq!(next.status(), 200);
    }
    assert_eq!(body["error"]["code"], "body_too_large");
    assert!(body["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("server.body_limit"));
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_kept_or_generated() {
    let s = start().await;
    let c = client();
    let res = c
        .get(format!("{}/healthz", s.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let id = uuid::Uuid::parse_str(&generated).unwrap();
    assert_eq!(id.get_version_num(), 7, "time-ordered: {generated}");
    let res = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_ne!(res.headers()["x-request-id"], generated.as_str());
    let res = c
        .get(format!("{}/healthz", s.base))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-request-id"].len(),
        36,
        "an oversized id is replaced"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_get_json_errors() {
    let s = start().await;
    let c = client();
    let res = c.get(format!("{}/nope", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await["error"]["code"], "not_found");
    let res = c.post(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("allow"));
    assert_eq!(json(res).await["error"]["code"], "method_not_allowed");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_share_one_metric_label_so_metrics_stay_bounded() {
    let s = start().await;
    let c = client();
    for i in 0..50 {
        let m = http::Method::from_bytes(format!("X{i}AAAAAAAAAAAAAAAA").as_bytes()).unwrap();
        let res = c
            .request(m, format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
    }
    let text = metrics_text(&s.base).await;
    assert!(!text.contains("X0AAAA"), "a made-up method became a label");
    assert!(
        text.contains(
            "junction_http_requests_total{method=\"other\",route=\"/healthz\",status=\"405\"} 50"
        ),
        "{text}"
    );
    s.stop().await.unwrap();
}

/// The server's `/metrics` page, on a connection of its own.
async fn metrics_text(base: &str) -> String {
    client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Reads until the server closes the connection; true if it did within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    use tokio::io::AsyncWriteExt;
    let s = start_with("server:\n  header_timeout: 300ms\n", None, None).await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // Slowloris: a request line and one header, then nothing.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A connection that never says anything.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // A keep-alive connection idle after its first answer.
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    for (name, conn) in [
        ("slow", &mut slow),
        ("silent", &mut silent),
        ("idle", &mut idle),
    ] {
        assert!(
            closed_within(conn, Duration::from_secs(3)).await,
            "the {name} connection was kept open"
        );
    }
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_the_oldest_idle_connection_makes_room_and_busy_ones_never_do() {
    use tokio::io::AsyncWriteExt;
    let slow = Router::new().route(
        "/slow",
        get(|| async { tokio::time::sleep(Duration::from_secs(3)).await }),
    );
    let s = start_with(
        "server:\n  max_connections: 3\n  header_timeout: 30s\n",
        None,
        Some(slow),
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // Three idle connections fill the cap; health still answers, the oldest idle one closes.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    };
    let res = fresh()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a flood of idle connections locked health out"
    );
    assert!(
        closed_within(&mut held[0], Duration::from_secs(1)).await,
        "the oldest idle connection was not the one closed"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Three connections with a request in flight: a fourth is closed at once, none is evicted.
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        busy.push(c);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(
        closed_within(&mut over, Duration::from_millis(800)).await,
        "a connection over a cap of busy ones was kept waiting"
    );
    drop(busy);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = metrics_text(&s.base).await;
    assert!(
        text.contains("junction_http_connections_evicted_total 1"),
        "{text}"
    );
    assert!(
        text.contains("junction_http_connections_refused_total 1"),
        "{text}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_still_sending_its_answer_is_not_evicted_at_the_cap() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // An answer whose body takes a second to send: its headers go out first.
    let stream = Router::new().route(
        "/stream",
        get(|| async {
            let chunks = futures_util::stream::unfold(0u8, |n| async move {
                if n == 2 {
                    return None;
                }
                if n == 1 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Some((Ok::<_, std::io::Error>(format!("part{n};")), n + 1))
            });
            axum::body::Body::from_stream(chunks)
        }),
    );
    let s = start_with(
        "server:\n  max_connections: 2\n  header_timeout: 30s\n",
        None,
        Some(stream),
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut sending = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sending
        .write_all(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third connection: the idle one makes room, not the one still sending.
    let res = client()
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(closed_within(&mut idle, Duration::from_secs(1)).await);
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sending.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("part0;") && text.contains("part1;"), "{text}");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_a_json_error() {
    let slow = Router::new().route(
        "/slow",
        get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }),
    );
    let s = start_with("server:\n  request_timeout: 200ms\n", None, Some(slow)).await;
    let res = client()
        .get(format!("{}/slow", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 504);
    assert_eq!(json(res).await["error"]["code"], "timeout");
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_gets_a_json_500_and_the_server_goes_on() {
    let boom = Router::new().route(
        "/boom",
        get(|| async {
            if std::hint::black_box(true) {
                panic!("handler bug");
            }
        }),
    );
    let s = start_with("{}", None, Some(boom)).await;
    let c = client();
    let res = c.get(format!("{}/boom", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 500);
    assert!(res.headers().contains_key("x-request-id"));
    let body = json(res).await;
    assert_eq!(body["error"]["code"], "internal");
    assert!(!body.to_string().contains("handler bug"), "{body}");
    let res = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_releases_leases() {
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            "done"
        }),
    );
    let s = start_with("server:\n  shutdown_grace: 5s\n", None, Some(slow)).await;
    // This process holds a lease when the signal comes.
    s.state.store.append(event("e1", &["d"])).await.unwrap();
    let now = junction_core::time::now_ms();
    let claim = junction_store::Claim {
        owner: s.state.node_id.to_string(),
        limit: 10,
        lease: Duration::from_secs(300),
        now,
        destination: None,
    };
    assert_eq!(s.state.store.claim(&claim).await.unwrap().len(), 1);

    let url = format!("{}/slow", s.base);
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let store = s.state.store.clone();
    let base = s.base.clone();
    let stopped = tokio::spawn(s.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are refused while the in-flight one finishes.
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "no new connections after the signal"
    );
    let res = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completed");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "done");
    stopped.await.unwrap().unwrap();
    let again = junction_store::Claim {
        owner: "other-node".into(),
        limit: 10,
        lease: Duration::from_secs(30),
        now: junction_core::time::now_ms(),
        destination: None,
    };
    assert_eq!(
        store.claim(&again).await.unwrap().len(),
        1,
        "the lease was released at shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database_going_away_and_coming_back() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = junction_testkit::proxy::Proxy::start(db.server_addr()).await;
    let s = start_with(
        "store:\n  connect_timeout: 1s\n",
        Some(db.url_via(proxy.port)),
        None,
    )
    .await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    proxy.cut();
    let res = c.get(format!("{}/readyz", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    let body = json(res).await;
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["error"]["code"], "store_unavailable");
    assert!(
        body["checks"]["store"]
            .as_str()
            .unwrap()
            .starts_with("unavailable"),
        "{body}"
    );
    assert_eq!(
        c.get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "alive all along"
    );

    proxy.restore();
    let mut ready = false;
    for _ in 0..50 {
        if c.get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "ready again without a restart");
    s.stop().await.unwrap();
}
