//! The vault's guarantees, on SQLite and on a real PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use junction_config::DatabaseUrl;
use junction_store::{open, Options, SealedSecret, Store};
use junction_testkit::postgres::TestDb;
use junction_vault::{ExposeSecret, Keyring, SecretString, Vault, VaultError};

const K1: &str = "v1:q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const K2: &str = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_K1: &str = "v1:ZGlmZmVyZW50LWtleS1kaWZmZXJlbnQta2V5LTEyMzQ=";
const VALUE: &str = "sk_live_PLAINTEXT_MUST_NOT_BE_STORED_42";

fn ring(text: &str) -> Keyring {
    Keyring::parse(text, "test").unwrap()
}

fn value(v: &str) -> SecretString {
    SecretString::from(v.to_owned())
}

enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(#[allow(dead_code)] TestDb),
}

async fn store(pg: bool) -> Option<(Arc<dyn Store>, Db)> {
    let (url, db) = if pg {
        let db = TestDb::create().await?;
        (DatabaseUrl::Postgres(db.url.clone()), Db::Postgres(db))
    } else {
        let dir = tempfile::tempdir().unwrap();
        (
            DatabaseUrl::Sqlite(dir.path().join("j.db")),
            Db::Sqlite(dir),
        )
    };
    let store = open(&Options {
        url,
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    Some((store, db))
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let (s, db) = super::store(false).await.unwrap(); super::$name(s, db).await; }
        )* }
        mod postgres { $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { let Some((s, db)) = super::store(true).await else { return }; super::$name(s, db).await; }
        )* }
    };
}

on_both!(
    secrets_round_trip_with_versions_and_list_shows_no_values,
    the_vaults_stored_bytes_contain_no_plaintext,
    master_key_rotation_rewraps_and_old_ciphertexts_still_decrypt,
    a_wrong_master_key_is_refused_at_open,
    a_sealed_row_moved_to_another_name_does_not_open,
);

async fn secrets_round_trip_with_versions_and_list_shows_no_values(store: Arc<dyn Store>, _db: Db) {
    let vault = Vault::open(store, ring(K1)).await.unwrap();
    assert_eq!(
        vault
            .set("stripe_key", &value("first-value"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(vault.set("stripe_key", &value(VALUE)).await.unwrap(), 2);
    assert_eq!(
        vault
            .set("github.whsec", &value("gh-secret-1"))
            .await
            .unwrap(),
        1
    );
    let got = vault.get("stripe_key").await.unwrap().unwrap();
    assert_eq!(got.expose_secret(), VALUE);
    assert!(vault.get("missing").await.unwrap().is_none());
    let list = vault.list().await.unwrap();
    let names: Vec<_> = list.iter().map(|s| (s.name.as_str(), s.version)).collect();
    assert_eq!(names, [("github.whsec", 1), ("stripe_key", 2)]);
    assert!(!format!("{list:?}").contains(VALUE));
    // Opened values are masked in anything logged.
    assert!(!junction_core::mask::mask(&format!("token {VALUE}")).contains(VALUE));
    assert!(vault.delete("stripe_key").await.unwrap());
    assert!(!vault.delete("stripe_key").await.unwrap());
    assert!(vault.get("stripe_key").await.unwrap().is_none());
    assert!(matches!(
        vault.set("../etc", &value("x")).await,
        Err(VaultError::BadName { .. })
    ));
}

async fn the_vaults_stored_bytes_contain_no_plaintext(store: Arc<dyn Store>, db: Db) {
    let vault = Vault::open(store.clone(), ring(K1)).await.unwrap();
    vault.set("api_key", &value(VALUE)).await.unwrap();
    let needle = VALUE.as_bytes();
    let holds = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for s in store.secrets().await.unwrap() {
        assert!(!holds(&s.ciphertext) && !holds(&s.wrapped_key));
    }
    if let Db::Sqlite(dir) = &db {
        // Every byte SQLite wrote: the database, its WAL and shared memory.
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!holds(&bytes), "plaintext found on disk");
        }
    }
}

async fn master_key_rotation_rewraps_and_old_ciphertexts_still_decrypt(
    store: Arc<dyn Store>,
    _db: Db,
) {
    let v1 = Vault::open(store.clone(), ring(K1)).await.unwrap();
    v1.set("a", &value("value-of-a")).await.unwrap();
    v1.set("b", &value("value-of-b")).await.unwrap();
    let before: Vec<SealedSecret> = store.secrets().await.unwrap();

    // The new key joins the ring: old ciphertexts still open, new ones use v2.
    let both = Vault::open(store.clone(), ring(&format!("{K2},{K1}")))
        .await
        .unwrap();
    assert_eq!(both.current_version(), 2);
    assert_eq!(
        both.get("a").await.unwrap().unwrap().expose_secret(),
        "value-of-a"
    );
    both.set("c", &value("value-of-c")).await.unwrap();
    let r = both.rotate().await.unwrap();
    assert_eq!((r.rewrapped, r.current, r.raced), (2, 1, 0));
    let after = store.secrets().await.unwrap();
    assert!(after.iter().all(|s| s.master_version == 2));
    // Values were not re-encrypted, only their data keys rewrapped.
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.ciphertext, a.ciphertext);
        assert_ne!(b.wrapped_key, a.wrapped_key);
    }

    // The old key can go.
    let v2 = Vault::open(store.clone(), ring(K2)).await.unwrap();
    for (n, v) in [
        ("a", "value-of-a"),
        ("b", "value-of-b"),
        ("c", "value-of-c"),
    ] {
        assert_eq!(v2.get(n).await.unwrap().unwrap().expose_secret(), v);
    }
    // A process still holding only v1 is told what is missing.
    match Vault::open(store, ring(K1)).await {
        Err(
            e @ VaultError::MissingMasterKey {
                version: 2,
                count: 3,
            },
        ) => {
            assert!(e.to_string().contains("JUNCTION_MASTER_KEY"))
        }
        other => panic!("expected MissingMasterKey, got {:?}", other.err()),
    }
}

async fn a_wrong_master_key_is_refused_at_open(store: Arc<dyn Store>, _db: Db) {
    let vault = Vault::open(store.clone(), ring(K1)).await.unwrap();
    vault.set("a", &value("value-of-a")).await.unwrap();
    match Vault::open(store, ring(OTHER_K1)).await {
        Err(VaultError::WrongMasterKey { version: 1 }) => {}
        other => panic!("expected WrongMasterKey, got {:?}", other.err()),
    }
}

async fn a_sealed_row_moved_to_another_name_does_not_open(store: Arc<dyn Store>, _db: Db) {
    let vault = Vault::open(store.clone(), ring(K1)).await.unwrap();
    vault
        .set("prod_key", &value("production-secret"))
        .await
        .unwrap();
    let mut row = store.secret("prod_key").await.unwrap().unwrap();
    row.name = "test_key".into();
    store.put_secret(row).await.unwrap();
    assert!(matches!(
        vault.get("test_key").await,
        Err(VaultError::Corrupt { .. })
    ));
}
