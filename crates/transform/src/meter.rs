//! The budget of one program run. Every construct that can loop without bound — the generators
//! `range`, `repeat`, `recurse(f)`, `while`, `until`, `limit`'s sources, `combinations` — passes
//! through a tick (see `sandbox.rs`), and user programs cannot recurse (see `recursion.rs`), so
//! a runaway program runs out of steps, time or memory and fails with an error instead of
//! hanging its thread or exhausting the process's memory.
//!
//! Memory is what the run's thread holds beyond what it held when the run began, counted by
//! [`Metered`] (the process's allocator, wrapped). It is checked at every tick and after every
//! operation that can grow a value (`guard.rs`), and the operations that can build a large value
//! in one step (`*` on strings and big integers, `tojson`, string interpolation) are refused
//! before they allocate: a loop that doubles a string stops at the limit, not when the allocator
//! gives up and aborts the process.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Limits of one run of a jq program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time of one run.
    pub time: Duration,
    /// Generator steps (values produced by `range`, `repeat`, `recurse`, `while`, `until`).
    pub steps: u64,
    /// Largest output, in bytes of compact JSON.
    pub output: usize,
    /// Deepest nesting of arrays and objects in the output.
    pub depth: usize,
    /// Most memory the run may hold at once (checked at every generator step; counted where the
    /// process's allocator is [`Metered`]).
    pub memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(250),
            steps: 1_000_000,
            output: 1 << 20,
            depth: 64,
            memory: 64 << 20,
        }
    }
}

/// Ticks between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;

struct Budget {
    /// Bytes this thread held when the run was armed.
    held_at_arm: Cell<isize>,
    steps_left: Cell<u64>,
    until_clock: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    limits: Cell<Limits>,
}

thread_local! {
    static BUDGET: Budget = const {
        Budget {
            held_at_arm: Cell::new(0),
            steps_left: Cell::new(u64::MAX),
            until_clock: Cell::new(CLOCK_EVERY),
            deadline: Cell::new(None),
            limits: Cell::new(Limits {
                time: Duration::from_millis(250),
                steps: 1_000_000,
                output: 1 << 20,
                depth: 64,
                memory: 64 << 20,
            }),
        }
    };
}

/// Arms the budget of this thread for one run; disarmed when the guard drops.
pub(crate) fn arm(limits: Limits) -> Armed {
    BUDGET.with(|b| {
        b.held_at_arm.set(held());
        b.steps_left.set(limits.steps);
        b.until_clock.set(CLOCK_EVERY);
        b.deadline.set(Some(Instant::now() + limits.time));
        b.limits.set(limits);
    });
    Armed(())
}

pub(crate) struct Armed(());

impl Drop for Armed {
    fn drop(&mut self) {
        BUDGET.with(|b| {
            b.steps_left.set(u64::MAX);
            b.deadline.set(None);
        });
    }
}

/// Spends one step; an error once the run is out of steps or time. Unarmed (outside a run),
/// never fails.
pub(crate) fn tick() -> Result<(), String> {
    BUDGET.with(|b| {
        let left = b.steps_left.get();
        if left == 0 {
            return Err(format!(
                "the program ran out of steps (limit {}): a generator does not end",
                b.limits.get().steps
            ));
        }
        b.steps_left.set(left - 1);
        let used = held().saturating_sub(b.held_at_arm.get());
        if used > 0 && used as usize > b.limits.get().memory {
            b.steps_left.set(0);
            return Err(over_memory(b));
        }
        now_and_then_the_clock(b)
    })
}

/// Checks the run's memory and, every [`CLOCK_EVERY`] calls, its time, without spending a step:
/// the guard placed after every operation that can grow a value (`guard.rs`). Unarmed, never
/// fails.
pub(crate) fn check() -> Result<(), String> {
    BUDGET.with(|b| {
        if b.deadline.get().is_none() {
            return Ok(());
        }
        if room_in(b) == 0 {
            b.steps_left.set(0);
            return Err(over_memory(b));
        }
        now_and_then_the_clock(b)
    })
}

/// Every [`CLOCK_EVERY`] calls, an error once the run is past its deadline.
fn now_and_then_the_clock(b: &Budget) -> Result<(), String> {
    let clock = b.until_clock.get() - 1;
    if clock > 0 {
        b.until_clock.set(clock);
        return Ok(());
    }
    b.until_clock.set(CLOCK_EVERY);
    match b.deadline.get() {
        Some(d) if Instant::now() >= d => {
            b.steps_left.set(0);
            Err(format!(
                "the program ran out of time (limit {:?})",
                b.limits.get().time
            ))
        }
        _ => Ok(()),
    }
}

/// Refuses, before it is built, a value of `bytes` bytes that would take the run past its memory
/// limit. Unarmed, never fails.
pub(crate) fn reserve(bytes: usize) -> Result<(), String> {
    BUDGET.with(|b| {
        if b.deadline.get().is_none() || bytes <= room_in(b) {
            return Ok(());
        }
        b.steps_left.set(0);
        Err(over_memory(b))
    })
}

/// Bytes the armed run may still take (`usize::MAX` unarmed).
pub(crate) fn room() -> usize {
    BUDGET.with(|b| {
        if b.deadline.get().is_none() {
            usize::MAX
        } else {
            room_in(b)
        }
    })
}

fn room_in(b: &Budget) -> usize {
    let used = held().saturating_sub(b.held_at_arm.get()).max(0) as usize;
    b.limits.get().memory.saturating_sub(used)
}

fn over_memory(b: &Budget) -> String {
    format!(
        "the program used more than its memory limit ({} MiB)",
        b.limits.get().memory >> 20
    )
}

thread_local! {
    /// Bytes allocated minus bytes freed by this thread (frees of another thread's allocations
    /// make it drift, which is why a run compares it with its value when armed).
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn held() -> isize {
    HELD.try_with(Cell::get).unwrap_or(0)
}

fn count(delta: isize) {
    let _ = HELD.try_with(|h| h.set(h.get().wrapping_add(delta)));
}

/// The process's allocator `A`, counting what each thread holds so a jq run can be held to its
/// memory limit. Install it in the binary: `#[global_allocator] static A: Metered<MiMalloc> =
/// Metered(MiMalloc);`. The count is one thread-local addition per allocation.
pub struct Metered<A>(pub A);

#[allow(unsafe_code)]
// SAFETY: every call is passed to `A` unchanged; the counting touches a const-initialized
// thread-local `Cell` (no allocation, no destructor), and is skipped while the thread ends.
unsafe impl<A: std::alloc::GlobalAlloc> std::alloc::GlobalAlloc for Metered<A> {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded; `ptr` came from `self.0` with this layout.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: forwarded with the caller's layout.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        // SAFETY: forwarded; `ptr` came from `self.0` with `layout`.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}
