//! Writes a synthetic flags repository for benchmarks:
//! `cargo run --release --example synth_repo -- 10000 /tmp/synth-10000`

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
    if let Err(e) = synth::write_repo(std::path::Path::new(&dir), flags) {
        eprintln!("cannot write {dir}: {e}");
        std::process::exit(2);
    }
}
