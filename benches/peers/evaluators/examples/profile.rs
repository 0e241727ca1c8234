//! A loop for profilers: `profile ENGINE SCENARIO N` evaluates N times.
//! ENGINE: flagstone | yggdrasil | launchdarkly; SCENARIO: a | b | c | c_early.
//!
//!     valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!         /tmp/peer-target/release/examples/profile flagstone c 100000

use std::hint::black_box;

use flagstone_peer_evaluators::{
    FLAG, NOW, Scenario, flagstone_engine as fs, launchdarkly_engine as ld, yggdrasil_engine as yg,
};

#[inline(never)]
fn run_flagstone(s: Scenario, n: u64) {
    let (ev, ctx) = fs::setup(s);
    for _ in 0..n {
        black_box(ev.evaluate(black_box(FLAG), black_box(&ctx), NOW).unwrap());
    }
}

#[inline(never)]
fn run_yggdrasil(s: Scenario, n: u64) {
    let (engine, ctx) = yg::setup(s);
    for _ in 0..n {
        if s == Scenario::B {
            black_box(engine.get_variant(black_box(FLAG), black_box(&ctx), &None));
        } else {
            black_box(engine.is_enabled(black_box(FLAG), black_box(&ctx), &None));
        }
    }
}

#[inline(never)]
fn run_launchdarkly(s: Scenario, n: u64) {
    let (store, ctx) = ld::setup(s);
    for _ in 0..n {
        black_box(ld::evaluate(&store, black_box(FLAG), black_box(&ctx)));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = match args[2].as_str() {
        "a" => Scenario::A,
        "b" => Scenario::B,
        "c" => Scenario::C,
        "c_early" => Scenario::CEarly,
        other => panic!("unknown scenario {other}"),
    };
    let n: u64 = args[3].parse().unwrap();
    match args[1].as_str() {
        "flagstone" => run_flagstone(scenario, n),
        "yggdrasil" => run_yggdrasil(scenario, n),
        "launchdarkly" => run_launchdarkly(scenario, n),
        other => panic!("unknown engine {other}"),
    }
}
