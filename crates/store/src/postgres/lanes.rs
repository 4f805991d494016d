//! Claims by several processes racing on one ordered lane.
//!
//! A claim takes a lane's delivery only when nothing earlier in the lane is pending and no other
//! delivery of it is leased — as its statement's snapshot sees the lane. Two processes claiming
//! at the same moment do not see each other's uncommitted leases: one takes `v3` of a key while
//! the other takes `v2`, stored a moment later, and both are sent at once (the second can land
//! after the first: a `latest` route overwrote version 3 with version 2 at the receiver). So after
//! its claim has committed, a process looks at each claimed lane again, with a new snapshot, and
//! gives back any delivery whose lane has another live lease. Of two racing claims the later one
//! to commit always sees the earlier (it looks after committing), so at most both give back —
//! and the next claim, seeing the whole lane, takes them in order. A delivery given back keeps
//! its attempt count as before the claim, so it is not counted as a claim that ended without an
//! outcome.

use sqlx::PgConnection;

use crate::StoreError;

/// Gives back the deliveries among `ids` (just claimed by `owner`) whose lane has another
/// delivery leased until after `now`; their ids.
pub(super) async fn give_back_contested(
    conn: &mut PgConnection,
    ids: &[i64],
    owner: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let given: Vec<i64> = sqlx::query_scalar(
        "UPDATE deliveries d SET lease_owner = NULL, next_attempt_at = $3, attempts = d.attempts - 1
         WHERE d.id = ANY($1) AND d.lease_owner = $2 AND d.lane IS NOT NULL AND EXISTS (
           SELECT 1 FROM deliveries p
           WHERE p.route = d.route AND p.destination = d.destination AND p.lane = d.lane
             AND p.id <> d.id AND p.state = 'pending' AND p.lease_owner IS NOT NULL
             AND p.next_attempt_at > $3)
         RETURNING d.id",
    )
    .bind(ids)
    .bind(owner)
    .bind(now)
    .fetch_all(conn)
    .await?;
    Ok(given)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use junction_core::DatabaseUrl;
    use junction_testkit::postgres::TestDb;
    use sqlx::{Connection, PgConnection};

    /// Two processes' claims raced on one `latest` lane: `B` took version 2 while `A` held
    /// version 3. `B` gives it back (attempt count restored); a delivery alone in its lane, and
    /// one whose rival's lease has lapsed, are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_claim_that_raced_another_on_its_lane_gives_the_delivery_back() {
        let Some(db) = TestDb::create().await else {
            return;
        };
        let _store = crate::open(&crate::Options {
            url: DatabaseUrl::Postgres(db.url.clone()),
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        let mut c = PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO events (source, external_id, event_type, received_at, payload)
               SELECT 's', 'e' || g, 't', 1, '\\x7b7d' FROM generate_series(1, 5) g;
             INSERT INTO deliveries (event_id, route, destination, next_attempt_at, created_at, ordering, lane, seq, lease_owner, lease_epoch, attempts) VALUES
               (1, 'r', 'd', 10000, 1, 2, 'k', 3, 'A', 1, 1),
               (2, 'r', 'd', 10000, 1, 2, 'k', 2, 'B', 1, 1),
               (3, 'r', 'd', 10000, 1, 2, 'alone', 1, 'B', 1, 1),
               (4, 'r', 'd', 500, 1, 2, 'lapsed', 1, 'A', 1, 1),
               (5, 'r', 'd', 10000, 1, 2, 'lapsed', 2, 'B', 1, 1);",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let given = super::give_back_contested(&mut c, &[2, 3, 5], "B", 1000)
            .await
            .unwrap();
        assert_eq!(given, vec![2]);
        let (owner, attempts, due): (Option<String>, i32, i64) = sqlx::query_as(
            "SELECT lease_owner, attempts, next_attempt_at FROM deliveries WHERE id = 2",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert_eq!((owner, attempts, due), (None, 0, 1000));
    }
}
