//! Allocations per evaluation, counted by a global allocator that wraps the system one.
//! Kept apart from `compare.rs` so that counting does not slow the timed runs.
//!
//! Asserts that flagstone allocates nothing per evaluation in scenarios (a) and (b).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use flagstone_peer_evaluators::{
    FLAG, NOW, Scenario, flagstone_engine as fs, launchdarkly_engine as ld, murmur_whatif,
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

const N: u64 = 10_000;

/// (allocations + reallocations, bytes) per call of `f`, averaged over N calls after a warm-up.
fn per_call(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..100 {
        f();
    }
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    for _ in 0..N {
        f();
    }
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    ((a1 - a0) as f64 / N as f64, (b1 - b0) as f64 / N as f64)
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let scenarios = [
        ("a", Scenario::A),
        ("b", Scenario::B),
        ("c", Scenario::C),
        ("c_early", Scenario::CEarly),
    ];
    println!("allocations per evaluation (average of {N} after 100 warm-up calls)");
    println!(
        "{:<10} {:<28} {:>8} {:>10}",
        "scenario", "engine", "allocs", "bytes"
    );
    let mut flagstone_counts = Vec::new();
    for (name, s) in scenarios {
        let (ev, ctx) = fs::setup(s);
        let fsc = per_call(|| {
            black_box(ev.evaluate(black_box(FLAG), black_box(&ctx), NOW).unwrap());
        });
        flagstone_counts.push((name, fsc));
        let (engine, yctx) = yg::setup(s);
        let yg_enabled = per_call(|| {
            black_box(engine.is_enabled(black_box(FLAG), black_box(&yctx), &None));
        });
        let yg_variant = per_call(|| {
            black_box(engine.get_variant(black_box(FLAG), black_box(&yctx), &None));
        });
        let (store, lctx) = ld::setup(s);
        let ldc = per_call(|| {
            black_box(ld::evaluate(&store, black_box(FLAG), black_box(&lctx)));
        });
        for (engine, (a, b)) in [
            ("flagstone evaluate", fsc),
            ("yggdrasil is_enabled", yg_enabled),
            ("yggdrasil get_variant", yg_variant),
            ("launchdarkly evaluate", ldc),
        ] {
            println!("{name:<10} {engine:<28} {a:>8.2} {b:>10.1}");
        }
    }
    let (ev, ctx) = fs::setup_with(Scenario::B, 1000);
    let (a, b) = per_call(|| {
        black_box(ev.evaluate(black_box(FLAG), black_box(&ctx), NOW).unwrap());
    });
    println!(
        "{:<10} {:<28} {a:>8.2} {b:>10.1}",
        "d", "flagstone, 1,001 flags"
    );
    println!(
        "flagstone (b) split share served \"on\" over 10,000 units: {:.3}",
        fs::b_share_on(&ev)
    );

    for key in [
        "",
        "a",
        "abcd",
        "bench-flag/split/user-123",
        "checkout/one-page/rollout/42",
    ] {
        let parts: [&[u8]; 3] = [
            &key.as_bytes()[..key.len() / 3],
            &key.as_bytes()[key.len() / 3..],
            b"",
        ];
        let reference = flagstone::eval::bucket::murmur3_x86_32(&parts, 0);
        assert_eq!(murmur_whatif::contiguous(&parts, 0), reference);
        for cut in 0..=key.len() {
            let (prefix, unit) = key.as_bytes().split_at(cut);
            assert_eq!(
                murmur_whatif::Prefixed::new(prefix, 0).hash(unit),
                reference,
                "{key} at {cut}"
            );
        }
    }

    for (name, (allocs, _)) in &flagstone_counts {
        if *name == "a" || *name == "b" {
            assert_eq!(*allocs, 0.0, "flagstone allocated in scenario ({name})");
        }
    }
    println!("OK: flagstone allocates nothing per evaluation in (a) and (b)");
}
