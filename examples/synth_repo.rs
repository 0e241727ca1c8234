//! Writes a synthetic flags repository for benchmarks:
//! `cargo run --release --example synth_repo -- 10000 /tmp/synth-10000 [CASES]`
//! With CASES, also tests/bench.toml with that many test cases.

#[path = "../benches/support/synth.rs"]
mod synth;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(flags), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: synth_repo FLAGS DIR");
        std::process::exit(2);
    };
    let Ok(flags) = flags.parse() else {
        eprintln!("FLAGS must be a number, not {flags:?}");
        std::process::exit(2);
    };
    let cases: usize = match args.next().map(|c| c.parse()) {
        None => 0,
        Some(Ok(cases)) => cases,
        Some(Err(_)) => {
            eprintln!("CASES must be a number");
            std::process::exit(2);
        }
    };
    let path = std::path::Path::new(&dir);
    let written = synth::write_repo(path, flags).and_then(|()| match cases {
        0 => Ok(()),
        _ => synth::write_tests(path, flags, cases),
    });
    if let Err(e) = written {
        eprintln!("cannot write {dir}: {e}");
        std::process::exit(2);
    }
}
