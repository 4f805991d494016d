//! One PostgreSQL database per test, on the server named by `JUNCTION_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

/// The admin URL tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("JUNCTION_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database created for one test; dropped (with its connections) when this is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin: String,
}

impl TestDb {
    /// Creates a fresh database. `None` (after a loud message) when PostgreSQL is unreachable and
    /// not in CI; in CI (`CI=true`) an unreachable server fails the test.
    pub async fn create() -> Option<TestDb> {
        let admin = admin_url();
        let conn =
            tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin)).await;
        let mut conn = match conn {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return unreachable(&admin, &e.to_string()),
            Err(_) => return unreachable(&admin, "timed out"),
        };
        let name = format!("junction_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let url = match admin.rfind('/') {
            Some(i) => format!("{}/{name}", &admin[..i]),
            None => panic!("JUNCTION_TEST_POSTGRES_URL must end in /DATABASE"),
        };
        Some(TestDb { name, url, admin })
    }

    /// The database URL, reached through `port` on 127.0.0.1 instead (for a proxy in between).
    pub fn url_via(&self, port: u16) -> String {
        let u = url_parts(&self.url);
        format!("postgres://{}127.0.0.1:{port}/{}", u.0, self.name)
    }

    /// Host and port of the real server.
    pub fn server_addr(&self) -> String {
        let rest = self.url.split('@').next_back().unwrap_or_default();
        rest.split('/')
            .next()
            .unwrap_or("127.0.0.1:5432")
            .to_owned()
    }
}

/// The `user@` part of a URL (empty if none).
fn url_parts(url: &str) -> (String,) {
    let after = url.split("://").nth(1).unwrap_or_default();
    match after.split_once('@') {
        Some((user, _)) => (format!("{user}@"),),
        None => (String::new(),),
    }
}

fn unreachable(url: &str, why: &str) -> Option<TestDb> {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!(
            "PostgreSQL at {url} is unreachable ({why}); in CI the PostgreSQL tests are mandatory"
        );
    }
    eprintln!(
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPING a PostgreSQL test: {url} is unreachable ({why}).\n\
         !! Start PostgreSQL or set JUNCTION_TEST_POSTGRES_URL; CI=true makes this fatal.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    None
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("JUNCTION_TEST_KEEP_DB").is_some() {
            eprintln!("JUNCTION_TEST_KEEP_DB: keeping database {}", self.name);
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop may run inside a runtime (or a panic): drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut c) = PgConnection::connect(&admin).await {
                        let _ = c
                            .execute(
                                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            }
        })
        .join();
    }
}
