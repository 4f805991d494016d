//! The budget of one program run. Every construct that can loop without bound — the generators
//! `range`, `repeat`, `recurse(f)`, `while`, `until`, `limit`'s sources — passes through a tick
//! (see `sandbox.rs`), and user programs cannot recurse (see `recursion.rs`), so a runaway
//! program runs out of steps or time and fails with an error instead of hanging its thread.

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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(250),
            steps: 1_000_000,
            output: 1 << 20,
            depth: 64,
        }
    }
}

/// Ticks between two looks at the clock.
const CLOCK_EVERY: u64 = 1024;

struct Budget {
    steps_left: Cell<u64>,
    until_clock: Cell<u64>,
    deadline: Cell<Option<Instant>>,
    limits: Cell<Limits>,
}

thread_local! {
    static BUDGET: Budget = const {
        Budget {
            steps_left: Cell::new(u64::MAX),
            until_clock: Cell::new(CLOCK_EVERY),
            deadline: Cell::new(None),
            limits: Cell::new(Limits {
                time: Duration::from_millis(250),
                steps: 1_000_000,
                output: 1 << 20,
                depth: 64,
            }),
        }
    };
}

/// Arms the budget of this thread for one run; disarmed when the guard drops.
pub(crate) fn arm(limits: Limits) -> Armed {
    BUDGET.with(|b| {
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
    })
}
