//! Allocations per evaluation, counted by a global allocator that wraps the system one.
//! Kept apart from `compare.rs` so that counting does not slow the timed runs. Each engine
//! runs the same cycle of evaluations as in `compare.rs` (1,000 flags, 1,024 contexts).
//!
//! Asserts that flagstone allocates nothing per evaluation in any scenario.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use flagstone_peer_evaluators::{
    CONTEXTS, FLAGS, Scenario, flagstone_engine as fs, launchdarkly_engine as ld,
    yggdrasil_engine as yg,
};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Every (flag, context) pair once.
const N: usize = FLAGS * CONTEXTS;

/// (allocations + reallocations, bytes) per evaluation, averaged over evaluations 1..=N
/// after a warm-up of 100.
fn per_evaluation<S>(setup: &S, evaluate: impl Fn(&S, usize)) -> (f64, f64) {
    for i in 0..100 {
        evaluate(setup, i);
    }
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    for i in 1..=N {
        evaluate(setup, i);
    }
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    println!("allocations per evaluation (average over all {N} (flag, context) pairs)");
    println!(
        "{:<10} {:<28} {:>8} {:>10}",
        "scenario", "engine", "allocs", "bytes"
    );
    for scenario in Scenario::ALL {
        let flagstone = per_evaluation(&fs::setup(scenario), fs::evaluate);
        let ygg = yg::setup(scenario);
        let counts = [
            ("flagstone evaluate", flagstone),
            ("yggdrasil is_enabled", per_evaluation(&ygg, yg::is_enabled)),
            (
                "yggdrasil get_variant",
                per_evaluation(&ygg, yg::get_variant),
            ),
            (
                "launchdarkly evaluate",
                per_evaluation(&ld::setup(scenario), ld::evaluate),
            ),
        ];
        for (engine, (a, b)) in counts {
            println!("{:<10} {engine:<28} {a:>8.2} {b:>10.1}", scenario.name());
        }
        assert_eq!(
            flagstone.0,
            0.0,
            "flagstone allocated in scenario ({})",
            scenario.name()
        );
    }
    println!("OK: flagstone allocates nothing per evaluation in (a), (b) and (c)");
}
