//! Group commit: many writers, one transaction.
//!
//! Callers submit a write and wait for its result. A committer task takes the first waiting write,
//! drains whatever else is queued — yielding a few times while writers answered by the last
//! commit are still submitting — up to `max_batch`, and commits them all in one transaction, so
//! throughput is not one round trip and one fsync per event. Under no load a write commits at once
//! (no timer delays it). Several committers share one queue, so commits overlap. Used by the
//! PostgreSQL backend; SQLite has its own writer thread (`sqlite::writer`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, Mutex};

use crate::StoreError;

/// How many times a committer yields to let writers catch up before it commits what it has.
const GATHER_YIELDS: usize = 8;

struct Item<Req, Resp> {
    req: Req,
    reply: oneshot::Sender<Result<Resp, StoreError>>,
}

/// The submitting side of a group-commit queue.
pub(crate) struct GroupCommit<Req, Resp> {
    tx: mpsc::Sender<Item<Req, Resp>>,
}

impl<Req: Send + 'static, Resp: Send + 'static> GroupCommit<Req, Resp> {
    /// Starts `committers` tasks that commit batches of up to `max_batch` writes with `commit`,
    /// which returns one result per write, in order, or an error that fails the whole batch.
    pub fn spawn<F, Fut>(
        backend: &'static str,
        committers: usize,
        max_batch: usize,
        commit: F,
    ) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Result<Resp, StoreError>>, StoreError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Item<Req, Resp>>(max_batch * committers * 4);
        let rx = Arc::new(Mutex::new(rx));
        let commit = Arc::new(commit);
        for _ in 0..committers.max(1) {
            let rx = rx.clone();
            let commit = commit.clone();
            tokio::spawn(async move {
                let mut items = Vec::with_capacity(max_batch);
                loop {
                    {
                        let mut rx = rx.lock().await;
                        match rx.recv().await {
                            Some(first) => items.push(first),
                            None => return,
                        }
                        // Writers answered a moment ago are submitting again: yield while that
                        // brings more, so a batch does not leave with one write and the rest
                        // queue behind it for another round trip.
                        for _ in 0..GATHER_YIELDS {
                            let before = items.len();
                            while items.len() < max_batch {
                                match rx.try_recv() {
                                    Ok(item) => items.push(item),
                                    Err(_) => break,
                                }
                            }
                            if items.len() >= max_batch || (items.len() == before && before > 1) {
                                break;
                            }
                            tokio::task::yield_now().await;
                        }
                    }
                    let (reqs, replies): (Vec<Req>, Vec<_>) =
                        items.drain(..).map(|i| (i.req, i.reply)).unzip();
                    let size = reqs.len();
                    let started = Instant::now();
                    let result = commit(reqs).await;
                    metrics::histogram!("junction_store_commit_seconds", "backend" => backend)
                        .record(started.elapsed().as_secs_f64());
                    metrics::histogram!("junction_store_commit_batch_size", "backend" => backend)
                        .record(size as f64);
                    match result {
                        Ok(results) if results.len() == replies.len() => {
                            for (reply, r) in replies.into_iter().zip(results) {
                                let _ = reply.send(r);
                            }
                        }
                        Ok(results) => {
                            let e = StoreError::Internal(format!(
                                "commit returned {} results for {size} writes",
                                results.len()
                            ));
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                        Err(e) => {
                            if e.is_unavailable() {
                                tracing::warn!(backend, error = %e, writes = size, "store commit failed; nothing in the batch was written");
                            } else {
                                tracing::error!(backend, error = %e, writes = size, "store commit failed; nothing in the batch was written");
                            }
                            for reply in replies {
                                let _ = reply.send(Err(e.clone()));
                            }
                        }
                    }
                }
            });
        }
        Self { tx }
    }

    /// Submits one write and waits until it is committed (or failed with its whole batch).
    pub async fn submit(&self, req: Req) -> Result<Resp, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Item { req, reply })
            .await
            .map_err(|_| StoreError::Unavailable("the store is shutting down".into()))?;
        rx.await
            .map_err(|_| StoreError::Internal("the committer stopped before answering".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[tokio::test]
    async fn concurrent_writes_share_commits() {
        let sizes = Arc::new(StdMutex::new(Vec::new()));
        let seen = sizes.clone();
        let gc: GroupCommit<u32, u32> =
            GroupCommit::spawn("test", 1, 64, move |batch: Vec<u32>| {
                seen.lock().unwrap().push(batch.len());
                async move {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    Ok(batch.into_iter().map(|x| Ok(x * 2)).collect())
                }
            });
        let gc = Arc::new(gc);
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let gc = gc.clone();
                tokio::spawn(async move { gc.submit(i).await.unwrap() })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(
                t.await.unwrap(),
                i as u32 * 2,
                "each write gets its own result"
            );
        }
        let sizes = sizes.lock().unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 200);
        assert!(
            sizes.len() <= 20,
            "200 concurrent writes took {} commits",
            sizes.len()
        );
        assert!(sizes.iter().all(|s| *s <= 64));
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_write_in_it() {
        let gc: GroupCommit<u32, u32> =
            GroupCommit::spawn("test", 1, 8, |_batch: Vec<u32>| async {
                Err(StoreError::Unavailable("down".into()))
            });
        assert!(gc.submit(1).await.unwrap_err().is_unavailable());
    }
}
