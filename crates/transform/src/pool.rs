//! The threads mappings run on: one per core, each with a large stack, so a program that builds
//! or takes apart a deeply nested value within its limits never overflows a stack. Callers on the
//! async runtime hand their work over and await it, keeping the runtime's threads free.

use std::sync::OnceLock;

/// Stack of a mapping thread (reserved address space; pages are only committed when touched).
const STACK: usize = 1 << 30;

/// The shared pool.
pub fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .stack_size(STACK)
            .thread_name(|i| format!("junction-map-{i}"))
            .panic_handler(|_| tracing::error!("a mapping thread caught a panic"))
            .build()
            .unwrap_or_else(|_| {
                // Falls back to rayon's defaults rather than failing the process.
                rayon::ThreadPoolBuilder::new()
                    .build()
                    .expect("a thread pool with default settings")
            })
    })
}

/// Runs `work` on the mapping pool and waits for it without blocking the async runtime. A panic
/// inside `work` is caught and returned as an error: it fails that one piece of work, never the
/// process.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool().spawn(move || {
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        let _ = tx.send(done.map_err(|_| ()));
    });
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(())) => Err("the work failed on a mapping thread (a bug: please report it)".into()),
        Err(_) => Err("the mapping threads are gone".into()),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panic_on_a_mapping_thread_is_an_error_not_an_abort() {
        assert_eq!(super::run(|| 2 + 2).await, Ok(4));
        let e = super::run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(e.contains("mapping thread"), "{e}");
        // The pool still works afterwards.
        assert_eq!(super::run(|| "ok").await, Ok("ok"));
    }
}
