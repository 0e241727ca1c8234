//! A loop for profilers: `profile ENGINE SCENARIO N` runs evaluations 1..=N of the
//! benchmark's cycle (1,000 flags, 1,024 contexts), after building the engine.
//! ENGINE: flagstone | yggdrasil | yggdrasil_get_variant | launchdarkly; SCENARIO: a | b | c.
//! To profile the evaluations alone, with simulated caches of this machine's sizes:
//!
//!     valgrind --tool=callgrind --toggle-collect='profile::run*' --cache-sim=yes \
//!         --D1=32768,8,64 --LL=1048576,16,64 --callgrind-out-file=/tmp/cg.out \
//!         $CARGO_TARGET_DIR/release/examples/profile flagstone c 20000

use std::process::ExitCode;

use flagstone_peer_evaluators::{
    Scenario, flagstone_engine as fs, launchdarkly_engine as ld, yggdrasil_engine as yg,
};

/// Only this loop runs between building the engine and dropping it, so
/// `--toggle-collect='profile::run*'` profiles the evaluations alone.
#[inline(never)]
fn run<S>(setup: &S, n: usize, evaluate: impl Fn(&S, usize)) {
    for i in 1..=n {
        evaluate(setup, i);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(engine), Some(scenario), Some(n)) = (
        args.get(1),
        args.get(2).and_then(|s| Scenario::parse(s)),
        args.get(3).and_then(|n| n.parse().ok()),
    ) else {
        eprintln!("usage: profile flagstone|yggdrasil|yggdrasil_get_variant|launchdarkly a|b|c N");
        return ExitCode::from(2);
    };
    match engine.as_str() {
        "flagstone" => run(&fs::setup(scenario), n, fs::evaluate),
        "yggdrasil" => run(&yg::setup(scenario), n, yg::is_enabled),
        "yggdrasil_get_variant" => run(&yg::setup(scenario), n, yg::get_variant),
        "launchdarkly" => run(&ld::setup(scenario), n, ld::evaluate),
        other => {
            eprintln!("unknown engine {other}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
