//! Writes a synthetic flags repository for benchmarks:
//! `cargo run --release --example synth_repo -- 10000 /tmp/synth-10000 [CASES] [--review | --review-head]`
//! With CASES, also tests/bench.toml with that many test cases. With `--review`, the
//! repository of the `review` benchmark (a review policy, schedules, prerequisites and
//! payloads); with `--review-head`, the same with its 100 changed flags (see
//! benches/support/synth.rs).

#[path = "../benches/support/synth.rs"]
mod synth;

fn main() {
    let (options, mut args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let shape = match options.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => synth::Shape::Plain,
        ["--review"] => synth::Shape::Review,
        ["--review-head"] => synth::Shape::ReviewHead,
        _ => {
            eprintln!("options: --review or --review-head, not {options:?}");
            std::process::exit(2);
        }
    };
    args.reverse();
    let (Some(flags), Some(dir)) = (args.pop(), args.pop()) else {
        eprintln!("usage: synth_repo FLAGS DIR [CASES] [--review | --review-head]");
        std::process::exit(2);
    };
    let Ok(flags) = flags.parse() else {
        eprintln!("FLAGS must be a number, not {flags:?}");
        std::process::exit(2);
    };
    let cases: usize = match args.pop().map(|c| c.parse()) {
        None => 0,
        Some(Ok(cases)) => cases,
        Some(Err(_)) => {
            eprintln!("CASES must be a number");
            std::process::exit(2);
        }
    };
    let path = std::path::Path::new(&dir);
    let written = synth::write_shaped_repo(path, flags, shape).and_then(|()| match cases {
        0 => Ok(()),
        _ => synth::write_tests(path, flags, cases),
    });
    if let Err(e) = written {
        eprintln!("cannot write {dir}: {e}");
        std::process::exit(2);
    }
}
