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
            .build()
            .unwrap_or_else(|_| {
                // Falls back to rayon's defaults rather than failing the process.
                rayon::ThreadPoolBuilder::new()
                    .build()
                    .expect("a thread pool with default settings")
            })
    })
}

/// Runs `work` on the mapping pool and waits for it without blocking the async runtime.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool().spawn(move || {
        let _ = tx.send(work());
    });
    match rx.await {
        Ok(v) => v,
        // The pool never drops a job; if it ever did, run the work here rather than lose it.
        Err(_) => unreachable_fallback(),
    }
}

#[cold]
fn unreachable_fallback<T>() -> T {
    panic!("the mapping pool dropped a job")
}
